// Python's builtins and the standard-library modules model code imports (math,
// functools, collections, typing, dataclasses, enum, itertools, copy, inspect, ...),
// plus the methods of str/list/dict/set/tuple. Members not modelled here are Unknown.
import type { BuiltinFunctionValue, BuiltinImpl, CallContext, ClassValue, DictValue, FunctionValue, InstanceValue, Value } from './values';
import { Interpreter, computeMro, fnImpl, formatValue, type FunctionImpl } from './interpreter';
import {
  FALSE, NONE, TRUE, UNKNOWN, boolV, dictGet, dictKey, dictSet, dimOf, floatV, intV, isMissingAttr, listV, newDict, numberOf,
  pyEquals, pyRepr, pyStr, setMixinValue, strV, truthy, tupleV, unknownV, identityOf,
} from './pyvalues';
import { messages } from '../messages';
import { installJson } from './jsonModule';
import { installPackaging } from './packagingModule';
import { installPathModules } from './pathModules';
import { ndarrayContents, recordNdarray } from './ndarrays';

type Impl = BuiltinImpl;

function fn(name: string, call: Impl): BuiltinFunctionValue {
  return { kind: 'builtin', name, call };
}

function cls(name: string, bases: ClassValue[], isModule = false): ClassValue {
  const c: ClassValue = { kind: 'class', name, mro: [], attrs: new Map(), isModule };
  c.mro = computeMro(c, bases);
  return c;
}

function wrapperFn(impl: FunctionImpl, name: string): FunctionValue {
  return { kind: 'function', name, impl };
}

