// Every user-facing text the torch catalog produces, in one place, so messages read the
// same way and tests can check them. Shape arithmetic is written out with × and −.
import { dimToString, shapeToString, type Dim, type Shape } from '../shape/dim';

const d = dimToString;

/** "256×6×6" for factors of a flattened size. */
export function factorsText(factors: readonly Dim[]): string {
  return factors.map(d).join('×');
}

export function badArguments(callee: string, detail: string): string {
  return `${callee}: ${detail}`;
}

export function rankMismatch(layer: string, expected: string, shape: Shape): string {
  return `${layer} expects a ${expected} input, gets ${shape.length}D ${shapeToString(shape)}`;
}

export function channelMismatch(layer: string, expected: Dim, got: Dim, shape: Shape): string {
  return `${layer} expects ${d(expected)} input channels, gets ${d(got)} (input ${shapeToString(shape)})`;
}

/** Title of the quick fix that writes the computed size into a constructor argument. */
export function setArgumentFix(argument: string, value: number): string {
  return `Set ${argument} to ${value}`;
}

export function featureMismatch(layer: string, expected: Dim, got: Dim, factors: readonly Dim[] | undefined): string {
  const explained = factors && factors.length > 1 ? ` = ${factorsText(factors)}` : '';
  return `${layer} expects ${d(expected)} input features, gets ${d(got)}${explained}`;
}

/** "(W − F + 2P)/S + 1 = (5 − 7 + 2·0)/1 + 1 = -1" */
export function outputNotPositive(layer: string, size: Dim, effectiveKernel: Dim, padding: Dim, stride: Dim, out: Dim, ceil = false): string {
  const div = ceil ? 'ceil' : 'floor';
  return (
    `${layer} output size is not positive: (W − F + 2P)/S + 1 = ` +
    `${div}((${d(size)} − ${d(effectiveKernel)} + 2·${d(padding)})/${d(stride)}) + 1 = ${d(out)}`
  );
}

export function transposedOutputNotPositive(layer: string, size: Dim, out: Dim): string {
  return `${layer} output size is not positive: (W − 1)·S − 2P + D·(F − 1) + output_padding + 1 = ${d(out)} for W = ${d(size)}`;
}

export function symbolicRequirement(layer: string, what: string, expression: Dim, expected: number, symbol: string, ranges: string): string {
  // A bare symbol needs no solving ("needs input channels C = 3").
  if (d(expression) === symbol) return `${layer} needs ${what} ${symbol} = ${expected}`;
  const single = /^\d+$/.test(ranges);
  return `${layer} needs ${what} ${d(expression)} = ${expected}: holds for ${symbol} ${single ? '=' : 'in'} ${ranges}`;
}

export function symbolicRequirementUnsatisfiable(layer: string, what: string, expression: Dim, expected: number, symbol: string, max: number): string {
  return `${layer} needs ${what} ${d(expression)} = ${expected}, which no ${symbol} from 1 to ${max} gives`;
}

export function groupsDivide(layer: string, what: string, value: Dim, groups: Dim): string {
  return `${layer}: ${what} (${d(value)}) must be divisible by groups (${d(groups)})`;
}

export function paddingSameStride(layer: string): string {
  return `${layer}: padding='same' is not supported for strided convolutions`;
}

export function invalidPaddingString(layer: string, padding: string): string {
  return `${layer}: invalid padding string '${padding}', should be one of {'valid', 'same'}`;
}

export function outputSizeOutOfRange(layer: string, requested: Dim, min: Dim, max: Dim): string {
  return `${layer}: requested output size ${d(requested)} is not between ${d(min)} and ${d(max)}`;
}

export function broadcastMismatch(op: string, a: Shape, b: Shape, index: number, da: Dim, db: Dim): string {
  return `${op}: shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast (size ${d(da)} vs ${d(db)} at dim ${index})`;
}

export function viewAsComplexLastDim(shape: Shape): string {
  return `view_as_complex: the last dimension must have size 2 (real and imaginary parts), got shape ${shapeToString(shape)}`;
}

export function matmulMismatch(op: string, a: Shape, b: Shape, ka: Dim, kb: Dim): string {
  return `${op}: shapes ${shapeToString(a)} and ${shapeToString(b)} cannot be multiplied (${d(ka)} ≠ ${d(kb)})`;
}

export function catMismatch(op: string, index: number, shape: Shape, first: Shape, dim: number): string {
  return `${op}: tensor ${index} has shape ${shapeToString(shape)}, which differs from ${shapeToString(first)} outside dim ${dim}`;
}

