// Converts tree-sitter-python's concrete syntax tree into the plain AST of ast.ts.
// Never throws: a construct it does not know becomes an 'unsupported' node, and ERROR /
// MISSING nodes become syntax problems.
import * as path from 'node:path';
import type { Node } from 'web-tree-sitter';
import type { Arg, ClassDef, CompClause, Expr, FunctionDef, ModuleAst, Param, Pattern, Span, Stmt, SyntaxProblem } from './ast';
import { messages } from '../messages';

function spanOf(n: Node): Span {
  return { line: n.startPosition.row + 1, col: n.startPosition.column, endLine: n.endPosition.row + 1, endCol: n.endPosition.column };
}

const OWN_LINE_INPUT_COMMENT = /^\s*#\s*netlens:\s*input\s*=\s*(.+?)\s*$/;

export interface ConvertOptions {
  /** Convert function bodies when first used (the tree must stay alive meanwhile, see Converted.treeUser). */
  lazyBodies?: boolean;
  /** Top-level statements of the previous version of the same document, by topLevelKey. */
  reuse?: ReadonlyMap<string, Stmt>;
}

export interface Converted {
  ast: ModuleAst;
  /** Reachable as long as a not-yet-converted body may still read the tree: delete the tree after it is collected. */
  treeUser: object;
  /** This version's top-level statements, for the next version's `reuse`. */
  topLevel: Map<string, Stmt>;
}

/**
 * The files whose code decides what an AST looks like, for the persistent AST cache's key:
 * in a bundle, the bundle itself; run from source, this file and the AST types and messages
 * it uses.
 */
export function converterSourceFiles(): string[] {
  const self = typeof __filename === 'string' ? __filename : undefined;
  if (!self) return [];
  if (!self.endsWith('.ts')) return [self];
  const dir = path.dirname(self);
  return [self, path.join(dir, 'ast.ts'), path.join(dir, '..', 'messages.ts')];
}

export function convertModule(root: Node, source: string, options: ConvertOptions = {}): Converted {
  const syntaxErrors: SyntaxProblem[] = [];
  if (root.hasError) collectSyntaxErrors(root, syntaxErrors);
  const converter = new Converter(!!options.lazyBodies);
  const topLevel = new Map<string, Stmt>();
  const body = converter.topLevelBlock(root, options.reuse, topLevel);
  return { ast: { body, syntaxErrors, inputComments: findInputComments(source) }, treeUser: converter, topLevel };
}

/** `# netlens: input=...` comments on their own line, anywhere in the file (also inside not-yet-converted bodies). */
export function findInputComments(source: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  if (!source.includes('netlens')) return out;
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.includes('netlens')) continue;
    const m = OWN_LINE_INPUT_COMMENT.exec(line);
    if (m) out.push({ text: m[1].trim(), line: i + 1 });
  }
  return out;
}

function collectSyntaxErrors(node: Node, out: SyntaxProblem[]): void {
  if (out.length >= 50) return;
  if (node.isError) {
    out.push({ message: messages.syntaxError(node.text.split('\n')[0].slice(0, 40)), span: spanOf(node) });
    return;
  }
  if (node.isMissing) {
    out.push({ message: messages.syntaxMissing(node.type), span: spanOf(node) });
    return;
  }
  if (!node.hasError) return;
  for (const child of node.children) if (child) collectSyntaxErrors(child, out);
}

/** Tracks names bound in the function being converted, for Python's local-variable rule. */
interface FunctionScope { locals: Set<string>; globals: Set<string>; nonlocals: Set<string>; isGenerator: boolean }

const LAZY_KEYS = ['body', 'locals', 'globals', 'nonlocals', 'isGenerator'] as const;

class Converter {
  private scope: FunctionScope | undefined;
  constructor(private readonly lazyBodies = false) {}

  /**
   * The module's statements. A statement whose text and start position did not change since
   * the previous version (an edit elsewhere) is taken over as it was: same spans, same AST.
   */
  topLevelBlock(root: Node, reuse: ReadonlyMap<string, Stmt> | undefined, topLevel: Map<string, Stmt>): Stmt[] {
    const out: Stmt[] = [];
    for (const child of root.namedChildren) {
      if (!child || child.type === 'comment') continue;
      if (child.type === 'ERROR') {
        out.push(...this.block(child).filter((s) => s.t !== 'unsupported'));
        continue;
      }
      const key = `${child.startPosition.row}:${child.startPosition.column}:${child.text}`;
      let s = reuse?.get(key);
      if (!s) {
        try {
          s = this.stmt(child);
        } catch {
          s = { t: 'unsupported', what: child.type, span: spanOf(child) };
        }
      }
      if (s) {
        out.push(s);
        topLevel.set(key, s);
      }
    }
    return out;
  }

