// The abstract interpreter: executes the Python AST over the values of values.ts.
// Owns scopes, calls (user functions, classes, bound methods, partials), attribute and
// item access, operators, control flow, exceptions, module loading, and the step budget
// and recursion limit. Builtins live in builtins.ts, nn.Module machinery in nn.ts.
//
// Policy for what cannot be known: operations on Unknown give Unknown; an `if` on an
// unknown condition takes the branch that does not raise, and otherwise treats an unknown
// value in `x is None` tests as None and other unknown conditions as true (see execIf); a
// `for` over an unknown iterable and a `while` on an unknown condition run zero times. Each
// such guess is an 'info' diagnostic in the analyzed file (library internals stay quiet).
//
// Library code (every file but the analyzed one) is followed lazily: `from x import name`
// resolves `name` on first read, function bodies are converted on first call and parameter
// defaults evaluated on first use, so import-time side effects of library modules may happen
// later or never. The analyzed file runs eagerly, except that its `if __name__ == "__main__":`
// block gets a small step allowance and whatever stops it is only a note (execMainBlock).
import * as path from 'node:path';
import type { Arg, ClassDef, Expr, FunctionDef, ModuleAst, Param, Pattern, Span, Stmt } from '../python/ast';
import type { BinaryOperator, TorchCatalog } from '../torch/catalog';
import * as dim from '../shape/dim';
import type { Dim, Shape } from '../shape/dim';
import type {
  ArgumentFix, BuiltinFunctionValue, BuiltinImpl, CallContext, ClassValue, DiagnosticExtra, DictValue, DType, FunctionValue, InstanceValue,
  PyModuleValue, Severity, SourceLocation, TensorValue, UnknownValue, Value,
} from './values';
import {
  FALSE, NONE, TRUE, UNKNOWN, boolV, dictGet, dictKey, dictSet, dimOf, floatV, floorDivNum, intV, isIntLike, listV, modNum,
  missingAttr, mixinValueOf, newDict, numberOf, pyEquals, pyIs, pyRepr, pyStr, strV, truthy, tupleV, unknownV,
} from './pyvalues';
import { messages } from '../messages';
import { findModuleFile, resolveRelative, type FileSystemAccess } from './imports';
import type { GraphRecorder } from './graphRecorder';

// ---------------------------------------------------------------------------------------
// Interpreter-private pieces

export class Scope {
  readonly vars: Map<string, Value>;
  constructor(
    readonly parent: Scope | null,
    readonly module: ModuleRecord,
    readonly kind: 'module' | 'function' | 'class' | 'comp',
    readonly def?: FunctionDef,
    vars?: Map<string, Value>,
  ) {
    this.vars = vars ?? new Map();
  }
}

export interface ModuleRecord {
  name: string;
  value: PyModuleValue;
  file?: string;
  isPackage: boolean;
  state: 'unloaded' | 'loading' | 'loaded';
  /** Builtin or unresolved modules: a missing member is Unknown, silently. */
  lenient: boolean;
  ast?: ModuleAst;
  submodules: Map<string, ModuleRecord>;
  /** `from x import *` sources, consulted lazily on a name miss. */
  starSources: ModuleRecord[];
  /** Names bound by `from x import name` in library code, resolved on first read (see execImportFrom). */
  deferred?: Map<string, () => Value>;
  definedNames?: Set<string>;
  /** A literal `__all__` (null: none), for star imports. */
  starAll?: Set<string> | null;
  /** `__all__` is computed (`a.__all__ + b.__all__`): known only by running the module. */
  starAllComputed?: boolean;
  source?: string;
}

/** A user function (def or lambda) with its closure and evaluated defaults. */
export interface UserFunction {
  kind: 'user';
  def: FunctionDef;
  closure: Scope;
  defaults: Map<string, Value>;
  /** The class whose body defined it (zero-argument super()). */
  definingClass?: ClassValue;
  qualname: string;
  attrs: Map<string, Value>;
}
export type FunctionImpl =
  | UserFunction
  | { kind: 'partial'; fn: Value; args: Value[]; kwargs: Map<string, Value>; attrs: Map<string, Value> }
  | { kind: 'staticmethod'; fn: Value; attrs: Map<string, Value> }
  | { kind: 'classmethod'; fn: Value; attrs: Map<string, Value> }
  | { kind: 'property'; fget: Value; fset?: Value; attrs: Map<string, Value> };

export function fnImpl(f: FunctionValue): FunctionImpl {
  return f.impl as FunctionImpl;
}

/** A Python exception in flight (catchable by try/except). */
export class PyRaise {
  // Not an Error: Python code raises and catches often (KeyError, StopIteration), and a JS
  // stack trace per raise is costly and useless here.
  readonly message: string;
  /** The analyzed file's innermost call into the code that raised, when the raise is in a library. */
  callSite?: SourceLocation;
  constructor(readonly exc: Value, readonly typeName: string, readonly text: string, readonly location?: SourceLocation) {
    this.message = text ? `${typeName}: ${text}` : typeName;
  }
}

/** Ends the whole run (budget, recursion): not catchable by Python code. */
export class AnalysisAbort extends Error {
  constructor(readonly reason: 'budget' | 'recursion', message: string) {
    super(message);
  }
}

type Signal = { k: 'return'; v: Value } | { k: 'break' } | { k: 'continue' };
const BREAK: Signal = { k: 'break' };
/** For the interpreter's own calls without keyword arguments: shared, so it ignores writes. */
class EmptyKwargs extends Map<string, Value> {
  override set(): this { return this; }
}
const EMPTY_KWARGS: Map<string, Value> = new EmptyKwargs();
const CONTINUE: Signal = { k: 'continue' };

interface Frame {
  fn?: UserFunction;
  firstArg?: Value;
  yields?: Value[];
  callSite?: SourceLocation;
}

export interface DiagnosticRecord {
  severity: Severity;
  message: string;
  location: SourceLocation;
  code?: string;
  /** A certain edit: replace the text at `location` by `newText`. */
  fix?: { title: string; location: SourceLocation; newText: string };
}

/** What the interpreter records about each leaf-module call while tracing a model. */
export interface LayerCallRecord {
  module: InstanceValue;
  /** The positional and keyword arguments of the call. */
  inputs: Value[];
  output: Value;
  macs: Dim;
  /** The catalog layer's output-size arithmetic, written out only when a report asks for it. */
  arithmetic?: () => string[];
}

/** A statement executed during the trace that produced tensors (for hints after forward lines). */
export interface StatementRecord {
  file: string;
  /** 1-based line where the statement ends. */
  line: number;
  value: Value;
}

/** What a model's forward trace collects. */
export interface TraceState {
  layerCalls: LayerCallRecord[];
  paths: Map<InstanceValue, string>;
  functionalMacs: Dim;
  macsStack: { macs: Dim }[];
  /** Symbolic dims that must equal a size (CallContext.requireSize). */
  requirements: { got: Dim; expected: number }[];
  statements: StatementRecord[];
  /** Present only when the report asked for the graph (AnalyzeOptions.recordGraph). */
  graph?: GraphRecorder;
}

/** The graph's name of a Python operator symbol (`+` → add, unary `-` → neg). */
function operatorName(op: string): string {
  return OPERATOR_NAMES[op] ?? op;
}
const OPERATOR_NAMES: Record<string, string> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '//': 'floordiv', '%': 'mod', '**': 'pow', '@': 'matmul',
  '&': 'and', '|': 'or', '^': 'xor', '<<': 'lshift', '>>': 'rshift',
  '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge',
  'unary-': 'neg', 'unary+': 'pos', 'unary~': 'invert',
};

export interface InterpreterHooks {
  /** Called when a module instance is called (any depth), or its forward directly. Return value replaces nothing. */
  onModuleCall?(module: InstanceValue, args: Value[], kwargs: Map<string, Value>, depth: number): void;
  /** Called when code calls a member of a module Netlens cannot read (`torchinfo.summary`), by that name. */
  onUnknownCall?(name: string, args: Value[], kwargs: Map<string, Value>): void;
}

export interface SpecialClasses {
  object: ClassValue;
  type: ClassValue;
  moduleBase: ClassValue;
  parameter: ClassValue;
  tensor?: Value;
  baseException: ClassValue;
  exception: ClassValue;
  enumBase: ClassValue;
  namedTupleBase: ClassValue;
  iterator: ClassValue;
  superProxy: ClassValue;
  set?: ClassValue;
  orderedDict?: ClassValue;
  partial?: ClassValue;
}

/** Native behavior attached to a builtin class (int(), list(), nn.Sequential, ...). */
export interface NativeClassBehavior {
  construct?: (cls: ClassValue, args: Value[], kwargs: Map<string, Value>, ctx: CallContext) => Value;
}

export interface InterpreterConfig {
  fs: FileSystemAccess;
  parse: (source: string, file: string) => ModuleAst;
  importRoots: string[];
  stepBudget: number;
  recursionLimit: number;
  /** Steps one imported module's top-level code may take. */
  importStepBudget: number;
}

/** A dotted torch module path (torch.signal.windows), not a call's result. */
const TORCH_MODULE_PATH = /^torch(\.[A-Za-z_]\w*)+$/;

export class Interpreter {
  // --- world (persists across runs of the same analyzer) ---
  readonly builtins = new Map<string, Value>();
  /** The builtin eval; called other than directly (eval passed around) its result is unknown. */
  readonly evalBuiltin: Value = { kind: 'builtin', name: 'eval', call: () => UNKNOWN };
  readonly builtinModules = new Map<string, () => Map<string, Value>>();
  readonly modules = new Map<string, ModuleRecord>();
  /** Library dicts completeRegistry has run the package for (once each). */
  private readonly registriesCompleted = new WeakSet<DictValue>();
  /** Module-level dicts of library modules, with their module (see libraryModuleOf). */
  private readonly libraryDicts = new WeakMap<DictValue, ModuleRecord>();
  private readonly libraryModulesScanned = new WeakSet<ModuleRecord>();
  /** Modules whose top-level code has finished, and that count when libraryDicts was last brought up to date. */
  private modulesLoaded = 0;
  /** Library modules whose top-level code is running now (nested imports count each). */
  private libraryModulesLoading = 0;
  private libraryDictsScannedAt = -1;
  readonly nativeClasses = new WeakMap<ClassValue, NativeClassBehavior>();
  /** Hidden state of iterator / super proxy / enum-member instances. */
  readonly iteratorState = new WeakMap<InstanceValue, { items: Value[]; pos: number }>();
  readonly superState = new WeakMap<InstanceValue, { start: ClassValue; obj: Value }>();
  special!: SpecialClasses;
  catalog!: TorchCatalog;
  /** Per-builtin-kind method tables (str, list, dict, ...), filled by builtins.ts. */
  readonly valueMethods = new Map<string, Map<string, BuiltinImpl>>();
  /** Class for each plain value kind (for type() and isinstance). */
  readonly kindClasses = new Map<Value['kind'], ClassValue>();
  private synthesizedMembers = new WeakMap<ClassValue, Map<string, Value>>();
  /** Syntactic names of lambdas, created once per AST node. */
  private lambdaDefs = new WeakMap<object, FunctionDef>();
  private nextTensorId = 1;

  // --- run state ---
  steps = 0;
  private stepLimit = 0;
  private subBudgetStack: number[] = [];
  depth = 0;
  private frames: Frame[] = [];
  readonly diagnostics: DiagnosticRecord[] = [];
  private diagnosticKeys = new Set<string>();
  private locationStack: SourceLocation[] = [];
  mainFile = '';
  /** Literal constructor arguments of the catalog layer being constructed (set by evalCall, taken by instantiate). */
  private pendingLiteralArguments: { cls: ClassValue; sources: Map<string, SourceLocation> } | undefined;
  hooks: InterpreterHooks = {};
  /**
   * Native stand-ins for library functions the interpreter cannot follow, by qualified name
   * (torchvision's create_feature_extractor traces with torch.fx): bound instead of the `def`.
   */
  readonly libraryFunctions = new Map<string, Value>();
  /** Called with every module call's output, innermost first (create_feature_extractor's taps). */
  readonly outputTaps: ((module: InstanceValue, output: Value) => void)[] = [];
  /** Called at each side-effecting torch call a traced graph must keep (torch._assert). */
  readonly effectTaps: (() => void)[] = [];
  /** Set while tracing a model's forward. */
  tracing: TraceState | undefined;
  moduleCallDepth = 0;
  readonly currentModuleStack: InstanceValue[] = [];
  /** >0 while probing attributes (hasattr/getattr with default): no diagnostics. */
  quiet = 0;

  constructor(readonly config: InterpreterConfig) {}

  // -------------------------------------------------------------------------------------
  // Runs, budget, diagnostics

  beginRun(stepBudget = this.config.stepBudget): void {
    this.noteClassChange();
    this.steps = 0;
    this.stepLimit = stepBudget;
    this.depth = 0;
    this.frames = [];
    this.locationStack = [];
    this.subBudgetStack = [];
    this.moduleCallDepth = 0;
    this.currentModuleStack.length = 0;
    this.quiet = 0;
  }

  resetBudget(stepBudget = this.config.stepBudget): void {
    this.stepLimit = this.steps + stepBudget;
  }

  private step(): void {
    if (++this.steps > this.stepLimit) {
      const subLimit = this.subBudgetStack.length ? this.subBudgetStack[this.subBudgetStack.length - 1] : Infinity;
      if (this.steps > subLimit) throw new SubBudgetExceeded();
      throw new AnalysisAbort('budget', messages.stepBudget(this.config.stepBudget));
    }
  }

  clearDiagnostics(): void {
    this.truncateDiagnostics(0);
  }

  /** Forget diagnostics after the first `count` (a trace that is redone). */
  truncateDiagnostics(count: number): void {
    this.diagnostics.length = Math.min(count, this.diagnostics.length);
    this.diagnosticKeys.clear();
    for (const d of this.diagnostics) this.diagnosticKeys.add(diagnosticKey(d.severity, d.location, d.message));
  }

  /** Records a diagnostic; locations outside the main file move to the main file's innermost call site. */
  diagnostic(severity: Severity, message: string, location?: SourceLocation, code?: string, fix?: DiagnosticRecord['fix']): void {
    if (this.quiet > 0) return;
    let loc = location ?? this.currentLocation();
    if (loc.file !== this.mainFile) {
      // Notes about library internals (an undecidable condition in torchvision) are not the
      // user's business; real problems move to the user's innermost call into the library.
      if (severity === 'info' && code && code !== 'import-budget') return;
      const inMain = [...this.locationStack].reverse().find((l) => l.file === this.mainFile);
      if (!inMain) {
        if (severity !== 'error') return;
      } else loc = inMain;
    }
    const key = diagnosticKey(severity, loc, message);
    if (this.diagnosticKeys.has(key)) return;
    this.diagnosticKeys.add(key);
    this.diagnostics.push(fix ? { severity, message, location: loc, code, fix } : { severity, message, location: loc, code });
  }

  /** The edit for a catalog rule's fix, when the argument is an integer literal in the analyzed file. */
  certainFix(fix: ArgumentFix): DiagnosticRecord['fix'] {
    const source = fix.module.module?.literalArguments?.get(fix.argument);
    if (!source || source.file !== this.mainFile) return undefined;
    return { title: fix.title, location: source, newText: fix.newText };
  }

  private withCallSite(e: PyRaise): PyRaise {
    if (e.location?.file !== this.mainFile) {
      for (let i = this.locationStack.length - 1; i >= 0; i--) {
        if (this.locationStack[i].file === this.mainFile) { e.callSite = this.locationStack[i]; break; }
      }
    }
    return e;
  }

  currentLocation(): SourceLocation {
    return this.locationStack[this.locationStack.length - 1] ?? { file: this.mainFile, line: 1, col: 0 };
  }

  locOf(span: Span, module: ModuleRecord): SourceLocation {
    // One location object per syntax node and file (spans are per file), made on first use.
    const cached = span.location;
    if (cached && cached.file === (module.file ?? module.name)) return cached;
    const loc: SourceLocation = { file: module.file ?? module.name, line: span.line, col: span.col, endLine: span.endLine, endCol: span.endCol };
    span.location = loc;
    return loc;
  }

  newTensor(shape: Shape | null, dtype: DType = 'float32'): TensorValue {
    return { kind: 'tensor', shape, dtype, id: this.nextTensorId++ };
  }

  /** The CallContext handed to builtins and catalog entries. */
  makeContext(location: SourceLocation): CallContext {
    return new InterpreterCallContext(this, location);
  }

  addMacs(macs: Dim): void {
    const t = this.tracing;
    if (!t) return;
    const top = t.macsStack[t.macsStack.length - 1];
    if (top) top.macs = dim.add(top.macs, macs);
    else t.functionalMacs = dim.add(t.functionalMacs, macs);
  }