export function viewMismatch(op: string, shape: Shape, numel: Dim, target: readonly Dim[]): string {
  return `${op}: shape [${target.map(d).join(', ')}] is invalid for input of size ${d(numel)} (input ${shapeToString(shape)})`;
}

export function dimOutOfRange(op: string, dim: Dim, rank: number): string {
  return `${op}: dim ${d(dim)} is out of range for a ${rank}D tensor`;
}

export function sizeMismatch(op: string, what: string, expected: Dim, got: Dim): string {
  return `${op}: expected ${what} ${d(expected)}, gets ${d(got)}`;
}

export function normalizedShapeMismatch(layer: string, normalized: readonly Dim[], shape: Shape): string {
  return `${layer} normalizes over [${normalized.map(d).join(', ')}] but the input is ${shapeToString(shape)}`;
}

export function indexOutOfRange(index: Dim, dim: number, size: Dim): string {
  return `index ${d(index)} is out of bounds for dimension ${dim} with size ${d(size)}`;
}

export function tooManyIndices(rank: number, count: number): string {
  return `too many indices for tensor of dimension ${rank} (got ${count})`;
}

export function unsupportedEinsum(equation: string): string {
  return `einsum equation '${equation}' is not understood; its result is unknown`;
}

export function interpolateNeedsSize(): string {
  return 'interpolate: exactly one of size or scale_factor must be given';
}

export function pixelShuffleDivides(layer: string, channels: Dim, factor: number): string {
  return `${layer}: channels (${d(channels)}) must be divisible by upscale_factor² (${factor * factor})`;
}

export function unknownTensorMethod(name: string): string {
  return `tensor method '${name}' is not in the catalog; its result is unknown`;
}

/** view(-1, 400) on [N, 16, f(H), f(W)]: the batch survives only when the rest multiplies to 400. */
export function viewKeepsBatch(op: string, target: readonly Dim[], batch: Dim, rest: Dim, known: number, symbol: string, ranges: string): string {
  return `${op}(${target.map(d).join(', ')}) keeps the batch size ${d(batch)} when ${d(rest)} = ${known}: holds for ${symbol} ${/^\d+$/.test(ranges) ? '=' : 'in'} ${ranges}`;
}

export function viewMixesBatch(op: string, target: readonly Dim[], batch: Dim, rest: Dim, known: number, symbol: string, max: number): string {
  return `${op}(${target.map(d).join(', ')}) mixes the batch dim ${d(batch)} into the others: ${d(rest)} = ${known} holds for no ${symbol} from 1 to ${max}`;
}

// ---------------------------------------------------------------- hover arithmetic

/** Names of the spatial dims of a 1d/2d/3d layer. */
export function spatialNames(n: number): string[] {
  return n === 1 ? ['L'] : n === 2 ? ['H', 'W'] : ['D', 'H', 'W'].slice(3 - n);
}

/** "H: (224 − 11 + 2·2)/4 + 1 = 55", with ceil() for ceil_mode and the dilated kernel spelled out. */
export function slidingArithmetic(name: string, size: Dim, kernel: Dim, dilation: Dim, padding: Dim, stride: Dim, effective: Dim, out: Dim, ceil: boolean): string {
  const body = `(${d(size)} − ${d(effective)} + 2·${d(padding)})/${d(stride)}`;
  const dilated = d(dilation) === '1' ? '' : ` (F = ${d(dilation)}·(${d(kernel)} − 1) + 1)`;
  return `${name}: ${ceil ? `ceil(${body})` : body} + 1 = ${d(out)}${dilated}`;
}

export function samePaddingArithmetic(name: string, size: Dim): string {
  return `${name}: padding='same' keeps ${d(size)}`;
}

/** "H: (7 − 1)·2 − 2·1 + 3 + 1 = 14" for transposed convolutions. */
export function transposedArithmetic(name: string, size: Dim, stride: Dim, padding: Dim, effective: Dim, outputPadding: Dim, out: Dim): string {
  return `${name}: (${d(size)} − 1)·${d(stride)} − 2·${d(padding)} + ${d(effective)} + ${d(outputPadding)} = ${d(out)}`;
}

export function adaptiveArithmetic(name: string, size: Dim, out: Dim): string {
  return `${name}: ${d(size)} → ${d(out)} (adaptive)`;
}

export function scaleArithmetic(name: string, size: Dim, factor: number, out: Dim): string {
  return `${name}: floor(${d(size)} × ${factor}) = ${d(out)}`;
}

export function sizeArithmetic(name: string, size: Dim, out: Dim): string {
  return `${name}: ${d(size)} → ${d(out)}`;
}

export function flattenArithmetic(factors: readonly Dim[], out: Dim): string {
  return `features: ${factorsText(factors)} = ${d(out)}`;
}
