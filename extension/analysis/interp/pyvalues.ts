// Constructors and the Python semantics of plain values: truthiness, equality, hashing
// for dict keys, str()/repr(), numeric arithmetic with Python's floor division and modulo.
// Ints may hold symbolic dimensions; anything undecidable returns undefined / Unknown.
import type { BoolValue, DictValue, FloatValue, InstanceValue, IntValue, ListValue, NoneValue, StrValue, TupleValue, UnknownValue, Value } from './values';
import * as dim from '../shape/dim';
import type { Dim } from '../shape/dim';

export const NONE: NoneValue = { kind: 'none' };
export const TRUE: BoolValue = { kind: 'bool', value: true };
export const FALSE: BoolValue = { kind: 'bool', value: false };
export const UNKNOWN: UnknownValue = { kind: 'unknown' };

export function intV(value: Dim): IntValue { return { kind: 'int', value }; }
export function floatV(value: number): FloatValue { return { kind: 'float', value }; }
export function boolV(value: boolean): BoolValue { return value ? TRUE : FALSE; }
export function strV(value: string): StrValue { return { kind: 'str', value }; }
export function tupleV(items: Value[]): TupleValue { return { kind: 'tuple', items }; }
export function listV(items: Value[]): ListValue { return { kind: 'list', items }; }
export function unknownV(reason?: string): UnknownValue { return reason ? { kind: 'unknown', reason } : UNKNOWN; }
const MISSING_ATTRIBUTE = 'missing attribute ';
/** The Unknown returned for an attribute that certainly does not exist (hasattr → False). */
export function missingAttr(name: string): UnknownValue { return { kind: 'unknown', reason: MISSING_ATTRIBUTE + name }; }
export function isMissingAttr(v: Value): boolean { return v.kind === 'unknown' && !!v.reason?.startsWith(MISSING_ATTRIBUTE); }
export function newDict(ordered = false): DictValue { return { kind: 'dict', entries: new Map(), ordered }; }

/** The known JS number of an int/bool/float value, undefined when symbolic or not a number. */
export function numberOf(v: Value): number | undefined {
  switch (v.kind) {
    case 'int': return typeof v.value === 'number' ? v.value : undefined;
    case 'bool': return v.value ? 1 : 0;
    case 'float': return v.value;
    case 'instance': { const p = mixinValues.get(v); return p ? numberOf(p) : undefined; }
    default: return undefined;
  }
}

/** Dim of an int-like value (bool counts as int), else undefined. */
export function dimOf(v: Value): Dim | undefined {
  if (v.kind === 'int') return v.value;
  if (v.kind === 'bool') return v.value ? 1 : 0;
  if (v.kind === 'instance') { const p = mixinValues.get(v); return p ? dimOf(p) : undefined; }
  return undefined;
}

/**
 * Members of an Enum mixed with str or int (`class Format(str, Enum)`, IntEnum) are also
 * that str or int in Python: they compare equal to it, hash like it (dict lookups by the
 * plain value find them), compute and have its methods. The enum machinery registers each
 * such member with its value here.
 */
const mixinValues = new WeakMap<InstanceValue, Value>();
export function setMixinValue(member: InstanceValue, value: Value): void { mixinValues.set(member, value); }
/** The str/int a mixed-in Enum member stands for; any other value as it is. */
export function mixinValueOf(v: Value): Value {
  return v.kind === 'instance' ? mixinValues.get(v) ?? v : v;
}

/** Key for hashable constants, undefined for unhashable or unknown values. */
export function dictKey(v: Value): string | undefined {
  switch (v.kind) {
    case 'str': return 's' + v.value;
    case 'int': return typeof v.value === 'number' ? 'n' + v.value : 'y' + v.value.text;
    case 'bool': return 'n' + (v.value ? 1 : 0);
    case 'float': return Number.isInteger(v.value) ? 'n' + v.value : 'f' + v.value;
    case 'none': return 'N';
    case 'tuple': {
      const parts: string[] = [];
      for (const item of v.items) {
        const k = dictKey(item);
        if (k === undefined) return undefined;
        parts.push(k);
      }
      return 't(' + parts.join(',') + ')';
    }
    case 'instance': { const p = mixinValues.get(v); return p ? dictKey(p) : 'o' + identityOf(v); }
    case 'class': case 'function': case 'builtin': case 'pymodule': case 'tensor':
      return 'o' + identityOf(v);
    default: return undefined;
  }
}

const identities = new WeakMap<object, number>();
let nextIdentity = 1;
/** A stable per-object number (Python's id()). */
export function identityOf(v: object): number {
  let id = identities.get(v);
  if (id === undefined) { id = nextIdentity++; identities.set(v, id); }
  return id;
}

export function dictGet(d: DictValue, key: Value): Value | undefined {
  const k = dictKey(key);
  return k === undefined ? undefined : d.entries.get(k)?.value;
}

export function dictSet(d: DictValue, key: Value, value: Value): boolean {
  const k = dictKey(key);
  if (k === undefined) return false;
  const existing = d.entries.get(k);
  if (existing) existing.value = value;
  else d.entries.set(k, { key, value });
  return true;
}

/** Python truthiness; undefined when it cannot be known. */
export function truthy(v: Value): boolean | undefined {
  switch (v.kind) {
    case 'none': return false;
    case 'bool': return v.value;
    case 'int': {
      if (typeof v.value === 'number') return v.value !== 0;
      return undefined;
    }
    case 'float': return v.value !== 0 && !Number.isNaN(v.value) ? true : v.value !== 0;
    case 'str': return v.value.length > 0;
    case 'tuple': case 'list': return v.items.length > 0;
    case 'dict': return v.entries.size > 0;
    case 'unknown': return undefined;
    case 'tensor': return undefined;
    case 'instance': { const p = mixinValues.get(v); return p ? truthy(p) : true; }
    default: return true;
  }
}