  raise(typeName: string, text: string, location?: SourceLocation): never {
    const cls = this.builtins.get(typeName);
    const exc: Value = cls && cls.kind === 'class'
      ? { kind: 'instance', cls, attrs: new Map([['args', tupleV([strV(text)])]]), module: undefined, id: this.nextTensorId++ }
      : UNKNOWN;
    throw this.withCallSite(new PyRaise(exc, typeName, text, location ?? this.currentLocation()));
  }

  // -------------------------------------------------------------------------------------
  // Modules

  /** The record of an absolute dotted module name, loading nothing yet. */
  getModuleRecord(name: string): ModuleRecord {
    const existing = this.modules.get(name);
    if (existing) return existing;
    const dot = name.lastIndexOf('.');
    const parent = dot > 0 ? this.getModuleRecord(name.slice(0, dot)) : undefined;
    let record: ModuleRecord;
    const builtin = this.builtinModules.get(name);
    if (builtin) {
      record = this.newRecord(name, { lenient: true });
      record.state = 'loaded';
      for (const [k, v] of builtin()) record.value.attrs.set(k, v);
    } else if (name === 'torch' || name.startsWith('torch.')) {
      record = this.newRecord(name, { lenient: true });
      record.state = 'loaded';
      const members = this.catalog.modules.get(name);
      // forEach: no entry array per member ('torch' has hundreds) in not yet optimized code.
      if (members) members.forEach((v, k) => record.value.attrs.set(k, v));
    } else {
      const found = parent && parent.state !== 'unloaded' && parent.lenient && !parent.file ? undefined : findModuleFile(name, this.config.importRoots, this.config.fs);
      if (found) {
        record = this.newRecord(name, { lenient: false, file: found.file, isPackage: found.isPackage });
      } else {
        record = this.newRecord(name, { lenient: true });
        record.state = 'loaded';
        record.value.attrs.set('__unresolved__', TRUE);
      }
    }
    this.modules.set(name, record);
    if (parent) {
      parent.submodules.set(name.slice(dot + 1), record);
      // Builtin parents (torch) expose their submodules as attributes, like Python after import.
      if (parent.state === 'loaded' && !parent.value.attrs.has(name.slice(dot + 1))) parent.value.attrs.set(name.slice(dot + 1), record.value);
    }
    return record;
  }

  newRecord(name: string, opts: { lenient: boolean; file?: string; isPackage?: boolean }): ModuleRecord {
    const value: PyModuleValue = { kind: 'pymodule', name, attrs: new Map(), file: opts.file };
    // Every field is present from the start, so all module records share one hidden class
    // (V8): fields added later in varying orders deoptimized the interpreter's hottest code.
    const record: ModuleRecord = {
      name, value, file: opts.file, isPackage: !!opts.isPackage, state: 'unloaded', lenient: opts.lenient, ast: undefined,
      submodules: new Map(), starSources: [], deferred: undefined, definedNames: undefined, starAll: undefined,
      starAllComputed: undefined, source: undefined,
    };
    value.attrs.set('__name__', strV(name));
    if (opts.file) value.attrs.set('__file__', strV(opts.file));
    moduleRecords.set(value, record);
    return record;
  }

  recordOf(m: PyModuleValue): ModuleRecord | undefined {
    return moduleRecords.get(m);
  }

  /** Registers a file as a module (the main file, or a file read from disk). */
  registerFileModule(name: string, file: string, source: string, isPackage: boolean): ModuleRecord {
    const record = this.newRecord(name, { lenient: false, file, isPackage });
    record.source = source;
    this.modules.set(name, record);
    return record;
  }

  /** Executes a module's top-level code once (lazily, on first use). */
  ensureLoaded(record: ModuleRecord): void {
    if (record.state !== 'unloaded') return;
    record.state = 'loading';
    const isMain = record.file === this.mainFile;
    try {
      if (!record.ast) {
        const source = record.source ?? (record.file ? this.config.fs.readFile(record.file) : undefined);
        if (source === undefined) { record.lenient = true; return; }
        record.ast = this.config.parse(source, record.file!);
      }
      const scope = new Scope(null, record, 'module', undefined, record.value.attrs);
      if (record.isPackage && record.file) record.value.attrs.set('__path__', listV([strV(path.dirname(record.file))]));
      const limit = isMain ? Infinity : this.steps + this.config.importStepBudget;
      this.subBudgetStack.push(limit);
      const savedLimit = this.stepLimit;
      if (!isMain) this.stepLimit = Math.min(this.stepLimit, limit);
      const savedFrames = this.frames;
      const savedDepth = this.depth;
      this.frames = [{}];
      if (!isMain) this.libraryModulesLoading++;
      try {
        this.execBlock(record.ast.body, scope);
      } catch (e) {
        if (e instanceof SubBudgetExceeded) {
          this.diagnostic('info', messages.importBudget(record.name), undefined, 'import-budget');
        } else if (e instanceof PyRaise) {
          if (isMain) throw e;
          // A failing import leaves the names defined so far, like a partially run module.
        } else throw e;
      } finally {
        if (!isMain) this.libraryModulesLoading--;
        this.subBudgetStack.pop();
        this.stepLimit = savedLimit;
        this.frames = savedFrames;
        this.depth = savedDepth;
      }
    } finally {
      record.state = 'loaded';
      this.modulesLoaded++;
    }
  }

  /** Top-level names a module defines, found syntactically (for lazy star imports). */
  definedNames(record: ModuleRecord): Set<string> {
    if (record.definedNames) return record.definedNames;
    const names = new Set<string>();
    if (!record.ast && record.file) {
      const source = record.source ?? this.config.fs.readFile(record.file);
      if (source !== undefined) record.ast = this.config.parse(source, record.file);
    }
    const visit = (stmts: Stmt[]): void => {
      for (const s of stmts) {
        if (s.t === 'def' || s.t === 'class') names.add(s.name);
        else if (s.t === 'assign') for (const t of s.targets) collectTargetNames(t, names);
        else if (s.t === 'annassign') collectTargetNames(s.target, names);
        else if (s.t === 'import') for (const n of s.names) names.add(n.alias ?? n.module.split('.')[0]);
        else if (s.t === 'importfrom' && s.names !== '*') for (const n of s.names) names.add(n.alias ?? n.name);
        else if (s.t === 'if' || s.t === 'try') { visit(s.body); if (s.t === 'if') visit(s.orelse); else for (const h of s.handlers) visit(h.body); }
        else if (s.t === 'match') for (const c of s.cases) visit(c.body);
      }
    };
    if (record.ast) visit(record.ast.body);
    else for (const k of record.value.attrs.keys()) names.add(k);
    record.definedNames = names;
    return names;
  }

  /**
   * Does `from src import *` bring `name`: listed in a literal `__all__`, else a public top-level
   * name. A computed `__all__` (torchvision's models/mobilenet.py joins two modules' lists) is
   * evaluated by running the module, only when `runComputed` says the cheaper sources missed.
   */
  private starExports(src: ModuleRecord, name: string, runComputed = false): boolean {
    const names = this.definedNames(src);
    if (!names.has(name) && !names.has('__all__')) return false;
    if (src.starAll === undefined) {
      src.starAll = null;
      for (const stmt of src.ast?.body ?? []) {
        if (stmt.t !== 'assign' || !stmt.targets.some((t) => t.t === 'name' && t.id === '__all__')) continue;
        const v = stmt.value;
        if ((v.t === 'list' || v.t === 'tuple') && v.items.every((i) => i.t === 'const' && typeof i.value === 'string')) {
          src.starAll = new Set(v.items.map((i) => (i.t === 'const' ? String(i.value) : '')));
          src.starAllComputed = false;
        } else {
          src.starAllComputed = true;
        }
      }
    }
    if (src.starAll) return src.starAll.has(name);
    if (src.starAllComputed) {
      // Running the module is the last resort, and never for private names (`_api`, `_utils`):
      // a computed __all__ lists public names.
      if (!runComputed || name.startsWith('_')) return false;
      this.ensureLoaded(src);
      const all = src.value.attrs.get('__all__');
      const items = all && (all.kind === 'list' || all.kind === 'tuple') ? all.items : undefined;
      if (items?.every((i) => i.kind === 'str')) {
        src.starAll = new Set(items.map((i) => (i.kind === 'str' ? i.value : '')));
        src.starAllComputed = false;
        return src.starAll.has(name);
      }
    }
    return names.has(name) && !name.startsWith('_');
  }

  /**
   * A module's namespace as a dict (`module.__dict__`, `globals()`; torchvision's
   * `resnet.__dict__[name]`): a snapshot, with the lazily imported names resolved first.
   */
  moduleNamespace(record: ModuleRecord): DictValue {
    this.ensureLoaded(record);
    for (const name of [...(record.deferred?.keys() ?? [])]) this.resolveDeferred(record, name);
    const d = newDict(true);
    for (const [k, v] of record.value.attrs) dictSet(d, strV(k), v);
    return d;
  }

  /** The module whose file is `file` (the code calling globals()). */
  moduleOfFile(file: string): ModuleRecord | undefined {
    for (const r of this.modules.values()) if (r.file === file) return r;
    return undefined;
  }

  /** Attribute of a module: its namespace, then submodules, then star-imported names. */
  moduleAttr(m: PyModuleValue, name: string): Value | undefined {
    const record = this.recordOf(m);
    if (!record) return m.attrs.get(name);
    if (record.state === 'unloaded') {
      const sub = record.submodules.get(name);
      if (sub) return sub.value;
      this.ensureLoaded(record);
    }
    const v = m.attrs.get(name) ?? this.resolveDeferred(record, name);
    if (v !== undefined) return v;
    const sub = record.submodules.get(name);
    if (sub) return sub.value;
    const star = this.starLookup(record, name);
    if (star !== undefined) return star;
    const childName = record.name + '.' + name;
    if (this.catalog.modules.has(childName) || this.builtinModules.has(childName)) return this.getModuleRecord(childName).value;
    if (record.file && record.isPackage) {
      const child = this.getModuleRecord(childName);
      if (!child.lenient || child.file) return child.value;
    }
    if (record.lenient) return unknownV(`${record.name}.${name}`);
    return undefined;
  }

  starLookup(record: ModuleRecord, name: string): Value | undefined {
    // Sources whose exports are known without running them first; a computed __all__ last.
    for (const runComputed of [false, true]) {
      for (const src of record.starSources) {
        if (src.lenient && !src.file) continue;
        if (runComputed && !src.starAllComputed) continue;
        if (!this.starExports(src, name, runComputed)) continue;
        this.ensureLoaded(src);
        const v = src.value.attrs.get(name) ?? this.resolveDeferred(src, name) ?? this.starLookup(src, name);
        if (v !== undefined) {
          record.value.attrs.set(name, v);
          return v;
        }
      }
    }
    return undefined;
  }

  resolveDeferred(record: ModuleRecord, name: string): Value | undefined {
    const thunk = record.deferred?.get(name);
    if (!thunk) return undefined;
    record.deferred!.delete(name);
    const v = thunk();
    if (!record.value.attrs.has(name)) record.value.attrs.set(name, v);
    return record.value.attrs.get(name);
  }

  packageOf(record: ModuleRecord): string {
    if (record.isPackage) return record.name;
    const dot = record.name.lastIndexOf('.');
    return dot > 0 ? record.name.slice(0, dot) : '';
  }

  private importAbsolute(name: string, location: SourceLocation): ModuleRecord {
    const record = this.getModuleRecord(name);
    if (record.value.attrs.has('__unresolved__')) {
      if (location.file === this.mainFile) this.diagnostic('info', messages.unresolvedImport(name), location, 'unresolved-import');
    }
    return record;
  }

  // -------------------------------------------------------------------------------------
  // Statements

  execBlock(stmts: Stmt[], scope: Scope): Signal | undefined {
    for (let i = 0; i < stmts.length; i++) {
      const sig = this.exec(stmts[i], scope);
      if (sig) return sig;
    }
    return undefined;
  }

  exec(s: Stmt, scope: Scope): Signal | undefined {
    this.step();
    switch (s.t) {
      case 'expr': this.eval(s.value, scope); return undefined;
      case 'assign': {
        const value = this.eval(s.value, scope);
        for (let i = 0; i < s.targets.length; i++) this.assign(s.targets[i], value, scope);
        if (this.tracing) this.recordStatement(s.span, value, scope);
        return undefined;
      }
      case 'annassign': {
        if (s.value) {
          const value = this.eval(s.value, scope);
          this.assign(s.target, value, scope);
          if (this.tracing) this.recordStatement(s.span, value, scope);
        }
        if (scope.kind === 'class' && s.target.t === 'name') {
          let ann = scope.vars.get('__annotations__');
          if (!ann || ann.kind !== 'dict') { ann = newDict(true); scope.vars.set('__annotations__', ann); }
          dictSet(ann, strV(s.target.id), this.safeEval(s.annotation, scope));
        }
        return undefined;
      }
      case 'augassign': return this.execAugAssign(s, scope);
      case 'def': {
        const native = scope.kind === 'module' && scope.module.file !== this.mainFile ? this.libraryFunctions.get(`${scope.module.name}.${s.name}`) : undefined;
        if (native) { this.store(scope, s.name, native); return undefined; }
        const fn = this.makeFunction(s, scope);
        this.store(scope, s.name, this.applyDecorators(s.decorators, fn, scope));
        return undefined;
      }
      case 'class': {
        const cls = this.makeClass(s, scope);
        this.noteClassChange();
        this.store(scope, s.name, this.applyDecorators(s.decorators, cls, scope));
        this.noteClassChange();
        return undefined;
      }
      case 'return': {
        const value = s.value ? this.eval(s.value, scope) : NONE;
        if (this.tracing && s.value) this.recordStatement(s.span, value, scope);
        return { k: 'return', v: value };
      }
      case 'if':
        if (scope.kind === 'module' && scope.module.file === this.mainFile && isMainGuard(s.test)) return this.execMainBlock(s, scope);
        return this.execIf(s, scope);
      case 'for': return this.execFor(s, scope);
      case 'while': return this.execWhile(s, scope);
      case 'try': return this.execTry(s, scope);
      case 'match': return this.execMatch(s, scope);
      case 'with': {
        for (const item of s.items) {
          const v = this.eval(item.value, scope);
          let entered: Value = v;
          if (v.kind === 'instance') {
            const enter = this.lookupClassAttr(v.cls, '__enter__');
            if (enter && enter.kind === 'function') entered = this.callValue(this.bindMethod(enter, v, v.cls), [], EMPTY_KWARGS, this.locOf(s.span, scope.module));
          }
          if (item.target) this.assign(item.target, entered, scope);
        }
        return this.execBlock(s.body, scope);
      }
      case 'raise': {
        const loc = this.locOf(s.span, scope.module);
        if (!s.exc) this.raise('RuntimeError', 'No active exception to reraise', loc);
        const exc = this.eval(s.exc, scope);
        this.throwValue(exc, loc);
        return undefined;
      }
      case 'assert': {
        const test = truthy(this.eval(s.test, scope));
        if (test === false) {
          const msg = s.msg ? pyStr(this.eval(s.msg, scope)) : '';
          this.raise('AssertionError', msg, this.locOf(s.span, scope.module));
        }
        return undefined;
      }
      case 'import': {
        const loc = this.locOf(s.span, scope.module);
        for (const n of s.names) {
          const record = this.importAbsolute(n.module, loc);
          if (n.alias) {
            // Loaded on first attribute access.
            this.store(scope, n.alias, record.value);
          } else {
            const top = this.getModuleRecord(n.module.split('.')[0]);
            this.store(scope, n.module.split('.')[0], top.value);
          }
        }
        return undefined;
      }
      case 'importfrom': return this.execImportFrom(s, scope);
      case 'global': case 'nonlocal': case 'pass': return undefined;
      case 'break': return BREAK;
      case 'continue': return CONTINUE;
      case 'del': {
        for (const t of s.targets) this.deleteTarget(t, scope);
        return undefined;
      }
      case 'unsupported':
        this.diagnostic('info', messages.unsupportedSyntax(s.what), this.locOf(s.span, scope.module), 'unsupported');
        return undefined;
    }
  }

  private execImportFrom(s: Extract<Stmt, { t: 'importfrom' }>, scope: Scope): undefined {
    const loc = this.locOf(s.span, scope.module);
    let name = s.module;
    if (s.level > 0) {
      const resolved = resolveRelative(this.packageOf(scope.module), s.level, s.module);
      if (resolved === undefined || resolved === '') {
        if (s.names !== '*') for (const n of s.names) this.store(scope, n.alias ?? n.name, unknownV(n.name));
        return undefined;
      }
      name = resolved;
    }
    if (name === '__future__') return undefined;
    const record = this.importAbsolute(name, loc);
    if (s.names === '*') {
      if (record.lenient && !record.file) {
        this.ensureLoaded(record);
        for (const [k, v] of record.value.attrs) if (!k.startsWith('_')) scope.vars.set(k, v);
      } else if (scope.kind === 'module') {
        scope.module.starSources.push(record);
      }
      return undefined;
    }
    const resolve = (member: string): Value => {
      const v = this.moduleAttr(record.value, member);
      if (v !== undefined) return v;
      const sub = this.getModuleRecord(name + '.' + member);
      return sub.value.attrs.has('__unresolved__') ? unknownV(`${name}.${member}`) : sub.value;
    };
    // Library modules import far more than a model uses (torchvision's transforms, numpy, PIL):
    // their `from x import name` is resolved when the name is first read, so unused modules are
    // never parsed. The file being analyzed imports eagerly, like Python.
    const defer = scope.kind === 'module' && scope.module.file !== this.mainFile && record.state === 'unloaded' && !!record.file;
    for (const n of s.names) {
      const bound = n.alias ?? n.name;
      if (defer) {
        scope.module.deferred ??= new Map();
        scope.module.deferred.set(bound, () => resolve(n.name));
        scope.vars.delete(bound);
      } else this.store(scope, bound, resolve(n.name));
    }
    return undefined;
  }

