// The `json` module for configurations written as JSON text in the model file
// (`cfg = json.loads(CONFIG)`): loads parses a known string into Python values (objects
// become dicts in key order, integers stay int and numbers with a fraction or exponent
// become float, as Python's json does), dumps renders plain values back to text, so the
// `json.loads(json.dumps(cfg))` deep-copy idiom works too. Reading files (json.load) needs
// the file's contents at run time: Unknown. Text that is not valid JSON is Unknown as well,
// never a guessed value.
import { NONE, UNKNOWN, boolV, dictSet, floatV, formatFloat, intV, listV, newDict, strV, unknownV } from './pyvalues';
import type { BuiltinFunctionValue, BuiltinImpl, Value } from './values';

function fn(name: string, call: BuiltinImpl): BuiltinFunctionValue {
  return { kind: 'builtin', name, call };
}

class JsonSyntaxError extends Error {}

/** Recursive-descent JSON reader that keeps Python's int/float distinction. */
function parseJson(text: string): Value {
  let pos = 0;
  const fail = (): never => { throw new JsonSyntaxError(`invalid JSON at ${pos}`); };
  const skipSpace = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos++;
  };
  const expect = (word: string): void => {
    if (text.startsWith(word, pos)) pos += word.length;
    else fail();
  };
  const readString = (): string => {
    expect('"');
    let out = '';
    while (pos < text.length && text[pos] !== '"') {
      const ch = text[pos++];
      if (ch !== '\\') { out += ch; continue; }
      const esc = text[pos++];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (esc in simple) out += simple[esc];
      else if (esc === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos, pos + 4))) {
        out += String.fromCharCode(parseInt(text.slice(pos, pos + 4), 16));
        pos += 4;
      } else fail();
    }
    expect('"');
    return out;
  };
  const readValue = (): Value => {
    skipSpace();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const d = newDict();
      skipSpace();
      if (text[pos] === '}') { pos++; return d; }
      for (;;) {
        skipSpace();
        const key = readString();
        skipSpace();
        expect(':');
        dictSet(d, strV(key), readValue());
        skipSpace();
        if (text[pos] === ',') { pos++; continue; }
        expect('}');
        return d;
      }
    }
    if (ch === '[') {
      pos++;
      const items: Value[] = [];
      skipSpace();
      if (text[pos] === ']') { pos++; return listV(items); }
      for (;;) {
        items.push(readValue());
        skipSpace();
        if (text[pos] === ',') { pos++; continue; }
        expect(']');
        return listV(items);
      }
    }
    if (ch === '"') return strV(readString());
    if (text.startsWith('true', pos)) { pos += 4; return boolV(true); }
    if (text.startsWith('false', pos)) { pos += 5; return boolV(false); }
    if (text.startsWith('null', pos)) { pos += 4; return NONE; }
    const num = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos));
    if (!num) fail();
    pos += num![0].length;
    return num![1] !== undefined || num![2] !== undefined ? floatV(Number(num![0])) : intV(Number(num![0]));
  };
  const value = readValue();
  skipSpace();
  if (pos !== text.length) fail();
  return value;
}

/** JSON text of a plain value, laid out like json.dumps' defaults; undefined for anything else. */
function dumpJson(v: Value): string | undefined {
  switch (v.kind) {
    case 'none': return 'null';
    case 'bool': return v.value ? 'true' : 'false';
    case 'int': return typeof v.value === 'number' ? String(v.value) : undefined;
    case 'float': return Number.isFinite(v.value) ? formatFloat(v.value) : v.value > 0 ? 'Infinity' : v.value < 0 ? '-Infinity' : 'NaN';
    case 'str': return JSON.stringify(v.value);
    case 'list':
    case 'tuple': {
      const parts = v.items.map(dumpJson);
      return parts.every((p) => p !== undefined) ? `[${parts.join(', ')}]` : undefined;
    }
    case 'dict': {
      const parts: string[] = [];
      for (const { key, value } of v.entries.values()) {
        const k = key.kind === 'str' ? key.value : key.kind === 'int' || key.kind === 'float' || key.kind === 'bool' ? dumpJson(key) : undefined;
        const inner = dumpJson(value);
        if (k === undefined || inner === undefined) return undefined;
        parts.push(`${JSON.stringify(k)}: ${inner}`);
      }
      return `{${parts.join(', ')}}`;
    }
    default: return undefined;
  }
}

export function installJson(mod: (name: string, members: () => [string, Value][]) => void): void {
  mod('json', () => [
    ['loads', fn('loads', (args) => {
      const text = args[0];
      if (text?.kind !== 'str') return unknownV('json.loads of text not known before running');
      try {
        return parseJson(text.value);
      } catch (error) {
        if (error instanceof JsonSyntaxError) return unknownV('json.loads of text that is not valid JSON');
        throw error;
      }
    })],
    ['dumps', fn('dumps', (args) => {
      const text = args[0] ? dumpJson(args[0]) : undefined;
      return text === undefined ? UNKNOWN : strV(text);
    })],
    ['load', fn('load', () => unknownV('json.load reads a file at run time'))],
    ['dump', fn('dump', () => NONE)],
  ]);
}
