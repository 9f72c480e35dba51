// Dimensions of tensor shapes: plain integers, or symbolic expressions over named
// symbols (N, H, W, L, ...) with the linear + floor-division arithmetic that shape
// formulas need. A Dim is either a JS number (always an integer) or a SymDim.
//
// CONTRACT (shared by analysis/interp and analysis/torch). Owner: the catalog work.
// Everything here is pure and never throws on symbolic input.
//
// Representation: a symbolic dim is a polynomial with integer coefficients over atoms,
// where an atom is a symbol (`H`) or a floor quotient `floor(num/den)` of two such
// polynomials. Symbols stand for positive integers. Polynomials are kept in a canonical
// form so that expressions built along different paths print the same text:
// - terms are sorted by degree (highest first) then by text, the constant goes last;
// - `x % c` is rewritten as `x - c*floor(x/c)` and `ceil(x/c)` as `floor((x + c - 1)/c)`,
//   so floor is the only non-polynomial atom;
// - in `floor(num/c)` with a positive constant c, every multiple of c is pulled out of
//   num (symbol coefficients are reduced into [0, c), the constant into (−c, 0]), common
//   factors of num and c cancel, and `floor((floor(x/a) + k)/b)` becomes
//   `floor((x + k*a)/(a*b))`.
// Texts are printed from that canonical form, factored the way people write shapes:
// `2*H + 1`, `H*W`, `floor((H + 1)/2)`, `16*floor((H - 12)/4)*floor((W - 12)/4)`. Python's
// `H // 2` prints as `floor(H/2)` (never `H/2`, which would hide the rounding). Equal text
// always means equal value; the converse holds for everything the layer formulas produce,
// but a few floor identities (e.g. `floor(H/2) + floor((H + 1)/2) == H`) are not
// normalised, and `dimEquals` then answers undefined rather than guessing.

export type Dim = number | SymDim;
export type Shape = Dim[];

/** An opaque symbolic dimension. Construct only through the functions below. */
export interface SymDim {
  readonly kind: 'sym';
  /** Canonical text, e.g. "H", "floor((H + 1)/2)", "2*H", "(H - 4)*(W - 4)". Equal text ⇔ equal expression. */
  readonly text: string;
}

// ---------------------------------------------------------------------------------------
// Internal polynomial form

interface SymbolAtom { readonly type: 'symbol'; readonly key: string; readonly name: string }
interface FloorAtom { readonly type: 'floor'; readonly key: string; readonly num: Poly; readonly den: Poly }
type Atom = SymbolAtom | FloorAtom;

interface Term {
  readonly coef: number;
  /** Sorted by key; repeated atoms mean powers. */
  readonly atoms: readonly Atom[];
  readonly key: string;
}

interface Poly {
  /** Canonically sorted, no zero coefficients, no empty monomials. */
  readonly terms: readonly Term[];
  readonly constant: number;
}