export function installBuiltins(interp: Interpreter, objectClass: ClassValue, typeClass: ClassValue): void {
  const B = interp.builtins;
  const loc = () => interp.currentLocation();
  const call = (f: Value, args: Value[], kwargs = new Map<string, Value>()) => interp.callValue(f, args, kwargs, loc());
  const iter = (v: Value): Value[] | undefined => interp.iterate(v, loc());

  B.set('object', objectClass);
  B.set('type', typeClass);
  objectClass.attrs.set('__init__', fn('object.__init__', () => NONE));
  // object.__setattr__(self, name, value) bypasses overrides (and nn.Module's registration).
  objectClass.attrs.set('__setattr__', fn('object.__setattr__', (args) => {
    const [self, name, value] = args;
    if (self?.kind === 'instance' && name?.kind === 'str' && value) self.attrs.set(name.value, value);
    return NONE;
  }));
  objectClass.attrs.set('__init_subclass__', wrapperFn({ kind: 'classmethod', fn: fn('__init_subclass__', () => NONE), attrs: new Map() }, '__init_subclass__'));

  // --- plain value types --------------------------------------------------------------
  const native = (c: ClassValue, construct: (args: Value[], kwargs: Map<string, Value>, ctx: CallContext) => Value) => {
    interp.nativeClasses.set(c, { construct: (_c, args, kwargs, ctx) => construct(args, kwargs, ctx) });
  };
  const intClass = cls('int', [objectClass]);
  const boolClass = cls('bool', [intClass, objectClass]);
  const floatClass = cls('float', [objectClass]);
  const strClass = cls('str', [objectClass]);
  const listClass = cls('list', [objectClass]);
  const tupleClass = cls('tuple', [objectClass]);
  const dictClass = cls('dict', [objectClass]);
  const setClass = cls('set', [objectClass]);
  const frozensetClass = cls('frozenset', [objectClass]);
  const noneClass = cls('NoneType', [objectClass]);
  const functionClass = cls('function', [objectClass]);
  const builtinFnClass = cls('builtin_function_or_method', [objectClass]);
  const moduleClass = cls('module', [objectClass]);
  const sliceClass = cls('slice', [objectClass]);
  const ellipsisClass = cls('ellipsis', [objectClass]);
  const orderedDictClass = cls('OrderedDict', [dictClass, objectClass]);
  // dict.__init__ for instances of dict subclasses (super().__init__(*args, **kwargs), or no
  // __init__ of their own): the items go to the instance's dict (Interpreter.dictOfInstance).
  dictClass.attrs.set('__init__', fn('dict.__init__', (args, kwargs) => {
    const self = args[0];
    const items = self?.kind === 'instance' ? interp.dictOfInstance(self) : undefined;
    if (!items) return NONE;
    const source = args[1];
    if (source?.kind === 'dict') for (const e of source.entries.values()) dictSet(items, e.key, e.value);
    else if (source && source.kind !== 'none') {
      for (const pair of interp.iterate(source, interp.currentLocation()) ?? []) {
        const kv = interp.iterate(pair, interp.currentLocation());
        if (kv?.length === 2) dictSet(items, kv[0], kv[1]);
      }
    }
    for (const [k, v] of kwargs) dictSet(items, strV(k), v);
    return NONE;
  }));
  const defaultDictClass = cls('defaultdict', [dictClass, objectClass]);
  const rangeClass = cls('range', [objectClass]);
  for (const [k, c] of [['int', intClass], ['bool', boolClass], ['float', floatClass], ['str', strClass], ['list', listClass], ['tuple', tupleClass], ['dict', dictClass], ['set', setClass], ['frozenset', frozensetClass], ['slice', sliceClass]] as const) B.set(k, c);
  const kc = interp.kindClasses;
  kc.set('int', intClass); kc.set('bool', boolClass); kc.set('float', floatClass); kc.set('str', strClass); kc.set('list', listClass);
  kc.set('tuple', tupleClass); kc.set('dict', dictClass); kc.set('none', noneClass); kc.set('function', functionClass);
  kc.set('builtin', builtinFnClass); kc.set('pymodule', moduleClass); kc.set('slice', sliceClass); kc.set('ellipsis', ellipsisClass);
  kc.set('class', typeClass);

  native(intClass, (args) => {
    const v = args[0] ?? intV(0);
    if (v.kind === 'int') return v;
    if (v.kind === 'bool') return intV(v.value ? 1 : 0);
    if (v.kind === 'float') return Number.isFinite(v.value) ? intV(Math.trunc(v.value)) : UNKNOWN;
    if (v.kind === 'str') {
      const base = numberOf(args[1] ?? intV(10)) ?? 10;
      const n = parseInt(v.value.trim().replace(/_/g, ''), base);
      return Number.isNaN(n) ? interp.raise('ValueError', `invalid literal for int(): '${v.value}'`) : intV(n);
    }
    if (v.kind === 'tensor') return tensorItem(v, 'int');
    return UNKNOWN;
  });
  native(floatClass, (args) => {
    const v = args[0] ?? floatV(0);
    if (v.kind === 'str') {
      const t = v.value.trim().toLowerCase();
      if (t === 'inf' || t === '+inf' || t === 'infinity') return floatV(Infinity);
      if (t === '-inf') return floatV(-Infinity);
      if (t === 'nan') return floatV(NaN);
      const n = Number(t);
      return Number.isNaN(n) ? interp.raise('ValueError', `could not convert string to float: '${v.value}'`) : floatV(n);
    }
    if (v.kind === 'tensor') return tensorItem(v, 'float');
    const n = numberOf(v);
    return n === undefined ? UNKNOWN : floatV(n);
  });
  native(boolClass, (args) => {
    if (!args[0]) return FALSE;
    const t = interp.conditionOf(args[0]);
    return t === undefined ? UNKNOWN : boolV(t);
  });
  native(strClass, (args) => {
    const v = args[0];
    if (!v) return strV('');
    if (v.kind === 'unknown') return UNKNOWN;
    return strV(interp.strOf(v));
  });
  native(listClass, (args) => {
    if (!args[0]) return listV([]);
    const items = iter(args[0]);
    return items ? listV(items) : UNKNOWN;
  });
  native(tupleClass, (args) => {
    if (!args[0]) return tupleV([]);
    const items = iter(args[0]);
    return items ? tupleV(items) : UNKNOWN;
  });
  const makeDict = (args: Value[], kwargs: Map<string, Value>, ordered: boolean): Value => {
    const d = newDict(ordered);
    if (args[0]) {
      if (args[0].kind === 'dict') for (const e of args[0].entries.values()) dictSet(d, e.key, e.value);
      else {
        const items = iter(args[0]);
        if (!items) return UNKNOWN;
        for (const item of items) {
          const pair = iter(item);
          if (pair && pair.length === 2) dictSet(d, pair[0], pair[1]);
        }
      }
    }
    for (const [k, v] of kwargs) dictSet(d, strV(k), v);
    return d;
  };
  native(dictClass, (args, kwargs) => makeDict(args, kwargs, false));
  native(orderedDictClass, (args, kwargs) => makeDict(args, kwargs, true));
  native(defaultDictClass, (args, kwargs) => {
    const d = makeDict(args.slice(1), kwargs, false);
    // The default factory is applied on a missing key read (see Interpreter.getItem).
    if (d.kind === 'dict' && args[0] && args[0].kind !== 'none') d.defaultFactory = args[0];
    return d;
  });
  // collections.Counter: counts of an iterable's items (or a mapping's counts); a missing key reads 0.
  const counterClass = cls('Counter', [dictClass, objectClass]);
  native(counterClass, (args, kwargs) => {
    const d = newDict(true);
    const source = args[0];
    if (source?.kind === 'dict') for (const e of source.entries.values()) dictSet(d, e.key, e.value);
    else if (source) {
      const items = iter(source);
      if (!items) return UNKNOWN;
      for (const item of items) {
        const seen = dictGet(d, item);
        if (dictKey(item) === undefined) return UNKNOWN;
        dictSet(d, item, seen === undefined ? intV(1) : interp.binaryOp('+', seen, intV(1), loc()));
      }
    }
    for (const [k, v] of kwargs) dictSet(d, strV(k), v);
    d.missingValue = intV(0);
    return d;
  });
  const makeSetFrom = (args: Value[]): Value => {
    if (!args[0]) return interp.makeSet([]);
    const items = iter(args[0]);
    return items ? interp.makeSet(items) : UNKNOWN;
  };
  native(setClass, makeSetFrom);
  native(frozensetClass, makeSetFrom);
  native(sliceClass, (args) => {
    if (args.length === 1) return { kind: 'slice', start: NONE, stop: args[0], step: NONE };
    return { kind: 'slice', start: args[0] ?? NONE, stop: args[1] ?? NONE, step: args[2] ?? NONE };
  });
  native(typeClass, (args) => {
    if (args.length === 1) return interp.typeOf(args[0]);
    if (args.length === 3 && args[0].kind === 'str') {
      const bases = (iter(args[1]) ?? []).filter((b): b is ClassValue => b.kind === 'class');
      const c = cls(args[0].value, bases.length ? bases : [objectClass], bases.some((b) => b.isModule));
      if (args[2].kind === 'dict') for (const e of args[2].entries.values()) if (e.key.kind === 'str') c.attrs.set(e.key.value, e.value);
      return c;
    }
    return UNKNOWN;
  });
  native(objectClass, () => interp.newInstance(objectClass));
  native(rangeClass, (args) => makeRange(args));
  B.set('range', rangeClass);

  function makeRange(args: Value[]): Value {
    const nums = args.map((a) => dimOf(a));
    if (nums.some((n) => n === undefined)) return UNKNOWN;
    if (nums.some((n) => typeof n !== 'number')) return UNKNOWN;
    const [a, b, c] = nums as number[];
    const start = args.length === 1 ? 0 : a;
    const stop = args.length === 1 ? a : b;
    const step = c ?? 1;
    if (step === 0) interp.raise('ValueError', 'range() arg 3 must not be zero');
    const count = Math.max(0, Math.ceil((stop - start) / step));
    if (count > 1_000_000) return UNKNOWN;
    const items: Value[] = new Array(count);
    for (let i = 0; i < count; i++) items[i] = intV(start + i * step);
    return listV(items);
  }

  /** int(t) / float(t) of a one-element tensor: the catalog's item() when it knows the value. */
  function tensorItem(t: Value, kind: 'int' | 'float'): Value {
    const item = interp.catalog.tensorMethod('item');
    if (!item) return UNKNOWN;
    const v = item([t], new Map(), interp.makeContext(loc()));
    const n = numberOf(v);
    if (n === undefined) return v.kind === 'int' && kind === 'int' ? v : UNKNOWN;
    return kind === 'int' ? intV(Math.trunc(n)) : floatV(n);
  }

  // --- exceptions -----------------------------------------------------------------------
  const baseException = cls('BaseException', [objectClass]);
  baseException.attrs.set('__init__', fn('BaseException.__init__', (args) => {
    const self = args[0];
    if (self?.kind === 'instance') self.attrs.set('args', tupleV(args.slice(1)));
    return NONE;
  }));
  B.set('BaseException', baseException);
  const exception = cls('Exception', [baseException]);
  B.set('Exception', exception);
  const excTree: [string, string][] = [
    ['ValueError', 'Exception'], ['TypeError', 'Exception'], ['RuntimeError', 'Exception'], ['NotImplementedError', 'RuntimeError'],
    ['LookupError', 'Exception'], ['KeyError', 'LookupError'], ['IndexError', 'LookupError'], ['AttributeError', 'Exception'],
    ['AssertionError', 'Exception'], ['ImportError', 'Exception'], ['ModuleNotFoundError', 'ImportError'], ['StopIteration', 'Exception'],
    ['ArithmeticError', 'Exception'], ['ZeroDivisionError', 'ArithmeticError'], ['OverflowError', 'ArithmeticError'], ['NameError', 'Exception'],
    ['SyntaxError', 'Exception'], ['OSError', 'Exception'], ['FileNotFoundError', 'OSError'], ['RecursionError', 'RuntimeError'], ['UnicodeError', 'ValueError'],
    ['Warning', 'Exception'], ['UserWarning', 'Warning'], ['DeprecationWarning', 'Warning'], ['FutureWarning', 'Warning'], ['RuntimeWarning', 'Warning'],
    ['KeyboardInterrupt', 'BaseException'], ['SystemExit', 'BaseException'], ['GeneratorExit', 'BaseException'],
  ];
  for (const [name, base] of excTree) B.set(name, cls(name, [B.get(base) as ClassValue]));
  B.set('IOError', B.get('OSError')!);
  B.set('EnvironmentError', B.get('OSError')!);

  // --- special classes -------------------------------------------------------------------
  const iteratorClass = cls('iterator', [objectClass]);
  const superClass = cls('super', [objectClass]);
  const enumBase = cls('Enum', [objectClass]);
  const namedTupleBase = cls('NamedTuple', [tupleClass]);
  interp.special = { ...interp.special, object: objectClass, type: typeClass, baseException, exception, enumBase, namedTupleBase, iterator: iteratorClass, superProxy: superClass, set: setClass, orderedDict: orderedDictClass };

  // --- builtin functions ----------------------------------------------------------------
  const len = (v: Value): Value => {
    switch (v.kind) {
      case 'str': return intV(v.value.length);
      case 'list': case 'tuple': return intV(v.items.length);
      case 'dict': return intV(v.entries.size);
      case 'tensor': return v.shape && v.shape.length ? intV(v.shape[0]) : UNKNOWN;
      case 'instance': {
        const l = interp.lookupClassAttr(v.cls, '__len__');
        if (l) return call(interp.bindMethod(l, v, v.cls), []);
        const fields = interp.namedTupleFields(v.cls);
        if (fields) return intV(fields.length);
        const st = interp.iteratorState.get(v);
        if (st) return intV(st.items.length - st.pos);
        const items = interp.dictOfInstance(v);
        return items ? intV(items.entries.size) : UNKNOWN;
      }
      case 'class': { const items = iter(v); return items ? intV(items.length) : UNKNOWN; }
      default: return UNKNOWN;
    }
  };
  B.set('len', fn('len', (args) => (args[0] ? len(args[0]) : UNKNOWN)));
  B.set('print', fn('print', () => NONE));
  B.set('repr', fn('repr', (args) => {
    const v = args[0] ?? NONE;
    if (v.kind === 'instance') {
      const r = interp.lookupClassAttr(v.cls, '__repr__');
      if (r && r.kind === 'function') return call(interp.bindMethod(r, v, v.cls), []);
    }
    return v.kind === 'unknown' ? UNKNOWN : strV(pyRepr(v));
  }));
  B.set('format', fn('format', (args) => (args[0] && args[0].kind !== 'unknown' ? strV(formatValue(args[0], args[1]?.kind === 'str' ? args[1].value : '')) : UNKNOWN)));
  B.set('id', fn('id', (args) => (args[0] && typeof args[0] === 'object' ? intV(identityOf(args[0])) : UNKNOWN)));
  B.set('hash', fn('hash', (args) => { const k = args[0] && dictKey(args[0]); return k ? intV(hashString(k)) : UNKNOWN; }));
  B.set('callable', fn('callable', (args) => {
    const v = args[0];
    if (!v || v.kind === 'unknown') return UNKNOWN;
    if (v.kind === 'function' || v.kind === 'builtin' || v.kind === 'class') return TRUE;
    if (v.kind === 'instance') return boolV(!!v.module || !!interp.lookupClassAttr(v.cls, '__call__'));
    return FALSE;
  }));
  B.set('isinstance', fn('isinstance', (args) => {
    if (args.length < 2) return UNKNOWN;
    const r = interp.isInstance(args[0], args[1]);
    return r === undefined ? UNKNOWN : boolV(r);
  }));
  B.set('issubclass', fn('issubclass', (args) => {
    const [c, base] = args;
    if (!c || !base || c.kind !== 'class') return UNKNOWN;
    const bases = base.kind === 'tuple' ? base.items : [base];
    if (bases.some((b) => b.kind === 'class' && c.mro.includes(b))) return TRUE;
    return bases.every((b) => b.kind === 'class') ? FALSE : UNKNOWN;
  }));
  const tryGetAttr = (obj: Value, name: string): Value | undefined => {
    interp.quiet++;
    try {
      const v = interp.getAttr(obj, name, loc());
      return isMissingAttr(v) ? undefined : v;
    } finally {
      interp.quiet--;
    }
  };
  B.set('getattr', fn('getattr', (args) => {
    const [obj, name, dflt] = args;
    if (!obj || !name || name.kind !== 'str') return UNKNOWN;
    if (dflt === undefined) return interp.getAttr(obj, name.value, loc());
    return tryGetAttr(obj, name.value) ?? dflt;
  }));
  B.set('hasattr', fn('hasattr', (args) => {
    const [obj, name] = args;
    if (!obj || !name || name.kind !== 'str' || obj.kind === 'unknown') return UNKNOWN;
    const v = tryGetAttr(obj, name.value);
    if (v === undefined) return FALSE;
    return TRUE;
  }));
  B.set('setattr', fn('setattr', (args) => {
    const [obj, name, value] = args;
    if (obj && name?.kind === 'str' && value) interp.setAttr(obj, name.value, value, loc());
    return NONE;
  }));
  B.set('delattr', fn('delattr', (args) => {
    const [obj, name] = args;
    if (obj?.kind === 'instance' && name?.kind === 'str') { obj.attrs.delete(name.value); obj.module?.children.delete(name.value); }
    return NONE;
  }));
  B.set('vars', fn('vars', (args) => (args[0] ? interp.getAttr(args[0], '__dict__', loc()) : UNKNOWN)));
  B.set('globals', fn('globals', () => {
    const record = interp.moduleOfFile(loc().file);
    return record ? interp.moduleNamespace(record) : UNKNOWN;
  }));
  B.set('locals', fn('locals', () => UNKNOWN));
  // eval(text) needs the caller's scope: evalCall recognises this value and evaluates there.
  B.set('eval', interp.evalBuiltin);
  B.set('abs', fn('abs', (args) => {
    const v = args[0];
    if (!v) return UNKNOWN;
    if (v.kind === 'tensor') return v;
    const d = dimOf(v);
    if (d !== undefined) return typeof d === 'number' ? intV(Math.abs(d)) : UNKNOWN;
    return v.kind === 'float' ? floatV(Math.abs(v.value)) : UNKNOWN;
  }));
  B.set('round', fn('round', (args) => {
    const v = args[0];
    if (!v) return UNKNOWN;
    const n = numberOf(v);
    if (n === undefined) return v.kind === 'int' ? v : UNKNOWN;
    const digits = args[1] && args[1].kind !== 'none' ? numberOf(args[1]) : undefined;
    if (digits === undefined) return intV(roundHalfEven(n));
    const f = 10 ** digits;
    return floatV(roundHalfEven(n * f) / f);
  }));
  B.set('divmod', fn('divmod', (args) => {
    const [a, b] = args;
    if (!a || !b) return UNKNOWN;
    return tupleV([interp.binaryOp('//', a, b, loc()), interp.binaryOp('%', a, b, loc())]);
  }));
  B.set('pow', fn('pow', (args) => (args.length >= 2 ? interp.binaryOp('**', args[0], args[1], loc()) : UNKNOWN)));
  const minMax = (which: 'min' | 'max'): Impl => (args, kwargs) => {
    let items = args.length === 1 ? iter(args[0]) : args;
    if (!items) return UNKNOWN;
    const key = kwargs.get('key');
    if (items.length === 0) {
      const d = kwargs.get('default');
      if (d) return d;
      return interp.raise('ValueError', `${which}() arg is an empty sequence`);
    }
    items = items.slice();
    let best = items[0];
    let bestKey = key ? call(key, [best]) : best;
    for (let i = 1; i < items.length; i++) {
      const k = key ? call(key, [items[i]]) : items[i];
      const c = interp.compareOp(which === 'min' ? '<' : '>', k, bestKey, loc());
      const t = truthy(c);
      if (t === undefined) {
        // min/max of symbolic dims stays unknown unless all constant.
        return UNKNOWN;
      }
      if (t) { best = items[i]; bestKey = k; }
    }
    return best;
  };
  B.set('min', fn('min', minMax('min')));
  B.set('max', fn('max', minMax('max')));
  B.set('sum', fn('sum', (args) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items) return UNKNOWN;
    let acc: Value = args[1] ?? intV(0);
    for (const item of items) acc = interp.binaryOp('+', acc, item, loc());
    return acc;
  }));
  B.set('any', fn('any', (args) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items) return UNKNOWN;
    let unknown = false;
    for (const i of items) { const t = interp.conditionOf(i); if (t) return TRUE; if (t === undefined) unknown = true; }
    return unknown ? UNKNOWN : FALSE;
  }));
  B.set('all', fn('all', (args) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items) return UNKNOWN;
    let unknown = false;
    for (const i of items) { const t = interp.conditionOf(i); if (t === false) return FALSE; if (t === undefined) unknown = true; }
    return unknown ? UNKNOWN : TRUE;
  }));
  B.set('zip', fn('zip', (args) => {
    const lists = args.map((a) => iter(a));
    if (lists.some((l) => !l)) return UNKNOWN;
    const n = Math.min(...lists.map((l) => l!.length));
    const out: Value[] = [];
    for (let i = 0; i < (lists.length ? n : 0); i++) out.push(tupleV(lists.map((l) => l![i])));
    return interp.makeIterator(out);
  }));
  B.set('enumerate', fn('enumerate', (args, kwargs) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items) return UNKNOWN;
    const start = numberOf(args[1] ?? kwargs.get('start') ?? intV(0)) ?? 0;
    return interp.makeIterator(items.map((v, i) => tupleV([intV(start + i), v])));
  }));
  B.set('reversed', fn('reversed', (args) => {
    const items = args[0] ? iter(args[0]) : undefined;
    return items ? interp.makeIterator(items.reverse()) : UNKNOWN;
  }));
  const sortValues = (items: Value[], key?: Value, reverse = false): Value[] | undefined => {
    const keyed = items.map((v) => ({ v, k: key && key.kind !== 'none' ? call(key, [v]) : v }));
    let failed = false;
    keyed.sort((a, b) => {
      const lt = truthy(interp.compareOp('<', a.k, b.k, loc()));
      const gt = truthy(interp.compareOp('>', a.k, b.k, loc()));
      if (lt === undefined || gt === undefined) { failed = true; return 0; }
      return lt ? -1 : gt ? 1 : 0;
    });
    if (failed) return undefined;
    const out = keyed.map((x) => x.v);
    return reverse ? out.reverse() : out;
  };
  B.set('sorted', fn('sorted', (args, kwargs) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items) return UNKNOWN;
    const sorted = sortValues(items, kwargs.get('key'), truthy(kwargs.get('reverse') ?? FALSE) ?? false);
    return sorted ? listV(sorted) : UNKNOWN;
  }));
  B.set('map', fn('map', (args) => {
    const [f, ...rest] = args;
    const lists = rest.map((a) => iter(a));
    if (!f || lists.length === 0 || lists.some((l) => !l)) return UNKNOWN;
    const n = Math.min(...lists.map((l) => l!.length));
    const out: Value[] = [];
    for (let i = 0; i < n; i++) out.push(call(f, lists.map((l) => l![i])));
    return interp.makeIterator(out);
  }));
  B.set('filter', fn('filter', (args) => {
    const [f, src] = args;
    const items = src ? iter(src) : undefined;
    if (!f || !items) return UNKNOWN;
    const out: Value[] = [];
    for (const item of items) {
      const t = interp.conditionOf(f.kind === 'none' ? item : call(f, [item]));
      if (t === undefined) return UNKNOWN;
      if (t) out.push(item);
    }
    return interp.makeIterator(out);
  }));
  B.set('iter', fn('iter', (args) => {
    const v = args[0];
    if (!v) return UNKNOWN;
    if (v.kind === 'instance' && interp.iteratorState.has(v)) return v;
    const items = iter(v);
    return items ? interp.makeIterator(items) : UNKNOWN;
  }));
  B.set('next', fn('next', (args) => {
    const [it, dflt] = args;
    if (!it) return UNKNOWN;
    if (it.kind === 'instance') {
      const st = interp.iteratorState.get(it);
      if (st) {
        if (st.pos < st.items.length) return st.items[st.pos++];
        if (dflt) return dflt;
        return interp.raise('StopIteration', '');
      }
      const nx = interp.lookupClassAttr(it.cls, '__next__');
      if (nx) return call(interp.bindMethod(nx, it, it.cls), []);
    }
    return UNKNOWN;
  }));
  B.set('chr', fn('chr', (args) => { const n = numberOf(args[0] ?? UNKNOWN); return n === undefined ? UNKNOWN : strV(String.fromCodePoint(n)); }));
  B.set('ord', fn('ord', (args) => (args[0]?.kind === 'str' && args[0].value.length ? intV(args[0].value.codePointAt(0)!) : UNKNOWN)));
  B.set('open', fn('open', () => UNKNOWN));
  B.set('input', fn('input', () => UNKNOWN));
  B.set('exit', fn('exit', () => UNKNOWN));
  B.set('quit', fn('quit', () => UNKNOWN));
  B.set('NotImplemented', strV('NotImplemented'));
  B.set('Ellipsis', { kind: 'ellipsis' });
  B.set('__debug__', TRUE);
  B.set('__name__', strV('builtins'));
  B.set('super', fn('super', (args) => {
    const [start, obj] = args;
    if (!start || start.kind !== 'class' || !obj) return UNKNOWN;
    return interp.makeSuper(start, obj);
  }));
  B.set('staticmethod', fn('staticmethod', (args) => wrapperFn({ kind: 'staticmethod', fn: args[0] ?? UNKNOWN, attrs: new Map() }, nameOf(args[0]))));
  B.set('classmethod', fn('classmethod', (args) => wrapperFn({ kind: 'classmethod', fn: args[0] ?? UNKNOWN, attrs: new Map() }, nameOf(args[0]))));
  B.set('property', fn('property', (args, kwargs) => {
    const fget = args[0] ?? kwargs.get('fget') ?? UNKNOWN;
    const fset = args[1] ?? kwargs.get('fset');
    return wrapperFn({ kind: 'property', fget, fset: fset && fset.kind !== 'none' ? fset : undefined, attrs: new Map() }, nameOf(fget));
  }));

  // --- methods of plain values --------------------------------------------------------------
  installValueMethods(interp, sortValues);

  // --- standard library -------------------------------------------------------------------
  const M = interp.builtinModules;
  const mod = (name: string, members: () => [string, Value][]) => M.set(name, () => new Map(members()));

  const mathFn1 = (name: string, f: (x: number) => number, integer = false): [string, Value] => [name, fn(name, (args) => {
    const n = args[0] ? numberOf(args[0]) : undefined;
    if (n === undefined) {
      if (integer && args[0]?.kind === 'int') return args[0];
      return UNKNOWN;
    }
    const r = f(n);
    return integer ? intV(r) : floatV(r);
  })];
  mod('math', () => [
    ['pi', floatV(Math.PI)], ['e', floatV(Math.E)], ['inf', floatV(Infinity)], ['nan', floatV(NaN)], ['tau', floatV(2 * Math.PI)],
    mathFn1('sqrt', Math.sqrt), mathFn1('exp', Math.exp), mathFn1('log2', Math.log2), mathFn1('log10', Math.log10),
    mathFn1('sin', Math.sin), mathFn1('cos', Math.cos), mathFn1('tan', Math.tan), mathFn1('atan', Math.atan), mathFn1('tanh', Math.tanh), mathFn1('fabs', Math.abs),
    mathFn1('floor', Math.floor, true), mathFn1('ceil', Math.ceil, true), mathFn1('trunc', Math.trunc, true),
    mathFn1('isqrt', (x) => Math.floor(Math.sqrt(x)), true), mathFn1('factorial', factorial, true),
    ['log', fn('log', (args) => {
      const x = args[0] ? numberOf(args[0]) : undefined;
      const b = args[1] ? numberOf(args[1]) : undefined;
      if (x === undefined) return UNKNOWN;
      return floatV(b === undefined ? Math.log(x) : Math.log(x) / Math.log(b));
    })],
    ['pow', fn('pow', (args) => { const [a, b] = args.map((x) => numberOf(x)); return a === undefined || b === undefined ? UNKNOWN : floatV(a ** b); })],
    ['gcd', fn('gcd', (args) => { const ns = args.map((x) => numberOf(x)); if (ns.some((n) => n === undefined)) return UNKNOWN; return intV(ns.reduce((a, b) => gcd(a!, b!), 0)!); })],
    ['prod', fn('prod', (args) => {
      const items = args[0] ? iter(args[0]) : undefined;
      if (!items) return UNKNOWN;
      let acc: Value = intV(1);
      for (const i of items) acc = interp.binaryOp('*', acc, i, loc());
      return acc;
    })],
    ['isclose', fn('isclose', (args) => { const [a, b] = args.map((x) => numberOf(x)); return a === undefined || b === undefined ? UNKNOWN : boolV(Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))); })],
    ['isinf', fn('isinf', (args) => { const a = numberOf(args[0] ?? UNKNOWN); return a === undefined ? UNKNOWN : boolV(!Number.isFinite(a) && !Number.isNaN(a)); })],
    ['isnan', fn('isnan', (args) => { const a = numberOf(args[0] ?? UNKNOWN); return a === undefined ? UNKNOWN : boolV(Number.isNaN(a)); })],
  ]);

  // functools.partial is a class in Python (isinstance(f, partial) is common); its instances are
  // partial FunctionValues, which typeOf() maps back to this class.
  const partialFn = cls('partial', [objectClass]);
  interp.nativeClasses.set(partialFn, {
    construct: (_c, args, kwargs) => {
      const [f, ...rest] = args;
      if (!f) return UNKNOWN;
      // Like CPython, a partial of a plain partial is flattened into one: .func is the
      // innermost callable and its arguments come first (timm unbinds .func and .keywords).
      const inner = f.kind === 'function' ? fnImpl(f) : undefined;
      if (inner?.kind === 'partial' && inner.attrs.size === 0) {
        const merged = new Map(inner.kwargs);
        for (const [k, v] of kwargs) merged.set(k, v);
        return wrapperFn({ kind: 'partial', fn: inner.fn, args: [...inner.args, ...rest], kwargs: merged, attrs: new Map() }, `partial(${nameOf(inner.fn)})`);
      }
      return wrapperFn({ kind: 'partial', fn: f, args: rest, kwargs: new Map(kwargs), attrs: new Map() }, `partial(${nameOf(f)})`);
    },
  });
  interp.special.partial = partialFn;
  const identityDecorator = (name: string) => fn(name, (args, kwargs) => {
    if (args.length === 1 && (args[0].kind === 'function' || args[0].kind === 'class' || args[0].kind === 'builtin')) return args[0];
    void kwargs;
    return fn(name, (inner) => inner[0] ?? UNKNOWN);
  });
  mod('functools', () => [
    ['partial', partialFn],
    ['reduce', fn('reduce', (args) => {
      const [f, src, init] = args;
      const items = src ? iter(src) : undefined;
      if (!f || !items) return UNKNOWN;
      let acc = init ?? items.shift();
      if (acc === undefined) return interp.raise('TypeError', 'reduce() of empty iterable with no initial value');
      for (const i of items) acc = call(f, [acc, i]);
      return acc;
    })],
    ['wraps', fn('wraps', (args) => fn('wraps_decorator', (inner) => {
      const wrapper = inner[0] ?? UNKNOWN;
      const wrapped = args[0];
      if (wrapper.kind === 'function' && wrapped) {
        // Like functools.update_wrapper: the wrapper reports the wrapped function's name.
        const attrs = fnImpl(wrapper).attrs;
        attrs.set('__name__', interp.getAttr(wrapped, '__name__', loc()));
        attrs.set('__qualname__', interp.getAttr(wrapped, '__qualname__', loc()));
        attrs.set('__wrapped__', wrapped);
      }
      return wrapper;
    }))],
    ['update_wrapper', fn('update_wrapper', (args) => args[0] ?? UNKNOWN)],
    ['lru_cache', identityDecorator('lru_cache')], ['cache', identityDecorator('cache')],
    ['cached_property', fn('cached_property', (args) => wrapperFn({ kind: 'property', fget: args[0] ?? UNKNOWN, attrs: new Map() }, nameOf(args[0])))],
    ['total_ordering', identityDecorator('total_ordering')],
  ]);

  const namedtupleFn = fn('namedtuple', (args, kwargs) => {
    const [name, fieldsArg] = args;
    if (!name || name.kind !== 'str' || !fieldsArg) return UNKNOWN;
    const fieldNames = fieldsArg.kind === 'str' ? fieldsArg.value.replace(/,/g, ' ').split(/\s+/).filter(Boolean) : (iter(fieldsArg) ?? []).map((f) => pyStr(f));
    const c = cls(name.value, [namedTupleBase]);
    const defaults = kwargs.get('defaults');
    const dflts = defaults ? iter(defaults) ?? [] : [];
    setupRecordClass(interp, c, fieldNames.map((f, i) => ({ name: f, default: i >= fieldNames.length - dflts.length ? dflts[i - (fieldNames.length - dflts.length)] : undefined })), true);
    return c;
  });
  mod('collections', () => [
    ['OrderedDict', orderedDictClass], ['defaultdict', defaultDictClass], ['namedtuple', namedtupleFn],
    ['deque', listClass], ['Counter', counterClass],
  ]);
  const abcNames = ['Iterable', 'Iterator', 'Sequence', 'MutableSequence', 'Mapping', 'MutableMapping', 'Callable', 'Hashable', 'Sized', 'Container', 'Collection', 'Set', 'Generator'];
  const abcClasses = new Map(abcNames.map((n) => [n, cls(n, [objectClass])]));
  mod('collections.abc', () => [...abcClasses]);

  const typingGeneric = cls('Generic', [objectClass]);
  // Generic[T], Protocol[T] and a user's Head[int]: the alias behaves as the class subscripted.
  const classItself = fn('__class_getitem__', (args) => args[0] ?? UNKNOWN);
  typingGeneric.attrs.set('__class_getitem__', classItself);
  const protocol = cls('Protocol', [objectClass]);
  protocol.attrs.set('__class_getitem__', classItself);
  const typingMembers = (): [string, Value][] => {
    const out: [string, Value][] = [
      ['TYPE_CHECKING', FALSE], ['NamedTuple', namedTupleBase], ['Generic', typingGeneric], ['Protocol', protocol],
      ['cast', fn('cast', (args) => args[1] ?? UNKNOWN)], ['overload', identityDecorator('overload')], ['final', identityDecorator('final')],
      ['no_type_check', identityDecorator('no_type_check')], ['runtime_checkable', identityDecorator('runtime_checkable')],
      ['TypeVar', fn('TypeVar', () => UNKNOWN)], ['NewType', fn('NewType', (args) => fn('NewType', (a) => a[0] ?? UNKNOWN) ?? args[0])],
      ['get_args', fn('get_args', () => tupleV([]))], ['get_origin', fn('get_origin', () => NONE)],
      ['get_type_hints', fn('get_type_hints', () => newDict())],
    ];
    for (const n of ['Any', 'Optional', 'Union', 'List', 'Dict', 'Tuple', 'Set', 'FrozenSet', 'Type', 'Callable', 'Iterable', 'Iterator', 'Sequence', 'Mapping', 'Literal', 'ClassVar', 'Final', 'Annotated', 'Generator', 'Awaitable', 'Coroutine', 'TypedDict', 'ParamSpec', 'Concatenate', 'Self', 'MutableMapping', 'DefaultDict', 'OrderedDict', 'Deque', 'Hashable', 'Sized', 'Text', 'AnyStr', 'NoReturn', 'TypeAlias']) {
      out.push([n, abcClasses.get(n) ?? unknownV(`typing.${n}`)]);
    }
    return out;
  };
  mod('typing', typingMembers);
  mod('typing_extensions', typingMembers);

  installDataclasses(interp, mod, objectClass);
  installEnum(interp, mod, enumBase, intClass, strClass);
  setupNamedTupleBase(interp, namedTupleBase);

  mod('warnings', () => [
    ['warn', fn('warn', () => NONE)], ['filterwarnings', fn('filterwarnings', () => NONE)], ['simplefilter', fn('simplefilter', () => NONE)],
    ['catch_warnings', fn('catch_warnings', () => UNKNOWN)],
  ]);
  mod('itertools', () => [
    ['chain', (() => {
      // A class, as in Python, so that chain.from_iterable(pairs) is found on it.
      const chainOf = (iterables: Value[]): Value => {
        const out: Value[] = [];
        for (const a of iterables) { const items = iter(a); if (!items) return UNKNOWN; out.push(...items); }
        return interp.makeIterator(out);
      };
      const chain = cls('chain', [interp.special.object]);
      interp.nativeClasses.set(chain, { construct: (_c, args) => chainOf(args) });
      chain.attrs.set('from_iterable', fn('from_iterable', (args) => {
        const iterables = args[0] ? iter(args[0]) : undefined;
        return iterables ? chainOf(iterables) : UNKNOWN;
      }));
      return chain;
    })()],
    ['product', fn('product', (args, kwargs) => {
      const repeat = numberOf(kwargs.get('repeat') ?? intV(1)) ?? 1;
      let lists = args.map((a) => iter(a));
      if (lists.some((l) => !l)) return UNKNOWN;
      const base = lists as Value[][];
      lists = [];
      for (let r = 0; r < repeat; r++) lists.push(...base);
      let acc: Value[][] = [[]];
      for (const l of lists as Value[][]) {
        const next: Value[][] = [];
        for (const prefix of acc) for (const x of l) next.push([...prefix, x]);
        acc = next;
        if (acc.length > 100_000) return UNKNOWN;
      }
      return interp.makeIterator(acc.map(tupleV));
    })],
    ['repeat', fn('repeat', (args) => {
      const n = args[1] ? numberOf(args[1]) : undefined;
      if (n === undefined || !args[0]) return UNKNOWN;
      return interp.makeIterator(new Array(n).fill(args[0]));
    })],
    ['accumulate', fn('accumulate', (args, kwargs) => {
      const items = args[0] ? iter(args[0]) : undefined;
      if (!items) return UNKNOWN;
      const f = args[1] ?? kwargs.get('func');
      const out: Value[] = [];
      let acc: Value | undefined = kwargs.get('initial');
      if (acc) out.push(acc);
      for (const i of items) {
        acc = acc === undefined ? i : f && f.kind !== 'none' ? call(f, [acc, i]) : interp.binaryOp('+', acc, i, loc());
        out.push(acc);
      }
      return interp.makeIterator(out);
    })],
    ['islice', fn('islice', (args) => {
      const items = args[0] ? iter(args[0]) : undefined;
      if (!items) return UNKNOWN;
      const nums = args.slice(1).map((a) => (a.kind === 'none' ? undefined : numberOf(a)));
      const [start, stop, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0] ?? 0, nums[1], nums[2] ?? 1];
      const out: Value[] = [];
      for (let i = start; i < (stop ?? items.length) && i < items.length; i += step) out.push(items[i]);
      return interp.makeIterator(out);
    })],
    ['pairwise', fn('pairwise', (args) => {
      const items = args[0] ? iter(args[0]) : undefined;
      if (!items) return UNKNOWN;
      const out: Value[] = [];
      for (let i = 0; i + 1 < items.length; i++) out.push(tupleV([items[i], items[i + 1]]));
      return interp.makeIterator(out);
    })],
    ['zip_longest', fn('zip_longest', (args, kwargs) => {
      const lists = args.map((a) => iter(a));
      if (lists.some((l) => !l)) return UNKNOWN;
      const fill = kwargs.get('fillvalue') ?? NONE;
      const n = Math.max(0, ...lists.map((l) => l!.length));
      const out: Value[] = [];
      for (let i = 0; i < n; i++) out.push(tupleV(lists.map((l) => l![i] ?? fill)));
      return interp.makeIterator(out);
    })],
    ['combinations', fn('combinations', (args) => {
      const items = args[0] ? iter(args[0]) : undefined;
      const r = args[1] ? numberOf(args[1]) : undefined;
      if (!items || r === undefined) return UNKNOWN;
      const out: Value[] = [];
      const rec = (start: number, acc: Value[]) => {
        if (out.length > 100_000) return;
        if (acc.length === r) { out.push(tupleV(acc)); return; }
        for (let i = start; i < items.length; i++) rec(i + 1, [...acc, items[i]]);
      };
      rec(0, []);
      return interp.makeIterator(out);
    })],
    ['count', fn('count', () => UNKNOWN)],
    ['cycle', fn('cycle', () => UNKNOWN)],
  ]);
  mod('copy', () => [
    ['copy', fn('copy', (args) => (args[0] ? shallowCopy(interp, args[0]) : UNKNOWN))],
    ['deepcopy', fn('deepcopy', (args) => (args[0] ? deepCopy(interp, args[0], new Map()) : UNKNOWN))],
  ]);
  const abcBase = cls('ABC', [objectClass]);
  mod('abc', () => [['ABC', abcBase], ['ABCMeta', typeClass], ['abstractmethod', identityDecorator('abstractmethod')], ['abstractproperty', B.get('property')!]]);
  mod('operator', () => [
    ['mul', fn('mul', (args) => interp.binaryOp('*', args[0] ?? UNKNOWN, args[1] ?? UNKNOWN, loc()))],
    ['add', fn('add', (args) => interp.binaryOp('+', args[0] ?? UNKNOWN, args[1] ?? UNKNOWN, loc()))],
    ['sub', fn('sub', (args) => interp.binaryOp('-', args[0] ?? UNKNOWN, args[1] ?? UNKNOWN, loc()))],
    ['floordiv', fn('floordiv', (args) => interp.binaryOp('//', args[0] ?? UNKNOWN, args[1] ?? UNKNOWN, loc()))],
    ['truediv', fn('truediv', (args) => interp.binaryOp('/', args[0] ?? UNKNOWN, args[1] ?? UNKNOWN, loc()))],
    ['itemgetter', fn('itemgetter', (args) => fn('itemgetter', (inner) => (args.length === 1 ? interp.getItem(inner[0], args[0], loc()) : tupleV(args.map((a) => interp.getItem(inner[0], a, loc()))))))],
    ['attrgetter', fn('attrgetter', (args) => fn('attrgetter', (inner) => (args[0]?.kind === 'str' ? args[0].value.split('.').reduce<Value>((o, n) => interp.getAttr(o, n, loc()), inner[0]) : UNKNOWN)))],
    ['index', fn('index', (args) => args[0] ?? UNKNOWN)],
  ]);
  mod('numbers', () => [['Number', cls('Number', [objectClass])], ['Integral', intClass], ['Real', floatClass]]);
  mod('types', () => [
    ['SimpleNamespace', (() => {
      const c = cls('SimpleNamespace', [objectClass]);
      c.attrs.set('__init__', fn('SimpleNamespace.__init__', (args, kwargs) => {
        const self = args[0];
        if (self?.kind === 'instance') for (const [k, v] of kwargs) self.attrs.set(k, v);
        return NONE;
      }));
      return c;
    })()],
    ['FunctionType', functionClass], ['ModuleType', moduleClass], ['MethodType', functionClass], ['BuiltinFunctionType', builtinFnClass],
  ]);
  installArgparse(interp, mod, objectClass, { int: intClass, float: floatClass });
  installInspect(interp, mod);
  // sys.modules: the modules imported so far (timm's @register_model reads its module's default_cfgs through it).
  const sysModulesClass = cls('SysModules', [objectClass]);
  const importedModule = (name: Value | undefined): Value | undefined => {
    if (name?.kind !== 'str') return undefined;
    // The analyzed file runs as __main__ (registered under its package name too).
    const record = name.value === '__main__'
      ? [...interp.modules.values()].find((r) => r.file === interp.mainFile)
      : interp.modules.get(name.value);
    if (!record || record.value.attrs.has('__unresolved__')) return undefined;
    // `import a.b as m` binds lazily here; Python has run it by the time sys.modules is read.
    if (record.state === 'unloaded') interp.ensureLoaded(record);
    return record.value;
  };
  sysModulesClass.attrs.set('__getitem__', fn('__getitem__', (args) => importedModule(args[1]) ?? interp.raise('KeyError', messages.keyNotFound(args[1] ? pyStr(args[1]) : ''), loc())));
  sysModulesClass.attrs.set('get', fn('get', (args) => importedModule(args[1]) ?? args[2] ?? NONE));
  sysModulesClass.attrs.set('__contains__', fn('__contains__', (args) => boolV(importedModule(args[1]) !== undefined)));
  const sysModules: InstanceValue = { kind: 'instance', cls: sysModulesClass, attrs: new Map(), module: undefined, id: -1 };
  mod('sys', () => [['version_info', tupleV([intV(3), intV(11), intV(0)])], ['platform', strV('linux')], ['maxsize', intV(2 ** 53 - 1)], ['argv', listV([strV('netlens')])], ['modules', sysModules]]);
  // os.path is its own module (pathModules.ts), reached as an attribute through the submodule lookup.
  mod('os', () => [['environ', newDict()], ['sep', strV('/')], ['getenv', fn('getenv', (args) => args[1] ?? NONE)], ['cpu_count', fn('cpu_count', () => intV(1))]]);
  mod('logging', () => [['getLogger', fn('getLogger', () => UNKNOWN)], ['basicConfig', fn('basicConfig', () => NONE)], ['INFO', intV(20)], ['DEBUG', intV(10)], ['WARNING', intV(30)]]);
  mod('builtins', () => [...B]);
  installNumpy(interp, mod, objectClass);
  installRe(interp, mod, objectClass);
  installJson(mod);
  installPackaging(mod);
  installPathModules(interp, mod, objectClass);
}

