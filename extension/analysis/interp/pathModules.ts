// os.path's string functions and pkgutil.get_data: model code that reads a data file shipped
// inside its package (timm's pruned-channel tables, read with pkgutil.get_data and decoded)
// gets the real text. Whether a path exists on disk is not known (those members stay unknown).
import * as path from 'node:path';

import type { Interpreter } from './interpreter';
import { NONE, UNKNOWN, boolV, strV, tupleV } from './pyvalues';
import type { BuiltinFunctionValue, BuiltinImpl, ClassValue, InstanceValue, Value } from './values';
import { computeMro } from './interpreter';

type ModuleInstaller = (name: string, members: () => [string, Value][]) => void;

function fn(name: string, call: BuiltinImpl): BuiltinFunctionValue {
  return { kind: 'builtin', name, call };
}

const text = (v: Value | undefined): string | undefined => (v?.kind === 'str' ? v.value : undefined);

export function installPathModules(interp: Interpreter, mod: ModuleInstaller, objectClass: ClassValue): void {
  const stringsOf = (args: Value[]): string[] | undefined => {
    const out: string[] = [];
    for (const a of args) {
      const s = text(a);
      if (s === undefined) return undefined;
      out.push(s);
    }
    return out;
  };
  mod('os.path', () => [
    ['sep', strV('/')],
    ['join', fn('join', (args) => { const parts = stringsOf(args); return parts && parts.length > 0 ? strV(path.posix.join(...parts)) : UNKNOWN; })],
    ['basename', fn('basename', (args) => { const s = text(args[0]); return s === undefined ? UNKNOWN : strV(path.posix.basename(s)); })],
    ['dirname', fn('dirname', (args) => { const s = text(args[0]); return s === undefined ? UNKNOWN : strV(path.posix.dirname(s)); })],
    ['splitext', fn('splitext', (args) => {
      const s = text(args[0]);
      if (s === undefined) return UNKNOWN;
      const ext = path.posix.extname(s);
      return tupleV([strV(s.slice(0, s.length - ext.length)), strV(ext)]);
    })],
    ['isabs', fn('isabs', (args) => { const s = text(args[0]); return s === undefined ? UNKNOWN : boolV(s.startsWith('/')); })],
  ]);

  // bytes as pkgutil.get_data returns them: only decoding to text is modelled.
  const bytesClass: ClassValue = { kind: 'class', name: 'bytes', mro: [], attrs: new Map(), isModule: false };
  bytesClass.mro = computeMro(bytesClass, [objectClass]);
  const contents = new WeakMap<InstanceValue, string>();
  bytesClass.attrs.set('decode', fn('decode', (args) => {
    const self = args[0];
    const s = self?.kind === 'instance' ? contents.get(self) : undefined;
    return s === undefined ? UNKNOWN : strV(s);
  }));
  mod('pkgutil', () => [
    ['get_data', fn('get_data', (args) => {
      const packageName = text(args[0]);
      const resource = text(args[1]);
      if (packageName === undefined || resource === undefined) return UNKNOWN;
      const record = interp.getModuleRecord(packageName);
      if (!record.file) return NONE;
      const data = interp.config.fs.readFile(path.join(path.dirname(record.file), ...resource.split('/')));
      if (data === undefined) return UNKNOWN;
      const bytes = interp.newInstance(bytesClass);
      contents.set(bytes, data);
      return bytes;
    })],
  ]);
}