  private throwValue(exc: Value, loc: SourceLocation): never {
    let inst = exc;
    if (exc.kind === 'class') inst = this.instantiate(exc, [], EMPTY_KWARGS, loc);
    if (inst.kind === 'instance') {
      const args = inst.attrs.get('args');
      const text = args && args.kind === 'tuple' ? args.items.map((a) => pyStr(a)).join(', ') : '';
      throw this.withCallSite(new PyRaise(inst, inst.cls.name, text, loc));
    }
    throw this.withCallSite(new PyRaise(inst, 'Exception', pyStr(inst), loc));
  }

  private execAugAssign(s: Extract<Stmt, { t: 'augassign' }>, scope: Scope): undefined {
    const loc = this.locOf(s.span, scope.module);
    const right = this.eval(s.value, scope);
    const cur = this.eval(s.target, scope);
    let result: Value;
    if (cur.kind === 'list' && (s.op === '+') && (right.kind === 'list' || right.kind === 'tuple')) {
      cur.items.push(...right.items);
      result = cur;
    } else if (cur.kind === 'list' && s.op === '+') {
      const items = this.iterate(right, loc);
      if (items) cur.items.push(...items);
      result = cur;
    } else if (cur.kind === 'dict' && s.op === '|' && right.kind === 'dict') {
      for (const e of right.entries.values()) dictSet(cur, e.key, e.value);
      result = cur;
    } else if (cur.kind === 'instance' && this.lookupClassAttr(cur.cls, '__i' + dunderOf(s.op).slice(2))) {
      const inplace = this.lookupClassAttr(cur.cls, '__i' + dunderOf(s.op).slice(2))!;
      result = this.callValue(this.bindMethod(inplace, cur, cur.cls), [right], new Map(), loc);
    } else if (cur.kind === 'tensor' && right.kind !== 'unknown') {
      result = this.tensorInplaceOp(s.op, cur, right, loc);
    } else {
      result = this.binaryOp(s.op, cur, right, loc);
    }
    if (s.target.t === 'subscript' || s.target.t === 'attr' || s.target.t === 'name') this.assign(s.target, result, scope);
    if (this.tracing) this.recordStatement(s.span, result, scope);
    return undefined;
  }

  /** While tracing, a statement whose value holds tensors is kept for the editor's hints. */
  private recordStatement(span: Span, value: Value, scope: Scope): void {
    if (!holdsTensor(value, 0)) return;
    this.tracing!.statements.push({ file: scope.module.file ?? scope.module.name, line: span.endLine, value });
  }

  private deleteTarget(t: Expr, scope: Scope): void {
    if (t.t === 'name') { scope.vars.delete(t.id); return; }
    if (t.t === 'subscript') {
      const obj = this.eval(t.obj, scope);
      const idx = this.eval(t.index, scope);
      if (obj.kind === 'dict') { const k = dictKey(idx); if (k) obj.entries.delete(k); }
      else if (obj.kind === 'list') { const i = numberOf(idx); if (i !== undefined) obj.items.splice(i < 0 ? obj.items.length + i : i, 1); }
      else if (obj.kind === 'instance') {
        const del = this.lookupClassAttr(obj.cls, '__delitem__');
        if (del) this.callValue(this.bindMethod(del, obj, obj.cls), [idx], EMPTY_KWARGS, this.locOf(t.span, scope.module));
        else obj.module?.children.delete(pyStr(idx));
      }
      return;
    }
    if (t.t === 'attr') {
      const obj = this.eval(t.obj, scope);
      if (obj.kind === 'instance') {
        obj.attrs.delete(t.attr);
        obj.module?.children.delete(t.attr);
        obj.module?.params.delete(t.attr);
        obj.module?.buffers.delete(t.attr);
      }
    }
  }

  /** The branch a statement list takes for sure raises (ends in raise) – used for unknown conditions. */
  private alwaysRaises(stmts: Stmt[]): boolean {
    if (stmts.length === 0) return false;
    const last = stmts[stmts.length - 1];
    return last.t === 'raise';
  }

  /**
   * The file's `if __name__ == "__main__":` block runs (it often passes an input to the
   * model) but with a small allowance, and whatever stops it (argument parsing, data
   * loading, an exception) is only a note: the block is a script, not the model.
   */
  private execMainBlock(s: Extract<Stmt, { t: 'if' }>, scope: Scope): undefined {
    const loc = this.locOf(s.span, scope.module);
    const limit = this.steps + this.config.importStepBudget;
    this.subBudgetStack.push(limit);
    const savedLimit = this.stepLimit;
    this.stepLimit = Math.min(this.stepLimit, limit);
    const depth = this.depth;
    const frames = this.frames.length;
    const locations = this.locationStack.length;
    try {
      this.execBlock(s.body, scope);
    } catch (e) {
      if (e instanceof SubBudgetExceeded) this.diagnostic('info', messages.mainBlockBudget(), loc, 'main-block');
      else if (e instanceof PyRaise) this.diagnostic('info', messages.mainBlockStopped(e.message), loc, 'main-block');
      else throw e;
      this.depth = depth;
      this.frames.length = frames;
      this.locationStack.length = locations;
    } finally {
      this.subBudgetStack.pop();
      this.stepLimit = savedLimit;
    }
    return undefined;
  }

  /**
   * match/case: the first case whose pattern matches (captures bound) and whose guard holds
   * runs. A case that cannot be decided (an unknown subject) is taken, like an undecidable if,
   * and says so.
   */
  private execMatch(s: Extract<Stmt, { t: 'match' }>, scope: Scope): Signal | undefined {
    const subject = this.eval(s.subject, scope);
    const loc = this.locOf(s.span, scope.module);
    for (const c of s.cases) {
      const bindings = new Map<string, Value>();
      let matched = this.matchPattern(c.pattern, subject, scope, bindings, loc);
      if (matched === false) continue;
      for (const [name, value] of bindings) this.store(scope, name, value);
      if (matched !== undefined && c.guard) matched = truthy(this.eval(c.guard, scope));
      if (matched === false) continue;
      if (matched === undefined) this.diagnostic('info', messages.unknownCondition('this case matches'), loc, 'unknown-condition');
      return this.execBlock(c.body, scope);
    }
    return undefined;
  }