/** The concrete SymDim: the polynomial, and its display text (computed on first use). */
class SymExpr implements SymDim {
  readonly kind = 'sym' as const;
  readonly poly: Poly;
  private cachedText: string | undefined;
  constructor(poly: Poly) {
    this.poly = poly;
  }
  get text(): string {
    this.cachedText ??= displayText(this.poly);
    return this.cachedText;
  }
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

const ZERO: Poly = { terms: [], constant: 0 };

// Display text is memoised by the canonical form (term keys, coefficients, constant), which
// is cheap to write down from the keys the terms already carry: the same `floor((H - 1)/2) + 1`
// reaches every layer of a stage as a fresh polynomial, and printing it (factorising the
// products back) on each layer was a large part of a symbolic trace. Bounded, cleared when full.
const DISPLAY_MEMO_LIMIT = 20_000;
const displayTextMemo = new Map<string, string>();

function canonicalKey(p: Poly): string {
  let key = String(p.constant);
  for (const t of p.terms) key += `|${t.coef}:${t.key}`;
  return key;
}

function displayText(p: Poly): string {
  const key = canonicalKey(p);
  let text = displayTextMemo.get(key);
  if (text === undefined) {
    text = prettyText(p).text;
    if (displayTextMemo.size >= DISPLAY_MEMO_LIMIT) displayTextMemo.clear();
    displayTextMemo.set(key, text);
  }
  return text;
}

function constPoly(c: number): Poly {
  return c === 0 ? ZERO : { terms: [], constant: c };
}

function isConstPoly(p: Poly): boolean {
  return p.terms.length === 0;
}

function monomialKey(atoms: readonly Atom[]): string {
  return atoms.map((a) => a.key).join('*');
}

function symbolAtom(name: string): SymbolAtom {
  return { type: 'symbol', key: name, name };
}

function atomPoly(atom: Atom): Poly {
  return { terms: [{ coef: 1, atoms: [atom], key: atom.key }], constant: 0 };
}

/** Builds a canonical polynomial from unsorted, possibly repeated terms. */
function normalise(terms: Iterable<{ coef: number; atoms: readonly Atom[] }>, constant: number): Poly {
  const byKey = new Map<string, { coef: number; atoms: readonly Atom[] }>();
  for (const t of terms) {
    if (t.coef === 0) continue;
    if (t.atoms.length === 0) {
      constant += t.coef;
      continue;
    }
    const atoms = [...t.atoms].sort((a, b) => compareText(a.key, b.key));
    const key = monomialKey(atoms);
    const prev = byKey.get(key);
    byKey.set(key, { coef: (prev?.coef ?? 0) + t.coef, atoms });
  }
  const out: Term[] = [];
  for (const [key, t] of byKey) if (t.coef !== 0) out.push({ coef: t.coef, atoms: t.atoms, key });
  out.sort((a, b) => b.atoms.length - a.atoms.length || compareText(a.key, b.key));
  return { terms: out, constant };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addPoly(a: Poly, b: Poly, bSign = 1): Poly {
  // Adding a constant keeps the (already canonical) terms as they are.
  if (b.terms.length === 0) {
    const constant = a.constant + bSign * b.constant;
    if (a.terms.length === 0) return constPoly(constant);
    return constant === a.constant ? a : { terms: a.terms, constant };
  }
  if (a.terms.length === 0 && bSign === 1) return a.constant === 0 ? b : { terms: b.terms, constant: b.constant + a.constant };
  return { terms: mergeTerms(a.terms, b.terms, bSign), constant: a.constant + bSign * b.constant };
}

/** The order `normalise` sorts terms in: higher degree first, then by key. */
function termOrder(x: Term, y: Term): number {
  return y.atoms.length - x.atoms.length || compareText(x.key, y.key);
}

/**
 * a + bSign·b for two canonical term lists: a linear merge (the sums of a network's MACs add
 * hundreds of polynomials, which normalising from scratch made quadratic in allocations).
 */
function mergeTerms(a: readonly Term[], b: readonly Term[], bSign: number): Term[] {
  const out: Term[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const order = i === a.length ? 1 : j === b.length ? -1 : termOrder(a[i], b[j]);
    if (order < 0) {
      out.push(a[i++]);
    } else if (order > 0) {
      const t = b[j++];
      out.push(bSign === 1 ? t : { coef: t.coef * bSign, atoms: t.atoms, key: t.key });
    } else {
      const coef = a[i].coef + bSign * b[j].coef;
      if (coef !== 0) out.push({ coef, atoms: a[i].atoms, key: a[i].key });
      i++;
      j++;
    }
  }
  return out;
}

function scalePoly(a: Poly, k: number): Poly {
  if (k === 0) return ZERO;
  if (k === 1) return a;
  // A non-zero factor keeps the order (by degree, then key) and every coefficient non-zero.
  if (Number.isInteger(k)) {
    return { terms: a.terms.map((t) => ({ coef: t.coef * k, atoms: t.atoms, key: t.key })), constant: a.constant * k };
  }
  return normalise(a.terms.map((t) => ({ coef: t.coef * k, atoms: t.atoms })), a.constant * k);
}

// Products of symbolic polynomials are memoised by the canonical forms of both factors: a
// symbolic trace multiplies the same `N*floor((H - 1)/2 + 1)*...` for the MACs of every layer
// of a stage, each as a fresh polynomial, and expanding and re-sorting the product was the
// largest cost of a symbolic re-analysis. Bounded, cleared when full, like the display memo.
const PRODUCT_MEMO_LIMIT = 20_000;
const productMemo = new Map<string, Poly>();

function mulPoly(a: Poly, b: Poly): Poly {
  if (b.terms.length === 0) return scalePoly(a, b.constant);
  if (a.terms.length === 0) return scalePoly(b, a.constant);
  const key = `${canonicalKey(a)}#${canonicalKey(b)}`;
  let product = productMemo.get(key);
  if (product === undefined) {
    product = expandProduct(a, b);
    if (productMemo.size >= PRODUCT_MEMO_LIMIT) productMemo.clear();
    productMemo.set(key, product);
  }
  return product;
}

function expandProduct(a: Poly, b: Poly): Poly {
  const terms: { coef: number; atoms: readonly Atom[] }[] = [];
  const aTerms = [...a.terms, { coef: a.constant, atoms: [] as Atom[] }];
  const bTerms = [...b.terms, { coef: b.constant, atoms: [] as Atom[] }];
  for (const x of aTerms) {
    for (const y of bTerms) terms.push({ coef: x.coef * y.coef, atoms: [...x.atoms, ...y.atoms] });
  }
  return normalise(terms, 0);
}

/** Same as comparing polyText: term keys are the canonical text of their monomials. */
function polyEqual(a: Poly, b: Poly): boolean {
  if (a === b) return true;
  if (a.constant !== b.constant || a.terms.length !== b.terms.length) return false;
  for (let i = 0; i < a.terms.length; i++) {
    const x = a.terms[i];
    const y = b.terms[i];
    if (x.coef !== y.coef || x.key !== y.key) return false;
  }
  return true;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function pyFloorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

function floorPoly(num: Poly, den: Poly): Poly {
  if (isConstPoly(den)) return floorByConstant(num, den.constant);
  if (polyEqual(num, den)) return constPoly(1);
  if (isConstPoly(num) && num.constant === 0) return ZERO;
  // A monomial divisor (N, 4*N*H): terms it divides exactly come out of the floor, since
  // floor((q·d + r)/d) = q + floor(r/d) for an integer q. `x.view(x.size(0), -1)` needs it.
  if (den.terms.length === 1 && den.constant === 0) {
    const d = den.terms[0];
    const quotient: { coef: number; atoms: readonly Atom[] }[] = [];
    const rest: { coef: number; atoms: readonly Atom[] }[] = [];
    for (const t of num.terms) {
      const q = divideTerm(t, d);
      if (q) quotient.push(q);
      else rest.push(t);
    }
    if (quotient.length > 0) {
      const remainder = normalise(rest, num.constant);
      const whole = normalise(quotient, 0);
      return isConstPoly(remainder) && remainder.constant === 0 ? whole : addPoly(whole, floorPoly(remainder, den));
    }
  }
  const atom: FloorAtom = { type: 'floor', key: floorText(num, den), num, den };
  return atomPoly(atom);
}

/** t / d when d's atoms are a sub-multiset of t's and the coefficient divides; else undefined. */
function divideTerm(t: Term, d: Term): { coef: number; atoms: Atom[] } | undefined {
  if (t.coef % d.coef !== 0) return undefined;
  const remaining = [...t.atoms];
  for (const a of d.atoms) {
    const i = remaining.findIndex((x) => x.key === a.key);
    if (i < 0) return undefined;
    remaining.splice(i, 1);
  }
  return { coef: t.coef / d.coef, atoms: remaining };
}

function floorByConstant(num: Poly, c: number): Poly {
  if (c < 0) return floorByConstant(scalePoly(num, -1), -c);
  if (c === 0) {
    // Division by zero has no value; keep it as an opaque atom so nothing throws.
    const den = constPoly(0);
    return atomPoly({ type: 'floor', key: floorText(num, den), num, den });
  }
  if (c === 1) return num;
  if (isConstPoly(num)) return constPoly(pyFloorDiv(num.constant, c));

  // num = c*q + r with every coefficient of r in [0, c); floor(num/c) = q + floor(r/c)
  // because every atom is an integer.
  const quotientTerms: { coef: number; atoms: readonly Atom[] }[] = [];
  const remainderTerms: { coef: number; atoms: readonly Atom[] }[] = [];
  for (const t of num.terms) {
    const q = pyFloorDiv(t.coef, c);
    quotientTerms.push({ coef: q, atoms: t.atoms });
    remainderTerms.push({ coef: t.coef - q * c, atoms: t.atoms });
  }
  // The constant is reduced into (−c, 0] rather than [0, c): that keeps PyTorch's own
  // formula shape, floor((H − 1)/2) + 1, and makes chains of floors collapse cleanly.
  const constQ = Math.ceil(num.constant / c);
  const quotient = normalise(quotientTerms, constQ);
  let remainder = normalise(remainderTerms, num.constant - constQ * c);
  let divisor = c;
  if (isConstPoly(remainder)) return addPoly(quotient, constPoly(pyFloorDiv(remainder.constant, c)));

  // Cancel a common factor of the remainder and the divisor.
  let g = divisor;
  for (const t of remainder.terms) g = gcd(g, t.coef);
  g = gcd(g, remainder.constant);
  if (g > 1) {
    remainder = scalePoly(remainder, 1 / g);
    divisor /= g;
  }

  // floor((floor(x/a) + k)/b) == floor((x + k*a)/(a*b)) for positive constants a and b.
  const only = remainder.terms.length === 1 ? remainder.terms[0] : undefined;
  if (only && only.coef === 1 && only.atoms.length === 1) {
    const inner = only.atoms[0];
    if (inner.type === 'floor' && isConstPoly(inner.den) && inner.den.constant > 0) {
      const a = inner.den.constant;
      const merged = addPoly(inner.num, constPoly(remainder.constant * a));
      return addPoly(quotient, floorByConstant(merged, a * divisor));
    }
  }
  const den = constPoly(divisor);
  const atom: FloorAtom = { type: 'floor', key: floorText(remainder, den), num: remainder, den };
  return addPoly(quotient, atomPoly(atom));
}

// ---------------------------------------------------------------------------------------
// Text

function termCount(p: Poly): number {
  return p.terms.length + (p.constant !== 0 ? 1 : 0);
}

function monomialText(atoms: readonly Atom[]): string {
  return atoms.map((a) => (a.type === 'symbol' ? a.name : floorText(a.num, a.den))).join('*');
}

function floorText(num: Poly, den: Poly): string {
  const n = polyText(num);
  const d = polyText(den);
  const nWrapped = termCount(num) > 1 ? `(${n})` : n;
  const dWrapped = termCount(den) > 1 || den.terms.some((t) => t.coef !== 1 || t.atoms.length > 1) ? `(${d})` : d;
  return `floor(${nWrapped}/${dWrapped})`;
}

function polyText(p: Poly): string {
  const parts: string[] = [];
  for (const t of p.terms) {
    const body = monomialText(t.atoms);
    const magnitude = Math.abs(t.coef);
    const text = magnitude === 1 ? body : `${magnitude}*${body}`;
    parts.push(parts.length === 0 ? (t.coef < 0 ? `-${text}` : text) : t.coef < 0 ? ` - ${text}` : ` + ${text}`);
  }
  if (p.constant !== 0 || parts.length === 0) {
    const c = p.constant;
    parts.push(parts.length === 0 ? String(c) : c < 0 ? ` - ${-c}` : ` + ${c}`);
  }
  return parts.join('');
}

// Display text. It is a function of the canonical polynomial only (so equal text still
// means equal value), written the way people write shapes: products are factored back
// (`16*floor((H - 12)/4)*floor((W - 12)/4)`, not the expanded sum), and a floor plus a
// constant is one floor (`floor(H/2) + 1` prints as `floor((H + 2)/2)`).

interface Printed {
  text: string;
  /** A top-level sum (needs parentheses inside a product or a floor numerator). */
  sum: boolean;
}

function prettyText(p: Poly): Printed {
  if (isConstPoly(p)) return { text: String(p.constant), sum: false };
  if (termCount(p) > 1) {
    const f = factorize(p);
    if (f && (f.factors.length >= 2 || f.factors.some(absorbable))) {
      // Plain factors first (N*(H + 1)), parenthesized sums after them; each group keeps key order.
      const printed = f.factors.map(prettySum);
      const parts = [...printed.filter((x) => !x.sum).map((x) => x.text), ...printed.filter((x) => x.sum).map((x) => `(${x.text})`)];
      const head = f.content === 1 ? '' : f.content === -1 ? '-' : `${f.content}*`;
      return { text: head + parts.join('*'), sum: false };
    }
  }
  return prettySum(p);
}

/** floor(x/c) + k with one floor atom of coefficient 1 and a constant divisor. */
function absorbable(p: Poly): boolean {
  if (p.terms.length !== 1 || p.constant === 0) return false;
  const t = p.terms[0];
  const a = t.atoms[0];
  return t.coef === 1 && t.atoms.length === 1 && a.type === 'floor' && isConstPoly(a.den) && a.den.constant > 0;
}

function prettySum(p: Poly): Printed {
  if (absorbable(p)) {
    const atom = p.terms[0].atoms[0] as FloorAtom;
    const c = atom.den.constant;
    return { text: prettyFloor(addPoly(atom.num, constPoly(p.constant * c)), atom.den), sum: false };
  }
  const parts: string[] = [];
  for (const t of p.terms) {
    const body = t.atoms.map(prettyAtom).join('*');
    const magnitude = Math.abs(t.coef);
    const text = magnitude === 1 ? body : `${magnitude}*${body}`;
    parts.push(parts.length === 0 ? (t.coef < 0 ? `-${text}` : text) : t.coef < 0 ? ` - ${text}` : ` + ${text}`);
  }
  if (p.constant !== 0 || parts.length === 0) {
    const c = p.constant;
    parts.push(parts.length === 0 ? String(c) : c < 0 ? ` - ${-c}` : ` + ${c}`);
  }
  return { text: parts.join(''), sum: termCount(p) > 1 };
}

function prettyAtom(a: Atom): string {
  return a.type === 'symbol' ? a.name : prettyFloor(a.num, a.den);
}

function prettyFloor(num: Poly, den: Poly): string {
  const n = prettyText(num);
  const d = prettyText(den);
  const dWrapped = d.sum || den.terms.some((t) => t.coef !== 1 || t.atoms.length > 1) ? `(${d.text})` : d.text;
  return `floor(${n.sum ? `(${n.text})` : n.text}/${dWrapped})`;
}

/**
 * Writes p as content × Π factors, each factor (x + β) linear in one atom, taking atoms in
 * key order; whatever does not factor stays as a last factor. Undefined when nothing factors.
 */
function factorize(p: Poly): { content: number; factors: Poly[] } | undefined {
  const atoms = new Map<string, Atom>();
  for (const t of p.terms) for (const a of t.atoms) atoms.set(a.key, a);
  const order = [...atoms.values()].sort((a, b) => compareText(a.key, b.key));
  let rest = p;
  const factors: Poly[] = [];
  for (const x of order) {
    const withX: { coef: number; atoms: Atom[] }[] = [];
    const withoutX: Term[] = [];
    let linear = true;
    for (const t of rest.terms) {
      const count = t.atoms.filter((a) => a.key === x.key).length;
      if (count > 1) linear = false;
      else if (count === 1) withX.push({ coef: t.coef, atoms: t.atoms.filter((a) => a.key !== x.key) });
      else withoutX.push(t);
    }
    if (!linear || withX.length === 0) continue;
    const p1 = normalise(withX, 0);
    const p0 = normalise(withoutX, rest.constant);
    if (isConstPoly(p0) && p0.constant === 0) {
      factors.push(atomPoly(x));
      rest = p1;
      continue;
    }
    // rest = x·p1 + p0 factors as (x + β)·p1 exactly when p0 = β·p1.
    const lead1 = p1.terms[0]?.coef ?? p1.constant;
    const lead0 = p1.terms[0] ? p0.terms.find((t) => t.key === p1.terms[0].key)?.coef : p0.constant;
    if (lead0 === undefined || lead1 === 0) continue;
    const beta = lead0 / lead1;
    if (!Number.isInteger(beta) || !polyEqual(p0, scalePoly(p1, beta))) continue;
    factors.push(addPoly(atomPoly(x), constPoly(beta)));
    rest = p1;
  }
  if (factors.length === 0) return undefined;
  if (isConstPoly(rest)) return { content: rest.constant, factors };
  return { content: 1, factors: [...factors, rest] };
}

// ---------------------------------------------------------------------------------------
// Conversions between Dim and Poly

function toPoly(d: Dim): Poly {
  if (typeof d === 'number') return Number.isFinite(d) ? constPoly(d) : atomPoly(symbolAtom('?'));
  if (d instanceof SymExpr) return d.poly;
  // Never throw on malformed input (the contract promises it): an unreadable dim is opaque.
  if (d === null || typeof d !== 'object' || typeof (d as { text?: unknown }).text !== 'string') return atomPoly(symbolAtom('?'));
  // A SymDim built elsewhere (e.g. deserialised): treat its text as one opaque symbol.
  return atomPoly(symbolAtom(d.text));
}

function fromPoly(p: Poly): Dim {
  return isConstPoly(p) ? p.constant : new SymExpr(p);
}

// ---------------------------------------------------------------------------------------
// Public API

export function sym(name: string): SymDim {
  return new SymExpr(atomPoly(symbolAtom(name)));
}

export function isSym(d: Dim): d is SymDim {
  return typeof d !== 'number';
}

/** The integer value when the dim is known, else undefined. */
export function constValue(d: Dim): number | undefined {
  if (typeof d === 'number') return d;
  const p = toPoly(d);
  return isConstPoly(p) ? p.constant : undefined;
}

export function add(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return fromPoly(addPoly(toPoly(a), toPoly(b)));
}

export function sub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return fromPoly(addPoly(toPoly(a), toPoly(b), -1));
}

export function neg(a: Dim): Dim {
  return typeof a === 'number' ? -a : fromPoly(scalePoly(toPoly(a), -1));
}

export function mul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  return fromPoly(mulPoly(toPoly(a), toPoly(b)));
}

/**
 * Python `//` (floor division). With a positive constant divisor the result stays in the
 * canonical floor form; with a symbolic divisor it is an atom `floor(a/b)` that prints
 * and compares deterministically (the same inputs give the same atom).
 */
export function floorDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    return b === 0 ? fromPoly(floorByConstant(constPoly(a), 0)) : pyFloorDiv(a, b);
  }
  return fromPoly(floorPoly(toPoly(a), toPoly(b)));
}

