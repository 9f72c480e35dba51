// `packaging.version` as model code uses it to branch on library versions
// (`version.parse(torch.__version__) >= version.parse("2.0")`): parse/Version give the release
// as a (major, minor, micro) tuple, so comparisons between versions are tuple comparisons and
// .major/.minor/.micro read its parts. Pre-release, post-release and local tags are dropped
// (2.1.0rc1 compares equal to 2.1.0); text that is not a version is Unknown.
import { intV, unknownV } from './pyvalues';
import type { BuiltinFunctionValue, Value } from './values';

function parseVersion(v: Value | undefined): Value {
  if (v?.kind !== 'str') return unknownV('version of text not known before running');
  const m = /^\s*v?(?:\d+!)?(\d+(?:\.\d+)*)/.exec(v.value);
  if (!m) return unknownV('not a version string');
  const parts = m[1].split('.').map(Number);
  while (parts.length < 3) parts.push(0);
  return { kind: 'tuple', items: parts.slice(0, 3).map((p) => intV(p)), fields: ['major', 'minor', 'micro'] };
}

export function installPackaging(mod: (name: string, members: () => [string, Value][]) => void): void {
  const parse: BuiltinFunctionValue = { kind: 'builtin', name: 'parse', call: (args) => parseVersion(args[0]) };
  const version: BuiltinFunctionValue = { kind: 'builtin', name: 'Version', call: (args) => parseVersion(args[0]) };
  mod('packaging.version', () => [['parse', parse], ['Version', version]]);
  mod('packaging', () => []);
}
