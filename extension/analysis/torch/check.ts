// Shape requirements: a concrete mismatch is an error; a symbolic dim that meets a
// concrete requirement is solved (dim.solveFor) and reported as information, never an
// error, because it may well be fine for the real input.
import type { CallContext, InstanceValue, TensorValue } from '../interp/values';
import {
  DEFAULT_SOLVE_MAX, constValue, dimEquals, freeSymbols, solveFor, substituteSymbols, sym, valueRangesText,
  type Dim,
} from '../shape/dim';
import * as msg from './messages';

/**
 * A size that comes from one constructor argument of a layer module (Linear's in_features):
 * on a concrete mismatch the diagnostic proposes writing the size the input really has there.
 */
export interface SizeArgument {
  module: InstanceValue;
  argument: string;
  code: string;
  /** False when the argument alone does not decide the size (conv groups): the mismatch keeps its code, without a fix. */
  fixable?: boolean;
}

/**
 * Checks `got == expected`. Returns false only for a certain mismatch (after reporting it
 * with `mismatch()`); symbolic cases report what input size satisfies the requirement.
 */
export function requireDim(
  ctx: CallContext,
  layer: string,
  what: string,
  expected: Dim,
  got: Dim,
  mismatch: () => string,
  source?: SizeArgument,
): boolean {
  const eq = dimEquals(expected, got);
  if (eq === true) return true;
  if (eq === false) {
    const size = constValue(got);
    const fix = source && source.fixable !== false && size !== undefined
      ? { module: source.module, argument: source.argument, newText: String(size), title: msg.setArgumentFix(source.argument, size) }
      : undefined;
    ctx.diagnostic('error', mismatch(), undefined, source ? { code: source.code, fix } : undefined);
    return false;
  }
  const target = constValue(expected);
  if (target === undefined) return true;
  // The interpreter may solve a guessed input size from it and trace again.
  ctx.requireSize?.(got, target);
  reportSolution(ctx, layer, what, got, target);
  return true;
}

function reportSolution(ctx: CallContext, layer: string, what: string, got: Dim, target: number): void {
  solveRequirement(
    ctx,
    got,
    target,
    (symbol, ranges) => msg.symbolicRequirement(layer, what, got, target, symbol, ranges),
    (symbol, max) => msg.symbolicRequirementUnsatisfiable(layer, what, got, target, symbol, max),
  );
}

/**
 * Solves `expression == target` for the input size and reports it: information with the
 * sizes that satisfy it, or a warning when none does. Several free symbols (H and W) are
 * solved for a square input.
 */
export function solveRequirement(
  ctx: CallContext,
  expression: Dim,
  target: number,
  satisfied: (symbol: string, ranges: string) => string,
  unsatisfiable: (symbol: string, max: number) => string,
): void {
  let symbols = freeSymbols(expression);
  let symbolText = symbols[0];
  if (symbols.length > 1) {
    const shared = sym(symbols.join('='));
    expression = substituteSymbols(expression, new Map(symbols.map((s) => [s, shared])));
    symbolText = symbols.join(' = ');
    symbols = freeSymbols(expression);
  }
  if (symbols.length !== 1) return;
  const solved = solveFor(expression, target);
  if (!solved) return;
  if (solved.values.length === 0) ctx.diagnostic('warning', unsatisfiable(symbolText, DEFAULT_SOLVE_MAX));
  else ctx.diagnostic('info', satisfied(symbolText, valueRangesText(solved.values)));
}

// Where a flattened dim came from (view/flatten/reshape of [N, 256, 6, 6] → 9216 = 256×6×6),
// so a Linear mismatch can show the arithmetic. Keyed by tensor identity.
const flattenedFactors = new WeakMap<TensorValue, readonly Dim[]>();

export function setLastDimFactors(t: TensorValue, factors: readonly Dim[]): void {
  if (factors.length > 1) flattenedFactors.set(t, factors);
}

export function lastDimFactors(t: TensorValue): readonly Dim[] | undefined {
  return flattenedFactors.get(t);
}