/** Python `%` (result has the sign of b): a - b*floor(a/b). */
export function mod(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number' && b !== 0) return a - b * pyFloorDiv(a, b);
  return sub(a, mul(b, floorDiv(a, b)));
}

/** Python `-(-a // b)` i.e. ceil division. */
export function ceilDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number' && b !== 0) return -pyFloorDiv(-a, b);
  const bConst = constValue(b);
  // For a positive constant divisor, use floor((a + b - 1)/b) so that ceil and floor
  // formulas share one canonical form.
  if (bConst !== undefined && bConst > 0) return floorDiv(add(a, bConst - 1), bConst);
  return neg(floorDiv(neg(a), b));
}

/**
 * `floor(a * num / den)` for a rational factor, as `F.interpolate(scale_factor=...)` needs.
 * `factor` may be a float; it is turned into an exact fraction.
 */
export function floorMulRatio(a: Dim, factor: number): Dim {
  const [num, den] = toFraction(factor);
  return floorDiv(mul(a, num), den);
}

function toFraction(x: number): [number, number] {
  if (Number.isInteger(x)) return [x, 1];
  // Floats given in model code are short decimals (0.5, 1.5, 0.25); a power of ten keeps
  // them exact, otherwise fall back to a binary fraction which is exact for every double.
  for (let den = 10; den <= 1e6; den *= 10) {
    const num = Math.round(x * den);
    if (Math.abs(num / den - x) < 1e-12 * Math.max(1, Math.abs(x))) {
      const g = gcd(num, den);
      return [num / g, den / g];
    }
  }
  let den = 1;
  let num = x;
  while (!Number.isInteger(num) && den < 2 ** 52) {
    num *= 2;
    den *= 2;
  }
  return [num, den];
}