/**
 * `argparse` as scripts use it to configure a model: ArgumentParser collects add_argument
 * destinations and defaults (store_true → False, store_false → True, string defaults through
 * `type=int/float`), parse_args() gives a Namespace of those defaults (the analysis runs without
 * a command line; `--name value` pairs given explicitly are applied), groups add to their parser.
 * A required positional argument is Unknown.
 */
function installArgparse(
  interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void, objectClass: ClassValue,
  types: { int: ClassValue; float: ClassValue },
): void {
  mod('argparse', () => {
    const namespaceClass = cls('Namespace', [objectClass]);
    namespaceClass.attrs.set('__init__', fn('Namespace.__init__', (args, kwargs) => {
      const self = args[0];
      if (self?.kind === 'instance') for (const [k, v] of kwargs) self.attrs.set(k, v);
      return NONE;
    }));
    type Argument = { dest: string; options: string[]; value: Value; convert?: ClassValue; nargs?: Value; action?: string; constant?: Value };
    const parsers = new WeakMap<InstanceValue, Argument[]>();
    const argumentsOf = (self: Value | undefined): Argument[] | undefined => {
      if (self?.kind !== 'instance') return undefined;
      let list = parsers.get(self);
      if (!list) parsers.set(self, (list = []));
      return list;
    };
    const converted = (v: Value, type: ClassValue | undefined): Value => {
      if (v.kind !== 'str' || !type) return v;
      const n = Number(v.value);
      if (type === types.int && Number.isInteger(n)) return intV(n);
      if (type === types.float && !Number.isNaN(n)) return floatV(n);
      return v;
    };
    const parserClass = cls('ArgumentParser', [objectClass]);
    const addArgument = fn('add_argument', (args, kwargs) => {
      const list = argumentsOf(args[0]);
      if (!list) return NONE;
      const names = args.slice(1).flatMap((a) => (a.kind === 'str' ? [a.value] : []));
      const long = names.find((n) => n.startsWith('--')) ?? names.find((n) => n.startsWith('-'));
      const destValue = kwargs.get('dest');
      const dest = destValue?.kind === 'str' ? destValue.value : long ? long.replace(/^-+/, '').replace(/-/g, '_') : names[0];
      if (!dest) return NONE;
      const action = kwargs.get('action');
      const actionName = action?.kind === 'str' ? action.value : undefined;
      const type = kwargs.get('type');
      const convert = type?.kind === 'class' ? type : undefined;
      let value: Value = kwargs.get('default') ?? (actionName === 'store_true' ? FALSE : actionName === 'store_false' ? TRUE : NONE);
      // A positional argument without a default comes from the command line: unknown here.
      if (!long && !kwargs.has('default') && kwargs.get('nargs') === undefined) value = unknownV(`argparse argument ${dest}`);
      list.push({ dest, options: names, value: converted(value, convert), convert, nargs: kwargs.get('nargs'), action: actionName, constant: kwargs.get('const') });
      return NONE;
    });
    parserClass.attrs.set('__init__', fn('ArgumentParser.__init__', () => NONE));
    parserClass.attrs.set('add_argument', addArgument);
    // Groups add to their parser: the parser itself stands in for them.
    const self = fn('group', (args) => args[0] ?? NONE);
    parserClass.attrs.set('add_argument_group', self);
    parserClass.attrs.set('add_mutually_exclusive_group', self);
    parserClass.attrs.set('set_defaults', fn('set_defaults', (args, kwargs) => {
      const list = argumentsOf(args[0]);
      if (!list) return NONE;
      for (const [k, v] of kwargs) {
        const existing = list.find((a) => a.dest === k);
        if (existing) existing.value = v;
        else list.push({ dest: k, options: [], value: v });
      }
      return NONE;
    }));
    parserClass.attrs.set('print_help', fn('print_help', () => NONE));
    const parse = (args: Value[], kwargs: ReadonlyMap<string, Value>): InstanceValue | undefined => {
      const list = argumentsOf(args[0]);
      if (!list) return undefined;
      const ns = interp.newInstance(namespaceClass);
      for (const a of list) ns.attrs.set(a.dest, a.value);
      const given = args[1] ?? kwargs.get('args');
      const words = given && (given.kind === 'list' || given.kind === 'tuple') ? given.items : [];
      // Option words as argparse reads them: `--opt value`, `--opt=value`, nargs lists, flags
      // by action (store_true / store_false / store_const / count / append).
      const isValueWord = (v: Value | undefined): v is Value & { kind: 'str' } => v?.kind === 'str' && (!v.value.startsWith('-') || /^-\d+$|^-\d*\.\d+$/.test(v.value));
      for (let i = 0; i < words.length; i++) {
        const w = words[i];
        if (w?.kind !== 'str') continue;
        const eq = w.value.startsWith('--') ? w.value.indexOf('=') : -1;
        const option = eq > 0 ? w.value.slice(0, eq) : w.value;
        const a = list.find((x) => x.options.includes(option));
        if (!a) continue;
        if (a.action === 'store_true' || a.action === 'store_false') { ns.attrs.set(a.dest, boolV(a.action === 'store_true')); continue; }
        if (a.action === 'store_const') { ns.attrs.set(a.dest, a.constant ?? NONE); continue; }
        if (a.action === 'count') { const c = ns.attrs.get(a.dest); ns.attrs.set(a.dest, intV((c ? numberOf(c) ?? 0 : 0) + 1)); continue; }
        const values: Value[] = [];
        if (eq > 0) values.push(strV(w.value.slice(eq + 1)));
        const n = a.nargs?.kind === 'int' ? numberOf(a.nargs) : undefined;
        const many = a.nargs?.kind === 'str' && (a.nargs.value === '+' || a.nargs.value === '*');
        while (eq < 0 && isValueWord(words[i + 1]) && (many || values.length < (n ?? 1))) values.push(words[++i]!);
        const items = values.map((v) => converted(v, a.convert));
        if (a.action === 'append') {
          const previous = ns.attrs.get(a.dest);
          const base = previous && previous.kind === 'list' && previous !== a.value ? previous.items : [];
          ns.attrs.set(a.dest, listV([...base, ...(many || n !== undefined ? [listV(items)] : items.slice(0, 1))]));
        } else if (many || n !== undefined) ns.attrs.set(a.dest, listV(items));
        else if (items.length > 0) ns.attrs.set(a.dest, items[0]!);
        else if (a.nargs?.kind === 'str' && a.nargs.value === '?') ns.attrs.set(a.dest, a.constant ?? NONE);
        else ns.attrs.set(a.dest, a.value.kind === 'bool' ? boolV(!a.value.value) : TRUE);
      }
      return ns;
    };
    parserClass.attrs.set('parse_args', fn('parse_args', (args, kwargs) => parse(args, kwargs) ?? UNKNOWN));
    parserClass.attrs.set('parse_known_args', fn('parse_known_args', (args, kwargs) => {
      const ns = parse(args, kwargs);
      return ns ? tupleV([ns, listV([])]) : UNKNOWN;
    }));
    return [['ArgumentParser', parserClass], ['Namespace', namespaceClass], ['ArgumentDefaultsHelpFormatter', cls('ArgumentDefaultsHelpFormatter', [objectClass])],
      ['RawTextHelpFormatter', cls('RawTextHelpFormatter', [objectClass])], ['SUPPRESS', strV('==SUPPRESS==')]];
  });
}

