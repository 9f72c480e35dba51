// The Python syntax tree the interpreter walks. It is converted once from tree-sitter's
// concrete tree (see convert.ts) into plain objects, because property access on plain
// objects is far cheaper than crossing into the wasm parser on every evaluation step.
import type { SourceLocation, Value } from '../interp/values';

export interface Span {
  /** 1-based line, 0-based column (like the CLI JSON). */
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  /** The interpreter's location object for this span, made once (not part of the syntax). */
  location?: SourceLocation;
}

export type Expr =
  | { t: 'name'; id: string; span: Span }
  | { t: 'const'; value: null | boolean | number | string; isFloat?: boolean; span: Span; /** The interpreter's value for it, made once. */ cached?: Value }
  | { t: 'ellipsis'; span: Span }
  | { t: 'fstring'; parts: (string | { expr: Expr; conversion?: string; format?: Expr })[]; span: Span }
  | { t: 'attr'; obj: Expr; attr: string; span: Span }
  | { t: 'subscript'; obj: Expr; index: Expr; span: Span }
  | { t: 'slice'; start?: Expr; stop?: Expr; step?: Expr; span: Span }
  | { t: 'call'; fn: Expr; args: Arg[]; span: Span }
  | { t: 'binop'; op: string; left: Expr; right: Expr; span: Span }
  | { t: 'unop'; op: string; operand: Expr; span: Span }
  | { t: 'boolop'; op: 'and' | 'or'; left: Expr; right: Expr; span: Span }
  | { t: 'compare'; first: Expr; ops: string[]; rest: Expr[]; span: Span }
  | { t: 'ifexp'; test: Expr; body: Expr; orelse: Expr; span: Span }
  | { t: 'lambda'; params: Param[]; body: Expr; span: Span }
  | { t: 'tuple'; items: Expr[]; span: Span }
  | { t: 'list'; items: Expr[]; span: Span }
  | { t: 'set'; items: Expr[]; span: Span }
  | { t: 'dict'; items: ({ key: Expr; value: Expr } | { splat: Expr })[]; span: Span }
  | { t: 'comp'; kind: 'list' | 'set' | 'gen' | 'dict'; elt: Expr; value?: Expr; clauses: CompClause[]; span: Span }
  | { t: 'starred'; value: Expr; span: Span }
  | { t: 'walrus'; target: string; value: Expr; span: Span }
  | { t: 'await'; value: Expr; span: Span }
  | { t: 'yield'; value?: Expr; from?: boolean; span: Span }
  | { t: 'unsupported'; what: string; span: Span };

/** A `case` pattern of a match statement. */
export type Pattern =
  | { p: 'wildcard' }
  | { p: 'capture'; name: string }
  /** A literal or dotted name, compared with ==. */
  | { p: 'value'; value: Expr }
  /** `[a, *rest]`, `(a, b)`; a star item captures the rest as a list (no name: `*_`). */
  | { p: 'sequence'; items: Pattern[] }
  | { p: 'star'; name?: string }
  | { p: 'mapping'; keys: Expr[]; values: Pattern[]; rest?: string }
  | { p: 'class'; cls: Expr; args: Pattern[]; kwargs: { name: string; pattern: Pattern }[] }
  | { p: 'or'; alternatives: Pattern[] }
  | { p: 'as'; pattern: Pattern; name: string };

export type CompClause = { t: 'for'; target: Expr; iter: Expr } | { t: 'if'; test: Expr };

export type Arg =
  | { kind: 'pos'; value: Expr }
  | { kind: 'star'; value: Expr }
  | { kind: 'kw'; name: string; value: Expr }
  | { kind: 'kwstar'; value: Expr };

export interface Param {
  name: string;
  kind: 'positional' | 'varargs' | 'keyword-only' | 'varkw';
  /** Before a `/`: never bound by keyword (a same-named keyword goes to **kwargs). */
  positionalOnly?: boolean;
  default?: Expr;
  annotation?: Expr;
}

export interface FunctionDef {
  t: 'def';
  name: string;
  params: Param[];
  body: Stmt[];
  decorators: Expr[];
  isGenerator: boolean;
  isAsync: boolean;
  span: Span;
  /** Names assigned in the body (Python's local-variable rule), minus global/nonlocal ones. */
  locals: Set<string>;
  globals: Set<string>;
  nonlocals: Set<string>;
}

export interface ClassDef {
  t: 'class';
  name: string;
  bases: Arg[];
  body: Stmt[];
  decorators: Expr[];
  span: Span;
}

export type Stmt =
  | { t: 'expr'; value: Expr; span: Span }
  | { t: 'assign'; targets: Expr[]; value: Expr; span: Span }
  | { t: 'annassign'; target: Expr; annotation: Expr; value?: Expr; span: Span }
  | { t: 'augassign'; target: Expr; op: string; value: Expr; span: Span }
  | FunctionDef
  | ClassDef
  | { t: 'return'; value?: Expr; span: Span }
  | { t: 'if'; test: Expr; body: Stmt[]; orelse: Stmt[]; span: Span }
  | { t: 'for'; target: Expr; iter: Expr; body: Stmt[]; orelse: Stmt[]; span: Span }
  | { t: 'while'; test: Expr; body: Stmt[]; orelse: Stmt[]; span: Span }
  | { t: 'match'; subject: Expr; cases: { pattern: Pattern; guard?: Expr; body: Stmt[] }[]; span: Span }
  | { t: 'try'; body: Stmt[]; handlers: { types?: Expr; name?: string; body: Stmt[] }[]; orelse: Stmt[]; finalbody: Stmt[]; span: Span }
  | { t: 'with'; items: { value: Expr; target?: Expr }[]; body: Stmt[]; span: Span }
  | { t: 'raise'; exc?: Expr; span: Span }
  | { t: 'assert'; test: Expr; msg?: Expr; span: Span }
  | { t: 'import'; names: { module: string; alias?: string }[]; span: Span }
  | { t: 'importfrom'; module: string; level: number; names: { name: string; alias?: string }[] | '*'; span: Span }
  | { t: 'global'; names: string[]; span: Span }
  | { t: 'nonlocal'; names: string[]; span: Span }
  | { t: 'pass'; span: Span }
  | { t: 'break'; span: Span }
  | { t: 'continue'; span: Span }
  | { t: 'del'; targets: Expr[]; span: Span }
  | { t: 'unsupported'; what: string; span: Span };

export interface SyntaxProblem {
  message: string;
  span: Span;
}

export interface ModuleAst {
  body: Stmt[];
  syntaxErrors: SyntaxProblem[];
  /** `# netlens: input=(...)` comments: the text inside `input=` and the line. */
  inputComments: { text: string; line: number }[];
}