/** true / false when decidable (equal constants or identical expressions), undefined when unknown. */
export function dimEquals(a: Dim, b: Dim): boolean | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  const diff = addPoly(toPoly(a), toPoly(b), -1);
  if (isConstPoly(diff)) return diff.constant === 0;
  return undefined;
}

export function dimToString(d: Dim): string {
  return typeof d === 'number' ? String(d) : d.text;
}

export function shapeToString(s: Shape): string {
  return `[${s.map(dimToString).join(', ')}]`;
}

/** Product of dims (numel). */
export function product(dims: Shape): Dim {
  // Known factors first, then the symbolic ones, then one scaling: the symbolic part of a
  // layer's numel (`N*H*W`) is the same for every layer of a stage and hits the product memo.
  let known = 1;
  let symbolic: Poly | undefined;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d === 'number') known *= d;
    else symbolic = symbolic === undefined ? toPoly(d) : mulPoly(symbolic, toPoly(d));
  }
  if (symbolic === undefined || known === 0) return known;
  return fromPoly(scalePoly(symbolic, known));
}

/**
 * The product of dims when it is a known number, else undefined; the same answer as
 * `constValue(product(dims))` without building the symbolic product (a product of
 * non-constant polynomials is never constant, so only a zero dim makes one known).
 */
