// Garbage collection in the idle time of a long-lived analyzer process (the editor's analysis
// worker). One analysis allocates about as much as V8's young generation holds (10–15 MB for
// torchvision's densenet.py) and most of it (module tree, tensors, report) is alive until the
// analysis ends, so a scavenge that falls inside an analysis copies all of it: 10–45 ms of a
// re-analysis on this project's 2-core machine. Collecting the young generation right after an
// analysis, while the worker waits for the next keystroke (the editor debounces 150 ms), lets the
// next analysis start with an empty one and usually run without any collection.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

type Collect = (options: { type: 'minor' | 'major' }) => void;

let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    // V8 gives `gc` to contexts created while this flag is set: one context is made to take it
    // from, and the flag is cleared again so that no other context of the process gets it.
    v8.setFlagsFromString('--expose-gc');
    try {
      const fn: unknown = vm.runInNewContext('gc');
      collect = typeof fn === 'function' ? (fn as Collect) : null;
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  } catch {
    collect = null;
  }
  return collect;
}

/** Collects the young generation now; false where the runtime does not allow it. */
export function collectYoungGeneration(): boolean {
  const fn = collector();
  if (!fn) return false;
  fn({ type: 'minor' });
  return true;
}
