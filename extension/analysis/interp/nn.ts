// nn.Module machinery: the Module base class, attribute registration of parameters,
// buffers and children (PyTorch's __setattr__ rules), the containers (Sequential,
// ModuleList, ModuleDict, ParameterList/Dict), nn.Parameter, module traversal
// (named_modules & co., deduplicated by identity like PyTorch), train/eval, and calling
// a module: its forward runs, and leaf-module calls are recorded while tracing.
import type { Param } from '../python/ast';
import * as dim from '../shape/dim';
import type {
  BoundArgs, BuiltinFunctionValue, BuiltinImpl, CallContext, ClassValue, DictValue, InstanceValue, ModuleSpec, NoneValue, SourceLocation, TensorValue, Value,
} from './values';
import { Interpreter, computeMro, type LayerCallRecord } from './interpreter';
import { NONE, UNKNOWN, boolV, dictSet, intV, listV, newDict, numberOf, pyStr, strV, truthy, tupleV } from './pyvalues';
import { messages } from '../messages';

export interface NnClasses {
  moduleBase: ClassValue;
  parameter: ClassValue;
  sequential: ClassValue;
  moduleList: ClassValue;
  moduleDict: ClassValue;
  parameterList: ClassValue;
  parameterDict: ClassValue;
}

type Method = (self: InstanceValue, args: Value[], kwargs: Map<string, Value>, ctx: CallContext) => Value;

type DictEntry = { key: Value; value: Value };

/**
 * `module._modules` (and `_parameters`, `_buffers`) as a dict that writes through to the
 * module: `module._modules[name] = layer` replaces a child, as torchvision's _replace_relu
 * and fusing helpers do; a value of the wrong kind is ignored, like PyTorch's registries would
 * reject it on use.
 */
function liveRegistry(store: Map<string, Value>, accepts: (v: Value) => boolean): DictValue {
  const liveEntry = (name: string): DictEntry => ({
    key: strV(name),
    get value(): Value { return store.get(name) ?? NONE; },
    set value(v: Value) { if (accepts(v)) store.set(name, v); },
  });
  class Entries extends Map<string, DictEntry> {
    override set(k: string, e: DictEntry): this {
      if (e.key.kind !== 'str') return super.set(k, e);
      if (accepts(e.value)) store.set(e.key.value, e.value);
      return super.set(k, liveEntry(e.key.value));
    }
    override delete(k: string): boolean {
      const e = super.get(k);
      if (e?.key.kind === 'str') store.delete(e.key.value);
      return super.delete(k);
    }
  }
  const d: DictValue = { kind: 'dict', entries: new Entries(), ordered: true };
  for (const k of store.keys()) dictSet(d, strV(k), store.get(k)!);
  return d;
}

