// Dimensions of tensor shapes: plain integers, or symbolic expressions over named
// symbols (N, H, W, L, ...) with the linear + floor-division arithmetic that shape
// formulas need. A Dim is either a JS number (always an integer) or a SymDim.
//
// CONTRACT (shared by analysis/interp and analysis/torch). Owner: the catalog work.
// Everything here is pure and never throws on symbolic input.

export type Dim = number | SymDim;
export type Shape = Dim[];

/** An opaque symbolic dimension. Construct only through the functions below. */
export interface SymDim {
  readonly kind: 'sym';
  /** Canonical text, e.g. "H", "floor((H - 1)/2) + 1", "2*H". Equal text ⇔ equal expression. */
  readonly text: string;
}

export declare function sym(name: string): SymDim;
export declare function isSym(d: Dim): d is SymDim;
/** The integer value when the dim is known, else undefined. */
export declare function constValue(d: Dim): number | undefined;
export declare function add(a: Dim, b: Dim): Dim;
export declare function sub(a: Dim, b: Dim): Dim;
export declare function mul(a: Dim, b: Dim): Dim;
/** Python `//` (floor division); b must be a positive constant for symbolic a, else the result is a fresh opaque symbol. */
export declare function floorDiv(a: Dim, b: Dim): Dim;
export declare function mod(a: Dim, b: Dim): Dim;
/** Python `-(-a // b)` i.e. ceil division. */
export declare function ceilDiv(a: Dim, b: Dim): Dim;
/** true / false when decidable (equal constants or identical expressions), undefined when unknown. */
export declare function dimEquals(a: Dim, b: Dim): boolean | undefined;
export declare function dimToString(d: Dim): string;
export declare function shapeToString(s: Shape): string;
/** Product of dims (numel). */
export declare function product(dims: Shape): Dim;
/** Substitute known values for symbols: returns a number when fully known. */
export declare function substitute(d: Dim, bindings: ReadonlyMap<string, number>): Dim;
/** Free symbol names appearing in d. */
export declare function freeSymbols(d: Dim): string[];
/**
 * Solve `d == target` for its single free symbol over positive integers in [1, maxValue].
 * Returns the candidate values (possibly several because of floor division); empty when none.
 */
export declare function solveFor(d: Dim, target: number, maxValue?: number): { symbol: string; values: number[] } | undefined;