export function knownProduct(dims: Shape): number | undefined {
  let out = 1;
  let symbolic = false;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number') symbolic = true;
    else if (d === 0) return 0;
    else out *= d;
  }
  return symbolic ? undefined : out;
}

/** Substitute known values for symbols: returns a number when fully known. */
export function substitute(d: Dim, bindings: ReadonlyMap<string, number>): Dim {
  if (typeof d === 'number') return d;
  return fromPoly(substitutePoly(toPoly(d), (name) => {
    const v = bindings.get(name);
    return v === undefined ? undefined : constPoly(v);
  }));
}

/** Replace symbols by other dims (e.g. W by H to reason about square inputs). */
export function substituteSymbols(d: Dim, replacements: ReadonlyMap<string, Dim>): Dim {
  if (typeof d === 'number') return d;
  return fromPoly(substitutePoly(toPoly(d), (name) => {
    const v = replacements.get(name);
    return v === undefined ? undefined : toPoly(v);
  }));
}

function substitutePoly(p: Poly, lookup: (name: string) => Poly | undefined): Poly {
  let out = constPoly(p.constant);
  for (const t of p.terms) {
    let term = constPoly(t.coef);
    for (const atom of t.atoms) term = mulPoly(term, substituteAtom(atom, lookup));
    out = addPoly(out, term);
  }
  return out;
}