export function installNn(interp: Interpreter, objectClass: ClassValue): NnClasses {
  const makeClass = (name: string, bases: ClassValue[], methods: Record<string, Method>): ClassValue => {
    const cls: ClassValue = { kind: 'class', name, mro: [], attrs: new Map(), isModule: true };
    cls.mro = computeMro(cls, bases);
    for (const [m, impl] of Object.entries(methods)) cls.attrs.set(m, method(`${name}.${m}`, impl));
    return cls;
  };

  const state = (self: InstanceValue) => {
    if (!self.module) interp.nn.newModuleState(self);
    return self.module!;
  };
  const isModule = (v: Value): v is InstanceValue => v.kind === 'instance' && !!v.module;

  const addChild = (self: InstanceValue, name: string, child: Value): void => {
    const st = state(self);
    if (child.kind === 'none') { st.children.set(name, NONE); return; }
    if (!isModule(child)) return;
    self.attrs.delete(name);
    st.params.delete(name);
    st.buffers.delete(name);
    st.children.set(name, child);
  };

  const childList = (self: InstanceValue): InstanceValue[] => {
    const out: InstanceValue[] = [];
    for (const c of state(self).children.values()) if (c.kind === 'instance') out.push(c);
    return out;
  };

  // These walks run on every analysis, mostly before V8 optimizes them: Map.forEach and
  // indexed loops instead of for-of and array destructuring, which allocate an iterator
  // result (and an entry array) per item in unoptimized code.
  function namedModules(root: InstanceValue, prefix = '', memo = new Set<InstanceValue>(), removeDuplicate = true): [string, InstanceValue][] {
    const out: [string, InstanceValue][] = [];
    const walk = (m: InstanceValue, p: string): void => {
      if (removeDuplicate) {
        if (memo.has(m)) return;
        memo.add(m);
      }
      out.push([p, m]);
      state(m).children.forEach((child, name) => {
        if (child.kind === 'instance') walk(child, p ? `${p}.${name}` : name);
      });
    };
    walk(root, prefix);
    return out;
  }

  function namedParameters(root: InstanceValue, prefix = '', recurse = true, modules?: readonly [string, InstanceValue][]): [string, TensorValue][] {
    const mods = modules ?? (recurse ? namedModules(root, prefix) : [[prefix, root] as [string, InstanceValue]]);
    const out: [string, TensorValue][] = [];
    const seen = new Set<number>();
    for (let i = 0; i < mods.length; i++) collectTensors(mods[i][0], state(mods[i][1]).params, seen, out);
    return out;
  }

  function namedBuffers(root: InstanceValue, prefix = '', recurse = true, modules?: readonly [string, InstanceValue][]): [string, TensorValue][] {
    const mods = modules ?? (recurse ? namedModules(root, prefix) : [[prefix, root] as [string, InstanceValue]]);
    const out: [string, TensorValue][] = [];
    const seen = new Set<number>();
    for (let i = 0; i < mods.length; i++) collectTensors(mods[i][0], state(mods[i][1]).buffers, seen, out);
    return out;
  }

  const pairs = (items: [string, Value][]): Value => interp.makeIterator(items.map(([k, v]) => tupleV([strV(k), v])));
  const kw = (kwargs: Map<string, Value>, args: Value[], index: number, name: string): Value | undefined => kwargs.get(name) ?? args[index];
  const boolArg = (v: Value | undefined, dflt: boolean): boolean => (v === undefined ? dflt : truthy(v) ?? dflt);

  const setTraining = (self: InstanceValue, mode: boolean): void => {
    for (const [, m] of namedModules(self)) state(m).training = mode;
  };

  const returnSelf: Method = (self) => self;

  // Forward hooks run inside a module's __call__ around forward, in registration order (prepend
  // puts one first): a pre-hook may replace the arguments, a forward hook the output. Feature
  // extractors (timm's FeatureHooks, user code collecting activations) depend on them. Only
  // modules that registered one have an entry; hookedModules keeps every other call free of the lookup.
  interface ForwardHook { fn: Value; withKwargs: boolean; alive: boolean }
  type Hooks = { pre: ForwardHook[]; post: ForwardHook[] };
  const forwardHooks = new WeakMap<InstanceValue, Hooks>();
  let hookedModules = 0;
  const handleClass: ClassValue = { kind: 'class', name: 'RemovableHandle', mro: [], attrs: new Map(), isModule: false };
  handleClass.mro = computeMro(handleClass, [objectClass]);
  const handleHooks = new WeakMap<InstanceValue, ForwardHook>();
  const removeHook: Method = (self) => { const hook = handleHooks.get(self); if (hook) hook.alive = false; return NONE; };
  handleClass.attrs.set('remove', method('RemovableHandle.remove', removeHook));
  handleClass.attrs.set('__enter__', method('RemovableHandle.__enter__', returnSelf));
  handleClass.attrs.set('__exit__', method('RemovableHandle.__exit__', removeHook));
  const registerHook = (kind: 'pre' | 'post'): Method => (self, args, kwargs) => {
    const fn = kw(kwargs, args, 0, 'hook');
    if (!fn) return UNKNOWN;
    let hooks = forwardHooks.get(self);
    if (!hooks) { hooks = { pre: [], post: [] }; forwardHooks.set(self, hooks); hookedModules++; }
    const hook: ForwardHook = { fn, withKwargs: boolArg(kwargs.get('with_kwargs'), false), alive: true };
    if (boolArg(kwargs.get('prepend'), false)) hooks[kind].unshift(hook); else hooks[kind].push(hook);
    const handle = interp.newInstance(handleClass);
    handleHooks.set(handle, hook);
    return handle;
  };
  /** Runs forward between the module's hooks, like Module._call_impl. */
  const callWithHooks = (inst: InstanceValue, hooks: Hooks, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation, forward: (args: Value[], kwargs: Map<string, Value>) => Value): Value => {
    for (const hook of hooks.pre) {
      if (!hook.alive) continue;
      const result = hook.withKwargs
        ? interp.callValue(hook.fn, [inst, tupleV(args), kwargsDict(kwargs)], new Map(), loc)
        : interp.callValue(hook.fn, [inst, tupleV(args)], new Map(), loc);
      if (result.kind === 'none' || result.kind === 'unknown') continue;
      if (hook.withKwargs) {
        if (result.kind === 'tuple' && result.items.length === 2 && result.items[0].kind === 'tuple' && result.items[1].kind === 'dict') {
          args = result.items[0].items;
          kwargs = dictKwargs(result.items[1]);
        }
      } else {
        args = result.kind === 'tuple' ? result.items : [result];
      }
    }
    let out = forward(args, kwargs);
    for (const hook of hooks.post) {
      if (!hook.alive) continue;
      const result = hook.withKwargs
        ? interp.callValue(hook.fn, [inst, tupleV(args), kwargsDict(kwargs), out], new Map(), loc)
        : interp.callValue(hook.fn, [inst, tupleV(args), out], new Map(), loc);
      // An unknown result is taken as the usual None (a hook that records, through a call
      // Netlens does not follow), not as an unknown replacement of the output.
      if (result.kind !== 'none' && result.kind !== 'unknown') out = result;
    }
    return out;
  };
  const kwargsDict = (kwargs: Map<string, Value>): DictValue => {
    const d = newDict(true);
    for (const [k, v] of kwargs) dictSet(d, strV(k), v);
    return d;
  };
  const dictKwargs = (d: DictValue): Map<string, Value> => {
    const out = new Map<string, Value>();
    for (const e of d.entries.values()) if (e.key.kind === 'str') out.set(e.key.value, e.value);
    return out;
  };

  const moduleBase = makeClass('Module', [objectClass], {
    __init__: () => NONE,
    register_buffer: (self, args, kwargs) => {
      const name = kw(kwargs, args, 0, 'name');
      const t = kw(kwargs, args, 1, 'tensor') ?? NONE;
      if (name?.kind === 'str') {
        self.attrs.delete(name.value);
        state(self).buffers.set(name.value, t.kind === 'tensor' ? t : NONE);
      }
      return NONE;
    },
    register_parameter: (self, args, kwargs) => {
      const name = kw(kwargs, args, 0, 'name');
      const p = kw(kwargs, args, 1, 'param') ?? NONE;
      if (name?.kind === 'str') {
        self.attrs.delete(name.value);
        state(self).params.set(name.value, p.kind === 'tensor' ? p : NONE);
      }
      return NONE;
    },
    add_module: (self, args, kwargs) => {
      const name = kw(kwargs, args, 0, 'name');
      const m = kw(kwargs, args, 1, 'module') ?? NONE;
      if (name?.kind === 'str') addChild(self, name.value, m);
      return NONE;
    },
    register_module: (self, args, kwargs) => {
      const name = kw(kwargs, args, 0, 'name');
      const m = kw(kwargs, args, 1, 'module') ?? NONE;
      if (name?.kind === 'str') addChild(self, name.value, m);
      return NONE;
    },
    named_modules: (self, args, kwargs) => {
      const prefix = kw(kwargs, args, 1, 'prefix');
      const removeDup = boolArg(kw(kwargs, args, 2, 'remove_duplicate'), true);
      return pairs(namedModules(self, prefix?.kind === 'str' ? prefix.value : '', new Set(), removeDup));
    },
    modules: (self) => interp.makeIterator(namedModules(self).map(([, m]) => m)),
    children: (self) => interp.makeIterator(dedup(childList(self))),
    named_children: (self) => {
      const seen = new Set<InstanceValue>();
      const out: [string, Value][] = [];
      for (const [name, c] of state(self).children) {
        if (c.kind !== 'instance' || seen.has(c)) continue;
        seen.add(c);
        out.push([name, c]);
      }
      return pairs(out);
    },
    parameters: (self, args, kwargs) => interp.makeIterator(namedParameters(self, '', boolArg(kw(kwargs, args, 0, 'recurse'), true)).map(([, t]) => t)),
    named_parameters: (self, args, kwargs) => {
      const prefix = kw(kwargs, args, 0, 'prefix');
      return pairs(namedParameters(self, prefix?.kind === 'str' ? prefix.value : '', boolArg(kw(kwargs, args, 1, 'recurse'), true)));
    },
    buffers: (self, args, kwargs) => interp.makeIterator(namedBuffers(self, '', boolArg(kw(kwargs, args, 0, 'recurse'), true)).map(([, t]) => t)),
    named_buffers: (self, args, kwargs) => {
      const prefix = kw(kwargs, args, 0, 'prefix');
      return pairs(namedBuffers(self, prefix?.kind === 'str' ? prefix.value : '', boolArg(kw(kwargs, args, 1, 'recurse'), true)));
    },
    train: (self, args, kwargs) => { setTraining(self, boolArg(kw(kwargs, args, 0, 'mode'), true)); return self; },
    eval: (self) => { setTraining(self, false); return self; },
    requires_grad_: (self, args, kwargs) => {
      const flag = boolArg(kw(kwargs, args, 0, 'requires_grad'), true);
      for (const [, t] of namedParameters(self)) t.requiresGrad = flag;
      return self;
    },
    apply: (self, args, kwargs, ctx) => {
      const fn = kw(kwargs, args, 0, 'fn');
      if (!fn) return self;
      // PyTorch applies fn to children first, then to self.
      const visit = (m: InstanceValue, seen: Set<InstanceValue>): void => {
        for (const c of childList(m)) if (!seen.has(c)) { seen.add(c); visit(c, seen); }
        ctx.callValue(fn, [m]);
      };
      visit(self, new Set());
      return self;
    },
    to: returnSelf, cuda: returnSelf, cpu: returnSelf, float: returnSelf, double: returnSelf, half: returnSelf, bfloat16: returnSelf,
    type: returnSelf, share_memory: returnSelf, to_empty: returnSelf,
    zero_grad: () => NONE,
    extra_repr: () => strV(''),
    state_dict: (self) => {
      const d = newDict(true);
      for (const [name, t] of namedParameters(self)) dictSet(d, strV(name), t);
      for (const [name, t] of namedBuffers(self)) dictSet(d, strV(name), t);
      return d;
    },
    load_state_dict: () => UNKNOWN,
    register_forward_hook: registerHook('post'),
    register_forward_pre_hook: registerHook('pre'),
    register_full_backward_hook: () => UNKNOWN,
    get_submodule: (self, args, kwargs) => {
      const target = kw(kwargs, args, 0, 'target');
      if (target?.kind !== 'str') return UNKNOWN;
      if (target.value === '') return self;
      let cur: Value = self;
      for (const part of target.value.split('.')) {
        if (!isModule(cur)) return UNKNOWN;
        cur = state(cur).children.get(part) ?? UNKNOWN;
      }
      return cur;
    },
    get_parameter: (self, args, kwargs) => {
      const target = kw(kwargs, args, 0, 'target');
      if (target?.kind !== 'str') return UNKNOWN;
      return namedParameters(self).find(([n]) => n === target.value)?.[1] ?? UNKNOWN;
    },
    _get_name: (self) => strV(self.cls.name),
    // Reached from overrides that call super().__setattr__ / super().__getattr__ (or
    // nn.Module.__setattr__(self, ...)): PyTorch's registration rules, and AttributeError for a
    // name that is no parameter, buffer or child, which the override usually catches.
    __setattr__: (self, args) => {
      const [name, value] = args;
      if (name?.kind === 'str' && value && !setModuleAttr(self, name.value, value)) self.attrs.set(name.value, value);
      return NONE;
    },
    __getattr__: (self, args, _kwargs, ctx) => {
      const name = args[0];
      if (name?.kind !== 'str') return UNKNOWN;
      return getModuleAttr(self, name.value) ?? interp.raise('AttributeError', messages.unknownAttribute(self.cls.name, name.value), ctx.location);
    },
  });

  const nthChild = (self: InstanceValue, index: Value, ctx: CallContext): Value => {
    const children = [...state(self).children.values()];
    const i = numberOf(index);
    if (i === undefined) return UNKNOWN;
    const j = i < 0 ? children.length + i : i;
    if (j < 0 || j >= children.length) interp.raise('IndexError', messages.indexOutOfRange(String(i), children.length), ctx.location);
    return children[j];
  };

  const sliceChildren = (self: InstanceValue, s: Value, cls: ClassValue): Value => {
    const entries = [...state(self).children.entries()];
    const picked = interp.getItem(listV(entries.map(([k, v]) => tupleV([strV(k), v]))), s, interp.currentLocation());
    if (picked.kind !== 'list') return UNKNOWN;
    const out = interp.newInstance(cls);
    out.module!.createdAt = self.module?.createdAt;
    let i = 0;
    for (const item of picked.items) {
      if (item.kind !== 'tuple') continue;
      // ModuleList slices renumber from 0; Sequential slices keep names.
      const name = cls === moduleList ? String(i++) : pyStr(item.items[0]);
      state(out).children.set(name, item.items[1] as InstanceValue);
    }
    return out;
  };

  const appendChild = (self: InstanceValue, m: Value): void => addChild(self, String(state(self).children.size), m);

  const sequential = makeClass('Sequential', [moduleBase], {
    __init__: (self, args) => {
      if (args.length === 1 && args[0].kind === 'dict') {
        for (const e of args[0].entries.values()) addChild(self, pyStr(e.key), e.value);
      } else args.forEach((m, i) => addChild(self, String(i), m));
      return NONE;
    },
    forward: (self, args, kwargs, ctx) => {
      let x = args[0] ?? kwargs.get('input') ?? UNKNOWN;
      for (const m of childList(self)) x = ctx.callValue(m, [x]);
      return x;
    },
    __getitem__: (self, args, _kw, ctx) => (args[0].kind === 'slice' ? sliceChildren(self, args[0], sequential) : nthChild(self, args[0], ctx)),
    __setitem__: (self, args) => {
      const keys = [...state(self).children.keys()];
      const i = numberOf(args[0]);
      if (i !== undefined) { const k = keys[i < 0 ? keys.length + i : i]; if (k !== undefined) addChild(self, k, args[1]); }
      return NONE;
    },
    __delitem__: (self, args, _kw, ctx) => deleteChildren(self, args[0] ?? UNKNOWN, ctx),
    __len__: (self) => intV(state(self).children.size),
    __iter__: (self) => interp.makeIterator(childList(self)),
    append: (self, args) => { appendChild(self, args[0]); return self; },
    extend: (self, args) => { for (const m of interp.iterate(args[0], interp.currentLocation()) ?? []) appendChild(self, m); return self; },
    insert: (self, args) => insertChild(self, args[0], args[1]),
    pop: (self, args, _kw, ctx) => popChild(self, args[0] ?? intV(-1), ctx),
  });

  const insertChild = (self: InstanceValue, index: Value, m: Value): Value => {
    const st = state(self);
    const items = [...st.children.values()];
    const i = numberOf(index);
    if (i === undefined) return NONE;
    const j = Math.max(0, Math.min(items.length, i < 0 ? items.length + i : i));
    items.splice(j, 0, m as InstanceValue);
    st.children.clear();
    items.forEach((c, k) => st.children.set(String(k), c));
    return NONE;
  };

  /** del container[i] or [a:b] (Sequential, ModuleList): the rest renumbered 0..n-1, as PyTorch does. */
  const deleteChildren = (self: InstanceValue, index: Value, ctx: CallContext): Value => {
    const st = state(self);
    const entries = [...st.children.entries()];
    let doomed: Set<number>;
    if (index.kind === 'slice') {
      const picked = interp.getItem(listV(entries.map((_, i) => intV(i))), index, ctx.location);
      if (picked.kind !== 'list') return NONE;
      doomed = new Set(picked.items.map((v) => numberOf(v) ?? -1));
    } else {
      const i = numberOf(index);
      if (i === undefined) return NONE;
      const j = i < 0 ? entries.length + i : i;
      if (j < 0 || j >= entries.length) interp.raise('IndexError', messages.indexOutOfRange(String(i), entries.length), ctx.location);
      doomed = new Set([j]);
    }
    st.children.clear();
    entries.filter((_, i) => !doomed.has(i)).forEach(([, c], k) => st.children.set(String(k), c));
    return NONE;
  };

  const popChild = (self: InstanceValue, index: Value, ctx: CallContext): Value => {
    const v = nthChild(self, index, ctx);
    deleteChildren(self, index, ctx);
    return v;
  };

  const moduleList = makeClass('ModuleList', [moduleBase], {
    __init__: (self, args, kwargs) => {
      const mods = args[0] ?? kwargs.get('modules');
      if (mods && mods.kind !== 'none') for (const m of interp.iterate(mods, interp.currentLocation()) ?? []) appendChild(self, m);
      return NONE;
    },
    __getitem__: (self, args, _kw, ctx) => (args[0].kind === 'slice' ? sliceChildren(self, args[0], moduleList) : nthChild(self, args[0], ctx)),
    __setitem__: (self, args) => {
      const i = numberOf(args[0]);
      const n = state(self).children.size;
      if (i !== undefined) addChild(self, String(i < 0 ? n + i : i), args[1]);
      return NONE;
    },
    __delitem__: (self, args, _kw, ctx) => deleteChildren(self, args[0] ?? UNKNOWN, ctx),
    __len__: (self) => intV(state(self).children.size),
    __iter__: (self) => interp.makeIterator([...state(self).children.values()]),
    __iadd__: (self, args) => { for (const m of interp.iterate(args[0], interp.currentLocation()) ?? []) appendChild(self, m); return self; },
    append: (self, args) => { appendChild(self, args[0]); return self; },
    extend: (self, args) => { for (const m of interp.iterate(args[0], interp.currentLocation()) ?? []) appendChild(self, m); return self; },
    insert: (self, args) => insertChild(self, args[0], args[1]),
    pop: (self, args, _kw, ctx) => popChild(self, args[0] ?? intV(-1), ctx),
    forward: (self) => interp.raise('NotImplementedError', messages.forwardMissing(self.cls.name)),
  });

  const dictItems = (self: InstanceValue): [string, Value][] => [...state(self).children.entries()];
  const moduleDict = makeClass('ModuleDict', [moduleBase], {
    __init__: (self, args, kwargs) => {
      const mods = args[0] ?? kwargs.get('modules');
      if (mods) updateDict(self, mods, addChild);
      return NONE;
    },
    __getitem__: (self, args, _kw, ctx) => {
      const key = pyStr(args[0]);
      const v = state(self).children.get(key);
      if (v === undefined) interp.raise('KeyError', messages.keyNotFound(key), ctx.location);
      return v;
    },
    __setitem__: (self, args) => { addChild(self, pyStr(args[0]), args[1]); return NONE; },
    __delitem__: (self, args) => { state(self).children.delete(pyStr(args[0])); return NONE; },
    __len__: (self) => intV(state(self).children.size),
    __iter__: (self) => interp.makeIterator(dictItems(self).map(([k]) => strV(k))),
    __contains__: (self, args) => boolV(state(self).children.has(pyStr(args[0]))),
    keys: (self) => listV(dictItems(self).map(([k]) => strV(k))),
    values: (self) => listV(dictItems(self).map(([, v]) => v)),
    items: (self) => listV(dictItems(self).map(([k, v]) => tupleV([strV(k), v]))),
    update: (self, args) => { if (args[0]) updateDict(self, args[0], addChild); return NONE; },
    pop: (self, args) => { const k = pyStr(args[0]); const v = state(self).children.get(k) ?? UNKNOWN; state(self).children.delete(k); return v; },
    clear: (self) => { state(self).children.clear(); return NONE; },
    forward: (self) => interp.raise('NotImplementedError', messages.forwardMissing(self.cls.name)),
  });

  function updateDict(self: InstanceValue, src: Value, put: (self: InstanceValue, k: string, v: Value) => void): void {
    if (src.kind === 'dict') { for (const e of src.entries.values()) put(self, pyStr(e.key), e.value); return; }
    if (src.kind === 'instance' && src.module && interp.isModuleDictLike(src)) {
      for (const [k, v] of [...src.module.children.entries(), ...src.module.params.entries()]) put(self, k, v);
      return;
    }
    for (const item of interp.iterate(src, interp.currentLocation()) ?? []) {
      const pair = interp.iterate(item, interp.currentLocation());
      if (pair && pair.length === 2) put(self, pyStr(pair[0]), pair[1]);
    }
  }

  const addParam = (self: InstanceValue, name: string, p: Value): void => {
    if (p.kind !== 'tensor') return;
    const param = p.isParameter ? p : makeParameter(p, true);
    state(self).params.set(name, param);
  };
  const paramValues = (self: InstanceValue): Value[] => [...state(self).params.values()];
  const parameterList = makeClass('ParameterList', [moduleBase], {
    __init__: (self, args, kwargs) => {
      const values = args[0] ?? kwargs.get('values');
      if (values && values.kind !== 'none') for (const p of interp.iterate(values, interp.currentLocation()) ?? []) addParam(self, String(state(self).params.size), p);
      return NONE;
    },
    __getitem__: (self, args) => {
      const items = paramValues(self);
      const i = numberOf(args[0]);
      if (i === undefined) return UNKNOWN;
      return items[i < 0 ? items.length + i : i] ?? UNKNOWN;
    },
    __len__: (self) => intV(state(self).params.size),
    __iter__: (self) => interp.makeIterator(paramValues(self)),
    append: (self, args) => { addParam(self, String(state(self).params.size), args[0]); return self; },
    extend: (self, args) => { for (const p of interp.iterate(args[0], interp.currentLocation()) ?? []) addParam(self, String(state(self).params.size), p); return self; },
  });
  const parameterDict = makeClass('ParameterDict', [moduleBase], {
    __init__: (self, args, kwargs) => {
      const values = args[0] ?? kwargs.get('parameters');
      if (values && values.kind !== 'none') updateDict(self, values, addParam);
      return NONE;
    },
    __getitem__: (self, args) => state(self).params.get(pyStr(args[0])) ?? UNKNOWN,
    __setitem__: (self, args) => { addParam(self, pyStr(args[0]), args[1]); return NONE; },
    __len__: (self) => intV(state(self).params.size),
    __iter__: (self) => interp.makeIterator([...state(self).params.keys()].map(strV)),
    keys: (self) => listV([...state(self).params.keys()].map(strV)),
    values: (self) => listV(paramValues(self)),
    items: (self) => listV([...state(self).params.entries()].map(([k, v]) => tupleV([strV(k), v]))),
  });

  function makeParameter(data: TensorValue, requiresGrad: boolean): TensorValue {
    const t = interp.newTensor(data.shape, data.dtype);
    t.isParameter = true;
    t.requiresGrad = requiresGrad;
    return t;
  }

  const parameter: ClassValue = { kind: 'class', name: 'Parameter', mro: [], attrs: new Map(), isModule: false };
  parameter.mro = [parameter, objectClass];
  interp.nativeClasses.set(parameter, {
    construct: (_cls, args, kwargs) => {
      const data = args[0] ?? kwargs.get('data');
      const rg = truthy(args[1] ?? kwargs.get('requires_grad') ?? boolV(true)) ?? true;
      if (!data || data.kind !== 'tensor') {
        if (data && data.kind === 'none') return makeParameter(interp.newTensor([0]), rg);
        return UNKNOWN;
      }
      return makeParameter(data, rg);
    },
  });

  // --- hooks the interpreter calls -------------------------------------------------------

  const specMember = (c: ClassValue, name: string): BuiltinFunctionValue => {
    const spec = c.builtinModule!;
    if (name === '__init__') {
      return method(`${spec.name}.__init__`, (self, args, kwargs, ctx) => {
        const bound = bindSpec(interp, spec.name, spec.signature, args, kwargs, ctx.location);
        spec.init(self, bound, ctx);
        return NONE;
      });
    }
    const forwardName = `${spec.name}.forward`;
    return method(forwardName, (self, args, kwargs, ctx) => runSpecForward(self, spec, forwardName, args, kwargs, ctx));
  };

  const runSpecForward = (self: InstanceValue, spec: ModuleSpec, forwardName: string, args: Value[], kwargs: Map<string, Value>, ctx: CallContext): Value => {
    const bound = bindSpec(interp, forwardName, spec.forwardSignature, args, kwargs, ctx.location);
    const t = interp.tracing;
    // MACs of a catalog layer come from its own rule; functional helpers it may use inside are not added twice.
    if (t) t.macsStack.push({ macs: 0 });
    let out: Value;
    let inner: dim.Dim = 0;
    try {
      out = spec.forward(self, bound, ctx);
    } finally {
      if (t) inner = t.macsStack.pop()!.macs;
    }
    if (t) {
      interp.addMacs(spec.macs ? spec.macs(self, bound, out) : inner);
      const arithmetic = spec.arithmetic?.bind(spec);
      const output = out;
      if (arithmetic) specArithmetic.last = { module: self, lines: () => arithmetic(self, bound, output) };
    }
    return out;
  };
  // The arithmetic of the catalog forward that just ran, handed to callModule, which records the layer call around it.
  const specArithmetic: { last?: { module: InstanceValue; lines: () => string[] } } = {};
  const takeSpecArithmetic = (inst: InstanceValue): (() => string[]) | undefined => {
    const last = specArithmetic.last;
    specArithmetic.last = undefined;
    return last?.module === inst ? last.lines : undefined;
  };

  const getModuleAttr = (inst: InstanceValue, name: string): Value | undefined => {
    const st = inst.module!;
    if (name === 'training') return boolV(st.training);
    const p = st.params.get(name);
    if (p !== undefined) return p;
    const b = st.buffers.get(name);
    if (b !== undefined) return b;
    const c = st.children.get(name);
    if (c !== undefined) return c;
    const isTensorOrNone = (v: Value): boolean => v.kind === 'tensor' || v.kind === 'none';
    if (name === '_modules') return liveRegistry(st.children, (v) => isModule(v) || v.kind === 'none');
    if (name === '_parameters') return liveRegistry(st.params, isTensorOrNone);
    if (name === '_buffers') return liveRegistry(st.buffers, isTensorOrNone);
    return undefined;
  };

  const setModuleAttr = (inst: InstanceValue, name: string, value: Value): boolean => {
    const st = inst.module!;
    if (name === 'training') { const t = truthy(value); if (t !== undefined) st.training = t; return true; }
    if (value.kind === 'tensor' && value.isParameter) {
      inst.attrs.delete(name); st.buffers.delete(name); st.children.delete(name);
      st.params.set(name, value);
      return true;
    }
    if (isModule(value)) { addChild(inst, name, value); return true; }
    if (st.params.has(name)) {
      if (value.kind === 'none') { st.params.set(name, NONE); return true; }
      if (value.kind === 'tensor') { st.params.set(name, value); return true; }
    }
    if (st.buffers.has(name) && (value.kind === 'tensor' || value.kind === 'none')) { st.buffers.set(name, value); return true; }
    if (st.children.has(name) && value.kind === 'none') { st.children.set(name, NONE); return true; }
    return false;
  };

  const callModule = (inst: InstanceValue, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): Value => {
    // nn.Module.__call__ finds forward by plain attribute lookup, so one assigned on the
    // instance (self.forward = self.forward_fast) wins over the class's; it is already bound.
    const ownForward = inst.attrs.get('forward');
    const forward = ownForward ?? interp.lookupClassAttr(inst.cls, 'forward');
    if (!forward) {
      interp.diagnostic('error', messages.forwardMissing(inst.cls.name), loc, 'forward-missing');
      return UNKNOWN;
    }
    interp.hooks.onModuleCall?.(inst, args, kwargs, interp.moduleCallDepth);
    const t = interp.tracing;
    const leaf = t !== undefined && isLeaf(inst) && t.paths.has(inst);
    if (leaf) t!.macsStack.push({ macs: 0 });
    interp.moduleCallDepth++;
    const stack = interp.currentModuleStack;
    stack.push(inst);
    let out: Value = UNKNOWN;
    let macs: dim.Dim = 0;
    specArithmetic.last = undefined;
    try {
      readParametrizedTensors(inst, loc);
      const hooks = hookedModules > 0 ? forwardHooks.get(inst) : undefined;
      const callForward = hooks
        ? (): Value => callWithHooks(inst, hooks, args, kwargs, loc,
          (hookedArgs, hookedKwargs) => interp.callValue(ownForward ?? interp.bindMethod(forward, inst, inst.cls), hookedArgs, hookedKwargs, loc))
        : (): Value => interp.callValue(ownForward ?? interp.bindMethod(forward, inst, inst.cls), args, kwargs, loc);
      const graph = t?.graph;
      out = graph && t.paths.has(inst) ? graph.module(inst, isLeaf(inst), forward.kind === 'builtin', args, kwargs, callForward) : callForward();
    } finally {
      stack.pop();
      interp.moduleCallDepth--;
      if (leaf) macs = t!.macsStack.pop()!.macs;
    }
    const arithmetic = takeSpecArithmetic(inst);
    if (leaf) {
      // Leaf MACs are summed from the layer rows; they are not functional MACs.
      const record: LayerCallRecord = { module: inst, inputs: kwargs.size ? [...args, ...kwargs.values()] : args, output: out, macs };
      if (arithmetic) record.arithmetic = arithmetic;
      t!.layerCalls.push(record);
    }
    for (const tap of interp.outputTaps) tap(inst, out);
    return out;
  };

  /**
   * A module with registered parametrizations (torch.nn.utils.parametrize) computes each
   * parametrized tensor when forward reads it: the ParametrizationList runs its modules (hooks
   * see them) and the forward gets the result. Done once per call, before forward.
   */
  const readParametrizedTensors = (inst: InstanceValue, loc: SourceLocation): void => {
    const container = inst.module!.children.get('parametrizations');
    if (container?.kind !== 'instance' || !container.module) return;
    for (const [name, list] of container.module.children) {
      if (list.kind !== 'instance') continue;
      const value = interp.callValue(list, [], new Map(), loc);
      if (value.kind === 'tensor') inst.attrs.set(name, value);
    }
  };

  const isLeaf = (inst: InstanceValue): boolean => {
    for (const c of inst.module!.children.values()) if (c.kind === 'instance') return false;
    return true;
  };

  interp.nn = {
    specMember,
    getModuleAttr,
    setModuleAttr,
    callModule,
    newModuleState: (inst) => { inst.module = { params: new Map(), buffers: new Map(), children: new Map(), training: true, createdAt: undefined, literalArguments: undefined }; },
  };
  nnHelpers.set(interp, {
    namedModules: (root) => namedModules(root),
    namedParameters: (root, modules) => namedParameters(root, '', true, modules),
    namedBuffers: (root, modules) => namedBuffers(root, '', true, modules),
  });
  return { moduleBase, parameter, sequential, moduleList, moduleDict, parameterList, parameterDict };
}