/** Python ==; undefined when undecidable. Instances/classes compare by identity. */
export function pyEquals(a: Value, b: Value): boolean | undefined {
  if (a.kind === 'unknown' || b.kind === 'unknown') return undefined;
  if (a.kind === 'instance' || b.kind === 'instance') {
    const pa = mixinValueOf(a);
    const pb = mixinValueOf(b);
    if (pa !== a || pb !== b) return pyEquals(pa, pb);
  }
  const na = dimOf(a) ?? (a.kind === 'float' ? a.value : undefined);
  const nb = dimOf(b) ?? (b.kind === 'float' ? b.value : undefined);
  if (na !== undefined && nb !== undefined) {
    if (typeof na === 'number' && typeof nb === 'number') return na === nb;
    return dim.dimEquals(na, nb);
  }
  if (a.kind !== b.kind) {
    if ((a.kind === 'tuple' || a.kind === 'list') && (b.kind === 'tuple' || b.kind === 'list')) return false;
    if (a.kind === 'tensor' || b.kind === 'tensor') return undefined;
    return false;
  }
  switch (a.kind) {
    case 'none': return true;
    case 'str': return a.value === (b as StrValue).value;
    case 'tuple': case 'list': {
      const bi = (b as TupleValue | ListValue).items;
      if (a.items.length !== bi.length) return false;
      let result: boolean | undefined = true;
      for (let i = 0; i < bi.length; i++) {
        const e = pyEquals(a.items[i], bi[i]);
        if (e === false) return false;
        if (e === undefined) result = undefined;
      }
      return result;
    }
    case 'dict': {
      const bd = b as DictValue;
      if (a.entries.size !== bd.entries.size) return false;
      let result: boolean | undefined = true;
      for (const [k, e] of a.entries) {
        const other = bd.entries.get(k);
        if (!other) return false;
        const eq = pyEquals(e.value, other.value);
        if (eq === false) return false;
        if (eq === undefined) result = undefined;
      }
      return result;
    }
    case 'tensor': return undefined;
    case 'slice': return undefined;
    case 'ellipsis': return true;
    default: return a === b;
  }
}

/** Python `is`. Small constants compare by value, like CPython's cached objects. */
export function pyIs(a: Value, b: Value): boolean | undefined {
  if (a.kind === 'unknown' || b.kind === 'unknown') return undefined;
  if (a.kind === 'none' || b.kind === 'none') return a.kind === b.kind;
  if (a.kind === 'bool' && b.kind === 'bool') return a.value === b.value;
  if (a.kind === 'int' && b.kind === 'int' && typeof a.value === 'number' && typeof b.value === 'number') return a.value === b.value;
  if (a.kind === 'str' && b.kind === 'str') return a.value === b.value;
  if (a.kind === 'ellipsis' && b.kind === 'ellipsis') return true;
  if (a.kind === 'tensor' && b.kind === 'tensor') return a.id === b.id;
  if (a.kind === 'function' && b.kind === 'function') return a.impl === b.impl && a.self === b.self;
  return a === b;
}

export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const s = String(x);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Python str(). */
export function pyStr(v: Value): string {
  switch (v.kind) {
    case 'str': return v.value;
    default: return pyRepr(v);
  }
}

/** Python repr() (best effort for non-plain values). */
export function pyRepr(v: Value, depth = 0): string {
  if (depth > 6) return '...';
  switch (v.kind) {
    case 'none': return 'None';
    case 'bool': return v.value ? 'True' : 'False';
    case 'int': return dim.dimToString(v.value);
    case 'float': return formatFloat(v.value);
    case 'str': {
      // Python picks double quotes when the text has a single quote and no double quote.
      const quote = v.value.includes("'") && !v.value.includes('"') ? '"' : "'";
      const body = v.value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
      return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
    }
    case 'tuple': return v.items.length === 1 ? '(' + pyRepr(v.items[0], depth + 1) + ',)' : '(' + v.items.map((i) => pyRepr(i, depth + 1)).join(', ') + ')';
    case 'list': return '[' + v.items.map((i) => pyRepr(i, depth + 1)).join(', ') + ']';
    case 'dict': return '{' + [...v.entries.values()].map((e) => pyRepr(e.key, depth + 1) + ': ' + pyRepr(e.value, depth + 1)).join(', ') + '}';
    case 'slice': return 'slice(' + pyRepr(v.start, depth + 1) + ', ' + pyRepr(v.stop, depth + 1) + ', ' + pyRepr(v.step, depth + 1) + ')';
    case 'ellipsis': return 'Ellipsis';
    case 'tensor': return 'tensor(shape=' + (v.shape ? dim.shapeToString(v.shape) : '?') + ')';
    case 'unknown': return '<unknown>';
    case 'builtin': return '<built-in function ' + v.name + '>';
    case 'function': return '<function ' + v.name + '>';
    case 'class': return "<class '" + v.name + "'>";
    case 'instance': return '<' + v.cls.name + ' object>';
    case 'pymodule': return "<module '" + v.name + "'>";
  }
}

/** Python's floor division and modulo on JS numbers. */
export function floorDivNum(a: number, b: number): number { return Math.floor(a / b); }
export function modNum(a: number, b: number): number { const r = a % b; return r !== 0 && (r < 0) !== (b < 0) ? r + b : r; }

export function isIntLike(v: Value): v is IntValue | BoolValue { return v.kind === 'int' || v.kind === 'bool'; }
export function isNumber(v: Value): v is IntValue | BoolValue | FloatValue { return v.kind === 'int' || v.kind === 'bool' || v.kind === 'float'; }