function substituteAtom(atom: Atom, lookup: (name: string) => Poly | undefined): Poly {
  if (atom.type === 'symbol') return lookup(atom.name) ?? atomPoly(atom);
  const num = substitutePoly(atom.num, lookup);
  const den = substitutePoly(atom.den, lookup);
  if (isConstPoly(den) && den.constant === 0) return atomPoly({ type: 'floor', key: floorText(num, den), num, den });
  return floorPoly(num, den);
}

/** The value of d under the bindings, or undefined when a symbol is unbound or a division by zero occurs. */
export function evaluate(d: Dim, bindings: ReadonlyMap<string, number>): number | undefined {
  if (typeof d === 'number') return d;
  return evaluatePoly(toPoly(d), (name) => bindings.get(name));
}

function evaluatePoly(p: Poly, lookup: (name: string) => number | undefined): number | undefined {
  let total = p.constant;
  for (const t of p.terms) {
    let value = t.coef;
    for (const atom of t.atoms) {
      const v = evaluateAtom(atom, lookup);
      if (v === undefined) return undefined;
      value *= v;
    }
    total += value;
  }
  return total;
}

function evaluateAtom(atom: Atom, lookup: (name: string) => number | undefined): number | undefined {
  if (atom.type === 'symbol') return lookup(atom.name);
  const n = evaluatePoly(atom.num, lookup);
  const d = evaluatePoly(atom.den, lookup);
  if (n === undefined || d === undefined || d === 0) return undefined;
  return pyFloorDiv(n, d);
}