/**
 * Python's `re` over JavaScript regular expressions (the common subset: groups, named groups,
 * classes, quantifiers, anchors). Model code uses it to parse architecture strings
 * (timm's 'ir_r2_k3_s2_e6_c24').
 */
function installRe(interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void, objectClass: ClassValue): void {
  const patternClass = cls('Pattern', [objectClass]);
  const matchClass = cls('Match', [objectClass]);
  const patterns = new WeakMap<InstanceValue, { source: string; flags: number }>();
  const matches = new WeakMap<InstanceValue, RegExpExecArray>();
  const IGNORECASE = 2, MULTILINE = 8, DOTALL = 16, VERBOSE = 64;
  const toJs = (source: string, flags: number, extra = ''): RegExp | undefined => {
    let src = source;
    let f = flags;
    const inline = /^\(\?([aiLmsux]+)\)/.exec(src);
    if (inline) {
      src = src.slice(inline[0].length);
      if (inline[1].includes('i')) f |= IGNORECASE;
      if (inline[1].includes('m')) f |= MULTILINE;
      if (inline[1].includes('s')) f |= DOTALL;
      if (inline[1].includes('x')) f |= VERBOSE;
    }
    if (f & VERBOSE) src = src.replace(/\\#/g, '\u0000').replace(/#.*$/gm, '').replace(/\s+/g, '').replace(/\u0000/g, '\\#');
    src = src.replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>').replace(/\\A/g, '^').replace(/\\Z/g, '$');
    let jsFlags = extra;
    if (f & IGNORECASE) jsFlags += 'i';
    if (f & MULTILINE) jsFlags += 'm';
    if (f & DOTALL) jsFlags += 's';
    try { return new RegExp(src, jsFlags); } catch { return undefined; }
  };
  const patternOf = (v: Value | undefined, flagsArg?: Value): { source: string; flags: number } | undefined => {
    if (!v) return undefined;
    if (v.kind === 'str') return { source: v.value, flags: flagsArg ? numberOf(flagsArg) ?? 0 : 0 };
    if (v.kind === 'instance') return patterns.get(v);
    return undefined;
  };
  const makeMatch = (m: RegExpExecArray | null): Value => {
    if (!m) return NONE;
    const inst = interp.newInstance(matchClass);
    matches.set(inst, m);
    return inst;
  };
  const groupValue = (m: RegExpExecArray, g: Value | undefined): Value => {
    if (!g) return strV(m[0]);
    if (g.kind === 'str') { const v = m.groups?.[g.value]; return v === undefined ? NONE : strV(v); }
    const i = numberOf(g);
    if (i === undefined) return UNKNOWN;
    const v = m[i];
    return v === undefined ? NONE : strV(v);
  };
  const matchOf = (args: Value[]) => (args[0]?.kind === 'instance' ? matches.get(args[0]) : undefined);
  matchClass.attrs.set('group', fn('group', (args) => {
    const m = matchOf(args);
    if (!m) return UNKNOWN;
    if (args.length <= 2) return groupValue(m, args[1]);
    return tupleV(args.slice(1).map((g) => groupValue(m, g)));
  }));
  matchClass.attrs.set('__getitem__', fn('__getitem__', (args) => { const m = matchOf(args); return m ? groupValue(m, args[1]) : UNKNOWN; }));
  matchClass.attrs.set('groups', fn('groups', (args) => {
    const m = matchOf(args);
    return m ? tupleV(m.slice(1).map((g) => (g === undefined ? args[1] ?? NONE : strV(g)))) : UNKNOWN;
  }));
  matchClass.attrs.set('groupdict', fn('groupdict', (args) => {
    const m = matchOf(args);
    if (!m) return UNKNOWN;
    const d = newDict();
    for (const [k, v] of Object.entries(m.groups ?? {})) dictSet(d, strV(k), v === undefined ? NONE : strV(v));
    return d;
  }));
  matchClass.attrs.set('start', fn('start', (args) => { const m = matchOf(args); return m ? intV(m.index) : UNKNOWN; }));
  matchClass.attrs.set('end', fn('end', (args) => { const m = matchOf(args); return m ? intV(m.index + m[0].length) : UNKNOWN; }));
  matchClass.attrs.set('span', fn('span', (args) => { const m = matchOf(args); return m ? tupleV([intV(m.index), intV(m.index + m[0].length)]) : UNKNOWN; }));

  type Op = (pat: { source: string; flags: number }, args: Value[], kwargs: Map<string, Value>) => Value;
  const textArg = (v: Value | undefined): string | undefined => (v?.kind === 'str' ? v.value : undefined);
  const ops: Record<string, Op> = {
    match: (pat, args) => {
      const text = textArg(args[0]); const re = toJs(pat.source, pat.flags, 'y');
      if (text === undefined || !re) return UNKNOWN;
      return makeMatch(re.exec(text));
    },
    fullmatch: (pat, args) => {
      const text = textArg(args[0]); const re = toJs(`(?:${pat.source})$`, pat.flags, 'y');
      if (text === undefined || !re) return UNKNOWN;
      return makeMatch(re.exec(text));
    },
    search: (pat, args) => {
      const text = textArg(args[0]); const re = toJs(pat.source, pat.flags);
      if (text === undefined || !re) return UNKNOWN;
      return makeMatch(re.exec(text));
    },
    split: (pat, args, kwargs) => {
      const text = textArg(args[0]); const re = toJs(pat.source, pat.flags, 'g');
      const maxsplit = numberOf(args[1] ?? kwargs.get('maxsplit') ?? intV(0)) ?? 0;
      if (text === undefined || !re) return UNKNOWN;
      const out: Value[] = [];
      let last = 0;
      let count = 0;
      for (let m = re.exec(text); m && (maxsplit === 0 || count < maxsplit); m = re.exec(text)) {
        if (m[0].length === 0) { re.lastIndex++; if (m.index === 0 || m.index >= text.length) continue; }
        out.push(strV(text.slice(last, m.index)));
        for (const g of m.slice(1)) out.push(g === undefined ? NONE : strV(g));
        last = m.index + m[0].length;
        count++;
      }
      out.push(strV(text.slice(last)));
      return listV(out);
    },
    findall: (pat, args) => {
      const text = textArg(args[0]); const re = toJs(pat.source, pat.flags, 'g');
      if (text === undefined || !re) return UNKNOWN;
      const out: Value[] = [];
      for (const m of text.matchAll(re)) {
        if (m.length === 1) out.push(strV(m[0]));
        else if (m.length === 2) out.push(strV(m[1] ?? ''));
        else out.push(tupleV(m.slice(1).map((g) => strV(g ?? ''))));
      }
      return listV(out);
    },
    sub: (pat, args, kwargs) => {
      const repl = args[0]; const text = textArg(args[1]);
      const count = numberOf(args[2] ?? kwargs.get('count') ?? intV(0)) ?? 0;
      const re = toJs(pat.source, pat.flags, 'g');
      if (text === undefined || !re || !repl) return UNKNOWN;
      let done = 0;
      let failed = false;
      const out = text.replace(re, (...parts: unknown[]) => {
        const whole = parts[0] as string;
        if (count > 0 && done >= count) return whole;
        done++;
        const hasGroupsObject = typeof parts[parts.length - 1] === 'object';
        const groups = parts.slice(1, hasGroupsObject ? -3 : -2) as (string | undefined)[];
        if (repl.kind === 'str') {
          return repl.value.replace(/\\(\d+)|\\g<(\w+)>|\\n|\\t|\\\\/g, (m, num: string | undefined, name: string | undefined) => {
            if (num !== undefined) return groups[Number(num) - 1] ?? '';
            if (name !== undefined) return /^\d+$/.test(name) ? (Number(name) === 0 ? whole : groups[Number(name) - 1] ?? '') : ((parts[parts.length - 1] as Record<string, string>)?.[name] ?? '');
            return m === '\\n' ? '\n' : m === '\\t' ? '\t' : '\\';
          });
        }
        const index = parts[hasGroupsObject ? parts.length - 3 : parts.length - 2] as number;
        const fake = Object.assign([whole, ...groups], { index, input: text }) as unknown as RegExpExecArray;
        const r = interp.callValue(repl, [makeMatch(fake)], new Map(), interp.currentLocation());
        if (r.kind !== 'str') { failed = true; return whole; }
        return r.value;
      });
      return failed ? UNKNOWN : strV(out);
    },
  };
  for (const [name, op] of Object.entries(ops)) {
    patternClass.attrs.set(name, fn(`Pattern.${name}`, (args, kwargs) => {
      const pat = args[0]?.kind === 'instance' ? patterns.get(args[0]) : undefined;
      return pat ? op(pat, args.slice(1), kwargs) : UNKNOWN;
    }));
  }
  const moduleFn = (name: string, op: Op, patternIndex = 0, flagsIndex = 2): [string, Value] => [name, fn(name, (args, kwargs) => {
    const pat = patternOf(args[patternIndex], args[flagsIndex] ?? kwargs.get('flags'));
    if (!pat) return UNKNOWN;
    const rest = args.filter((_, i) => i !== patternIndex && i !== flagsIndex);
    return op(pat, rest, kwargs);
  })];
  mod('re', () => [
    ['compile', fn('compile', (args, kwargs) => {
      const pat = patternOf(args[0], args[1] ?? kwargs.get('flags'));
      if (!pat) return UNKNOWN;
      const inst = interp.newInstance(patternClass);
      patterns.set(inst, pat);
      inst.attrs.set('pattern', strV(pat.source));
      return inst;
    })],
    moduleFn('match', ops.match), moduleFn('fullmatch', ops.fullmatch), moduleFn('search', ops.search), moduleFn('findall', ops.findall),
    ['split', fn('split', (args, kwargs) => {
      const pat = patternOf(args[0], args[3] ?? kwargs.get('flags'));
      return pat ? ops.split(pat, [args[1] ?? UNKNOWN, args[2] ?? intV(0)], kwargs) : UNKNOWN;
    })],
    ['sub', fn('sub', (args, kwargs) => {
      const pat = patternOf(args[0], args[4] ?? kwargs.get('flags'));
      return pat ? ops.sub(pat, [args[1] ?? UNKNOWN, args[2] ?? UNKNOWN, args[3] ?? intV(0)], kwargs) : UNKNOWN;
    })],
    ['escape', fn('escape', (args) => (args[0]?.kind === 'str' ? strV(args[0].value.replace(/[.*+?^${}()|[\]\\\-#&~ ]/g, '\\$&')) : UNKNOWN))],
    ['IGNORECASE', intV(IGNORECASE)], ['I', intV(IGNORECASE)], ['MULTILINE', intV(MULTILINE)], ['M', intV(MULTILINE)],
    ['DOTALL', intV(DOTALL)], ['S', intV(DOTALL)], ['VERBOSE', intV(VERBOSE)], ['X', intV(VERBOSE)], ['Pattern', patternClass], ['Match', matchClass],
  ]);
}

/**
 * A small numpy: 1-D arrays of known numbers, enough for configuration code such as
 * `np.linspace(0, p, n).tolist()` (torchvision MaxViT). Other members are Unknown.
 */
function installNumpy(interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void, objectClass: ClassValue): void {
  const ndarray = cls('ndarray', [objectClass]);
  const data = new WeakMap<InstanceValue, number[]>();
  const isFloatArray = new WeakSet<InstanceValue>();
  const make = (values: number[], float: boolean, shape: number[] = [values.length], dtype?: string): InstanceValue => {
    const a = interp.newInstance(ndarray);
    data.set(a, values);
    if (float) isFloatArray.add(a);
    recordNdarray(a, { values, shape, dtype: dtype ?? (float ? 'float64' : 'int64') });
    return a;
  };
  const shapeOf = (v: Value | undefined): number[] | undefined => ndarrayContents(v)?.shape;
  /** Arrays of more than one dimension: the 1-D members below (indexing, iteration) do not apply. */
  const multiDim = (v: Value | undefined): boolean => (shapeOf(v)?.length ?? 1) !== 1;
  const valuesOf = (v: Value | undefined): number[] | undefined => {
    if (!v) return undefined;
    if (v.kind === 'instance') return data.get(v);
    const n = numberOf(v);
    if (n !== undefined) return [n];
    if (v.kind === 'list' || v.kind === 'tuple') {
      const out: number[] = [];
      for (const i of v.items) { const x = numberOf(i); if (x === undefined) return undefined; out.push(x); }
      return out;
    }
    return undefined;
  };
  const floaty = (v: Value | undefined): boolean => !!v && ((v.kind === 'instance' && isFloatArray.has(v)) || v.kind === 'float' || ((v.kind === 'list' || v.kind === 'tuple') && v.items.some((i) => i.kind === 'float')));
  const scalar = (x: number, float: boolean): Value => (float ? floatV(x) : intV(x));
  const self = (args: Value[]) => (args[0]?.kind === 'instance' ? data.get(args[0]) : undefined);
  ndarray.attrs.set('tolist', fn('tolist', (args) => {
    if (multiDim(args[0])) return UNKNOWN;
    const d = self(args);
    return d ? listV(d.map((x) => scalar(x, isFloatArray.has(args[0] as InstanceValue)))) : UNKNOWN;
  }));
  ndarray.attrs.set('__len__', fn('__len__', (args) => { const d = self(args); const shape = shapeOf(args[0]); return d && shape ? intV(shape[0] ?? 0) : UNKNOWN; }));
  ndarray.attrs.set('__iter__', fn('__iter__', (args) => {
    const d = self(args);
    return d && !multiDim(args[0]) ? interp.makeIterator(d.map((x) => scalar(x, isFloatArray.has(args[0] as InstanceValue)))) : UNKNOWN;
  }));
  const reshaped = (args: Value[], shape: number[]): Value => {
    const d = self(args);
    const c = ndarrayContents(args[0]);
    return d && c ? make(d, isFloatArray.has(args[0] as InstanceValue), shape, c.dtype) : UNKNOWN;
  };
  ndarray.attrs.set('flatten', fn('flatten', (args) => reshaped(args, [self(args)?.length ?? 0])));
  ndarray.attrs.set('ravel', fn('ravel', (args) => reshaped(args, [self(args)?.length ?? 0])));
  ndarray.attrs.set('reshape', fn('reshape', (args) => {
    const d = self(args);
    const dims = (args.length === 2 && (args[1]?.kind === 'tuple' || args[1]?.kind === 'list') ? args[1].items : args.slice(1)).map((x) => numberOf(x));
    if (!d || dims.some((x) => x === undefined)) return UNKNOWN;
    const known = (dims as number[]).filter((x) => x !== -1).reduce((a, b) => a * b, 1);
    const shape = (dims as number[]).map((x) => (x === -1 ? d.length / known : x));
    return shape.reduce((a, b) => a * b, 1) === d.length && shape.every(Number.isInteger) ? reshaped(args, shape) : UNKNOWN;
  }));
  ndarray.attrs.set('astype', fn('astype', (args) => {
    const d = self(args);
    const target = args[1];
    const name = target?.kind === 'builtin' ? target.name : target?.kind === 'str' ? target.value : undefined;
    if (!d || !name || !/^(float|int|uint|bool)/.test(name)) return UNKNOWN;
    const float = name.startsWith('float');
    const values = float ? d : d.map((x) => (name === 'bool' ? (x ? 1 : 0) : Math.trunc(x)));
    return make(values, float, shapeOf(args[0]), name === 'float' ? 'float64' : name === 'int' ? 'int64' : name);
  }));
  ndarray.attrs.set('__getitem__', fn('__getitem__', (args) => {
    if (multiDim(args[0])) return UNKNOWN;
    const d = self(args);
    const i = args[1] ? numberOf(args[1]) : undefined;
    if (!d || i === undefined) return UNKNOWN;
    const x = d[i < 0 ? d.length + i : i];
    return x === undefined ? UNKNOWN : scalar(x, isFloatArray.has(args[0] as InstanceValue));
  }));
  const elementwise = (op: (a: number, b: number) => number, forceFloat = false) => fn('op', (args) => {
    const a = valuesOf(args[0]); const b = valuesOf(args[1]);
    if (!a || !b) return UNKNOWN;
    const n = Math.max(a.length, b.length);
    if (a.length !== n && a.length !== 1) return UNKNOWN;
    if (b.length !== n && b.length !== 1) return UNKNOWN;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(op(a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]));
    const shape = (a.length === n ? shapeOf(args[0]) : undefined) ?? (b.length === n ? shapeOf(args[1]) : undefined);
    return make(out, forceFloat || floaty(args[0]) || floaty(args[1]), shape);
  });
  for (const [name, op, isFloat] of [['__add__', (a: number, b: number) => a + b, false], ['__radd__', (a: number, b: number) => a + b, false], ['__sub__', (a: number, b: number) => a - b, false], ['__mul__', (a: number, b: number) => a * b, false], ['__rmul__', (a: number, b: number) => a * b, false], ['__truediv__', (a: number, b: number) => a / b, true]] as const) {
    ndarray.attrs.set(name, elementwise(op, isFloat));
  }
  const unary = (f: (x: number) => number, float = true) => fn('np', (args) => {
    const d = valuesOf(args[0]);
    if (!d) return UNKNOWN;
    const out = d.map(f);
    return args[0]?.kind === 'instance' || args[0]?.kind === 'list' || args[0]?.kind === 'tuple' ? make(out, float, shapeOf(args[0])) : scalar(out[0], float);
  });
  /** The numbers a reduction runs over: all of them; an axis of a multi-dimensional array is not followed. */
  const wholeArray = (args: Value[], kwargs: Map<string, Value>): number[] | undefined =>
    (multiDim(args[0]) && ((args[1] && args[1].kind !== 'none') || kwargs.has('axis')) ? undefined : valuesOf(args[0]));
  const filled = (name: string, value: number) => fn(name, (args, kwargs) => {
    const spec = args[0] ?? kwargs.get('shape');
    const dims = spec?.kind === 'tuple' || spec?.kind === 'list' ? spec.items.map((x) => numberOf(x)) : [spec ? numberOf(spec) : undefined];
    if (dims.some((x) => x === undefined || x < 0)) return UNKNOWN;
    const n = (dims as number[]).reduce((a, b) => a * b, 1);
    return n > 100_000 ? UNKNOWN : make(new Array<number>(n).fill(value), true, dims as number[]);
  });
  // numpy scalar types: np.float32(x) converts, and they name dtypes for astype.
  const scalarType = (name: string) => fn(name, (args) => {
    const x = args[0] ? numberOf(args[0]) : 0;
    if (x === undefined) return UNKNOWN;
    return name.startsWith('float') ? floatV(name === 'float32' ? Math.fround(x) : x) : name === 'bool_' ? boolV(x !== 0) : intV(Math.trunc(x));
  });
  mod('numpy', () => [
    ['ndarray', ndarray], ['pi', floatV(Math.PI)], ['e', floatV(Math.E)], ['inf', floatV(Infinity)], ['nan', floatV(NaN)],
    ...(['float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool_'] as const).map((n): [string, Value] => [n, scalarType(n)]),
    ['zeros', filled('zeros', 0)], ['ones', filled('ones', 1)],
    ['eye', fn('eye', (args, kwargs) => {
      const rows = numberOf(args[0] ?? kwargs.get('N') ?? UNKNOWN);
      const colsArg = args[1] ?? kwargs.get('M');
      const cols = colsArg && colsArg.kind !== 'none' ? numberOf(colsArg) : rows;
      if (rows === undefined || cols === undefined || rows * cols > 100_000) return UNKNOWN;
      const out: number[] = [];
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.push(r === c ? 1 : 0);
      return make(out, true, [rows, cols]);
    })],
    ['linspace', fn('linspace', (args, kwargs) => {
      const start = numberOf(args[0] ?? kwargs.get('start') ?? UNKNOWN);
      const stop = numberOf(args[1] ?? kwargs.get('stop') ?? UNKNOWN);
      const num = numberOf(args[2] ?? kwargs.get('num') ?? intV(50));
      if (start === undefined || stop === undefined || num === undefined || num > 100_000) return UNKNOWN;
      const out: number[] = [];
      for (let i = 0; i < num; i++) out.push(num === 1 ? start : start + ((stop - start) * i) / (num - 1));
      return make(out, true);
    })],
    ['arange', fn('arange', (args) => {
      const nums = args.map((a) => numberOf(a));
      if (nums.some((n) => n === undefined) || nums.length === 0) return UNKNOWN;
      const [a, b, c] = nums as number[];
      const [start, stop, step] = nums.length === 1 ? [0, a, 1] : [a, b, c ?? 1];
      const out: number[] = [];
      for (let x = start; step > 0 ? x < stop : x > stop; x += step) { out.push(x); if (out.length > 100_000) return UNKNOWN; }
      return make(out, args.some((v) => v.kind === 'float'));
    })],
    ['array', fn('array', (args) => { const d = valuesOf(args[0]); return d ? make(d, floaty(args[0])) : UNKNOWN; })],
    ['asarray', fn('asarray', (args) => { const d = valuesOf(args[0]); return d ? make(d, floaty(args[0])) : UNKNOWN; })],
    ['cumsum', fn('cumsum', (args, kwargs) => { const d = wholeArray(args, kwargs); if (!d) return UNKNOWN; let acc = 0; return make(d.map((x) => (acc += x)), floaty(args[0])); })],
    ['sum', fn('sum', (args, kwargs) => { const d = wholeArray(args, kwargs); return d ? scalar(d.reduce((a, b) => a + b, 0), floaty(args[0])) : UNKNOWN; })],
    ['prod', fn('prod', (args, kwargs) => { const d = wholeArray(args, kwargs); return d ? scalar(d.reduce((a, b) => a * b, 1), floaty(args[0])) : UNKNOWN; })],
    ['sqrt', unary(Math.sqrt)], ['log', unary(Math.log)], ['exp', unary(Math.exp)], ['floor', unary(Math.floor)], ['ceil', unary(Math.ceil)],
    ['log2', unary(Math.log2)], ['log10', unary(Math.log10)], ['log1p', unary(Math.log1p)], ['sin', unary(Math.sin)], ['cos', unary(Math.cos)],
    ['tanh', unary(Math.tanh)], ['trunc', unary(Math.trunc)], ['abs', unary(Math.abs, false)], ['absolute', unary(Math.abs, false)],
    ['square', unary((x) => x * x, false)],
    ['power', elementwise((a, b) => a ** b)], ['maximum', elementwise(Math.max)], ['minimum', elementwise(Math.min)],
    ['max', fn('max', (args, kwargs) => { const d = wholeArray(args, kwargs); return d && d.length ? scalar(Math.max(...d), floaty(args[0])) : UNKNOWN; })],
    ['min', fn('min', (args, kwargs) => { const d = wholeArray(args, kwargs); return d && d.length ? scalar(Math.min(...d), floaty(args[0])) : UNKNOWN; })],
    ['mean', fn('mean', (args, kwargs) => { const d = wholeArray(args, kwargs); return d && d.length ? floatV(d.reduce((a, b) => a + b, 0) / d.length) : UNKNOWN; })],
    ['round', unary((x) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; })],
  ]);
}

function nameOf(v: Value | undefined): string {
  if (!v) return '?';
  if (v.kind === 'function' || v.kind === 'builtin' || v.kind === 'class') return v.name;
  return '?';
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
function gcd(a: number, b: number): number { a = Math.abs(a); b = Math.abs(b); while (b) [a, b] = [b, a % b]; return a; }
function factorial(n: number): number { let r = 1; for (let i = 2; i <= n; i++) r *= i; return r; }
function hashString(s: string): number { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return h; }

// --- plain-value methods ------------------------------------------------------------------

function installValueMethods(interp: Interpreter, sortValues: (items: Value[], key?: Value, reverse?: boolean) => Value[] | undefined): void {
  const loc = () => interp.currentLocation();
  const iter = (v: Value) => interp.iterate(v, loc());
  const str = new Map<string, Impl>();
  const s = (self: Value): string => (self.kind === 'str' ? self.value : '');
  const argStr = (v: Value | undefined): string | undefined => (v && v.kind === 'str' ? v.value : undefined);
  const strMethod = (name: string, f: (self: string, args: Value[], kwargs: Map<string, Value>) => Value) => str.set(name, (args, kwargs) => f(s(args[0]), args.slice(1), kwargs));
  strMethod('format', (self, args, kwargs) => {
    let auto = 0;
    let failed = false;
    const out = self.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, field: string | undefined) => {
      if (m === '{{') return '{';
      if (m === '}}') return '}';
      const [ref, spec = ''] = (field ?? '').split(':');
      const [namePart, conv] = ref.split('!');
      let v: Value | undefined;
      const path = namePart.split('.');
      const head = path[0];
      if (head === '') v = args[auto++];
      else if (/^\d+$/.test(head)) v = args[Number(head)];
      else v = kwargs.get(head);
      for (const attr of path.slice(1)) v = v ? interp.getAttr(v, attr, loc()) : undefined;
      if (!v || v.kind === 'unknown') { failed = true; return ''; }
      return conv === 'r' ? pyRepr(v) : formatValue(v, spec);
    });
    return failed ? UNKNOWN : strV(out);
  });
  strMethod('join', (self, args) => {
    const items = args[0] ? iter(args[0]) : undefined;
    if (!items || items.some((i) => i.kind !== 'str')) return UNKNOWN;
    return strV(items.map((i) => (i as { value: string }).value).join(self));
  });
  strMethod('split', (self, args, kwargs) => {
    const sep = argStr(args[0] ?? kwargs.get('sep'));
    const maxsplit = numberOf(args[1] ?? kwargs.get('maxsplit') ?? intV(-1)) ?? -1;
    let parts: string[];
    if (sep === undefined) parts = self.trim().split(/\s+/).filter(Boolean);
    else {
      parts = self.split(sep);
      if (maxsplit >= 0 && parts.length > maxsplit + 1) parts = [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
    }
    return listV(parts.map(strV));
  });
  strMethod('rsplit', (self, args) => {
    const sep = argStr(args[0]);
    const maxsplit = numberOf(args[1] ?? intV(-1)) ?? -1;
    if (sep === undefined) return listV(self.trim().split(/\s+/).filter(Boolean).map(strV));
    let parts = self.split(sep);
    if (maxsplit >= 0 && parts.length > maxsplit + 1) parts = [parts.slice(0, parts.length - maxsplit).join(sep), ...parts.slice(parts.length - maxsplit)];
    return listV(parts.map(strV));
  });
  strMethod('replace', (self, args) => {
    const a = argStr(args[0]); const b = argStr(args[1]);
    return a === undefined || b === undefined ? UNKNOWN : strV(self.split(a).join(b));
  });
  strMethod('startswith', (self, args) => {
    const p = args[0];
    if (p?.kind === 'tuple') return boolV(p.items.some((i) => i.kind === 'str' && self.startsWith(i.value)));
    const t = argStr(p); return t === undefined ? UNKNOWN : boolV(self.startsWith(t));
  });
  strMethod('endswith', (self, args) => {
    const p = args[0];
    if (p?.kind === 'tuple') return boolV(p.items.some((i) => i.kind === 'str' && self.endsWith(i.value)));
    const t = argStr(p); return t === undefined ? UNKNOWN : boolV(self.endsWith(t));
  });
  strMethod('lower', (self) => strV(self.toLowerCase()));
  strMethod('upper', (self) => strV(self.toUpperCase()));
  strMethod('title', (self) => strV(self.replace(/\w\S*/g, (w) => w[0].toUpperCase() + w.slice(1).toLowerCase())));
  strMethod('capitalize', (self) => strV(self.charAt(0).toUpperCase() + self.slice(1).toLowerCase()));
  const stripChars = (chars: string | undefined) => (chars === undefined ? '\\s' : chars.replace(/[\\\]^-]/g, '\\$&'));
  strMethod('strip', (self, args) => strV(self.replace(new RegExp(`^[${stripChars(argStr(args[0]))}]+|[${stripChars(argStr(args[0]))}]+$`, 'g'), '')));
  strMethod('lstrip', (self, args) => strV(self.replace(new RegExp(`^[${stripChars(argStr(args[0]))}]+`), '')));
  strMethod('rstrip', (self, args) => strV(self.replace(new RegExp(`[${stripChars(argStr(args[0]))}]+$`), '')));
  strMethod('find', (self, args) => { const t = argStr(args[0]); return t === undefined ? UNKNOWN : intV(self.indexOf(t)); });
  strMethod('rfind', (self, args) => { const t = argStr(args[0]); return t === undefined ? UNKNOWN : intV(self.lastIndexOf(t)); });
  strMethod('index', (self, args) => { const t = argStr(args[0]); if (t === undefined) return UNKNOWN; const i = self.indexOf(t); return i < 0 ? interp.raise('ValueError', 'substring not found') : intV(i); });
  strMethod('count', (self, args) => { const t = argStr(args[0]); return t === undefined || t === '' ? UNKNOWN : intV(self.split(t).length - 1); });
  strMethod('isdigit', (self) => boolV(/^\d+$/.test(self)));
  strMethod('isnumeric', (self) => boolV(/^\d+$/.test(self)));
  strMethod('isalpha', (self) => boolV(/^[a-zA-Z]+$/.test(self)));
  strMethod('isidentifier', (self) => boolV(/^[A-Za-z_]\w*$/.test(self)));
  strMethod('isupper', (self) => boolV(self.toUpperCase() === self && self.toLowerCase() !== self));
  strMethod('islower', (self) => boolV(self.toLowerCase() === self && self.toUpperCase() !== self));
  strMethod('zfill', (self, args) => strV(self.padStart(numberOf(args[0] ?? intV(0)) ?? 0, '0')));
  strMethod('ljust', (self, args) => strV(self.padEnd(numberOf(args[0] ?? intV(0)) ?? 0, argStr(args[1]) ?? ' ')));
  strMethod('rjust', (self, args) => strV(self.padStart(numberOf(args[0] ?? intV(0)) ?? 0, argStr(args[1]) ?? ' ')));
  strMethod('center', (self, args) => strV(formatValue(strV(self), '^' + (numberOf(args[0] ?? intV(0)) ?? 0))));
  strMethod('encode', (self) => strV(self));
  strMethod('splitlines', (self) => listV(self.split(/\r?\n/).map(strV)));
  strMethod('partition', (self, args) => {
    const sep = argStr(args[0]) ?? '';
    const i = self.indexOf(sep);
    return i < 0 ? tupleV([strV(self), strV(''), strV('')]) : tupleV([strV(self.slice(0, i)), strV(sep), strV(self.slice(i + sep.length))]);
  });
  strMethod('removeprefix', (self, args) => { const p = argStr(args[0]) ?? ''; return strV(self.startsWith(p) ? self.slice(p.length) : self); });
  strMethod('removesuffix', (self, args) => { const p = argStr(args[0]) ?? ''; return strV(p && self.endsWith(p) ? self.slice(0, -p.length) : self); });
  interp.valueMethods.set('str', str);

  const list = new Map<string, Impl>();
  const items = (self: Value): Value[] => (self.kind === 'list' || self.kind === 'tuple' ? self.items : []);
  list.set('append', (args) => { items(args[0]).push(args[1] ?? NONE); return NONE; });
  list.set('extend', (args) => { const more = args[1] ? iter(args[1]) : undefined; if (more) items(args[0]).push(...more); return NONE; });
  list.set('insert', (args) => {
    const arr = items(args[0]);
    const i = numberOf(args[1] ?? UNKNOWN);
    if (i !== undefined) arr.splice(i < 0 ? Math.max(0, arr.length + i) : Math.min(i, arr.length), 0, args[2] ?? NONE);
    return NONE;
  });
  list.set('pop', (args) => {
    const arr = items(args[0]);
    if (arr.length === 0) return interp.raise('IndexError', 'pop from empty list');
    const i = args[1] ? numberOf(args[1]) : -1;
    if (i === undefined) return UNKNOWN;
    const j = i < 0 ? arr.length + i : i;
    return arr.splice(j, 1)[0] ?? UNKNOWN;
  });
  list.set('remove', (args) => {
    const arr = items(args[0]);
    const i = arr.findIndex((x) => pyEquals(x, args[1] ?? NONE) === true);
    if (i >= 0) arr.splice(i, 1);
    return NONE;
  });
  // collections.deque is a list here: its left-end methods too (timm keeps pretrained tags in one).
  list.set('appendleft', (args) => { items(args[0]).unshift(args[1] ?? NONE); return NONE; });
  list.set('extendleft', (args) => { const more = args[1] ? iter(args[1]) : undefined; if (more) items(args[0]).unshift(...more.reverse()); return NONE; });
  list.set('popleft', (args) => {
    const arr = items(args[0]);
    return arr.length === 0 ? interp.raise('IndexError', 'pop from an empty deque') : arr.shift()!;
  });
  list.set('clear', (args) => { items(args[0]).length = 0; return NONE; });
  list.set('reverse', (args) => { items(args[0]).reverse(); return NONE; });
  list.set('copy', (args) => listV(items(args[0]).slice()));
  list.set('sort', (args, kwargs) => {
    const arr = items(args[0]);
    const sorted = sortValues(arr, kwargs.get('key'), truthy(kwargs.get('reverse') ?? FALSE) ?? false);
    if (sorted) { arr.length = 0; arr.push(...sorted); }
    return NONE;
  });
  const index: Impl = (args) => {
    const i = items(args[0]).findIndex((x) => pyEquals(x, args[1] ?? NONE) === true);
    return i < 0 ? interp.raise('ValueError', `${pyRepr(args[1] ?? NONE)} is not in list`) : intV(i);
  };
  const count: Impl = (args) => intV(items(args[0]).filter((x) => pyEquals(x, args[1] ?? NONE) === true).length);
  list.set('index', index);
  list.set('count', count);
  interp.valueMethods.set('list', list);
  interp.valueMethods.set('tuple', new Map<string, Impl>([['index', index], ['count', count]]));

  const dict = new Map<string, Impl>();
  const d = (self: Value): DictValue => (self.kind === 'dict' ? self : newDict());
  const entries = (self: Value) => {
    const dict = d(self);
    interp.readWholeLibraryDict(dict, interp.currentLocation());
    return [...dict.entries.values()];
  };
  dict.set('get', (args) => {
    const v = dictGet(d(args[0]), args[1] ?? NONE);
    if (v !== undefined) return v;
    if (dictKey(args[1] ?? UNKNOWN) === undefined) return UNKNOWN;
    // A miss in a library registry (timm's _model_entrypoints.get(name)) completes it first.
    interp.completeRegistryOnMiss(d(args[0]), interp.currentLocation());
    return dictGet(d(args[0]), args[1] ?? NONE) ?? args[2] ?? NONE;
  });
  dict.set('keys', (args) => listV(entries(args[0]).map((e) => e.key)));
  dict.set('values', (args) => listV(entries(args[0]).map((e) => e.value)));
  dict.set('items', (args) => listV(entries(args[0]).map((e) => tupleV([e.key, e.value]))));
  dict.set('pop', (args) => {
    const k = dictKey(args[1] ?? UNKNOWN);
    if (k === undefined) return UNKNOWN;
    const e = d(args[0]).entries.get(k);
    if (e) { d(args[0]).entries.delete(k); return e.value; }
    if (args[2]) return args[2];
    return interp.raise('KeyError', messages.keyNotFound(pyRepr(args[1])));
  });
  dict.set('popitem', (args) => {
    const all = entries(args[0]);
    const last = all[all.length - 1];
    if (!last) return interp.raise('KeyError', 'popitem(): dictionary is empty');
    d(args[0]).entries.delete(dictKey(last.key)!);
    return tupleV([last.key, last.value]);
  });
  // Explicit dunder calls (a lambda cannot assign: `lambda m, i, o: feats.__setitem__(k, o)`).
  dict.set('__setitem__', (args) => { dictSet(d(args[0]), args[1] ?? NONE, args[2] ?? NONE); return NONE; });
  dict.set('__getitem__', (args) => interp.getItem(args[0] ?? UNKNOWN, args[1] ?? NONE, interp.currentLocation()));
  dict.set('__contains__', (args) => interp.contains(args[0] ?? UNKNOWN, args[1] ?? NONE));
  dict.set('setdefault', (args) => {
    const v = dictGet(d(args[0]), args[1] ?? NONE);
    if (v !== undefined) return v;
    dictSet(d(args[0]), args[1] ?? NONE, args[2] ?? NONE);
    return args[2] ?? NONE;
  });
  dict.set('update', (args, kwargs) => {
    const target = d(args[0]);
    const src = args[1];
    if (src?.kind === 'dict') for (const e of src.entries.values()) dictSet(target, e.key, e.value);
    else if (src) for (const item of iter(src) ?? []) { const pair = iter(item); if (pair?.length === 2) dictSet(target, pair[0], pair[1]); }
    for (const [k, v] of kwargs) dictSet(target, strV(k), v);
    return NONE;
  });
  dict.set('copy', (args) => { const c = newDict(d(args[0]).ordered); for (const [k, e] of d(args[0]).entries) c.entries.set(k, { ...e }); c.isSet = d(args[0]).isSet; return c; });
  dict.set('clear', (args) => { d(args[0]).entries.clear(); return NONE; });
  dict.set('move_to_end', (args) => {
    const k = dictKey(args[1] ?? UNKNOWN);
    const e = k ? d(args[0]).entries.get(k) : undefined;
    if (k && e) { d(args[0]).entries.delete(k); d(args[0]).entries.set(k, e); }
    return NONE;
  });
  interp.valueMethods.set('dict', dict);

  const set = new Map<string, Impl>();
  set.set('add', (args) => { dictSet(d(args[0]), args[1] ?? NONE, NONE); return NONE; });
  set.set('discard', (args) => { const k = dictKey(args[1] ?? UNKNOWN); if (k) d(args[0]).entries.delete(k); return NONE; });
  set.set('remove', (args) => { const k = dictKey(args[1] ?? UNKNOWN); if (k) d(args[0]).entries.delete(k); return NONE; });
  set.set('update', (args) => { for (const i of iter(args[1] ?? UNKNOWN) ?? []) dictSet(d(args[0]), i, NONE); return NONE; });
  set.set('union', (args) => { const c = interp.makeSet(entries(args[0]).map((e) => e.key)); for (const a of args.slice(1)) for (const i of iter(a) ?? []) dictSet(c, i, NONE); return c; });
  set.set('intersection', (args) => {
    const other = interp.makeSet(iter(args[1] ?? UNKNOWN) ?? []);
    return interp.makeSet(entries(args[0]).map((e) => e.key).filter((k) => other.entries.has(dictKey(k)!)));
  });
  set.set('difference', (args) => {
    const other = interp.makeSet(iter(args[1] ?? UNKNOWN) ?? []);
    return interp.makeSet(entries(args[0]).map((e) => e.key).filter((k) => !other.entries.has(dictKey(k)!)));
  });
  set.set('issubset', (args) => { const other = interp.makeSet(iter(args[1] ?? UNKNOWN) ?? []); return boolV(entries(args[0]).every((e) => other.entries.has(dictKey(e.key)!))); });
  set.set('copy', (args) => interp.makeSet(entries(args[0]).map((e) => e.key)));
  set.set('pop', (args) => { const first = entries(args[0])[0]; if (!first) return UNKNOWN; d(args[0]).entries.delete(dictKey(first.key)!); return first.key; });
  interp.valueMethods.set('set', set);

  const intMethods = new Map<string, Impl>([
    ['bit_length', (args) => { const n = numberOf(args[0]); return n === undefined ? UNKNOWN : intV(n === 0 ? 0 : Math.floor(Math.log2(Math.abs(n))) + 1); }],
    ['__index__', (args) => args[0]],
  ]);
  interp.valueMethods.set('int', intMethods);
  interp.valueMethods.set('bool', intMethods);
  interp.valueMethods.set('float', new Map<string, Impl>([
    ['is_integer', (args) => { const n = numberOf(args[0]); return n === undefined ? UNKNOWN : boolV(Number.isInteger(n)); }],
  ]));
}

// --- dataclasses, NamedTuple, Enum ------------------------------------------------------

interface RecordField { name: string; default?: Value; factory?: Value; init?: boolean }

/** Gives a class a generated __init__ over its fields (dataclass / NamedTuple). */
function setupRecordClass(interp: Interpreter, c: ClassValue, fields: RecordField[], isNamedTuple: boolean): void {
  const fieldNames = fields.map((f) => f.name);
  c.attrs.set(isNamedTuple ? '_fields' : '__dataclass_field_names__', tupleV(fieldNames.map(strV)));
  if (isNamedTuple) c.attrs.set('__namedtuple__', TRUE);
  fieldsOf.set(c, fields);
  const init = fn(`${c.name}.__init__`, (args, kwargs, ctx) => {
    const self = args[0];
    if (!self || self.kind !== 'instance') return NONE;
    const positional = args.slice(1);
    let i = 0;
    for (const f of fields) {
      if (f.init === false) {
        if (f.factory) self.attrs.set(f.name, ctx.callValue(f.factory, []));
        else if (f.default) self.attrs.set(f.name, f.default);
        continue;
      }
      let v: Value | undefined = i < positional.length ? positional[i++] : kwargs.get(f.name);
      if (v === undefined) v = f.factory ? ctx.callValue(f.factory, []) : f.default;
      if (v === undefined) interp.raise('TypeError', messages.missingArgument(c.name, f.name), ctx.location);
      self.attrs.set(f.name, v);
    }
    const post = interp.lookupClassAttr(self.cls, '__post_init__');
    if (post) ctx.callValue(interp.bindMethod(post, self, self.cls), []);
    return NONE;
  });
  c.attrs.set('__init__', init);
  if (isNamedTuple) {
    c.attrs.set('_asdict', fn('_asdict', (args) => {
      const self = args[0];
      const out = newDict(true);
      if (self?.kind === 'instance') for (const f of fieldNames) dictSet(out, strV(f), self.attrs.get(f) ?? UNKNOWN);
      return out;
    }));
    c.attrs.set('_replace', fn('_replace', (args, kwargs) => {
      const self = args[0];
      if (self?.kind !== 'instance') return UNKNOWN;
      const copy = interp.newInstance(self.cls);
      for (const [k, v] of self.attrs) copy.attrs.set(k, v);
      for (const [k, v] of kwargs) copy.attrs.set(k, v);
      return copy;
    }));
  }
}
const fieldsOf = new WeakMap<ClassValue, RecordField[]>();

function fieldsFromAnnotations(interp: Interpreter, c: ClassValue, fieldMarker: ClassValue): RecordField[] {
  const fields: RecordField[] = [];
  for (const base of [...c.mro].reverse()) {
    if (base === c) continue;
    const inherited = fieldsOf.get(base);
    if (inherited) for (const f of inherited) { const i = fields.findIndex((x) => x.name === f.name); if (i >= 0) fields[i] = f; else fields.push(f); }
  }
  const ann = c.attrs.get('__annotations__');
  if (ann && ann.kind === 'dict') {
    for (const e of ann.entries.values()) {
      if (e.key.kind !== 'str') continue;
      const name = e.key.value;
      const annText = e.value;
      if (annText.kind === 'unknown' && annText.reason === 'typing.ClassVar') continue;
      const raw = c.attrs.get(name);
      const f: RecordField = { name };
      if (raw && raw.kind === 'instance' && raw.cls === fieldMarker) {
        const d = raw.attrs.get('default');
        const fac = raw.attrs.get('default_factory');
        if (d && d.kind !== 'unknown') f.default = d;
        if (fac && fac.kind !== 'none') f.factory = fac;
        const init = raw.attrs.get('init');
        if (init && truthy(init) === false) f.init = false;
        c.attrs.delete(name);
        if (f.default) c.attrs.set(name, f.default);
      } else if (raw !== undefined && !(raw.kind === 'function')) f.default = raw;
      const i = fields.findIndex((x) => x.name === name);
      if (i >= 0) fields[i] = f; else fields.push(f);
    }
  }
  void interp;
  return fields;
}

function installDataclasses(interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void, objectClass: ClassValue): void {
  const fieldMarker = cls('Field', [objectClass]);
  const makeDataclass = (c: ClassValue): ClassValue => {
    setupRecordClass(interp, c, fieldsFromAnnotations(interp, c, fieldMarker), false);
    return c;
  };
  const dataclass = fn('dataclass', (args) => {
    if (args[0] && args[0].kind === 'class') return makeDataclass(args[0]);
    return fn('dataclass', (inner) => (inner[0]?.kind === 'class' ? makeDataclass(inner[0]) : UNKNOWN));
  });
  const field = fn('field', (_args, kwargs) => {
    const inst = interp.newInstance(fieldMarker);
    for (const [k, v] of kwargs) inst.attrs.set(k, v);
    return inst;
  });
  const fieldsFn = fn('fields', (args) => {
    const target = args[0];
    const c = target?.kind === 'class' ? target : target?.kind === 'instance' ? target.cls : undefined;
    const fs = c ? fieldsOf.get(c) : undefined;
    if (!fs) return UNKNOWN;
    return tupleV(fs.map((f) => {
      const inst = interp.newInstance(fieldMarker);
      inst.attrs.set('name', strV(f.name));
      inst.attrs.set('default', f.default ?? NONE);
      return inst;
    }));
  });
  const asdict = fn('asdict', (args) => {
    const self = args[0];
    if (self?.kind !== 'instance') return UNKNOWN;
    const fs = fieldsOf.get(self.cls);
    if (!fs) return UNKNOWN;
    const out = newDict();
    for (const f of fs) dictSet(out, strV(f.name), self.attrs.get(f.name) ?? UNKNOWN);
    return out;
  });
  const replace = fn('replace', (args, kwargs, ctx) => {
    const self = args[0];
    if (self?.kind !== 'instance') return UNKNOWN;
    const fs = fieldsOf.get(self.cls) ?? [];
    const kw = new Map<string, Value>();
    for (const f of fs) if (f.init !== false) kw.set(f.name, self.attrs.get(f.name) ?? UNKNOWN);
    for (const [k, v] of kwargs) kw.set(k, v);
    return ctx.callValue(self.cls, [], kw);
  });
  mod('dataclasses', () => [['dataclass', dataclass], ['field', field], ['fields', fieldsFn], ['asdict', asdict], ['replace', replace], ['MISSING', unknownV('MISSING')], ['is_dataclass', fn('is_dataclass', (args) => boolV(!!(args[0] && (args[0].kind === 'class' ? fieldsOf.has(args[0]) : args[0].kind === 'instance' && fieldsOf.has(args[0].cls)))))]]);
}

function setupNamedTupleBase(interp: Interpreter, base: ClassValue): void {
  interp.classFinishers.push((c) => {
    if (c === base || !c.mro.includes(base) || c.attrs.has('__namedtuple__')) return;
    const fields = fieldsFromAnnotations(interp, c, base);
    setupRecordClass(interp, c, fields, true);
  });
}

function installEnum(interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void, enumBase: ClassValue, intClass: ClassValue, strClass: ClassValue): void {
  let autoCounter = 0;
  const autoClass = cls('auto', [interp.special.object]);
  interp.nativeClasses.set(autoClass, { construct: () => { autoCounter++; const inst = interp.newInstance(autoClass); inst.attrs.set('value', intV(autoCounter)); return inst; } });
  const intEnum = cls('IntEnum', [intClass, enumBase]);
  const strEnum = cls('StrEnum', [strClass, enumBase]);
  const flag = cls('Flag', [enumBase]);
  interp.classFinishers.push((c) => {
    if (c === enumBase || c === intEnum || c === strEnum || c === flag || !c.mro.includes(enumBase)) return;
    const members = newDict(true);
    const mixedWith = c.mro.includes(strClass) ? 'str' : c.mro.includes(intClass) ? 'int' : undefined;
    let next = 1;
    for (const [name, v] of [...c.attrs]) {
      if (name.startsWith('_') || v.kind === 'function' || v.kind === 'builtin' || v.kind === 'class') continue;
      let value = v;
      if (v.kind === 'instance' && v.cls === autoClass) value = intV(next);
      const n = numberOf(value);
      if (n !== undefined) next = n + 1;
      // Aliases (DEFAULT = IMAGENET1K_V2) are the same member.
      let member: InstanceValue | undefined;
      if (v.kind === 'instance' && v.cls === c) member = v;
      else {
        for (const e of members.entries.values()) {
          if (e.value.kind === 'instance' && e.value.attrs.get('value') === value) { member = e.value; break; }
        }
      }
      if (!member) {
        member = interp.newInstance(c);
        member.attrs.set('name', strV(name));
        member.attrs.set('_name_', strV(name));
        member.attrs.set('value', value);
        member.attrs.set('_value_', value);
      }
      if (mixedWith && value.kind === mixedWith) setMixinValue(member, value);
      c.attrs.set(name, member);
      dictSet(members, strV(name), member);
    }
    c.attrs.set('__members__', members);
    autoCounter = 0;
  });
  mod('enum', () => [['Enum', enumBase], ['IntEnum', intEnum], ['StrEnum', strEnum], ['Flag', flag], ['IntFlag', flag], ['auto', autoClass], ['unique', fn('unique', (args) => args[0] ?? UNKNOWN)], ['EnumMeta', interp.special.type]]);
}

function installInspect(interp: Interpreter, mod: (name: string, members: () => [string, Value][]) => void): void {
  const object = interp.special.object;
  const paramClass = cls('Parameter', [object]);
  const kinds: [string, number][] = [['POSITIONAL_ONLY', 0], ['POSITIONAL_OR_KEYWORD', 1], ['VAR_POSITIONAL', 2], ['KEYWORD_ONLY', 3], ['VAR_KEYWORD', 4]];
  for (const [k, v] of kinds) paramClass.attrs.set(k, intV(v));
  paramClass.attrs.set('empty', strV('<empty>'));
  const signatureClass = cls('Signature', [object]);
  const signature = fn('signature', (args) => {
    let f = args[0];
    // Like inspect.signature: look through partials and functools.wraps wrappers.
    for (let hops = 0; hops < 20 && f && f.kind === 'function'; hops++) {
      const impl = fnImpl(f);
      const wrapped = impl.attrs.get('__wrapped__');
      if (wrapped) f = wrapped;
      else if (impl.kind === 'partial') f = impl.fn;
      else break;
    }
    if (!f || f.kind !== 'function') return UNKNOWN;
    const impl = fnImpl(f);
    if (impl.kind !== 'user') return UNKNOWN;
    const params = newDict(true);
    const kindOf: Record<string, number> = { positional: 1, varargs: 2, 'keyword-only': 3, varkw: 4 };
    for (const p of impl.def.params) {
      const inst = interp.newInstance(paramClass);
      inst.attrs.set('name', strV(p.name));
      inst.attrs.set('kind', intV(kindOf[p.kind]));
      inst.attrs.set('default', impl.defaults.get(p.name) ?? strV('<empty>'));
      dictSet(params, strV(p.name), inst);
    }
    const sig = interp.newInstance(signatureClass);
    sig.attrs.set('parameters', params);
    return sig;
  });
  const isKind = (k: Value['kind'][]) => fn('is', (args) => boolV(!!args[0] && k.includes(args[0].kind)));
  mod('inspect', () => [['signature', signature], ['Parameter', paramClass], ['Signature', signatureClass], ['isclass', isKind(['class'])], ['isfunction', isKind(['function'])], ['ismethod', isKind(['function'])], ['getmembers', fn('getmembers', () => listV([]))], ['getfullargspec', fn('getfullargspec', () => UNKNOWN)]]);
}

// --- copying -----------------------------------------------------------------------------

function shallowCopy(interp: Interpreter, v: Value): Value {
  switch (v.kind) {
    case 'list': return listV(v.items.slice());
    case 'dict': { const d = newDict(v.ordered); d.isSet = v.isSet; for (const [k, e] of v.entries) d.entries.set(k, { ...e }); return d; }
    case 'instance': {
      const c = interp.newInstance(v.cls);
      for (const [k, x] of v.attrs) c.attrs.set(k, x);
      if (v.module && c.module) {
        for (const [k, x] of v.module.params) c.module.params.set(k, x);
        for (const [k, x] of v.module.buffers) c.module.buffers.set(k, x);
        for (const [k, x] of v.module.children) c.module.children.set(k, x);
        c.module.training = v.module.training;
        c.module.createdAt = v.module.createdAt;
      }
      return c;
    }
    default: return v;
  }
}

/** copy.deepcopy: new tensor identities (so cloned layers' parameters count separately), shared structure preserved. */
function deepCopy(interp: Interpreter, v: Value, memo: Map<object, Value>): Value {
  const seen = memo.get(v);
  if (seen) return seen;
  switch (v.kind) {
    case 'list': { const out = listV([]); memo.set(v, out); for (const i of v.items) out.items.push(deepCopy(interp, i, memo)); return out; }
    case 'tuple': { const out = tupleV(v.items.map((i) => deepCopy(interp, i, memo))); memo.set(v, out); return out; }
    case 'dict': {
      const d = newDict(v.ordered); d.isSet = v.isSet; memo.set(v, d);
      for (const [k, e] of v.entries) d.entries.set(k, { key: e.key, value: deepCopy(interp, e.value, memo) });
      return d;
    }
    case 'tensor': {
      const t = interp.newTensor(v.shape ? v.shape.slice() : null, v.dtype);
      if (v.isParameter) t.isParameter = true;
      if (v.requiresGrad !== undefined) t.requiresGrad = v.requiresGrad;
      memo.set(v, t);
      return t;
    }
    case 'instance': {
      if (v.cls.attrs.has('__members__') || interp.iteratorState.has(v)) return v;
      const c = interp.newInstance(v.cls);
      memo.set(v, c);
      for (const [k, x] of v.attrs) c.attrs.set(k, deepCopy(interp, x, memo));
      if (v.module && c.module) {
        for (const [k, x] of v.module.params) c.module.params.set(k, deepCopy(interp, x, memo) as typeof x);
        for (const [k, x] of v.module.buffers) c.module.buffers.set(k, deepCopy(interp, x, memo) as typeof x);
        for (const [k, x] of v.module.children) c.module.children.set(k, deepCopy(interp, x, memo) as typeof x);
        c.module.training = v.module.training;
        c.module.createdAt = v.module.createdAt;
      }
      return c;
    }
    default: return v;
  }
}