export interface NnHelpers {
  namedModules(root: InstanceValue): [string, InstanceValue][];
  /** `modules`: the root's namedModules() when the caller has them already (one walk serves several lists). */
  namedParameters(root: InstanceValue, modules?: readonly [string, InstanceValue][]): [string, TensorValue][];
  namedBuffers(root: InstanceValue, modules?: readonly [string, InstanceValue][]): [string, TensorValue][];
}
const nnHelpers = new WeakMap<Interpreter, NnHelpers>();
export function nnHelpersOf(interp: Interpreter): NnHelpers {
  return nnHelpers.get(interp)!;
}

/** The tensors of one module's parameter or buffer table not seen before, named under the module's path. */
function collectTensors(path: string, table: Map<string, TensorValue | NoneValue>, seen: Set<number>, out: [string, TensorValue][]): void {
  table.forEach((t, name) => {
    if (t.kind !== 'tensor' || seen.has(t.id)) return;
    seen.add(t.id);
    out.push([path ? `${path}.${name}` : name, t]);
  });
}

function dedup<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function method(name: string, impl: Method): BuiltinFunctionValue {
  const call: BuiltinImpl = (args, kwargs, ctx) => {
    const self = args[0];
    if (!self || self.kind !== 'instance') return UNKNOWN;
    return impl(self, args.slice(1), kwargs, ctx);
  };
  return { kind: 'builtin', name, call };
}

type SpecSignature = readonly { name: string; default?: Value; kind?: Param['kind'] }[];
/** A catalog signature in the form bindParams takes, made once per signature (they are built once and shared). */
const preparedSignatures = new WeakMap<SpecSignature, { params: Param[]; defaults: Map<string, Value> }>();

/** Binds arguments to a catalog signature (ParamSpec), with the interpreter's Python rules. */
export function bindSpec(interp: Interpreter, fnName: string, signature: SpecSignature, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): BoundArgs {
  let prepared = preparedSignatures.get(signature);
  if (!prepared) {
    const params: Param[] = signature.map((p) => ({ name: p.name, kind: p.kind ?? 'positional' }));
    const defaults = new Map<string, Value>();
    for (const p of signature) if (p.default !== undefined) defaults.set(p.name, p.default);
    prepared = { params, defaults };
    preparedSignatures.set(signature, prepared);
  }
  const out: BoundArgs = new Map();
  interp.bindParams(fnName, prepared.params, prepared.defaults, args, kwargs, out, loc);
  return out;
}