  /** Does the pattern match (true/false; undefined when the value is not known well enough)? */
  private matchPattern(p: Pattern, v: Value, scope: Scope, bindings: Map<string, Value>, loc: SourceLocation): boolean | undefined {
    switch (p.p) {
      case 'wildcard': return true;
      case 'capture': bindings.set(p.name, v); return true;
      case 'as': {
        const r = this.matchPattern(p.pattern, v, scope, bindings, loc);
        if (r !== false) bindings.set(p.name, v);
        return r;
      }
      case 'value': {
        if (v.kind === 'unknown') return undefined;
        return truthy(this.compareOp('==', v, this.eval(p.value, scope), loc));
      }
      case 'or': {
        let result: boolean | undefined = false;
        for (const alt of p.alternatives) {
          const r = this.matchPattern(alt, v, scope, bindings, loc);
          if (r === true) return result === false ? true : undefined;
          if (r === undefined) result = undefined;
        }
        return result;
      }
      case 'sequence': {
        // Sequences are lists, tuples and NamedTuples; str, dict and the rest never match.
        if (v.kind === 'unknown') return undefined;
        const items = v.kind === 'list' || v.kind === 'tuple' ? v.items
          : v.kind === 'instance' && this.namedTupleFields(v.cls) ? this.iterate(v, loc) : undefined;
        if (!items) return v.kind === 'instance' ? undefined : false;
        const star = p.items.findIndex((i) => i.p === 'star');
        const before = star < 0 ? p.items.length : star;
        const after = star < 0 ? 0 : p.items.length - star - 1;
        if (star < 0 ? items.length !== p.items.length : items.length < before + after) return false;
        let result: boolean | undefined = true;
        for (let i = 0; i < before; i++) {
          const r = this.matchPattern(p.items[i], items[i], scope, bindings, loc);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        for (let i = 0; i < after; i++) {
          const r = this.matchPattern(p.items[star + 1 + i], items[items.length - after + i], scope, bindings, loc);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        const starItem = star >= 0 ? p.items[star] : undefined;
        if (starItem?.p === 'star' && starItem.name) bindings.set(starItem.name, listV(items.slice(before, items.length - after)));
        return result;
      }
      case 'star': return true;
      case 'mapping': {
        if (v.kind === 'unknown') return undefined;
        if (v.kind !== 'dict' || v.isSet) return v.kind === 'instance' ? undefined : false;
        let result: boolean | undefined = true;
        const used = new Set<string>();
        for (let i = 0; i < p.keys.length; i++) {
          const key = this.eval(p.keys[i], scope);
          const k = dictKey(key);
          if (k === undefined) return undefined;
          const entry = v.entries.get(k);
          if (!entry) return false;
          used.add(k);
          const r = this.matchPattern(p.values[i], entry.value, scope, bindings, loc);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        if (p.rest) {
          const rest = newDict(v.ordered);
          for (const [k, e] of v.entries) if (!used.has(k)) rest.entries.set(k, e);
          bindings.set(p.rest, rest);
        }
        return result;
      }
      case 'class': {
        const cls = this.eval(p.cls, scope);
        const isInstance = this.isInstance(v, cls);
        if (isInstance !== true) return isInstance;
        let result: boolean | undefined = true;
        // str(x), int(x), list(x) ...: one positional pattern matches the subject itself.
        const selfMatching = cls.kind === 'class' && [...this.kindClasses.values()].includes(cls);
        const matchArgs = cls.kind === 'class' ? this.lookupClassAttr(cls, '__match_args__') : undefined;
        for (let i = 0; i < p.args.length; i++) {
          let item: Value;
          if (selfMatching && i === 0) item = v;
          else {
            const names = matchArgs?.kind === 'tuple' ? matchArgs.items : this.namedTupleFields(cls as ClassValue)?.map((f) => strV(f));
            const name = names?.[i];
            if (name?.kind !== 'str') return undefined;
            item = this.getAttr(v, name.value, loc);
          }
          const r = this.matchPattern(p.args[i], item, scope, bindings, loc);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        for (const kw of p.kwargs) {
          const r = this.matchPattern(kw.pattern, this.getAttr(v, kw.name, loc), scope, bindings, loc);
          if (r === false) return false;
          if (r === undefined) result = undefined;
        }
        return result;
      }
    }
  }

  private execIf(s: Extract<Stmt, { t: 'if' }>, scope: Scope): Signal | undefined {
    const test = this.eval(s.test, scope);
    let cond = this.conditionOf(test);
    if (cond === undefined) {
      const loc = this.locOf(s.span, scope.module);
      if (this.alwaysRaises(s.body) && !this.alwaysRaises(s.orelse)) cond = false;
      else if (this.alwaysRaises(s.orelse) && !this.alwaysRaises(s.body)) cond = true;
      else {
        const noneTest = this.noneTestPolicy(s.test, scope);
        cond = noneTest ?? true;
      }
      this.diagnostic('info', messages.unknownCondition(cond ? 'it is true' : 'it is false'), loc, 'unknown-condition');
    }
    return this.execBlock(cond ? s.body : s.orelse, scope);
  }

  /** `x is None` / `x is not None` (possibly under `not`) on an unknown x: treat x as None. */
  private noneTestPolicy(test: Expr, scope: Scope): boolean | undefined {
    if (test.t === 'unop' && test.op === 'not') {
      const inner = this.noneTestPolicy(test.operand, scope);
      return inner === undefined ? undefined : !inner;
    }
    if (test.t === 'compare' && test.ops.length === 1 && (test.ops[0] === 'is' || test.ops[0] === 'is not')) {
      const rhs = test.rest[0];
      if (rhs.t === 'const' && rhs.value === null) return test.ops[0] === 'is';
    }
    if (test.t === 'boolop') {
      const l = this.noneTestPolicy(test.left, scope);
      const r = this.noneTestPolicy(test.right, scope);
      if (l !== undefined && r !== undefined) return test.op === 'and' ? l && r : l || r;
    }
    return undefined;
  }

  conditionOf(v: Value): boolean | undefined {
    if (v.kind === 'instance') {
      const bool = this.lookupClassAttr(v.cls, '__bool__') ?? this.lookupClassAttr(v.cls, '__len__');
      if (!bool) return true;
      const r = this.callValue(this.bindMethod(bool, v, v.cls), [], EMPTY_KWARGS, this.currentLocation());
      return truthy(r);
    }
    return truthy(v);
  }

  private execFor(s: Extract<Stmt, { t: 'for' }>, scope: Scope): Signal | undefined {
    const loc = this.locOf(s.span, scope.module);
    const iterable = this.eval(s.iter, scope);
    const items = this.iterate(iterable, loc);
    if (!items) {
      this.diagnostic('info', messages.unknownIteration(), loc, 'unknown-iteration');
      return undefined;
    }
    for (let i = 0; i < items.length; i++) {
      this.step();
      this.assign(s.target, items[i], scope);
      const sig = this.execBlock(s.body, scope);
      if (sig === BREAK) return undefined;
      if (sig && sig.k === 'return') return sig;
    }
    return this.execBlock(s.orelse, scope);
  }

  private execWhile(s: Extract<Stmt, { t: 'while' }>, scope: Scope): Signal | undefined {
    for (;;) {
      this.step();
      const cond = this.conditionOf(this.eval(s.test, scope));
      if (cond === undefined) {
        this.diagnostic('info', messages.unknownCondition('it is false'), this.locOf(s.span, scope.module), 'unknown-condition');
        return undefined;
      }
      if (!cond) break;
      const sig = this.execBlock(s.body, scope);
      if (sig === BREAK) return undefined;
      if (sig && sig.k === 'return') return sig;
    }
    return this.execBlock(s.orelse, scope);
  }

  private execTry(s: Extract<Stmt, { t: 'try' }>, scope: Scope): Signal | undefined {
    let sig: Signal | undefined;
    try {
      try {
        const guardsImports = s.handlers.length > 0 && s.body.some((b) => b.t === 'import' || b.t === 'importfrom') && this.catchesImportError(s.handlers, scope);
        sig = guardsImports ? this.execGuardedImports(s.body, scope) : this.execBlock(s.body, scope);
      } catch (e) {
        if (!(e instanceof PyRaise)) throw e;
        const handler = s.handlers.find((h) => this.handlerMatches(h.types, e, scope));
        if (!handler) throw e;
        if (handler.name) scope.vars.set(handler.name, e.exc);
        return this.execBlock(handler.body, scope);
      }
      if (!sig) sig = this.execBlock(s.orelse, scope);
      return sig;
    } finally {
      if (s.finalbody.length) {
        const fsig = this.execBlock(s.finalbody, scope);
        if (fsig) sig = fsig;
      }
    }
  }

  /**
   * The body of a try whose handler catches ImportError: an import of a module found nowhere
   * raises ModuleNotFoundError, as in Python, so the except branch's fallback is what runs
   * (apex's fused layers falling back to nn.LayerNorm) instead of an unknown module.
   */
  private execGuardedImports(stmts: Stmt[], scope: Scope): Signal | undefined {
    for (let i = 0; i < stmts.length; i++) {
      const s = stmts[i];
      const missing = s.t === 'import' || s.t === 'importfrom' ? this.missingImport(s, scope) : undefined;
      if (missing !== undefined) {
        const loc = this.locOf(s.span, scope.module);
        if (loc.file === this.mainFile) this.diagnostic('info', messages.importFallback(missing), loc, 'import-fallback');
        this.raise('ModuleNotFoundError', `No module named '${missing}'`, loc);
      }
      const sig = this.exec(s, scope);
      if (sig) return sig;
    }
    return undefined;
  }

  private missingImport(s: Extract<Stmt, { t: 'import' | 'importfrom' }>, scope: Scope): string | undefined {
    const unresolved = (name: string): boolean => this.getModuleRecord(name).value.attrs.has('__unresolved__');
    if (s.t === 'import') return s.names.find((n) => unresolved(n.module))?.module;
    const name = s.level > 0 ? resolveRelative(this.packageOf(scope.module), s.level, s.module) : s.module;
    if (!name || name === '__future__') return undefined;
    return unresolved(name) ? name : undefined;
  }

  private catchesImportError(handlers: { types?: Expr }[], scope: Scope): boolean {
    const notFound = this.builtins.get('ModuleNotFoundError');
    if (notFound?.kind !== 'class') return false;
    return handlers.some((h) => {
      if (!h.types) return true;
      const t = this.safeEval(h.types, scope);
      const classes = t.kind === 'tuple' ? t.items : [t];
      return classes.some((c) => c.kind === 'class' && notFound.mro.includes(c));
    });
  }

  private handlerMatches(types: Expr | undefined, e: PyRaise, scope: Scope): boolean {
    if (!types) return true;
    const t = this.safeEval(types, scope);
    const classes = t.kind === 'tuple' ? t.items : [t];
    for (const c of classes) {
      if (c.kind !== 'class') return true;
      if (e.exc.kind === 'instance') {
        if (e.exc.cls.mro.includes(c)) return true;
      } else if (c.name === e.typeName || c === this.special.exception || c === this.special.baseException) return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------
  // Assignment and names

  assign(target: Expr, value: Value, scope: Scope): void {
    switch (target.t) {
      case 'name': this.store(scope, target.id, value); return;
      case 'tuple': case 'list': this.unpack(target.items, value, scope, target.span); return;
      case 'attr': {
        const obj = this.eval(target.obj, scope);
        this.setAttr(obj, target.attr, value, this.locOf(target.span, scope.module));
        return;
      }
      case 'subscript': {
        const obj = this.eval(target.obj, scope);
        const index = this.eval(target.index, scope);
        this.setItem(obj, index, value, this.locOf(target.span, scope.module));
        return;
      }
      case 'starred': this.assign(target.value, value, scope); return;
      default: return;
    }
  }

  private unpack(targets: Expr[], value: Value, scope: Scope, span: Span): void {
    const loc = this.locOf(span, scope.module);
    const items = value.kind === 'tensor' && value.shape && typeof value.shape[0] !== 'number' ? undefined : this.iterate(value, loc);
    const starIndex = targets.findIndex((t) => t.t === 'starred');
    if (!items) {
      for (const t of targets) this.assign(t, t.t === 'starred' ? UNKNOWN : UNKNOWN, scope);
      return;
    }
    if (starIndex < 0) {
      if (items.length !== targets.length) {
        this.raise('ValueError', messages.unpackMismatch(targets.length, items.length), loc);
      }
      for (let i = 0; i < targets.length; i++) this.assign(targets[i], items[i], scope);
      return;
    }
    const after = targets.length - starIndex - 1;
    if (items.length < targets.length - 1) this.raise('ValueError', messages.unpackMismatch(targets.length - 1, items.length), loc);
    for (let i = 0; i < starIndex; i++) this.assign(targets[i], items[i], scope);
    this.assign(targets[starIndex], listV(items.slice(starIndex, items.length - after)), scope);
    for (let i = 0; i < after; i++) this.assign(targets[starIndex + 1 + i], items[items.length - after + i], scope);
  }

  store(scope: Scope, name: string, value: Value): void {
    const def = scope.def;
    if (def) {
      if (def.globals.has(name)) { scope.module.deferred?.delete(name); scope.module.value.attrs.set(name, value); return; }
      if (def.nonlocals.has(name)) {
        for (let s = scope.parent; s; s = s.parent) {
          if (s.kind === 'function' && s.vars.has(name)) { s.vars.set(name, value); return; }
        }
      }
    }
    if (scope.kind === 'module') scope.module.deferred?.delete(name);
    scope.vars.set(name, value);
  }

  lookup(scope: Scope, name: string, span: Span): Value {
    const own = scope.vars.get(name);
    if (own !== undefined) return own;
    if (scope.kind === 'module') {
      const deferred = this.resolveDeferred(scope.module, name);
      if (deferred !== undefined) return deferred;
    }
    if (scope.def?.globals.has(name)) return this.lookupGlobal(scope.module, name, span);
    for (let s = scope.parent; s; s = s.parent) {
      if (s.kind === 'class') continue;
      if (s.kind === 'module') break;
      const v = s.vars.get(name);
      if (v !== undefined) return v;
    }
    return this.lookupGlobal(scope.module, name, span);
  }

  private lookupGlobal(module: ModuleRecord, name: string, span: Span): Value {
    const v = module.value.attrs.get(name) ?? this.resolveDeferred(module, name);
    if (v !== undefined) return v;
    const star = this.starLookup(module, name);
    if (star !== undefined) return star;
    const b = this.builtins.get(name);
    if (b !== undefined) return b;
    this.diagnostic(module.file === this.mainFile ? 'warning' : 'info', messages.undefinedName(name), this.locOf(span, module), 'undefined-name');
    return unknownV(name);
  }

  // -------------------------------------------------------------------------------------
  // Expressions

  safeEval(e: Expr, scope: Scope): Value {
    try {
      return this.eval(e, scope);
    } catch (err) {
      if (err instanceof PyRaise) return UNKNOWN;
      throw err;
    }
  }

  eval(e: Expr, scope: Scope): Value {
    this.step();
    switch (e.t) {
      case 'name': return this.lookup(scope, e.id, e.span);
      case 'const': {
        // Constant values are immutable: one per syntax node.
        if (e.cached) return e.cached;
        const v = e.value;
        let out: Value;
        if (v === null) out = NONE;
        else if (typeof v === 'boolean') out = boolV(v);
        else if (typeof v === 'number') out = e.isFloat ? floatV(v) : intV(v);
        else out = strV(v);
        e.cached = out;
        return out;
      }
      case 'ellipsis': return { kind: 'ellipsis' };
      case 'fstring': return this.evalFString(e, scope);
      case 'attr': return this.getAttr(this.eval(e.obj, scope), e.attr, this.locOf(e.span, scope.module));
      case 'subscript': return this.getItem(this.eval(e.obj, scope), this.eval(e.index, scope), this.locOf(e.span, scope.module));
      case 'slice': return {
        kind: 'slice',
        start: e.start ? this.eval(e.start, scope) : NONE,
        stop: e.stop ? this.eval(e.stop, scope) : NONE,
        step: e.step ? this.eval(e.step, scope) : NONE,
      };
      case 'call': return this.evalCall(e, scope);
      case 'binop': return this.binaryOp(e.op, this.eval(e.left, scope), this.eval(e.right, scope), this.locOf(e.span, scope.module));
      case 'unop': return this.unaryOp(e.op, this.eval(e.operand, scope), this.locOf(e.span, scope.module));
      case 'boolop': {
        const left = this.eval(e.left, scope);
        const c = this.conditionOf(left);
        if (c === undefined) {
          const right = this.eval(e.right, scope);
          const rc = this.conditionOf(right);
          if (e.op === 'and' && rc === false) return right;
          if (e.op === 'or' && rc === true) return right;
          return UNKNOWN;
        }
        if (e.op === 'and') return c ? this.eval(e.right, scope) : left;
        return c ? left : this.eval(e.right, scope);
      }
      case 'compare': return this.evalCompare(e, scope);
      case 'ifexp': {
        const c = this.conditionOf(this.eval(e.test, scope));
        if (c === undefined) {
          const policy = this.noneTestPolicy(e.test, scope) ?? true;
          this.diagnostic('info', messages.unknownCondition(policy ? 'it is true' : 'it is false'), this.locOf(e.span, scope.module), 'unknown-condition');
          return this.eval(policy ? e.body : e.orelse, scope);
        }
        return this.eval(c ? e.body : e.orelse, scope);
      }
      case 'lambda': return this.makeLambda(e, scope);
      case 'tuple': return tupleV(this.evalItems(e.items, scope));
      case 'list': return listV(this.evalItems(e.items, scope));
      case 'set': return this.makeSet(this.evalItems(e.items, scope));
      case 'dict': {
        const d = newDict();
        for (const item of e.items) {
          if ('splat' in item) {
            const src = this.eval(item.splat, scope);
            if (src.kind === 'dict') for (const entry of src.entries.values()) dictSet(d, entry.key, entry.value);
          } else dictSet(d, this.eval(item.key, scope), this.eval(item.value, scope));
        }
        return d;
      }
      case 'comp': return this.evalComprehension(e, scope);
      case 'starred': return this.eval(e.value, scope);
      case 'walrus': {
        const v = this.eval(e.value, scope);
        this.store(scope, e.target, v);
        return v;
      }
      case 'await': return this.eval(e.value, scope);
      case 'yield': {
        const frame = this.frames[this.frames.length - 1];
        if (e.value) {
          const v = this.eval(e.value, scope);
          if (frame?.yields) {
            if (e.from) frame.yields.push(...(this.iterate(v, this.locOf(e.span, scope.module)) ?? []));
            else frame.yields.push(v);
          }
        } else frame?.yields?.push(NONE);
        return NONE;
      }
      case 'unsupported':
        this.diagnostic('info', messages.unsupportedSyntax(e.what), this.locOf(e.span, scope.module), 'unsupported');
        return UNKNOWN;
    }
  }

  private evalItems(items: Expr[], scope: Scope): Value[] {
    const out: Value[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item.t === 'starred') {
        const v = this.eval(item.value, scope);
        const expanded = this.iterate(v, this.locOf(item.span, scope.module));
        if (expanded) out.push(...expanded);
        else out.push(UNKNOWN);
      } else out.push(this.eval(item, scope));
    }
    return out;
  }

  /** Python str() including user __str__/__repr__ and exception messages. */
  strOf(v: Value): string {
    if (v.kind !== 'instance') return pyStr(v);
    const method = this.lookupClassAttr(v.cls, '__str__') ?? this.lookupClassAttr(v.cls, '__repr__');
    if (method && method.kind === 'function') {
      const r = this.callValue(this.bindMethod(method, v, v.cls), [], EMPTY_KWARGS, this.currentLocation());
      if (r.kind === 'str') return r.value;
    }
    if (v.cls.mro.includes(this.special.baseException)) {
      const args = v.attrs.get('args');
      if (args && args.kind === 'tuple') return args.items.length === 1 ? this.strOf(args.items[0]) : pyRepr(args);
    }
    return pyStr(v);
  }

  makeSet(items: Value[]): DictValue {
    const d = newDict();
    d.isSet = true;
    for (const item of items) dictSet(d, item, NONE);
    return d;
  }

  private evalFString(e: Extract<Expr, { t: 'fstring' }>, scope: Scope): Value {
    let out = '';
    for (const part of e.parts) {
      if (typeof part === 'string') { out += part; continue; }
      const v = this.eval(part.expr, scope);
      if (v.kind === 'unknown') return unknownV('f-string');
      const spec = part.format && part.format.t === 'const' ? String(part.format.value) : '';
      out += part.conversion === 'r' ? pyRepr(v) : v.kind === 'instance' && !spec ? this.strOf(v) : formatValue(v, spec, this);
    }
    return strV(out);
  }

  private evalCompare(e: Extract<Expr, { t: 'compare' }>, scope: Scope): Value {
    let left = this.eval(e.first, scope);
    let result: Value = TRUE;
    const loc = this.locOf(e.span, scope.module);
    for (let i = 0; i < e.ops.length; i++) {
      const right = this.eval(e.rest[i], scope);
      const r = this.compareOp(e.ops[i], left, right, loc);
      if (r.kind === 'tensor') return r;
      const t = truthy(r);
      if (t === false) return FALSE;
      if (t === undefined) result = UNKNOWN;
      left = right;
    }
    return result;
  }

  compareOp(op: string, a: Value, b: Value, loc: SourceLocation): Value {
    switch (op) {
      case 'is': { const r = pyIs(a, b); return r === undefined ? UNKNOWN : boolV(r); }
      case 'is not': { const r = pyIs(a, b); return r === undefined ? UNKNOWN : boolV(!r); }
      case 'in': return this.containsRegistered(b, a, loc);
      case 'not in': { const r = truthy(this.containsRegistered(b, a, loc)); return r === undefined ? UNKNOWN : boolV(!r); }
      default: break;
    }
    if (a.kind === 'tensor' || b.kind === 'tensor') return this.tensorBinaryOp(op, a, b, loc);
    if (op === '==' || op === '!=') {
      if (a.kind === 'instance' || b.kind === 'instance') {
        const inst = (a.kind === 'instance' ? a : b) as InstanceValue;
        const eq = this.lookupClassAttr(inst.cls, '__eq__');
        if (eq && eq.kind === 'function') {
          const other = inst === a ? b : a;
          const r = truthy(this.callValue(this.bindMethod(eq, inst, inst.cls), [other], new Map(), loc));
          if (r === undefined) return UNKNOWN;
          return boolV(op === '==' ? r : !r);
        }
      }
      const r = pyEquals(a, b);
      if (r === undefined) return UNKNOWN;
      return boolV(op === '==' ? r : !r);
    }
    const cmp = compareValues(a, b);
    if (cmp === undefined) return UNKNOWN;
    switch (op) {
      case '<': return boolV(cmp < 0);
      case '<=': return boolV(cmp <= 0);
      case '>': return boolV(cmp > 0);
      case '>=': return boolV(cmp >= 0);
      default: return UNKNOWN;
    }
  }

  /**
   * Before library code reads a whole module-level dict (iterates it, lists its keys, misses in
   * .get), a model registry among them is completed first: listing models by name must see
   * every registered one (see completeRegistry).
   */
  readWholeLibraryDict(d: DictValue, loc: SourceLocation): void {
    if (loc.file !== this.mainFile && !d.isSet && registryLike(d)) this.completeRegistry(d);
  }

  /**
   * The items of an instance of a dict subclass (class Output(OrderedDict), class Cfg(dict)),
   * made on first use; undefined for any other instance. dict's own methods, subscripts,
   * iteration, len and `in` work on them; the instance keeps its attributes apart, as in Python.
   */
  dictOfInstance(v: InstanceValue): DictValue | undefined {
    const known = this.instanceDicts.get(v);
    if (known) return known;
    const dictClass = this.kindClasses.get('dict');
    if (!dictClass || v.module || !v.cls.mro.includes(dictClass)) return undefined;
    const items = newDict(true);
    this.instanceDicts.set(v, items);
    return items;
  }
  private readonly instanceDicts = new WeakMap<InstanceValue, DictValue>();

  /** A key missing from a library dict: complete it if it is a model registry (see completeRegistry). */
  completeRegistryOnMiss(d: DictValue, loc: SourceLocation): void {
    if (loc.file !== this.mainFile) this.completeRegistry(d);
  }

  /** `item in container`, completing a library's model registry on a miss (see completeRegistry). */
  private containsRegistered(container: Value, item: Value, loc: SourceLocation): Value {
    const found = this.contains(container, item);
    if (found.kind === 'bool' && !found.value && container.kind === 'dict' && loc.file !== this.mainFile && this.completeRegistry(container)) {
      return this.contains(container, item);
    }
    return found;
  }

  /**
   * Model registries (torchvision's BUILTIN_MODELS behind get_model, timm's _model_entrypoints
   * behind create_model) are module-level dicts that decorators fill when the package's
   * `from .x import *` modules run. Those modules run lazily here, so the first miss in a
   * library's module-level dict runs the rest of the package (star sources and deferred
   * submodule imports, recursively) once; the caller then looks again. Other analyses never pay.
   */
  private completeRegistry(d: DictValue): boolean {
    // While a library module runs, a miss is its own registration (`if key in BUILTIN_MODELS: raise`).
    if (this.libraryModulesLoading > 0 || this.registriesCompleted.has(d)) return false;
    const owner = this.libraryModuleOf(d);
    if (!owner) return false;
    // The package's own files (torchvision/models/resnet.py analyzed as the file) register, not look up.
    const root = owner.name.split('.')[0] + '.';
    this.registriesCompleted.add(d);
    for (const r of this.modules.values()) if (r.file === this.mainFile && (r.name + '.').startsWith(root)) return false;
    const before = this.modules.size;
    let ran = false;
    const visited = new Set<ModuleRecord>();
    const runPackage = (pkg: ModuleRecord): void => {
      if (visited.has(pkg)) return;
      visited.add(pkg);
      this.ensureLoaded(pkg);
      for (const src of pkg.starSources) {
        if (!src.file) continue;
        if (src.state === 'unloaded') ran = true;
        this.ensureLoaded(src);
        if (src.isPackage) runPackage(src);
      }
      for (const name of [...(pkg.deferred?.keys() ?? [])]) {
        const v = this.resolveDeferred(pkg, name);
        const sub = v?.kind === 'pymodule' ? this.recordOf(v) : undefined;
        if (sub?.file && sub.isPackage && sub.name.startsWith(pkg.name + '.')) { ran = true; runPackage(sub); }
      }
    };
    for (let name = owner.name; name.includes('.');) {
      name = name.slice(0, name.lastIndexOf('.'));
      const pkg = this.modules.get(name);
      if (pkg?.file && pkg.isPackage) runPackage(pkg);
    }
    return ran || this.modules.size > before;
  }

  /**
   * The library module whose global `d` is. Modules are scanned once each, after they load, and
   * only when one has loaded since the last look: a miss on a kwargs dict costs a counter check.
   */
  private libraryModuleOf(d: DictValue): ModuleRecord | undefined {
    if (this.libraryDictsScannedAt !== this.modulesLoaded) {
      this.libraryDictsScannedAt = this.modulesLoaded;
      for (const r of this.modules.values()) {
        if (r.state !== 'loaded' || !r.file || r.file === this.mainFile || this.libraryModulesScanned.has(r)) continue;
        this.libraryModulesScanned.add(r);
        for (const v of r.value.attrs.values()) if (v.kind === 'dict' && !this.libraryDicts.has(v)) this.libraryDicts.set(v, r);
      }
    }
    return this.libraryDicts.get(d);
  }

  contains(container: Value, item: Value): Value {
    switch (container.kind) {
      case 'dict': {
        const k = dictKey(item);
        if (k === undefined) return UNKNOWN;
        return boolV(container.entries.has(k));
      }
      case 'list': case 'tuple': {
        let unknown = false;
        for (const x of container.items) {
          const eq = pyEquals(x, item);
          if (eq) return TRUE;
          if (eq === undefined) unknown = true;
        }
        return unknown ? UNKNOWN : FALSE;
      }
      case 'str': return item.kind === 'str' ? boolV(container.value.includes(item.value)) : UNKNOWN;
      case 'instance': {
        if (container.module) {
          const k = item.kind === 'str' ? item.value : undefined;
          if (k !== undefined && this.isModuleDictLike(container)) return boolV(container.module.children.has(k) || container.module.params.has(k));
        }
        const has = container.module ? undefined : this.lookupClassAttr(container.cls, '__contains__');
        if (has) return this.callValue(this.bindMethod(has, container, container.cls), [item], EMPTY_KWARGS, this.currentLocation());
        const items = this.iterate(container, this.currentLocation());
        if (items) return this.contains(listV(items), item);
        return UNKNOWN;
      }
      case 'class': {
        const items = this.iterate(container, this.currentLocation());
        if (items) return this.contains(listV(items), item);
        return UNKNOWN;
      }
      default: return UNKNOWN;
    }
  }

  isModuleDictLike(v: InstanceValue): boolean {
    return v.cls.mro.some((c) => c.name === 'ModuleDict' || c.name === 'ParameterDict');
  }

  /** A tensor operator; recorded as a graph node when the trace records one. */
  private tensorBinaryOp(op: string, a: Value, b: Value, loc: SourceLocation): Value {
    const run = (): Value => this.catalog.binaryOp(op as BinaryOperator, a, b, this.makeContext(loc));
    const graph = this.tracing?.graph;
    return graph ? graph.operator(operatorName(op), [a, b], loc, run) : run();
  }

  /**
   * `x op= y` on a tensor. The result keeps x's identity (aliases of x see the new value), and
   * it is made inside the recorded call, so the graph re-points x to this node (`imul`, `iadd`):
   * later reads of x then read the updated tensor, not the one before the operator.
   */
  private tensorInplaceOp(op: string, a: TensorValue, b: Value, loc: SourceLocation): Value {
    const run = (): Value => {
      const result = this.catalog.binaryOp(op as BinaryOperator, a, b, this.makeContext(loc));
      if (result.kind !== 'tensor' || !result.shape || !a.shape) return result;
      const target = a.shape;
      const grows = result.shape.length !== target.length || result.shape.some((d, i) => dim.dimEquals(d, target[i]!) === false);
      if (grows) {
        this.diagnostic('error', messages.inplaceShapeChange(op, dim.shapeToString(target), dim.shapeToString(result.shape)), loc);
        return { ...result, shape: null, id: a.id };
      }
      return { ...result, id: a.id };
    };
    const graph = this.tracing?.graph;
    return graph ? graph.operator('i' + operatorName(op), [a, b], loc, run) : run();
  }

  binaryOp(op: string, a: Value, b: Value, loc: SourceLocation): Value {
    if (a.kind === 'unknown' || b.kind === 'unknown') return UNKNOWN;
    if (a.kind === 'tensor' || b.kind === 'tensor') return this.tensorBinaryOp(op, a, b, loc);
    // Numbers (bool counts as int).
    if ((isIntLike(a) || a.kind === 'float') && (isIntLike(b) || b.kind === 'float')) return this.numericOp(op, a, b, loc);
    switch (op) {
      case '+':
        if (a.kind === 'str' && b.kind === 'str') return strV(a.value + b.value);
        if (a.kind === 'list' && b.kind === 'list') return listV([...a.items, ...b.items]);
        if (a.kind === 'tuple' && b.kind === 'tuple') return tupleV([...a.items, ...b.items]);
        break;
      case '*': {
        const seq = a.kind === 'int' || a.kind === 'bool' ? b : a;
        const count = numberOf(a.kind === 'int' || a.kind === 'bool' ? a : b);
        if (count === undefined || count > 1e6) break;
        if (seq.kind === 'str') return strV(seq.value.repeat(Math.max(0, count)));
        if (seq.kind === 'list' || seq.kind === 'tuple') {
          const items: Value[] = [];
          for (let i = 0; i < count; i++) items.push(...seq.items);
          return seq.kind === 'list' ? listV(items) : tupleV(items);
        }
        break;
      }
      case '%':
        if (a.kind === 'str') return strV(percentFormat(a.value, b, this));
        break;
      case '|':
        if (a.kind === 'dict' && b.kind === 'dict') {
          const d = newDict(a.ordered);
          d.isSet = a.isSet;
          for (const e of a.entries.values()) dictSet(d, e.key, e.value);
          for (const e of b.entries.values()) dictSet(d, e.key, e.value);
          return d;
        }
        // typing unions (int | None)
        return UNKNOWN;
      case '&': case '-':
        if (a.kind === 'dict' && b.kind === 'dict' && a.isSet) {
          const d = newDict();
          d.isSet = true;
          for (const [k, e] of a.entries) if (op === '&' ? b.entries.has(k) : !b.entries.has(k)) d.entries.set(k, e);
          return d;
        }
        break;
      default: break;
    }
    if (a.kind === 'instance') {
      const method = this.lookupClassAttr(a.cls, dunderOf(op));
      if (method) return this.callValue(this.bindMethod(method, a, a.cls), [b], new Map(), loc);
    }
    if (b.kind === 'instance') {
      const method = this.lookupClassAttr(b.cls, '__r' + dunderOf(op).slice(2));
      if (method) return this.callValue(this.bindMethod(method, b, b.cls), [a], new Map(), loc);
    }
    const pa = mixinValueOf(a);
    const pb = mixinValueOf(b);
    if (pa !== a || pb !== b) return this.binaryOp(op, pa, pb, loc);
    return UNKNOWN;
  }

  private numericOp(op: string, a: Value, b: Value, loc: SourceLocation): Value {
    const isFloat = a.kind === 'float' || b.kind === 'float';
    if (!isFloat) {
      const x = dimOf(a)!;
      const y = dimOf(b)!;
      if (typeof x === 'number' && typeof y === 'number') {
        switch (op) {
          case '+': return intV(x + y);
          case '-': return intV(x - y);
          case '*': return intV(x * y);
          case '/': if (y === 0) this.raise('ZeroDivisionError', messages.divisionByZero(), loc); return floatV(x / y);
          case '//': if (y === 0) this.raise('ZeroDivisionError', messages.divisionByZero(), loc); return intV(floorDivNum(x, y));
          case '%': if (y === 0) this.raise('ZeroDivisionError', messages.divisionByZero(), loc); return intV(modNum(x, y));
          case '**': return y >= 0 ? intV(x ** y) : floatV(x ** y);
          case '<<': return intV(x * 2 ** y);
          case '>>': return intV(Math.floor(x / 2 ** y));
          case '&': return a.kind === 'bool' && b.kind === 'bool' ? boolV(!!(x & y)) : intV(x & y);
          case '|': return a.kind === 'bool' && b.kind === 'bool' ? boolV(!!(x | y)) : intV(x | y);
          case '^': return a.kind === 'bool' && b.kind === 'bool' ? boolV(!!(x ^ y)) : intV(x ^ y);
          default: return UNKNOWN;
        }
      }
      switch (op) {
        case '+': return intV(dim.add(x, y));
        case '-': return intV(dim.sub(x, y));
        case '*': return intV(dim.mul(x, y));
        case '//': return intV(dim.floorDiv(x, y));
        case '%': return intV(dim.mod(x, y));
        default: return UNKNOWN;
      }
    }
    const x = numberOf(a);
    const y = numberOf(b);
    if (x === undefined || y === undefined) return UNKNOWN;
    switch (op) {
      case '+': return floatV(x + y);
      case '-': return floatV(x - y);
      case '*': return floatV(x * y);
      case '/': if (y === 0) this.raise('ZeroDivisionError', messages.divisionByZero(), loc); return floatV(x / y);
      case '//': if (y === 0) this.raise('ZeroDivisionError', messages.divisionByZero(), loc); return floatV(Math.floor(x / y));
      case '%': return floatV(modNum(x, y));
      case '**': return floatV(x ** y);
      default: return UNKNOWN;
    }
  }

  unaryOp(op: string, v: Value, loc: SourceLocation): Value {
    if (op === 'not') {
      const t = this.conditionOf(v);
      return t === undefined ? UNKNOWN : boolV(!t);
    }
    if (v.kind === 'tensor') {
      const run = (): Value => this.catalog.unaryOp(op as '-' | '+' | '~', v, this.makeContext(loc));
      const graph = this.tracing?.graph;
      return graph ? graph.operator(operatorName(`unary${op}`), [v], loc, run) : run();
    }
    const d = dimOf(v);
    if (d !== undefined) {
      if (op === '-') return intV(typeof d === 'number' ? -d : dim.sub(0, d));
      if (op === '+') return intV(d);
      if (op === '~' && typeof d === 'number') return intV(-d - 1);
      return UNKNOWN;
    }
    if (v.kind === 'float') return op === '-' ? floatV(-v.value) : op === '+' ? v : UNKNOWN;
    return UNKNOWN;
  }

  private evalComprehension(e: Extract<Expr, { t: 'comp' }>, scope: Scope): Value {
    const inner = new Scope(scope, scope.module, 'comp', undefined);
    const results: Value[] = [];
    const dict = e.kind === 'dict' ? newDict() : undefined;
    const loc = this.locOf(e.span, scope.module);
    // An iterable it cannot follow makes the whole result unknown (an empty list would be a guess).
    let unknownItems = false;
    const run = (i: number): void => {
      if (unknownItems) return;
      if (i === e.clauses.length) {
        this.step();
        const v = this.eval(e.elt, inner);
        if (dict) dictSet(dict, v, this.eval(e.value!, inner));
        else results.push(v);
        return;
      }
      const clause = e.clauses[i];
      if (clause.t === 'if') {
        const c = this.conditionOf(this.eval(clause.test, inner));
        if (c === false) return;
        run(i + 1);
        return;
      }
      const items = this.iterate(this.eval(clause.iter, inner), loc);
      if (!items) {
        this.diagnostic('info', messages.unknownIteration(), loc, 'unknown-iteration');
        unknownItems = true;
        return;
      }
      for (const item of items) {
        this.assign(clause.target, item, inner);
        run(i + 1);
      }
    };
    run(0);
    if (unknownItems) return UNKNOWN;
    if (dict) return dict;
    if (e.kind === 'set') return this.makeSet(results);
    if (e.kind === 'gen') return this.makeIterator(results);
    return listV(results);
  }

  makeIterator(items: Value[]): InstanceValue {
    const it: InstanceValue = { kind: 'instance', cls: this.special.iterator, attrs: new Map(), module: undefined, id: this.nextTensorId++ };
    this.iteratorState.set(it, { items, pos: 0 });
    return it;
  }

  // -------------------------------------------------------------------------------------
  // Iteration, items

  /** The items of an iterable, or undefined when unknown. Iterators are consumed. */
  iterate(v: Value, loc: SourceLocation): Value[] | undefined {
    switch (v.kind) {
      case 'list': case 'tuple': return v.items.slice();
      case 'str': return [...v.value].map(strV);
      case 'dict': {
        this.readWholeLibraryDict(v, loc);
        return [...v.entries.values()].map((e) => e.key);
      }
      case 'tensor': {
        const n = v.shape && v.shape.length > 0 ? dim.constValue(v.shape[0]) : undefined;
        if (n === undefined || n > 4096) return undefined;
        const out: Value[] = [];
        for (let i = 0; i < n; i++) out.push(this.catalog.getItem(v, intV(i), this.makeContext(loc)));
        return out;
      }
      case 'instance': {
        const st = this.iteratorState.get(v);
        if (st) { const rest = st.items.slice(st.pos); st.pos = st.items.length; return rest; }
        const iter = this.lookupClassAttr(v.cls, '__iter__');
        if (iter) {
          const r = this.callValue(this.bindMethod(iter, v, v.cls), [], EMPTY_KWARGS, loc);
          if (r.kind === 'instance' && r === v) return undefined;
          return this.iterate(r, loc);
        }
        const fields = this.namedTupleFields(v.cls);
        if (fields) return fields.map((f) => v.attrs.get(f) ?? UNKNOWN);
        const getitem = this.lookupClassAttr(v.cls, '__getitem__');
        const len = this.lookupClassAttr(v.cls, '__len__');
        if (getitem && len) {
          const n = numberOf(this.callValue(this.bindMethod(len, v, v.cls), [], EMPTY_KWARGS, loc));
          if (n === undefined) return undefined;
          const out: Value[] = [];
          for (let i = 0; i < n; i++) out.push(this.callValue(this.bindMethod(getitem, v, v.cls), [intV(i)], new Map(), loc));
          return out;
        }
        const items = this.dictOfInstance(v);
        return items ? this.iterate(items, loc) : undefined;
      }
      case 'class': {
        const members = v.attrs.get('__members__');
        if (members && members.kind === 'dict') return [...new Set([...members.entries.values()].map((e) => e.value))]; // aliases once
        return undefined;
      }
      default: return undefined;
    }
  }

  namedTupleFields(cls: ClassValue): string[] | undefined {
    for (const c of cls.mro) {
      const f = c.attrs.get('_fields');
      if (f && f.kind === 'tuple' && c.attrs.has('__namedtuple__')) return f.items.map((x) => (x.kind === 'str' ? x.value : ''));
    }
    return undefined;
  }

  getItem(obj: Value, index: Value, loc: SourceLocation): Value {
    switch (obj.kind) {
      case 'list': case 'tuple': {
        if (index.kind === 'slice') {
          const items = sliceItems(obj.items, index);
          if (!items) return UNKNOWN;
          return obj.kind === 'list' ? listV(items) : tupleV(items);
        }
        const i = numberOf(index);
        if (i === undefined || index.kind === 'float') return UNKNOWN;
        const j = i < 0 ? obj.items.length + i : i;
        if (j < 0 || j >= obj.items.length) this.raise('IndexError', messages.indexOutOfRange(String(i), obj.items.length), loc);
        return obj.items[j];
      }
      case 'str': {
        if (index.kind === 'slice') {
          const items = sliceItems([...obj.value].map(strV), index);
          return items ? strV(items.map((s) => (s as { value: string }).value).join('')) : UNKNOWN;
        }
        const i = numberOf(index);
        if (i === undefined) return UNKNOWN;
        const ch = obj.value.at(i);
        if (ch === undefined) this.raise('IndexError', messages.indexOutOfRange(String(i), obj.value.length), loc);
        return strV(ch);
      }
      case 'dict': {
        const v = dictGet(obj, index);
        if (v !== undefined) return v;
        if (dictKey(index) === undefined || index.kind === 'unknown') return UNKNOWN;
        if (obj.defaultFactory) {
          const made = this.callValue(obj.defaultFactory, [], EMPTY_KWARGS, loc);
          dictSet(obj, index, made);
          return made;
        }
        if (obj.missingValue) return obj.missingValue;
        if (loc.file !== this.mainFile && this.completeRegistry(obj)) {
          const registered = dictGet(obj, index);
          if (registered !== undefined) return registered;
        }
        this.raise('KeyError', messages.keyNotFound(pyRepr(index)), loc);
        break;
      }
      case 'tensor': {
        const graph = this.tracing?.graph;
        const run = (): Value => this.catalog.getItem(obj, index, this.makeContext(loc));
        return graph ? graph.operator('getitem', [obj, index], loc, run) : run();
      }
      case 'instance': {
        const getitem = this.lookupClassAttr(obj.cls, '__getitem__');
        if (getitem) return this.callValue(this.bindMethod(getitem, obj, obj.cls), [index], new Map(), loc);
        const fields = this.namedTupleFields(obj.cls);
        if (fields) return this.getItem(tupleV(fields.map((f) => obj.attrs.get(f) ?? UNKNOWN)), index, loc);
        const items = this.dictOfInstance(obj);
        return items ? this.getItem(items, index, loc) : UNKNOWN;
      }
      case 'class': {
        const members = obj.attrs.get('__members__');
        if (members && members.kind === 'dict' && index.kind === 'str') {
          const m = dictGet(members, index);
          if (m) return m;
          this.raise('KeyError', messages.keyNotFound(pyRepr(index)), loc);
        }
        // __class_getitem__ is an implicit classmethod: it gets the class subscripted.
        const cgi = this.lookupClassAttr(obj, '__class_getitem__');
        if (cgi) {
          const impl = cgi.kind === 'function' ? fnImpl(cgi) : undefined;
          return this.callValue(this.bindValue(impl?.kind === 'classmethod' ? impl.fn : cgi, obj), [index], new Map(), loc);
        }
        // typing generics (List[int], Optional[X]) and builtin generics (list[int]).
        return UNKNOWN;
      }
      default: return UNKNOWN;
    }
    return UNKNOWN;
  }

  setItem(obj: Value, index: Value, value: Value, loc: SourceLocation): void {
    switch (obj.kind) {
      case 'list': {
        if (index.kind === 'slice') {
          const items = this.iterate(value, loc);
          const start = index.start.kind === 'none' ? 0 : numberOf(index.start);
          const stop = index.stop.kind === 'none' ? obj.items.length : numberOf(index.stop);
          if (items && start !== undefined && stop !== undefined && index.step.kind === 'none') {
            const s = start < 0 ? obj.items.length + start : start;
            const t = stop < 0 ? obj.items.length + stop : stop;
            obj.items.splice(s, Math.max(0, t - s), ...items);
          }
          return;
        }
        const i = numberOf(index);
        if (i === undefined) return;
        const j = i < 0 ? obj.items.length + i : i;
        if (j < 0 || j >= obj.items.length) this.raise('IndexError', messages.indexOutOfRange(String(i), obj.items.length), loc);
        obj.items[j] = value;
        return;
      }
      case 'dict': dictSet(obj, index, value); return;
      case 'instance': {
        const setitem = this.lookupClassAttr(obj.cls, '__setitem__');
        if (setitem) this.callValue(this.bindMethod(setitem, obj, obj.cls), [index, value], new Map(), loc);
        else { const items = this.dictOfInstance(obj); if (items) dictSet(items, index, value); }
        return;
      }
      default: return; // tensors: in-place writes keep the shape
    }
  }

  // -------------------------------------------------------------------------------------
  // Attributes

  /** Attribute on a class through its MRO (raw, not bound). */
  lookupClassAttr(cls: ClassValue, name: string): Value | undefined {
    // Cached per class; any write to a class namespace bumps classEpoch (see noteClassChange).
    let cache = this.classAttrCache.get(cls);
    if (!cache || cache.epoch !== this.classEpoch) {
      cache = { epoch: this.classEpoch, members: new Map() };
      this.classAttrCache.set(cls, cache);
    }
    if (cache.members.has(name)) return cache.members.get(name) ?? undefined;
    let found: Value | undefined;
    for (const c of cls.mro) {
      found = c.attrs.get(name) ?? this.synthesizedMember(c, name);
      if (found !== undefined) break;
    }
    cache.members.set(name, found ?? null);
    return found;
  }

  private classAttrCache = new WeakMap<ClassValue, { epoch: number; members: Map<string, Value | null> }>();
  private classEpoch = 0;

  /** Class namespaces changed (a class body ran, setattr on a class, a class decorator): drop cached lookups. */
  noteClassChange(): void {
    this.classEpoch++;
  }

  /** Where in the MRO a class attribute is found (for super()). */
  lookupClassAttrAfter(cls: ClassValue, start: ClassValue, name: string): Value | undefined {
    const i = cls.mro.indexOf(start);
    for (let k = i + 1; k < cls.mro.length; k++) {
      const c = cls.mro[k];
      const v = c.attrs.get(name);
      if (v !== undefined) return v;
      const synth = this.synthesizedMember(c, name);
      if (synth) return synth;
    }
    return undefined;
  }

  /** `__init__` / `forward` of catalog layer classes, made from their ModuleSpec on demand. */
  private synthesizedMember(c: ClassValue, name: string): Value | undefined {
    if (!c.builtinModule || (name !== '__init__' && name !== 'forward')) return undefined;
    let members = this.synthesizedMembers.get(c);
    if (!members) {
      members = new Map();
      this.synthesizedMembers.set(c, members);
    }
    let v = members.get(name);
    if (!v) {
      v = this.nn.specMember(c, name as '__init__' | 'forward');
      members.set(name, v);
    }
    return v;
  }

  /** Set by nn.ts. */
  nn!: {
    specMember(c: ClassValue, name: '__init__' | 'forward'): BuiltinFunctionValue;
    getModuleAttr(inst: InstanceValue, name: string): Value | undefined;
    setModuleAttr(inst: InstanceValue, name: string, value: Value): boolean;
    callModule(inst: InstanceValue, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): Value;
    newModuleState(inst: InstanceValue): void;
  };

  bindMethod(member: Value, self: Value, cls: ClassValue): Value {
    if (member.kind === 'function') {
      const impl = fnImpl(member);
      if (impl.kind === 'staticmethod') return impl.fn;
      if (impl.kind === 'classmethod') return this.bindValue(impl.fn, cls);
      if (impl.kind === 'property') return member;
      return { kind: 'function', name: member.name, impl: member.impl, self };
    }
    if (member.kind === 'builtin') return { kind: 'builtin', name: member.name, call: member.call, self };
    return member;
  }

  private bindValue(fn: Value, self: Value): Value {
    if (fn.kind === 'function') return { kind: 'function', name: fn.name, impl: fn.impl, self };
    if (fn.kind === 'builtin') return { kind: 'builtin', name: fn.name, call: fn.call, self };
    return fn;
  }

  getAttr(obj: Value, name: string, loc: SourceLocation): Value {
    switch (obj.kind) {
      case 'instance': return this.instanceAttr(obj, name, loc);
      case 'class': return this.classAttr(obj, name, loc);
      case 'pymodule': {
        const v = this.moduleAttr(obj, name);
        if (v !== undefined) return v;
        const record = this.recordOf(obj);
        if (name === '__dict__') return record ? this.moduleNamespace(record) : UNKNOWN;
        if (record?.file === this.mainFile || loc.file === this.mainFile) this.diagnostic('warning', messages.unknownAttribute(`module ${obj.name}`, name), loc, 'unknown-attribute');
        return missingAttr(name);
      }
      case 'tensor': {
        const attr = this.catalog.tensorAttribute(obj, name, this.makeContext(loc));
        if (attr !== undefined) return attr;
        if (name === 'requires_grad') return boolV(obj.requiresGrad ?? !!obj.isParameter);
        const method = this.catalog.tensorMethod(name);
        if (method) return { kind: 'builtin', name, call: method, self: obj };
        return unknownV(`Tensor.${name}`);
      }
      case 'function': {
        const impl = fnImpl(obj);
        const own = impl.attrs.get(name);
        if (own !== undefined) return own;
        if (name === '__name__' || name === '__qualname__') return strV(impl.kind === 'user' ? (name === '__name__' ? impl.def.name : impl.qualname) : obj.name);
        if (name === '__wrapped__' && impl.kind === 'partial') return impl.fn;
        if (impl.kind === 'partial') {
          if (name === 'func') return impl.fn;
          if (name === 'args') return tupleV(impl.args);
          if (name === 'keywords') { const d = newDict(); for (const [k, v] of impl.kwargs) dictSet(d, strV(k), v); return d; }
        }
        if (impl.kind === 'property') {
          if (name === 'setter') return { kind: 'builtin', name: 'setter', call: (args) => ({ kind: 'function', name: obj.name, impl: { ...impl, fset: args[0], attrs: new Map() } }) };
          if (name === 'getter') return { kind: 'builtin', name: 'getter', call: (args) => ({ kind: 'function', name: obj.name, impl: { ...impl, fget: args[0], attrs: new Map() } }) };
          if (name === 'fget') return impl.fget;
        }
        if (name === '__self__' && obj.self) return obj.self;
        if (name === '__func__') return { kind: 'function', name: obj.name, impl: obj.impl };
        if (name === '__module__') return impl.kind === 'user' ? strV(impl.closure.module.name) : UNKNOWN;
        if (name === '__doc__' || name === '__annotations__' || name === '__defaults__') return NONE;
        return missingAttr(name);
      }
      case 'builtin':
        if (name === '__name__' || name === '__qualname__') return strV(obj.name);
        return missingAttr(name);
      default: {
        if (obj.kind === 'tuple' && obj.fields) {
          const field = obj.fields.indexOf(name);
          if (field >= 0) return obj.items[field] ?? UNKNOWN;
        }
        const methods = this.valueMethods.get(obj.kind === 'dict' && obj.isSet ? 'set' : obj.kind);
        const m = methods?.get(name);
        if (m) return { kind: 'builtin', name, call: m, self: obj };
        if (obj.kind === 'int' || obj.kind === 'float') {
          if (name === 'real') return obj;
          if (name === 'imag') return intV(0);
        }
        if (obj.kind === 'slice') { if (name === 'start') return obj.start; if (name === 'stop') return obj.stop; if (name === 'step') return obj.step; }
        if (name === '__class__') return this.typeOf(obj);
        if (obj.kind !== 'unknown') {
          if (loc.file === this.mainFile) this.diagnostic('warning', messages.unknownAttribute(this.typeOf(obj).name, name), loc, 'unknown-attribute');
        }
        // A member of a torch submodule the catalog lacks (torch.signal.windows.gaussian) keeps its
        // dotted name, so calling it says which function Netlens does not know.
        if (obj.kind === 'unknown' && obj.reason && TORCH_MODULE_PATH.test(obj.reason)) return unknownV(`${obj.reason}.${name}`);
        return missingAttr(name);
      }
    }
  }

  private instanceAttr(obj: InstanceValue, name: string, loc: SourceLocation): Value {
    // Only super() proxies are in superState: skip the WeakMap lookup for every other instance.
    const sup = obj.cls === this.special.superProxy ? this.superState.get(obj) : undefined;
    if (sup) {
      const objCls = sup.obj.kind === 'instance' ? sup.obj.cls : sup.obj.kind === 'class' ? sup.obj : undefined;
      if (!objCls) return UNKNOWN;
      const v = this.lookupClassAttrAfter(objCls, sup.start, name);
      if (v === undefined) return missingAttr(name);
      if (v.kind === 'function' && fnImpl(v).kind === 'property') return this.callValue(fnImpl(v).kind === 'property' ? (fnImpl(v) as { fget: Value }).fget : v, [sup.obj], new Map(), loc);
      if (sup.obj.kind === 'class') {
        if (v.kind === 'function' && fnImpl(v).kind === 'classmethod') return this.bindValue((fnImpl(v) as { fn: Value }).fn, sup.obj);
        return v;
      }
      return this.bindMethod(v, sup.obj, objCls);
    }
    // Data descriptors (properties) come first, like Python.
    const classMember = this.lookupClassAttr(obj.cls, name);
    if (classMember && classMember.kind === 'function') {
      const impl = fnImpl(classMember);
      if (impl.kind === 'property') return this.callValue(impl.fget, [obj], new Map(), loc);
    }
    const own = obj.attrs.get(name);
    if (own !== undefined) return own;
    if (obj.module) {
      const m = this.nn.getModuleAttr(obj, name);
      if (m !== undefined && classMember === undefined) return m;
    }
    if (classMember !== undefined) return this.bindMethod(classMember, obj, obj.cls);
    if (name === '__class__') return obj.cls;
    // A dict subclass (HF's ModelOutput, an AttrDict config) has dict's methods over its items.
    const items = obj.module ? undefined : this.dictOfInstance(obj);
    const dictMethod = items ? this.valueMethods.get('dict')?.get(name) : undefined;
    if (dictMethod) return { kind: 'builtin', name, call: dictMethod, self: items };
    if (name === '__dict__') {
      const d = newDict();
      for (const [k, v] of obj.attrs) dictSet(d, strV(k), v);
      return d;
    }
    const getattr = this.lookupClassAttr(obj.cls, '__getattr__');
    if (getattr && getattr.kind === 'function') return this.callValue(this.bindMethod(getattr, obj, obj.cls), [strV(name)], new Map(), loc);
    // `__getattr__ = dict.__getitem__` (AttrDict / EasyDict configs): a builtin takes the instance first.
    if (getattr && getattr.kind === 'builtin' && this.unboundBuiltins.has(getattr)) return this.callValue(getattr, [obj, strV(name)], new Map(), loc);
    const mixin = mixinValueOf(obj);
    if (mixin !== obj) return this.getAttr(mixin, name, loc);
    if (this.isFullyKnownClass(obj.cls)) {
      // On a catalog layer the attribute may be real PyTorch state the catalog does not model.
      const certain = !!obj.module && !obj.cls.mro.some((c) => c.builtinModule);
      this.diagnostic(certain ? 'error' : 'warning', messages.unknownAttribute(obj.cls.name, name), loc, 'unknown-attribute');
    }
    return missingAttr(name);
  }

  /** True when every class in the MRO is interpreted or builtin (no unknown bases). */
  isFullyKnownClass(cls: ClassValue): boolean {
    return !cls.attrs.has('__has_unknown_base__') && !cls.mro.some((c) => c.attrs.has('__has_unknown_base__'));
  }

  private classAttr(cls: ClassValue, name: string, loc: SourceLocation): Value {
    const v = this.lookupClassAttr(cls, name);
    if (v !== undefined) {
      if (v.kind === 'function') {
        const impl = fnImpl(v);
        if (impl.kind === 'classmethod') return this.bindValue(impl.fn, cls);
        if (impl.kind === 'staticmethod') return impl.fn;
      }
      return v;
    }
    switch (name) {
      case '__name__': case '__qualname__': return strV(cls.name);
      case '__mro__': return tupleV(cls.mro);
      case '__bases__': return tupleV(cls.mro.length > 1 ? [cls.mro[1]] : []);
      case '__class__': return this.special.type;
      case '__module__': return strV(cls.location?.file ?? 'builtins');
      case '__dict__': { const d = newDict(); for (const [k, x] of cls.attrs) dictSet(d, strV(k), x); return d; }
      case '__doc__': return NONE;
      default: break;
    }
    // Unbound methods of the built-in types (dict.__getitem__, list.append, str.join): the
    // instance comes first; an instance of a dict subclass stands for its items.
    const unbound = this.unboundValueMethod(cls, name);
    if (unbound) return unbound;
    if (this.isFullyKnownClass(cls) && loc.file === this.mainFile && !cls.builtinModule) {
      this.diagnostic('warning', messages.unknownAttribute(cls.name, name), loc, 'unknown-attribute');
    }
    return missingAttr(name);
  }

  /** Unbound methods of the built-in types made by unboundValueMethod (dict.__getitem__, ...). */
  private readonly unboundBuiltins = new WeakSet<Value>();

  private unboundValueMethod(cls: ClassValue, name: string): Value | undefined {
    let kind: string | undefined;
    for (const [k, c] of this.kindClasses) if (c === cls) { kind = k; break; }
    const method = kind ? this.valueMethods.get(kind)?.get(name) : undefined;
    if (!method) return undefined;
    const unbound: Value = {
      kind: 'builtin',
      name: `${cls.name}.${name}`,
      call: (args, kwargs, ctx) => {
        const self = args[0];
        const items = kind === 'dict' && self?.kind === 'instance' ? this.dictOfInstance(self) : undefined;
        return method([items ?? self ?? UNKNOWN, ...args.slice(1)], kwargs, ctx);
      },
    };
    this.unboundBuiltins.add(unbound);
    return unbound;
  }

  setAttr(obj: Value, name: string, value: Value, loc: SourceLocation): void {
    switch (obj.kind) {
      case 'instance': {
        const prop = this.lookupClassAttr(obj.cls, name);
        if (prop && prop.kind === 'function') {
          const impl = fnImpl(prop);
          if (impl.kind === 'property') {
            if (impl.fset) this.callValue(impl.fset, [obj, value], new Map(), loc);
            return;
          }
        }
        const setattr = this.lookupClassAttr(obj.cls, '__setattr__');
        if (setattr && setattr.kind === 'function') {
          this.callValue(this.bindMethod(setattr, obj, obj.cls), [strV(name), value], new Map(), loc);
          return;
        }
        // `__setattr__ = dict.__setitem__` (AttrDict configs): the unbound built-in takes the instance first.
        if (setattr && setattr.kind === 'builtin' && this.unboundBuiltins.has(setattr)) {
          this.callValue(setattr, [obj, strV(name), value], new Map(), loc);
          return;
        }
        if (obj.module && this.nn.setModuleAttr(obj, name, value)) return;
        obj.attrs.set(name, value);
        return;
      }
      case 'class': obj.attrs.set(name, value); this.noteClassChange(); return;
      case 'pymodule': obj.attrs.set(name, value); return;
      case 'function': fnImpl(obj).attrs.set(name, value); return;
      case 'tensor':
        if (name === 'requires_grad') { const t = truthy(value); if (t !== undefined) obj.requiresGrad = t; }
        return;
      default: return;
    }
  }

  // -------------------------------------------------------------------------------------
  // Calls

  private evalCall(e: Extract<Expr, { t: 'call' }>, scope: Scope): Value {
    const loc = this.locOf(e.span, scope.module);
    // super() needs the calling frame.
    if (e.fn.t === 'name' && e.fn.id === 'super' && e.args.length === 0 && !scope.vars.has('super')) return this.zeroArgSuper(loc);
    const fn = this.eval(e.fn, scope);
    const args: Value[] = [];
    let hasKeywords = false;
    for (let i = 0; i < e.args.length && !hasKeywords; i++) hasKeywords = e.args[i].kind === 'kw' || e.args[i].kind === 'kwstar';
    const kwargs = hasKeywords ? new Map<string, Value>() : EMPTY_KWARGS;
    for (let i = 0; i < e.args.length; i++) {
      const a = e.args[i];
      switch (a.kind) {
        case 'pos': args.push(this.eval(a.value, scope)); break;
        case 'kw': kwargs.set(a.name, this.eval(a.value, scope)); break;
        case 'star': {
          const v = this.eval(a.value, scope);
          const items = this.iterate(v, loc);
          if (items) args.push(...items);
          // f(*unknown): the arguments, hence the result, are unknown.
          else return UNKNOWN;
          break;
        }
        case 'kwstar': {
          const v = this.eval(a.value, scope);
          if (v.kind === 'dict') {
            for (const entry of v.entries.values()) if (entry.key.kind === 'str') kwargs.set(entry.key.value, entry.value);
          } else if (v.kind !== 'none') return UNKNOWN;
          break;
        }
      }
    }
    if (fn.kind === 'class' && fn.builtinModule && scope.module.file === this.mainFile) {
      const sources = literalArgumentSources(fn.builtinModule.signature, e.args, (span) => this.locOf(span, scope.module));
      if (sources.size) {
        this.pendingLiteralArguments = { cls: fn, sources };
        try {
          return this.callValue(fn, args, kwargs, loc);
        } finally {
          this.pendingLiteralArguments = undefined;
        }
      }
    }
    if (fn === this.evalBuiltin) return this.evalText(args, scope, loc);
    return this.callValue(fn, args, kwargs, loc);
  }

  /**
   * eval(text[, globals[, locals]]) of an expression, in the caller's scope or in the given
   * dicts (YOLO-style layer tables name their modules as strings). The text is data, so its
   * own positions mean nothing in the file: it runs quietly, and a bare name that is not
   * defined raises NameError as in Python (such code catches it to keep the string).
   */
  private evalText(args: Value[], scope: Scope, loc: SourceLocation): Value {
    const [text, globals, locals] = args;
    if (text?.kind !== 'str') return UNKNOWN;
    const parsed = this.config.parse(`(${text.value.trim()})\n`, loc.file);
    const stmt = parsed.body[0];
    if (!stmt || stmt.t !== 'expr' || parsed.syntaxErrors.length) return this.raise('SyntaxError', 'invalid syntax', loc);
    let evalScope = scope;
    if (globals?.kind === 'dict' || locals?.kind === 'dict') {
      const vars = new Map<string, Value>();
      for (const d of [globals, locals]) {
        if (d?.kind !== 'dict') continue;
        for (const entry of d.entries.values()) if (entry.key.kind === 'str') vars.set(entry.key.value, entry.value);
      }
      evalScope = new Scope(scope, scope.module, 'function', undefined, vars);
    }
    const expr = stmt.value;
    if (expr.t === 'name' && !this.nameExists(evalScope, expr.id)) return this.raise('NameError', `name '${expr.id}' is not defined`, loc);
    this.quiet++;
    try {
      return this.eval(expr, evalScope);
    } finally {
      this.quiet--;
    }
  }

  private nameExists(scope: Scope, name: string): boolean {
    for (let s: Scope | null = scope; s; s = s.parent) {
      if (s !== scope && s.kind === 'class') continue;
      if (s.vars.has(name)) return true;
    }
    const m = scope.module;
    return m.value.attrs.has(name) || this.resolveDeferred(m, name) !== undefined || this.starLookup(m, name) !== undefined || this.builtins.has(name);
  }

  private zeroArgSuper(loc: SourceLocation): Value {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i];
      if (f.fn) {
        if (!f.fn.definingClass || f.firstArg === undefined) return UNKNOWN;
        return this.makeSuper(f.fn.definingClass, f.firstArg);
      }
    }
    void loc;
    return UNKNOWN;
  }

  makeSuper(start: ClassValue, obj: Value): Value {
    const proxy: InstanceValue = { kind: 'instance', cls: this.special.superProxy, attrs: new Map(), module: undefined, id: this.nextTensorId++ };
    this.superState.set(proxy, { start, obj });
    return proxy;
  }

  callValue(fn: Value, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): Value {
    this.step();
    switch (fn.kind) {
      case 'builtin': {
        const allArgs = fn.self !== undefined ? withFirst(fn.self, args) : args;
        this.locationStack.push(loc);
        try {
          const graph = this.tracing?.graph;
          if (graph) return graph.call(fn.name, fn.self !== undefined, allArgs, kwargs, loc, () => fn.call(allArgs, kwargs, this.makeContext(loc)));
          return fn.call(allArgs, kwargs, this.makeContext(loc));
        } finally {
          this.locationStack.pop();
        }
      }
      case 'function': {
        const impl = fnImpl(fn);
        switch (impl.kind) {
          case 'user':
            // `model.forward(x)` declares the input as `model(x)` does.
            if (fn.self?.kind === 'instance' && fn.self.module && impl.def.name === 'forward' && this.hooks.onModuleCall) {
              this.hooks.onModuleCall(fn.self, args, kwargs, this.moduleCallDepth);
            }
            return this.callUser(impl, fn.self !== undefined ? withFirst(fn.self, args) : args, kwargs, loc, fn.self);
          case 'partial': {
            const merged = new Map(impl.kwargs);
            for (const [k, v] of kwargs) merged.set(k, v);
            return this.callValue(impl.fn, [...impl.args, ...args], merged, loc);
          }
          case 'staticmethod': return this.callValue(impl.fn, args, kwargs, loc);
          case 'classmethod': return this.callValue(impl.fn, args, kwargs, loc);
          case 'property': return UNKNOWN;
        }
        return UNKNOWN;
      }
      case 'class': return this.instantiate(fn, args, kwargs, loc);
      case 'instance': {
        if (fn.module) return this.nn.callModule(fn, args, kwargs, loc);
        const call = this.lookupClassAttr(fn.cls, '__call__');
        if (call) return this.callValue(this.bindMethod(call, fn, fn.cls), args, kwargs, loc);
        return UNKNOWN;
      }
      case 'unknown':
        if (fn.reason && this.hooks.onUnknownCall) this.hooks.onUnknownCall(fn.reason, args, kwargs);
        // A torch function, layer or tensor method the catalog lacks: say so where the user wrote
        // it. Its result is named differently, so calling that (a module it made) says nothing more.
        if (fn.reason && /^(torch|Tensor)\.[\w.]+$/.test(fn.reason)) {
          if (loc.file === this.mainFile) this.diagnostic('info', messages.unknownTorchMember(fn.reason), loc, 'unknown-torch');
          return unknownV(`${fn.reason}(...)`);
        }
        return unknownV(fn.reason);
      default:
        if (loc.file === this.mainFile) this.diagnostic('info', messages.notCallable(this.typeOf(fn).name), loc, 'not-callable');
        return UNKNOWN;
    }
  }

  private callUser(impl: UserFunction, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation, self?: Value): Value {
    if (this.depth >= this.config.recursionLimit) {
      throw new AnalysisAbort('recursion', messages.recursionLimit(this.config.recursionLimit));
    }
    const def = impl.def;
    const scope = new Scope(impl.closure, impl.closure.module, 'function', def);
    this.bindParams(def.name, def.params, impl.defaults, args, kwargs, scope.vars, loc);
    const frame: Frame = { fn: impl, firstArg: self ?? (def.params.length && def.params[0].kind === 'positional' ? scope.vars.get(def.params[0].name) : undefined), callSite: loc };
    if (def.isGenerator) frame.yields = [];
    this.frames.push(frame);
    this.locationStack.push(loc);
    this.depth++;
    try {
      const sig = this.execBlock(def.body, scope);
      if (def.isGenerator) return this.makeIterator(frame.yields!);
      return sig && sig.k === 'return' ? sig.v : NONE;
    } finally {
      this.depth--;
      this.frames.pop();
      this.locationStack.pop();
    }
  }

  /** Binds call arguments to Python parameters (raises TypeError like Python on mismatch). */
  bindParams(fnName: string, params: Param[], defaults: Map<string, Value>, args: Value[], kwargs: Map<string, Value>, out: Map<string, Value>, loc: SourceLocation): void {
    let argIndex = 0;
    let usedKeywords = 0;
    let varkw: string | undefined;
    let varargsSeen = false;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (p.kind === 'positional') {
        if (argIndex < args.length) {
          if (!p.positionalOnly && kwargs.has(p.name)) this.raise('TypeError', messages.multipleValues(fnName, p.name), loc);
          out.set(p.name, args[argIndex++]);
          continue;
        }
        const kw = p.positionalOnly ? undefined : kwargs.get(p.name);
        if (kw !== undefined) { out.set(p.name, kw); usedKeywords++; continue; }
        const d = defaults.get(p.name);
        if (d !== undefined) { out.set(p.name, d); continue; }
        this.raise('TypeError', messages.missingArgument(fnName, p.name), loc);
      } else if (p.kind === 'varargs') {
        out.set(p.name, tupleV(args.slice(argIndex)));
        argIndex = args.length;
        varargsSeen = true;
      } else if (p.kind === 'keyword-only') {
        const kw = kwargs.get(p.name);
        if (kw !== undefined) { out.set(p.name, kw); usedKeywords++; continue; }
        const d = defaults.get(p.name);
        if (d !== undefined) { out.set(p.name, d); continue; }
        this.raise('TypeError', messages.missingArgument(fnName, p.name), loc);
      } else varkw = p.name;
    }
    if (argIndex < args.length && !varargsSeen) {
      const max = params.filter((p) => p.kind === 'positional').length;
      this.raise('TypeError', messages.tooManyArguments(fnName, max, args.length), loc);
    }
    if (usedKeywords === kwargs.size) {
      if (varkw) out.set(varkw, newDict());
      return;
    }
    // Keywords that no named parameter took go to **kwargs (or are an error without it).
    const extra = newDict();
    for (const [k, v] of kwargs) {
      if (out.has(k) && params.some((p) => p.name === k && p.kind !== 'varargs' && p.kind !== 'varkw' && !p.positionalOnly)) continue;
      if (!varkw) this.raise('TypeError', messages.unexpectedArgument(fnName, k), loc);
      dictSet(extra, strV(k), v);
    }
    if (varkw) out.set(varkw, extra);
  }

  makeFunction(def: FunctionDef, scope: Scope): FunctionValue {
    let defaults: Map<string, Value>;
    const library = scope.module.file !== this.mainFile && (scope.kind === 'module' || scope.kind === 'class');
    if (library && def.params.some((p) => p.default && p.default.t !== 'const')) {
      // Library functions' defaults are evaluated when first needed: a default such as
      // `interpolation=InterpolationMode.BILINEAR` would otherwise load whole packages at import.
      const thunks = new Map<string, () => Value>();
      for (const p of def.params) if (p.default) { const e = p.default; thunks.set(p.name, () => this.eval(e, scope)); }
      defaults = new LazyDefaults(thunks);
    } else {
      defaults = new Map<string, Value>();
      for (const p of def.params) if (p.default) defaults.set(p.name, this.eval(p.default, scope));
    }
    const closure = scope.kind === 'class' ? (scope.parent ?? new Scope(null, scope.module, 'module', undefined, scope.module.value.attrs)) : scope;
    const impl: UserFunction = { kind: 'user', def, closure, defaults, qualname: def.name, attrs: new Map() };
    return { kind: 'function', name: def.name, impl };
  }

  private makeLambda(e: Extract<Expr, { t: 'lambda' }>, scope: Scope): FunctionValue {
    let def = this.lambdaDefs.get(e);
    if (!def) {
      def = {
        t: 'def', name: '<lambda>', params: e.params, body: [{ t: 'return', value: e.body, span: e.span }], decorators: [],
        isGenerator: false, isAsync: false, span: e.span, locals: new Set(e.params.map((p) => p.name)), globals: new Set(), nonlocals: new Set(),
      };
      this.lambdaDefs.set(e, def);
    }
    return this.makeFunction(def, scope.kind === 'class' ? scope : scope);
  }

  applyDecorators(decorators: Expr[], target: Value, scope: Scope): Value {
    let result = target;
    for (let i = decorators.length - 1; i >= 0; i--) {
      const loc = this.locOf(decorators[i].span, scope.module);
      let applied: Value;
      try {
        const deco = this.eval(decorators[i], scope);
        applied = this.callValue(deco, [result], new Map(), loc);
      } catch (e) {
        if (!(e instanceof PyRaise)) throw e;
        applied = UNKNOWN;
      }
      // Unknown decorators are transparent, and so is one whose result could not be called.
      if (this.isCallableValue(applied)) result = applied;
    }
    return result;
  }

  private isCallableValue(v: Value): boolean {
    if (v.kind === 'function' || v.kind === 'builtin' || v.kind === 'class') return true;
    if (v.kind === 'instance') return !!v.module || this.lookupClassAttr(v.cls, '__call__') !== undefined || this.lookupClassAttr(v.cls, '__get__') !== undefined;
    return false;
  }

  // -------------------------------------------------------------------------------------
  // Classes

  makeClass(def: ClassDef, scope: Scope): ClassValue {
    const loc = this.locOf(def.span, scope.module);
    const bases: ClassValue[] = [];
    let unknownBase = false;
    let classKeywords: Map<string, Value> | undefined;
    for (const a of def.bases) {
      if (a.kind === 'pos') {
        const b = this.eval(a.value, scope);
        if (b.kind === 'class') bases.push(b);
        else if (b.kind === 'instance' && b.cls.name === 'Generic') continue;
        else if (b.kind === 'unknown') unknownBase = true;
      } else if (a.kind === 'kw') {
        // metaclass=... is evaluated for its effects only; other keywords go to __init_subclass__.
        const v = this.eval(a.value, scope);
        if (a.name !== 'metaclass') (classKeywords ??= new Map()).set(a.name, v);
      }
    }
    if (bases.length === 0) bases.push(this.special.object);
    const cls: ClassValue = { kind: 'class', name: def.name, mro: [], attrs: new Map(), isModule: bases.some((b) => b.isModule), location: loc };
    cls.mro = computeMro(cls, bases);
    if (unknownBase) cls.attrs.set('__has_unknown_base__', TRUE);
    const body = new Scope(scope, scope.module, 'class', undefined, cls.attrs);
    cls.attrs.set('__module__', strV(scope.module.name));
    cls.attrs.set('__qualname__', strV(def.name));
    this.execBlock(def.body, body);
    if (unknownBase && !cls.isModule && cls.attrs.get('forward')?.kind === 'function') {
      // A base we cannot see (pytorch_lightning.LightningModule, a missing package) and a
      // forward(): treat it as an nn.Module so its layers register and it can be analyzed.
      cls.isModule = true;
      cls.mro = computeMro(cls, [...bases.filter((b) => b !== this.special.object), this.special.moduleBase]);
    }
    // Zero-argument super() inside methods refers to this class.
    for (const v of cls.attrs.values()) this.setDefiningClass(v, cls);
    this.finishClass(cls, bases, loc, classKeywords);
    return cls;
  }

  private setDefiningClass(v: Value, cls: ClassValue): void {
    if (v.kind !== 'function') return;
    const impl = fnImpl(v);
    if (impl.kind === 'user') { if (!impl.definingClass) { impl.definingClass = cls; impl.qualname = `${cls.name}.${impl.def.name}`; } }
    else if (impl.kind === 'staticmethod' || impl.kind === 'classmethod') this.setDefiningClass(impl.fn, cls);
    else if (impl.kind === 'property') { this.setDefiningClass(impl.fget, cls); if (impl.fset) this.setDefiningClass(impl.fset, cls); }
  }

  /** Hook for Enum / NamedTuple class creation (set by builtins.ts). */
  classFinishers: ((cls: ClassValue, bases: ClassValue[], loc: SourceLocation) => void)[] = [];

  private finishClass(cls: ClassValue, bases: ClassValue[], loc: SourceLocation, keywords: Map<string, Value> = EMPTY_KWARGS): void {
    for (const f of this.classFinishers) f(cls, bases, loc);
    const initSubclass = this.lookupClassAttrAfter(cls, cls, '__init_subclass__');
    if (initSubclass && initSubclass.kind === 'function') {
      const impl = fnImpl(initSubclass);
      const target = impl.kind === 'classmethod' ? impl.fn : initSubclass;
      try { this.callValue(this.bindValue(target, cls), [], keywords, loc); } catch (e) { if (!(e instanceof PyRaise)) throw e; }
    }
  }

  /** Creates an instance of a class and runs __init__ (or the class's native constructor). */
  instantiate(cls: ClassValue, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): Value {
    const native = this.nativeClasses.get(cls)?.construct;
    if (native) return native(cls, args, kwargs, this.makeContext(loc));
    const members = cls.attrs.get('__members__');
    if (members && members.kind === 'dict' && args.length === 1) {
      // Enum lookup by value: Color(1)
      for (const e of members.entries.values()) {
        if (e.value.kind === 'instance') {
          const value = e.value.attrs.get('value');
          if (value && pyEquals(value, args[0])) return e.value;
        }
      }
      return UNKNOWN;
    }
    const newFn = this.lookupClassAttr(cls, '__new__');
    if (newFn && newFn.kind === 'function') {
      const impl = fnImpl(newFn);
      const target = impl.kind === 'staticmethod' ? impl.fn : newFn;
      const r = this.callValue(target, [cls, ...args], kwargs, loc);
      if (r.kind !== 'instance' || !r.cls.mro.includes(cls)) return r;
      this.runInit(r, args, kwargs, loc);
      return r;
    }
    const inst: InstanceValue = { kind: 'instance', cls, attrs: new Map(), module: undefined, id: this.nextTensorId++ };
    if (cls.isModule) {
      this.nn.newModuleState(inst);
      inst.module!.createdAt = loc;
      const literal = this.pendingLiteralArguments;
      if (literal?.cls === cls) inst.module!.literalArguments = literal.sources;
    }
    this.pendingLiteralArguments = undefined;
    this.runInit(inst, args, kwargs, loc);
    return inst;
  }

  /** A fresh instance without running __init__ (object.__new__). */
  newInstance(cls: ClassValue): InstanceValue {
    const inst: InstanceValue = { kind: 'instance', cls, attrs: new Map(), module: undefined, id: this.nextTensorId++ };
    if (cls.isModule) this.nn.newModuleState(inst);
    return inst;
  }

  private runInit(inst: InstanceValue, args: Value[], kwargs: Map<string, Value>, loc: SourceLocation): void {
    const init = this.lookupClassAttr(inst.cls, '__init__');
    if (init) this.callValue(this.bindMethod(init, inst, inst.cls), args, kwargs, loc);
  }

  typeOf(v: Value): ClassValue {
    if (v.kind === 'instance') return v.cls;
    if (v.kind === 'function' && this.special.partial && fnImpl(v).kind === 'partial') return this.special.partial;
    if (v.kind === 'tensor' && this.special.tensor && this.special.tensor.kind === 'class') return this.special.tensor;
    if (v.kind === 'dict') {
      if (v.isSet) return this.special.set ?? this.special.object;
      if (v.ordered) return this.special.orderedDict ?? this.kindClasses.get('dict')!;
    }
    return this.kindClasses.get(v.kind) ?? this.special.object;
  }

  /** isinstance(v, cls) for one class; undefined when unknowable. */
  isInstance(v: Value, cls: Value): boolean | undefined {
    if (cls.kind === 'tuple') {
      let unknown = false;
      for (const c of cls.items) {
        const r = this.isInstance(v, c);
        if (r) return true;
        if (r === undefined) unknown = true;
      }
      return unknown ? undefined : false;
    }
    if (v.kind === 'unknown') return v.pythonType ? this.isInstance(representativeOf(v.pythonType), cls) : undefined;
    if (cls.kind !== 'class') {
      if (cls.kind === 'builtin' || cls.kind === 'instance') return false;
      return undefined;
    }
    if (v.kind === 'tensor') {
      if (cls === this.special.parameter) return !!v.isParameter;
      if (cls === this.special.tensor || cls.name === 'Tensor') return true;
      return cls === this.special.object;
    }
    if (v.kind === 'instance') return v.cls.mro.includes(cls);
    if (v.kind === 'bool' && cls === this.kindClasses.get('int')) return true;
    if ((v.kind === 'int' || v.kind === 'float') && cls.name === 'Number') return true;
    if (v.kind === 'dict' && !v.isSet && cls === this.kindClasses.get('dict')) return true;
    if (v.kind === 'tuple' && cls.name === 'Sequence') return true;
    if (v.kind === 'list' && cls.name === 'Sequence') return true;
    if ((v.kind === 'list' || v.kind === 'tuple' || v.kind === 'dict' || v.kind === 'str') && cls.name === 'Iterable') return true;
    if ((v.kind === 'function' || v.kind === 'builtin' || v.kind === 'class') && cls.name === 'Callable') return true;
    return this.typeOf(v).mro.includes(cls);
  }
}

/**
 * A dict that may be a name -> constructor registry: empty, or every value a callable (or a
 * tuple/list led by one, a constructor with its defaults). Other module-level tables (configs,
 * name maps) are read whole without running the rest of their package.
 */
function registryLike(d: DictValue): boolean {
  const callable = (v: Value): boolean => v.kind === 'function' || v.kind === 'class' || v.kind === 'builtin';
  for (const e of d.entries.values()) {
    const v = e.value;
    if (!(callable(v) || ((v.kind === 'tuple' || v.kind === 'list') && v.items.length > 0 && callable(v.items[0])))) return false;
  }
  return true;
}

/** `[first, ...rest]` without the iteration protocol (spread allocates per item in code V8 has not optimized). */
function withFirst(first: Value, rest: readonly Value[]): Value[] {
  const out: Value[] = [first];
  for (let i = 0; i < rest.length; i++) out.push(rest[i]);
  return out;
}

/** A value of the given Python type, for type questions about an unknown value of that type. */
function representativeOf(type: NonNullable<UnknownValue['pythonType']>): Value {
  switch (type) {
    case 'int': return { kind: 'int', value: 0 };
    case 'float': return { kind: 'float', value: 0 };
    case 'bool': return { kind: 'bool', value: false };
    case 'list': return { kind: 'list', items: [] };
  }
}

function holdsTensor(v: Value, depth: number): boolean {
  if (v.kind === 'tensor') return true;
  if (depth > 3) return false;
  if (v.kind === 'tuple' || v.kind === 'list') return v.items.some((i) => holdsTensor(i, depth + 1));
  if (v.kind === 'dict') { for (const e of v.entries.values()) if (holdsTensor(e.value, depth + 1)) return true; }
  if (v.kind === 'instance' && !v.module) { for (const a of v.attrs.values()) if (a.kind === 'tensor') return true; }
  return false;
}

/** `__name__ == "__main__"` (either order). */
function isMainGuard(test: Expr): boolean {
  if (test.t !== 'compare' || test.ops.length !== 1 || test.ops[0] !== '==') return false;
  const [a, b] = [test.first, test.rest[0]];
  const isName = (e: Expr) => e.t === 'name' && e.id === '__name__';
  const isMain = (e: Expr) => e.t === 'const' && e.value === '__main__';
  return (isName(a) && isMain(b)) || (isMain(a) && isName(b));
}

/** The step allowance of one import or of the `__main__` block ran out (the run goes on). */
class SubBudgetExceeded extends Error {}

function diagnosticKey(severity: Severity, loc: SourceLocation, message: string): string {
  return `${severity}|${loc.file}|${loc.line}|${loc.col}|${message}`;
}

/** Parameter defaults evaluated on first use, then kept (Python evaluates a default once). */
class LazyDefaults extends Map<string, Value> {
  constructor(private readonly thunks: Map<string, () => Value>) {
    super();
  }
  override get(name: string): Value | undefined {
    if (!super.has(name)) {
      const thunk = this.thunks.get(name);
      if (!thunk) return undefined;
      this.thunks.delete(name);
      super.set(name, thunk());
    }
    return super.get(name);
  }
  override has(name: string): boolean {
    return super.has(name) || this.thunks.has(name);
  }
}

/** One small object per builtin call (methods live on the prototype, not in closures). */
class InterpreterCallContext implements CallContext {
  constructor(private readonly interp: Interpreter, readonly location: SourceLocation) {}
  diagnostic(severity: Severity, message: string, location?: SourceLocation, extra?: DiagnosticExtra): void {
    const fix = extra?.fix ? this.interp.certainFix(extra.fix) : undefined;
    this.interp.diagnostic(severity, message, location ?? this.location, extra?.code, fix);
  }
  callValue(fn: Value, args: Value[], kwargs?: Map<string, Value>): Value {
    return this.interp.callValue(fn, args, kwargs ?? new Map(), this.location);
  }
  addMacs(macs: Dim): void {
    this.interp.addMacs(macs);
  }
  newTensor(shape: Shape | null, dtype?: DType): TensorValue {
    return this.interp.newTensor(shape, dtype);
  }
  requireSize(got: Dim, expected: number): void {
    this.interp.tracing?.requirements.push({ got, expected });
  }
  get training(): boolean {
    const stack = this.interp.currentModuleStack;
    const m = stack[stack.length - 1];
    return m?.module ? m.module.training : false;
  }
}

const moduleRecords = new WeakMap<PyModuleValue, ModuleRecord>();

/**
 * Source ranges of the call's arguments that are integer literals or arithmetic of them
 * (`16 * 5 * 5`), by the catalog signature's parameter names. Stops at the first `*args`/`**kw`,
 * after which positions are no longer known.
 */
function literalArgumentSources(
  signature: readonly { name: string; kind?: Param['kind'] }[],
  args: readonly Arg[],
  locate: (span: Span) => SourceLocation,
): Map<string, SourceLocation> {
  const out = new Map<string, SourceLocation>();
  let position = 0;
  for (const a of args) {
    if (a.kind === 'star' || a.kind === 'kwstar') break;
    const name = a.kind === 'kw' ? a.name : signature[position]?.kind === undefined || signature[position]?.kind === 'positional' ? signature[position]?.name : undefined;
    if (a.kind === 'pos') position++;
    if (name !== undefined && isIntegerLiteralArithmetic(a.value)) out.set(name, locate(a.value.span));
  }
  return out;
}

function isIntegerLiteralArithmetic(e: Expr): boolean {
  switch (e.t) {
    case 'const': return typeof e.value === 'number' && !e.isFloat;
    case 'unop': return (e.op === '-' || e.op === '+') && isIntegerLiteralArithmetic(e.operand);
    case 'binop': return ['+', '-', '*', '//'].includes(e.op) && isIntegerLiteralArithmetic(e.left) && isIntegerLiteralArithmetic(e.right);
    default: return false;
  }
}

function collectTargetNames(t: Expr, out: Set<string>): void {
  if (t.t === 'name') out.add(t.id);
  else if (t.t === 'tuple' || t.t === 'list') for (const i of t.items) collectTargetNames(i, out);
}

/** C3 linearization (Python's MRO); falls back to a depth-first order when inconsistent. */
export function computeMro(cls: ClassValue, bases: ClassValue[]): ClassValue[] {
  const seqs = [...bases.map((b) => b.mro.slice()), bases.slice()];
  const out: ClassValue[] = [cls];
  for (;;) {
    const nonEmpty = seqs.filter((s) => s.length > 0);
    if (nonEmpty.length === 0) return out;
    let candidate: ClassValue | undefined;
    for (const s of nonEmpty) {
      const head = s[0];
      if (!nonEmpty.some((o) => o.indexOf(head) > 0)) { candidate = head; break; }
    }
    if (!candidate) {
      for (const b of bases) for (const c of b.mro) if (!out.includes(c)) out.push(c);
      return out;
    }
    out.push(candidate);
    for (const s of nonEmpty) if (s[0] === candidate) s.shift();
  }
}

function sliceItems(items: Value[], s: { start: Value; stop: Value; step: Value }): Value[] | undefined {
  const n = items.length;
  const step = s.step.kind === 'none' ? 1 : numberOf(s.step);
  if (step === undefined || step === 0) return undefined;
  const norm = (v: Value, dflt: number): number | undefined => {
    if (v.kind === 'none') return dflt;
    const x = numberOf(v);
    if (x === undefined) return undefined;
    if (x < 0) return Math.max(step > 0 ? 0 : -1, n + x);
    return Math.min(x, step > 0 ? n : n - 1);
  };
  const start = norm(s.start, step > 0 ? 0 : n - 1);
  const stop = norm(s.stop, step > 0 ? n : -1);
  if (start === undefined || stop === undefined) return undefined;
  const out: Value[] = [];
  if (step > 0) for (let i = start; i < stop; i += step) out.push(items[i]);
  else for (let i = start; i > stop; i += step) out.push(items[i]);
  return out;
}

function compareValues(a: Value, b: Value): number | undefined {
  if (a.kind === 'instance' || b.kind === 'instance') {
    const pa = mixinValueOf(a);
    const pb = mixinValueOf(b);
    return pa !== a || pb !== b ? compareValues(pa, pb) : undefined;
  }
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  const dx = dimOf(a);
  const dy = dimOf(b);
  if (dx !== undefined && dy !== undefined) {
    const diff = dim.constValue(dim.sub(dx, dy));
    if (diff !== undefined) return Math.sign(diff);
    return undefined;
  }
  if (a.kind === 'str' && b.kind === 'str') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  if ((a.kind === 'tuple' || a.kind === 'list') && (b.kind === 'tuple' || b.kind === 'list')) {
    for (let i = 0; i < Math.min(a.items.length, b.items.length); i++) {
      const c = compareValues(a.items[i], b.items[i]);
      if (c === undefined) return undefined;
      if (c !== 0) return c;
    }
    return a.items.length - b.items.length;
  }
  return undefined;
}

function dunderOf(op: string): string {
  const names: Record<string, string> = { '+': '__add__', '-': '__sub__', '*': '__mul__', '/': '__truediv__', '//': '__floordiv__', '%': '__mod__', '**': '__pow__', '@': '__matmul__', '&': '__and__', '|': '__or__', '^': '__xor__', '<<': '__lshift__', '>>': '__rshift__' };
  return names[op] ?? '__unknown__';
}

/** format(value, spec) for the common specs: width/alignment, .Nf, d, e, %. */
export function formatValue(v: Value, spec: string, interp?: Interpreter): string {
  void interp;
  if (!spec) return pyStr(v);
  const m = /^(?:(.)?([<>^=]))?([+\- ]?)(#?)(0?)(\d*)([,_]?)(?:\.(\d+))?([bcdeEfFgGnosxX%]?)$/.exec(spec);
  if (!m) return pyStr(v);
  const [, fillRaw, align, sign, , zero, widthText, grouping, precisionText, type] = m;
  const n = numberOf(v);
  let body: string;
  const precision = precisionText !== undefined ? Number(precisionText) : undefined;
  if (n !== undefined && type) {
    switch (type) {
      case 'f': case 'F': body = n.toFixed(precision ?? 6); break;
      case 'e': case 'E': body = n.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2'); break;
      case '%': body = (n * 100).toFixed(precision ?? 6) + '%'; break;
      case 'd': case 'n': body = String(Math.trunc(n)); break;
      case 'x': body = Math.trunc(n).toString(16); break;
      case 'X': body = Math.trunc(n).toString(16).toUpperCase(); break;
      case 'b': body = Math.trunc(n).toString(2); break;
      case 'o': body = Math.trunc(n).toString(8); break;
      case 'g': case 'G': body = String(Number(n.toPrecision(precision || 6))); break;
      default: body = pyStr(v);
    }
  } else if (n !== undefined && precision !== undefined && v.kind === 'float') body = n.toFixed(precision);
  else body = pyStr(v);
  if (grouping && n !== undefined) {
    const [intPart, frac] = body.split('.');
    body = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, grouping) + (frac !== undefined ? '.' + frac : '');
  }
  if (sign === '+' && n !== undefined && n >= 0) body = '+' + body;
  const width = widthText ? Number(widthText) : 0;
  if (body.length >= width) return body;
  const fill = fillRaw ?? (zero ? '0' : ' ');
  const pad = width - body.length;
  const effectiveAlign = align ?? (n !== undefined ? '>' : '<');
  if (effectiveAlign === '<') return body + fill.repeat(pad);
  if (effectiveAlign === '^') return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(Math.ceil(pad / 2));
  return fill.repeat(pad) + body;
}

/** `'%d x %s' % args` */
export function percentFormat(fmt: string, args: Value, interp: Interpreter): string {
  const items = args.kind === 'tuple' ? args.items : [args];
  let i = 0;
  return fmt.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([diouxXeEfFgGcrsa%])/g, (_m, flags: string, conv: string) => {
    if (conv === '%') return '%';
    const v = items[i++] ?? UNKNOWN;
    if (conv === 's') return pyStr(v);
    if (conv === 'r' || conv === 'a') return pyRepr(v);
    const spec = flags.replace('-', '<') + (conv === 'i' || conv === 'u' ? 'd' : conv);
    return formatValue(v, spec, interp);
  });
}