/** Free symbol names appearing in d, sorted. */
export function freeSymbols(d: Dim): string[] {
  if (typeof d === 'number') return [];
  const names = new Set<string>();
  collectSymbols(toPoly(d), names);
  return [...names].sort(compareText);
}

function collectSymbols(p: Poly, names: Set<string>): void {
  for (const t of p.terms) {
    for (const atom of t.atoms) {
      if (atom.type === 'symbol') names.add(atom.name);
      else {
        collectSymbols(atom.num, names);
        collectSymbols(atom.den, names);
      }
    }
  }
}

/** The search range solveFor uses when none is given: wider than any image side in practice. */
export const DEFAULT_SOLVE_MAX = 8192;

/**
 * Solve `d == target` for its single free symbol over positive integers in [1, maxValue].
 * Returns the candidate values (possibly several because of floor division); empty when none.
 * Undefined when d does not have exactly one free symbol.
 */
export function solveFor(d: Dim, target: number, maxValue: number = DEFAULT_SOLVE_MAX): { symbol: string; values: number[] } | undefined {
  const symbols = freeSymbols(d);
  if (symbols.length !== 1) return undefined;
  const symbol = symbols[0];
  const p = toPoly(d);
  const values: number[] = [];
  let current = 0;
  const lookup = (): number => current;
  for (current = 1; current <= maxValue; current++) {
    if (evaluatePoly(p, lookup) === target) values.push(current);
  }
  return { symbol, values };
}

/**
 * Groups sorted integers into inclusive ranges, for messages such as
 * "H in 193–224": [193, 194, ..., 224, 300] → [[193, 224], [300, 300]].
 */
export function valueRanges(values: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const v of values) {
    const last = ranges[ranges.length - 1];
    if (last && v === last[1] + 1) last[1] = v;
    else ranges.push([v, v]);
  }
  return ranges;
}

/** Readable text of valueRanges: "193–224, 300". */
export function valueRangesText(values: readonly number[]): string {
  return valueRanges(values)
    .map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}–${hi}`))
    .join(', ');
}

/** Both dims as shapes compare: true when every dim is decidably equal. */
export function shapesEqual(a: Shape, b: Shape): boolean | undefined {
  if (a.length !== b.length) return false;
  let result: boolean | undefined = true;
  for (let i = 0; i < a.length; i++) {
    const e = dimEquals(a[i], b[i]);
    if (e === false) return false;
    if (e === undefined) result = undefined;
  }
  return result;
}