  block(node: Node): Stmt[] {
    const out: Stmt[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'comment') continue;
      if (child.type === 'ERROR') {
        // Keep what tree-sitter could still recognize inside the error region.
        out.push(...this.block(child).filter((s) => s.t !== 'unsupported'));
        continue;
      }
      try {
        const s = this.stmt(child);
        if (s) out.push(s);
      } catch {
        out.push({ t: 'unsupported', what: child.type, span: spanOf(child) });
      }
    }
    return out;
  }

  private body(node: Node | null): Stmt[] {
    return node ? this.block(node) : [];
  }

  private bind(target: Expr): void {
    if (!this.scope) return;
    switch (target.t) {
      case 'name': this.scope.locals.add(target.id); break;
      case 'tuple': case 'list': for (const item of target.items) this.bind(item); break;
      case 'starred': this.bind(target.value); break;
      default: break;
    }
  }

  stmt(n: Node): Stmt | undefined {
    const span = spanOf(n);
    switch (n.type) {
      case 'expression_statement': {
        const first = n.namedChildren[0];
        if (!first) return { t: 'pass', span };
        if (first.type === 'assignment') return this.assignment(first, span);
        if (first.type === 'augmented_assignment') {
          const target = this.expr(first.childForFieldName('left')!);
          const opNode = first.childForFieldName('operator');
          const op = (opNode ? opNode.text : '+=').slice(0, -1);
          this.bind(target);
          return { t: 'augassign', target, op, value: this.expr(first.childForFieldName('right')!), span };
        }
        if (n.namedChildren.length > 1) {
          return { t: 'expr', value: { t: 'tuple', items: n.namedChildren.filter(isNode).map((c) => this.expr(c)), span }, span };
        }
        return { t: 'expr', value: this.expr(first), span };
      }
      case 'function_definition': return this.functionDef(n, []);
      case 'class_definition': return this.classDef(n, []);
      case 'decorated_definition': {
        const decorators = n.namedChildren.filter((c): c is Node => !!c && c.type === 'decorator').map((d) => this.expr(d.namedChildren[0]!));
        const def = n.childForFieldName('definition')!;
        const result = def.type === 'class_definition' ? this.classDef(def, decorators) : this.functionDef(def, decorators);
        result.span = span;
        return result;
      }
      case 'return_statement': {
        const v = n.namedChildren[0];
        return { t: 'return', value: v ? this.exprOrTuple(n) : undefined, span };
      }
      case 'if_statement': return this.ifStatement(n, span);
      case 'for_statement': {
        const target = this.expr(n.childForFieldName('left')!);
        this.bind(target);
        const alt = n.childForFieldName('alternative');
        return { t: 'for', target, iter: this.expr(n.childForFieldName('right')!), body: this.body(n.childForFieldName('body')), orelse: alt ? this.body(alt.childForFieldName('body')) : [], span };
      }
      case 'while_statement': {
        const alt = n.childForFieldName('alternative');
        return { t: 'while', test: this.expr(n.childForFieldName('condition')!), body: this.body(n.childForFieldName('body')), orelse: alt ? this.body(alt.childForFieldName('body')) : [], span };
      }
      case 'try_statement': {
        const handlers: { types?: Expr; name?: string; body: Stmt[] }[] = [];
        let orelse: Stmt[] = [];
        let finalbody: Stmt[] = [];
        for (const c of n.namedChildren) {
          if (!c) continue;
          if (c.type === 'except_clause' || c.type === 'except_group_clause') {
            let types: Expr | undefined;
            let name: string | undefined;
            let body: Stmt[] = [];
            for (const part of c.namedChildren) {
              if (!part) continue;
              if (part.type === 'block') body = this.block(part);
              else if (part.type === 'as_pattern') {
                types = this.expr(part.namedChildren[0]!);
                const alias = part.childForFieldName('alias');
                if (alias) { name = alias.text; this.scope?.locals.add(name); }
              } else if (part.type !== 'comment') types = this.expr(part);
            }
            handlers.push({ types, name, body });
          } else if (c.type === 'else_clause') orelse = this.body(c.childForFieldName('body'));
          else if (c.type === 'finally_clause') finalbody = this.block(c.namedChildren.find((x) => x?.type === 'block') ?? c);
        }
        return { t: 'try', body: this.body(n.childForFieldName('body')), handlers, orelse, finalbody, span };
      }
      case 'with_statement': {
        const items: { value: Expr; target?: Expr }[] = [];
        const clause = n.namedChildren.find((c) => c?.type === 'with_clause');
        for (const item of clause?.namedChildren ?? []) {
          if (!item || item.type !== 'with_item') continue;
          const v = item.childForFieldName('value')!;
          if (v.type === 'as_pattern') {
            const alias = v.childForFieldName('alias');
            const target = alias ? this.expr(alias.namedChildren[0] ?? alias) : undefined;
            if (target) this.bind(target);
            items.push({ value: this.expr(v.namedChildren[0]!), target });
          } else items.push({ value: this.expr(v) });
        }
        return { t: 'with', items, body: this.body(n.childForFieldName('body')), span };
      }
      case 'raise_statement': {
        const v = n.namedChildren[0];
        return { t: 'raise', exc: v && v.type !== 'comment' ? this.expr(v) : undefined, span };
      }
      case 'assert_statement': {
        const parts = n.namedChildren.filter(isNode);
        return { t: 'assert', test: this.expr(parts[0]), msg: parts[1] ? this.expr(parts[1]) : undefined, span };
      }
      case 'import_statement': {
        const names: { module: string; alias?: string }[] = [];
        for (const c of n.childrenForFieldName('name')) {
          if (!c) continue;
          if (c.type === 'aliased_import') {
            names.push({ module: c.childForFieldName('name')!.text, alias: c.childForFieldName('alias')!.text });
            this.scope?.locals.add(c.childForFieldName('alias')!.text);
          } else {
            names.push({ module: c.text });
            this.scope?.locals.add(c.text.split('.')[0]);
          }
        }
        return { t: 'import', names, span };
      }
      case 'import_from_statement': {
        const modNode = n.childForFieldName('module_name')!;
        let level = 0;
        let module = modNode.text;
        if (modNode.type === 'relative_import') {
          const prefix = modNode.namedChildren.find((c) => c?.type === 'import_prefix');
          level = prefix ? prefix.text.length : 0;
          const dotted = modNode.namedChildren.find((c) => c?.type === 'dotted_name');
          module = dotted ? dotted.text : '';
        }
        if (n.namedChildren.some((c) => c?.type === 'wildcard_import')) return { t: 'importfrom', module, level, names: '*', span };
        const names: { name: string; alias?: string }[] = [];
        for (const c of n.childrenForFieldName('name')) {
          if (!c) continue;
          if (c.type === 'aliased_import') names.push({ name: c.childForFieldName('name')!.text, alias: c.childForFieldName('alias')!.text });
          else names.push({ name: c.text });
        }
        for (const nm of names) this.scope?.locals.add(nm.alias ?? nm.name);
        return { t: 'importfrom', module, level, names, span };
      }
      case 'future_import_statement': return { t: 'pass', span };
      case 'global_statement': {
        const names = n.namedChildren.filter(isNode).map((c) => c.text);
        for (const nm of names) this.scope?.globals.add(nm);
        return { t: 'global', names, span };
      }
      case 'nonlocal_statement': {
        const names = n.namedChildren.filter(isNode).map((c) => c.text);
        for (const nm of names) this.scope?.nonlocals.add(nm);
        return { t: 'nonlocal', names, span };
      }
      case 'pass_statement': return { t: 'pass', span };
      case 'break_statement': return { t: 'break', span };
      case 'continue_statement': return { t: 'continue', span };
      case 'delete_statement': {
        const target = n.namedChildren[0];
        if (!target) return { t: 'pass', span };
        const e = this.expr(target);
        return { t: 'del', targets: e.t === 'tuple' ? e.items : [e], span };
      }
      case 'comment': return undefined;
      case 'match_statement': {
        const subjects = n.childrenForFieldName('subject').filter(isNode).map((c) => this.expr(c));
        const subject: Expr = subjects.length === 1 ? subjects[0] : { t: 'tuple', items: subjects, span };
        const cases: { pattern: Pattern; guard?: Expr; body: Stmt[] }[] = [];
        for (const c of n.childForFieldName('body')?.namedChildren ?? []) {
          if (!c || c.type !== 'case_clause') continue;
          const patterns = c.namedChildren.filter((x): x is Node => !!x && x.type === 'case_pattern').map((x) => this.pattern(x));
          const guard = c.childForFieldName('guard')?.namedChildren.find(isNode);
          cases.push({
            // `case a, b:` is a sequence pattern without brackets.
            pattern: patterns.length === 1 ? patterns[0] : { p: 'sequence', items: patterns },
            guard: guard ? this.expr(guard) : undefined,
            body: this.body(c.childForFieldName('consequence')),
          });
        }
        return { t: 'match', subject, cases, span };
      }
      default: return { t: 'unsupported', what: n.type, span };
    }
  }

  /** A case pattern; names it captures become locals of the enclosing function. */
  private pattern(n: Node): Pattern {
    const capture = (name: string): Pattern => {
      this.scope?.locals.add(name);
      return { p: 'capture', name };
    };
    const named = n.namedChildren.filter(isNode);
    switch (n.type) {
      case 'case_pattern': {
        // `_` is an anonymous token; anything else is one named child.
        if (named.length === 0) return { p: 'wildcard' };
        return this.pattern(named[0]);
      }
      case 'dotted_name': {
        const parts = named.map((c) => c.text);
        if (parts.length === 1) return parts[0] === '_' ? { p: 'wildcard' } : capture(parts[0]);
        let value: Expr = { t: 'name', id: parts[0], span: spanOf(named[0]) };
        for (const part of parts.slice(1)) value = { t: 'attr', obj: value, attr: part, span: spanOf(n) };
        return { p: 'value', value };
      }
      case 'tuple_pattern': case 'list_pattern':
        return { p: 'sequence', items: named.map((c) => this.pattern(c)) };
      case 'splat_pattern': {
        const name = named[0]?.text;
        if (name && name !== '_') this.scope?.locals.add(name);
        return { p: 'star', name: name && name !== '_' ? name : undefined };
      }
      case 'union_pattern':
        return { p: 'or', alternatives: named.map((c) => this.pattern(c)) };
      case 'as_pattern': {
        const alias = named[named.length - 1];
        this.scope?.locals.add(alias.text);
        return { p: 'as', pattern: this.pattern(named[0]), name: alias.text };
      }
      case 'dict_pattern': {
        const keys: Expr[] = [];
        const values: Pattern[] = [];
        let rest: string | undefined;
        for (let i = 0; i < n.childCount; i++) {
          const c = n.child(i);
          if (!c || !c.isNamed) continue;
          const field = n.fieldNameForChild(i);
          if (field === 'key') keys.push(this.patternValue(c));
          else if (field === 'value') values.push(this.pattern(c));
          else if (c.type === 'splat_pattern') {
            rest = c.namedChildren.find(isNode)?.text;
            if (rest) this.scope?.locals.add(rest);
          }
        }
        return { p: 'mapping', keys, values, rest };
      }
      case 'class_pattern': {
        const cls = named[0];
        const args: Pattern[] = [];
        const kwargs: { name: string; pattern: Pattern }[] = [];
        for (const c of named.slice(1)) {
          const inner = c.type === 'case_pattern' ? c.namedChildren.find(isNode) : c;
          if (inner?.type === 'keyword_pattern') {
            const [key, value] = inner.namedChildren.filter(isNode);
            kwargs.push({ name: key.text, pattern: value.type === 'case_pattern' || value.type === 'dotted_name' ? this.pattern(value) : this.literalPattern(value) });
          } else args.push(this.pattern(c));
        }
        let clsExpr: Expr = { t: 'name', id: cls.namedChildren[0]?.text ?? cls.text, span: spanOf(cls) };
        for (const part of cls.namedChildren.slice(1)) if (part) clsExpr = { t: 'attr', obj: clsExpr, attr: part.text, span: spanOf(cls) };
        return { p: 'class', cls: clsExpr, args, kwargs };
      }
      default:
        return this.literalPattern(n);
    }
  }

  private literalPattern(n: Node): Pattern {
    return { p: 'value', value: this.patternValue(n) };
  }

  /** A literal in a pattern; `-1` comes as an anonymous minus before the number. */
  private patternValue(n: Node): Expr {
    const value = this.expr(n);
    const previous = n.previousSibling;
    if (previous && !previous.isNamed && previous.type === '-') return { t: 'unop', op: '-', operand: value, span: spanOf(n) };
    return value;
  }

  private exprOrTuple(parent: Node): Expr {
    const children = parent.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (children.length === 1) return this.expr(children[0]);
    return { t: 'tuple', items: children.map((c) => this.expr(c)), span: spanOf(parent) };
  }

  private assignment(a: Node, span: Span): Stmt {
    // Chained `a = b = value` nests assignments on the right.
    const targets: Expr[] = [];
    let cur: Node = a;
    let typeNode: Node | null = null;
    for (;;) {
      targets.push(this.expr(cur.childForFieldName('left')!));
      typeNode = typeNode ?? cur.childForFieldName('type');
      const right = cur.childForFieldName('right');
      if (!right) {
        const target = targets[0];
        this.bind(target);
        return { t: 'annassign', target, annotation: typeNode ? this.expr(typeNode.namedChildren[0] ?? typeNode) : { t: 'const', value: null, span }, span };
      }
      if (right.type === 'assignment') { cur = right; continue; }
      for (const t of targets) this.bind(t);
      const value = this.expr(right);
      if (typeNode && targets.length === 1) {
        return { t: 'annassign', target: targets[0], annotation: this.expr(typeNode.namedChildren[0] ?? typeNode), value, span };
      }
      return { t: 'assign', targets, value, span };
    }
  }

  private ifStatement(n: Node, span: Span): Stmt {
    const test = this.expr(n.childForFieldName('condition')!);
    const body = this.body(n.childForFieldName('consequence'));
    const alternatives = n.childrenForFieldName('alternative').filter(isNode);
    let orelse: Stmt[] = [];
    // Fold elif chains from the end into nested ifs.
    for (let i = alternatives.length - 1; i >= 0; i--) {
      const alt = alternatives[i];
      if (alt.type === 'else_clause') orelse = this.body(alt.childForFieldName('body'));
      else if (alt.type === 'elif_clause') {
        orelse = [{ t: 'if', test: this.expr(alt.childForFieldName('condition')!), body: this.body(alt.childForFieldName('consequence')), orelse, span: spanOf(alt) }];
      }
    }
    return { t: 'if', test, body, orelse, span };
  }

  private params(n: Node | null): Param[] {
    const out: Param[] = [];
    if (!n) return out;
    let keywordOnly = false;
    for (const p of n.namedChildren) {
      if (!p) continue;
      const kind: Param['kind'] = keywordOnly ? 'keyword-only' : 'positional';
      switch (p.type) {
        case 'identifier': out.push({ name: p.text, kind }); break;
        case 'typed_parameter': {
          const inner = p.namedChildren[0]!;
          const type = p.childForFieldName('type');
          const annotation = type ? this.expr(type.namedChildren[0] ?? type) : undefined;
          if (inner.type === 'list_splat_pattern') { out.push({ name: inner.namedChildren[0]!.text, kind: 'varargs', annotation }); keywordOnly = true; }
          else if (inner.type === 'dictionary_splat_pattern') out.push({ name: inner.namedChildren[0]!.text, kind: 'varkw', annotation });
          else out.push({ name: inner.text, kind, annotation });
          break;
        }
        case 'default_parameter':
        case 'typed_default_parameter': {
          const type = p.childForFieldName('type');
          out.push({ name: p.childForFieldName('name')!.text, kind, default: this.expr(p.childForFieldName('value')!), annotation: type ? this.expr(type.namedChildren[0] ?? type) : undefined });
          break;
        }
        case 'list_splat_pattern': out.push({ name: p.namedChildren[0]!.text, kind: 'varargs' }); keywordOnly = true; break;
        case 'dictionary_splat_pattern': out.push({ name: p.namedChildren[0]!.text, kind: 'varkw' }); break;
        case 'keyword_separator': keywordOnly = true; break;
        case 'positional_separator': for (const q of out) if (q.kind === 'positional') q.positionalOnly = true; break;
        default: break; // comments
      }
    }
    return out;
  }

  private functionDef(n: Node, decorators: Expr[]): FunctionDef {
    const outer = this.scope;
    const name = n.childForFieldName('name')!.text;
    outer?.locals.add(name);
    // Defaults and annotations are evaluated in the enclosing scope.
    const params = this.params(n.childForFieldName('parameters'));
    const isAsync = n.children.some((c) => c?.type === 'async');
    const bodyNode = n.childForFieldName('body');
    const convertBody = (): Pick<FunctionDef, 'body' | 'locals' | 'globals' | 'nonlocals' | 'isGenerator'> => {
      const scope: FunctionScope = { locals: new Set(), globals: new Set(), nonlocals: new Set(), isGenerator: false };
      for (const p of params) scope.locals.add(p.name);
      const saved = this.scope;
      this.scope = scope;
      let body: Stmt[];
      try { body = this.body(bodyNode); } finally { this.scope = saved; }
      for (const g of scope.globals) scope.locals.delete(g);
      for (const g of scope.nonlocals) scope.locals.delete(g);
      return { body, locals: scope.locals, globals: scope.globals, nonlocals: scope.nonlocals, isGenerator: scope.isGenerator };
    };
    const def = { t: 'def', name, params, decorators, isAsync, span: spanOf(n) } as FunctionDef;
    if (!this.lazyBodies) return Object.assign(def, convertBody());
    // Imported library files: most function bodies never run, so they are converted on first use.
    let materialized = false;
    const materialize = (): void => {
      if (materialized) return;
      materialized = true;
      let parts: ReturnType<typeof convertBody>;
      try { parts = convertBody(); } catch { parts = { body: [{ t: 'unsupported', what: 'function body', span: def.span }], locals: new Set(), globals: new Set(), nonlocals: new Set(), isGenerator: false }; }
      for (const key of LAZY_KEYS) Object.defineProperty(def, key, { value: parts[key], writable: true, enumerable: true, configurable: true });
    };
    for (const key of LAZY_KEYS) {
      Object.defineProperty(def, key, { get() { materialize(); return (def as unknown as Record<string, unknown>)[key]; }, enumerable: true, configurable: true });
    }
    return def;
  }

  private classDef(n: Node, decorators: Expr[]): ClassDef {
    const name = n.childForFieldName('name')!.text;
    this.scope?.locals.add(name);
    const supers = n.childForFieldName('superclasses');
    const bases = supers ? this.args(supers) : [];
    // A class body is not a function scope, but assignments in it must not count as
    // locals of an enclosing function.
    const outer = this.scope;
    this.scope = undefined;
    let body: Stmt[];
    try { body = this.body(n.childForFieldName('body')); } finally { this.scope = outer; }
    return { t: 'class', name, bases, body, decorators, span: spanOf(n) };
  }

  private args(n: Node): Arg[] {
    const out: Arg[] = [];
    for (const c of n.namedChildren) {
      if (!c || c.type === 'comment') continue;
      if (c.type === 'keyword_argument') out.push({ kind: 'kw', name: c.childForFieldName('name')!.text, value: this.expr(c.childForFieldName('value')!) });
      else if (c.type === 'list_splat') out.push({ kind: 'star', value: this.expr(c.namedChildren[0]!) });
      else if (c.type === 'dictionary_splat') out.push({ kind: 'kwstar', value: this.expr(c.namedChildren[0]!) });
      else out.push({ kind: 'pos', value: this.expr(c) });
    }
    return out;
  }

  private compClauses(n: Node): CompClause[] {
    const clauses: CompClause[] = [];
    for (const c of n.namedChildren) {
      if (!c) continue;
      if (c.type === 'for_in_clause') {
        clauses.push({ t: 'for', target: this.expr(c.childForFieldName('left')!), iter: this.expr(c.childForFieldName('right')!) });
      } else if (c.type === 'if_clause') clauses.push({ t: 'if', test: this.expr(c.namedChildren[0]!) });
    }
    return clauses;
  }

  expr(n: Node): Expr {
    const span = spanOf(n);
    switch (n.type) {
      case 'identifier': return { t: 'name', id: n.text, span };
      case 'integer': return { t: 'const', value: parseIntLiteral(n.text), span };
      case 'float': {
        const text = n.text.replace(/_/g, '');
        return { t: 'const', value: text.endsWith('j') || text.endsWith('J') ? Number.NaN : Number(text), isFloat: true, span };
      }
      case 'true': return { t: 'const', value: true, span };
      case 'false': return { t: 'const', value: false, span };
      case 'none': return { t: 'const', value: null, span };
      case 'ellipsis': return { t: 'ellipsis', span };
      case 'string': return this.string(n);
      case 'concatenated_string': {
        const parts: Expr[] = n.namedChildren.filter((c): c is Node => !!c && c.type === 'string').map((c) => this.string(c));
        if (parts.every((p) => p.t === 'const')) return { t: 'const', value: parts.map((p) => (p.t === 'const' ? String(p.value) : '')).join(''), span };
        const merged: (string | { expr: Expr; conversion?: string; format?: Expr })[] = [];
        for (const p of parts) {
          if (p.t === 'const') merged.push(String(p.value));
          else if (p.t === 'fstring') merged.push(...p.parts);
        }
        return { t: 'fstring', parts: merged, span };
      }
      case 'parenthesized_expression': {
        const inner = n.namedChildren.find((c) => c && c.type !== 'comment');
        return inner ? this.expr(inner) : { t: 'tuple', items: [], span };
      }
      case 'attribute': return { t: 'attr', obj: this.expr(n.childForFieldName('object')!), attr: n.childForFieldName('attribute')!.text, span };
      case 'subscript': {
        const indices = n.childrenForFieldName('subscript').filter(isNode).map((c) => this.expr(c));
        const index: Expr = indices.length === 1 ? indices[0] : { t: 'tuple', items: indices, span };
        return { t: 'subscript', obj: this.expr(n.childForFieldName('value')!), index, span };
      }
      case 'slice': {
        // Children: [start] ':' [stop] [':' [step]]
        const parts: (Expr | undefined)[] = [undefined, undefined, undefined];
        let slot = 0;
        for (const c of n.children) {
          if (!c) continue;
          if (c.type === ':') { slot++; continue; }
          if (c.isNamed && c.type !== 'comment') parts[slot] = this.expr(c);
        }
        return { t: 'slice', start: parts[0], stop: parts[1], step: parts[2], span };
      }
      case 'call': {
        const fn = this.expr(n.childForFieldName('function')!);
        const argsNode = n.childForFieldName('arguments')!;
        if (argsNode.type === 'generator_expression') return { t: 'call', fn, args: [{ kind: 'pos', value: this.expr(argsNode) }], span };
        return { t: 'call', fn, args: this.args(argsNode), span };
      }
      case 'binary_operator': return { t: 'binop', op: n.childForFieldName('operator')!.text, left: this.expr(n.childForFieldName('left')!), right: this.expr(n.childForFieldName('right')!), span };
      case 'unary_operator': return { t: 'unop', op: n.childForFieldName('operator')!.text, operand: this.expr(n.childForFieldName('argument')!), span };
      case 'not_operator': return { t: 'unop', op: 'not', operand: this.expr(n.childForFieldName('argument')!), span };
      case 'boolean_operator': return { t: 'boolop', op: n.childForFieldName('operator')!.text as 'and' | 'or', left: this.expr(n.childForFieldName('left')!), right: this.expr(n.childForFieldName('right')!), span };
      case 'comparison_operator': {
        const operands: Expr[] = [];
        const ops: string[] = [];
        let pending: string | undefined;
        for (const c of n.children) {
          if (!c) continue;
          if (c.isNamed && c.type !== 'comment') {
            if (pending !== undefined) { ops.push(pending); pending = undefined; }
            operands.push(this.expr(c));
          } else if (!c.isNamed) {
            const tok = c.type;
            if (pending === 'is' && tok === 'not') pending = 'is not';
            else if (pending === 'not' && tok === 'in') pending = 'not in';
            else pending = tok;
          }
        }
        return { t: 'compare', first: operands[0], ops, rest: operands.slice(1), span };
      }
      case 'conditional_expression': {
        const [body, test, orelse] = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
        return { t: 'ifexp', body: this.expr(body), test: this.expr(test), orelse: this.expr(orelse), span };
      }
      case 'lambda': {
        const outer = this.scope;
        this.scope = undefined;
        try {
          return { t: 'lambda', params: this.params(n.childForFieldName('parameters')), body: this.expr(n.childForFieldName('body')!), span };
        } finally { this.scope = outer; }
      }
      case 'tuple': case 'pattern_list': case 'tuple_pattern': case 'expression_list':
        return { t: 'tuple', items: n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment').map((c) => this.expr(c)), span };
      case 'list': case 'list_pattern':
        return { t: 'list', items: n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment').map((c) => this.expr(c)), span };
      case 'set': return { t: 'set', items: n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment').map((c) => this.expr(c)), span };
      case 'dictionary': {
        const items: ({ key: Expr; value: Expr } | { splat: Expr })[] = [];
        for (const c of n.namedChildren) {
          if (!c) continue;
          if (c.type === 'pair') items.push({ key: this.expr(c.childForFieldName('key')!), value: this.expr(c.childForFieldName('value')!) });
          else if (c.type === 'dictionary_splat') items.push({ splat: this.expr(c.namedChildren[0]!) });
        }
        return { t: 'dict', items, span };
      }
      case 'list_comprehension': case 'set_comprehension': case 'generator_expression':
        return { t: 'comp', kind: n.type === 'list_comprehension' ? 'list' : n.type === 'set_comprehension' ? 'set' : 'gen', elt: this.expr(n.childForFieldName('body')!), clauses: this.compClauses(n), span };
      case 'dictionary_comprehension': {
        const pair = n.childForFieldName('body')!;
        return { t: 'comp', kind: 'dict', elt: this.expr(pair.childForFieldName('key')!), value: this.expr(pair.childForFieldName('value')!), clauses: this.compClauses(n), span };
      }
      case 'list_splat': case 'list_splat_pattern': return { t: 'starred', value: this.expr(n.namedChildren[0]!), span };
      case 'named_expression': {
        const name = n.childForFieldName('name')!.text;
        this.scope?.locals.add(name);
        return { t: 'walrus', target: name, value: this.expr(n.childForFieldName('value')!), span };
      }
      // Annotations (dataclass fields, parameters): `List[int]` and `int | None` parse as type
      // nodes; they evaluate like the subscript and `|` expressions they mean.
      case 'type': return n.namedChildren[0] ? this.expr(n.namedChildren[0]) : { t: 'const', value: null, span };
      case 'generic_type': {
        const params = (n.namedChildren.find((c) => c?.type === 'type_parameter')?.namedChildren ?? []).filter(isNode).map((c) => this.expr(c));
        const index: Expr = params.length === 1 ? params[0]! : { t: 'tuple', items: params, span };
        return { t: 'subscript', obj: this.expr(n.namedChildren[0]!), index, span };
      }
      case 'union_type': return { t: 'binop', op: '|', left: this.expr(n.namedChildren[0]!), right: this.expr(n.namedChildren[1]!), span };
      case 'await': return { t: 'await', value: this.expr(n.namedChildren[0]!), span };
      case 'yield': {
        if (this.scope) this.scope.isGenerator = true;
        const v = n.namedChildren[0];
        const from = n.children.some((c) => c?.type === 'from');
        return { t: 'yield', value: v ? this.expr(v) : undefined, from, span };
      }
      case 'keyword_argument': return this.expr(n.childForFieldName('value')!);
      case 'as_pattern_target': return this.expr(n.namedChildren[0]!);
      default: return { t: 'unsupported', what: n.type, span };
    }
  }

  private string(n: Node): Expr {
    const span = spanOf(n);
    const start = n.namedChildren.find((c) => c?.type === 'string_start');
    const prefix = (start?.text ?? '').replace(/['"]/g, '').toLowerCase();
    const raw = prefix.includes('r');
    const isF = prefix.includes('f');
    const parts: (string | { expr: Expr; conversion?: string; format?: Expr })[] = [];
    for (const c of n.namedChildren) {
      if (!c) continue;
      if (c.type === 'string_content') parts.push(raw ? c.text : decodeEscapes(c.text));
      else if (c.type === 'escape_sequence') parts.push(raw ? c.text : decodeEscapes(c.text));
      else if (c.type === 'interpolation') {
        const e = c.childForFieldName('expression');
        const conv = c.childForFieldName('type_conversion');
        const fmt = c.childForFieldName('format_specifier');
        let format: Expr | undefined;
        if (fmt) format = { t: 'const', value: fmt.text.replace(/^:/, ''), span: spanOf(fmt) };
        parts.push({ expr: e ? this.expr(e) : { t: 'const', value: '', span }, conversion: conv ? conv.text.replace('!', '') : undefined, format });
      }
    }
    if (!isF) return { t: 'const', value: parts.map((p) => (typeof p === 'string' ? p : '')).join(''), span };
    return { t: 'fstring', parts, span };
  }
}

function isNode(n: Node | null): n is Node {
  return !!n && n.type !== 'comment';
}

function parseIntLiteral(text: string): number {
  const t = text.replace(/_/g, '').toLowerCase().replace(/l$/, '');
  if (t.startsWith('0x')) return parseInt(t.slice(2), 16);
  if (t.startsWith('0o')) return parseInt(t.slice(2), 8);
  if (t.startsWith('0b')) return parseInt(t.slice(2), 2);
  return Number(t);
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };

function decodeEscapes(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.|\n)/g, (m, e: string) => {
    if (e.length > 1 && (e[0] === 'x' || e[0] === 'u' || e[0] === 'U')) return String.fromCodePoint(parseInt(e.slice(1), 16));
    return SIMPLE_ESCAPES[e] ?? m;
  });
}
