// Reads the input shapes written in a `# netlens: input=...` comment:
//   (N, 3, 32, 32)                  one float32 input, symbolic batch N
//   (1, 3, 224, 224), (1, 10)       two inputs
//   (N, 50):int64                   token ids
import type { InputSpec, ReportDim } from './reportTypes';

const DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool']);

/** The specs, or undefined when the text is not in that form. */
export function parseInputComment(text: string): InputSpec[] | undefined {
  const specs: InputSpec[] = [];
  const re = /\s*\[?\(([^()]*)\)\]?\s*(?::\s*([a-z0-9]+))?\s*(,|$)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  const body = text.trim();
  while (consumed < body.length && (m = re.exec(body)) !== null) {
    const dims: ReportDim[] = [];
    for (const part of m[1].split(',').map((p) => p.trim()).filter(Boolean)) {
      if (/^\d+$/.test(part)) dims.push(Number(part));
      else if (/^[A-Za-z_]\w*$/.test(part)) dims.push(part);
      else return undefined;
    }
    if (dims.length === 0) return undefined;
    const dtype = m[2];
    if (dtype !== undefined && !DTYPES.has(dtype)) return undefined;
    specs.push(dtype ? { shape: dims, dtype: dtype as InputSpec['dtype'] } : { shape: dims });
    consumed = re.lastIndex;
    if (m[3] === '') break;
  }
  if (specs.length === 0 || consumed < body.length) return undefined;
  return specs;
}
