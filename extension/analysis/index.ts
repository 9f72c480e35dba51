// The analyzer's entry points: `analyzeFile` (one-shot, for the CLI and tests) and
// `DocumentAnalyzer` (kept per open document by the editor: incremental reparse, imported
// modules cached across runs). Both parse the file, execute its module code, find the
// models (the --entry expression, or discovery), choose inputs, trace forward and build
// the report.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModuleAst, Stmt } from './python/ast';
import { loadPythonParser, ParsedDocument, type PythonParser, type TextEdit } from './python/parser';
import { defaultAstCacheDir, PersistentAstCache } from './python/astCache';
import * as torchCatalog from './torch/catalog';
import type { TorchCatalog } from './torch/catalog';
import * as dim from './shape/dim';
import type { Dim } from './shape/dim';
import { AnalysisAbort, Interpreter, PyRaise, Scope, type ModuleRecord, type TraceState } from './interp/interpreter';
import { createInterpreter, type CatalogFactory } from './interp/setup';
import { defaultFileSystem, memoizedFileSystem, moduleNameOfFile, type FileSystemAccess } from './interp/imports';
import { nnHelpersOf } from './interp/nn';
import { GraphRecorder } from './interp/graphRecorder';
import type { ClassValue, InstanceValue, SourceLocation, TensorValue, Value } from './interp/values';
import { buildModelReport, diagnosticReport, type TraceResult } from './report';
import type { AnalyzeOptions, DiagnosticReport, FileReport, InputSpec, ModelReport } from './reportTypes';
import { messages } from './messages';
import { parseInputComment } from './inputs';

export type { AnalyzeOptions, FileReport, ModelReport } from './reportTypes';
export type { TextEdit } from './python/parser';
export { flushAstCacheWrites } from './python/astCache';
export { createAnalyzerWarmUp, warmUpAnalyzer, WARM_UP_ROUNDS, type AnalyzerWarmUp } from './warmUp';
export { collectYoungGeneration } from './idleCollect';
export { FollowUpAnalyses, FOLLOW_UP_POLICY, type FollowUpPolicy } from './followUp';

/** Imported files' ASTs, shared by every analyzer in the process (keyed by path, checked by content). */
const sharedAstCache = new Map<string, { source: string; ast: ModuleAst }>();

const DEFAULT_STEP_BUDGET = 2_000_000;
const DEFAULT_RECURSION_LIMIT = 200;
const IMPORT_STEP_BUDGET = 300_000;

export interface AnalyzerSetup {
  /** Replaces the torch catalog (tests use small catalogs of their own). */
  catalogFactory?: CatalogFactory;
  /**
   * Folder of the persistent cache of imported files' ASTs, shared by processes; false turns
   * it off. Default: NETLENS_AST_CACHE_DIR, else the OS's per-user cache folder
   * (NETLENS_AST_CACHE=off turns the default off).
   */
  astCacheDir?: string | false;
}

/** Analyze one file once. */
export async function analyzeFile(filePath: string, source: string, options: AnalyzeOptions = {}, setup: AnalyzerSetup = {}): Promise<FileReport> {
  const analyzer = await DocumentAnalyzer.create(filePath, setup);
  try {
    analyzer.update(source);
    return analyzer.analyze(options);
  } finally {
    analyzer.dispose();
  }
}

function defaultCatalogFactory(): CatalogFactory {
  const factory = (torchCatalog as { createTorchCatalog?: CatalogFactory }).createTorchCatalog;
  if (typeof factory !== 'function') throw new Error('The torch catalog (analysis/torch/catalog.ts createTorchCatalog) is not available.');
  return factory;
}

/**
 * Analysis of one document as it is edited. `update` reparses incrementally; `analyze`
 * re-runs the document's code while reusing imported modules that did not change.
 */
export class DocumentAnalyzer {
  private readonly document: ParsedDocument;
  private world: { interp: Interpreter; key: string; files: Map<string, string | number> } | undefined;
  private currentFs: FileSystemAccess = defaultFileSystem();
  private readonly diskCache: PersistentAstCache | undefined;

  private constructor(readonly filePath: string, private readonly parser: PythonParser, private readonly setup: AnalyzerSetup) {
    this.document = new ParsedDocument(parser);
    const cacheDir = setup.astCacheDir === false ? undefined : setup.astCacheDir ?? defaultAstCacheDir();
    this.diskCache = cacheDir ? new PersistentAstCache(cacheDir) : undefined;
  }

  static async create(filePath: string, setup: AnalyzerSetup = {}): Promise<DocumentAnalyzer> {
    const parser = await loadPythonParser();
    return new DocumentAnalyzer(path.resolve(filePath), parser, setup);
  }

  /** New text of the document; `edit` (the change that produced it) enables incremental reparsing. */
  update(source: string, edit?: TextEdit): void {
    this.document.update(source, edit);
  }

  dispose(): void {
    this.document.dispose();
  }

  analyze(options: AnalyzeOptions = {}): FileReport {
    const ast = this.document.getAst();
    const fileDiagnostics: DiagnosticReport[] = ast.syntaxErrors.map((e) => ({
      severity: 'error', message: e.message, file: this.filePath, line: e.span.line, col: e.span.col, endLine: e.span.endLine, endCol: e.span.endCol, code: 'syntax',
    }));
    const fsa = memoizedFileSystem(defaultFileSystem(options.readFile));
    const interp = this.worldFor(options, fsa);
    const models: ModelReport[] = [];
    const run = new AnalysisRun(interp, this.filePath, this.document.text, ast, options, fsa);
    try {
      run.execute(models, fileDiagnostics);
    } finally {
      interp.tracing = undefined;
      interp.hooks = {};
    }
    return { file: this.filePath, models, diagnostics: fileDiagnostics };
  }

  /** The interpreter world; rebuilt when options change or an imported file changed on disk. */
  private worldFor(options: AnalyzeOptions, fsa: FileSystemAccess): Interpreter {
    const { root } = moduleNameOfFile(this.filePath, fsa);
    const importRoots = [...new Set([root, path.dirname(this.filePath), ...(options.pythonPath ?? []), ...(options.sitePackages ?? [])])];
    const key = JSON.stringify([importRoots, options.stepBudget, options.recursionLimit, !!options.readFile]);
    this.currentFs = fsa;
    if (this.world && this.world.key === key && this.dependenciesUnchanged(fsa, options)) return this.world.interp;
    const files = new Map<string, string | number>();
    // The world outlives one analyze() call; file access goes to the current call's reader.
    const fsProxy: FileSystemAccess = {
      readFile: (f) => this.currentFs.readFile(f),
      isFile: (f) => this.currentFs.isFile(f),
      isDirectory: (d) => this.currentFs.isDirectory(d),
    };
    const interp = createInterpreter({
      fs: fsProxy,
      parse: (source, file) => this.parseCached(source, file, files, options),
      importRoots,
      stepBudget: options.stepBudget ?? DEFAULT_STEP_BUDGET,
      recursionLimit: options.recursionLimit ?? DEFAULT_RECURSION_LIMIT,
      importStepBudget: IMPORT_STEP_BUDGET,
    }, this.setup.catalogFactory ?? defaultCatalogFactory());
    this.world = { interp, key, files };
    return interp;
  }

  private parseCached(source: string, file: string, files: Map<string, string | number>, options: AnalyzeOptions): ModuleAst {
    if (file !== this.filePath) files.set(file, options.readFile ? source : mtimeOf(file) ?? source);
    if (file === this.filePath) return this.parser.parse(source);
    const cached = sharedAstCache.get(file);
    if (cached && cached.source === source) return cached.ast;
    let ast = this.diskCache?.read(source);
    if (!ast) {
      ast = this.parser.parseLazily(source);
      this.diskCache?.scheduleWrite(source, ast);
    }
    sharedAstCache.set(file, { source, ast });
    return ast;
  }

  private dependenciesUnchanged(fsa: FileSystemAccess, options: AnalyzeOptions): boolean {
    for (const [file, stamp] of this.world!.files) {
      const now = options.readFile ? fsa.readFile(file) : mtimeOf(file);
      if (now !== stamp) return false;
    }
    return true;
  }
}

function mtimeOf(file: string): number | undefined {
  try { return fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs; } catch { return undefined; }
}

interface ModelCandidate {
  entry: string;
  /** An instance found in the file, or a class to construct. */
  instance?: InstanceValue;
  cls?: ClassValue;
  expression?: string;
  line?: number;
}

/** One analysis of the main file. */
class AnalysisRun {
  private record!: ModuleRecord;
  /** Tensors passed to module instances by module-level code (`model(torch.randn(...))`). */
  private readonly observedInputs = new Map<InstanceValue, Value[]>();
  private readonly observedByClass = new Map<ClassValue, Value[]>();

  constructor(
    private readonly interp: Interpreter,
    private readonly file: string,
    private readonly source: string,
    private readonly ast: ModuleAst,
    private readonly options: AnalyzeOptions,
    private readonly fsa: FileSystemAccess,
  ) {}

  execute(models: ModelReport[], fileDiagnostics: DiagnosticReport[]): void {
    const interp = this.interp;
    interp.mainFile = this.file;
    interp.clearDiagnostics();
    interp.beginRun();
    this.registerMainModule();
    interp.hooks = {
      onModuleCall: (module, args, _kwargs, depth) => {
        if (depth !== 0 || interp.tracing) return;
        if (!args.some((a) => a.kind === 'tensor')) return;
        if (!this.observedInputs.has(module)) this.observedInputs.set(module, args);
        if (!this.observedByClass.has(module.cls)) this.observedByClass.set(module.cls, args);
      },
      onUnknownCall: (name, args, kwargs) => {
        if (interp.tracing || (name !== 'torchinfo.summary' && name !== 'torchinfo.torchinfo.summary')) return;
        this.observeSummary(args, kwargs);
      },
    };
    this.guard(() => interp.ensureLoaded(this.record), fileDiagnostics);
    for (const d of interp.diagnostics) fileDiagnostics.push(diagnosticReport(d));

    let candidates: ModelCandidate[];
    if (this.options.entry) {
      const entry = this.options.entry;
      // An entry naming a module-level variable is anchored at its assignment (its input comment is above it).
      const line = /^[A-Za-z_]\w*$/.test(entry.trim()) ? this.assignmentLine(entry.trim()) : undefined;
      candidates = [line === undefined ? { entry, expression: entry } : { entry, expression: entry, line }];
    }
    else candidates = this.discoverModels();
    for (const c of candidates) {
      const report = this.analyzeModel(c, fileDiagnostics);
      if (report) models.push(report);
    }
  }

  private registerMainModule(): void {
    const { name, isPackage } = moduleNameOfFile(this.file, this.fsa);
    // The main file is always re-executed; imported modules stay cached.
    for (const [k, r] of this.interp.modules) if (r.file === this.file) this.interp.modules.delete(k);
    this.record = this.interp.registerFileModule(name, this.file, this.source, isPackage);
    this.record.ast = this.ast;
    this.record.value.attrs.set('__name__', { kind: 'str', value: '__main__' });
  }

  /** Runs analysis code; a budget/recursion stop or an uncaught raise becomes a diagnostic. */
  private guard<T>(work: () => T, sink: DiagnosticReport[], where?: SourceLocation): T | undefined {
    try {
      return work();
    } catch (e) {
      if (e instanceof AnalysisAbort) {
        sink.push({ severity: 'warning', message: e.message, file: this.file, line: where?.line ?? 1, col: where?.col ?? 0, code: e.reason === 'budget' ? 'step-budget' : 'recursion-limit' });
        return undefined;
      }
      if (e instanceof PyRaise) {
        // A raise inside library code is reported where the analyzed file called into it.
        this.interp.diagnostic('error', messages.raised(e.typeName, e.text), e.callSite ?? e.location, 'raise');
        return undefined;
      }
      if (e instanceof RangeError) {
        // JS stack overflow from very deep Python recursion: same outcome as the recursion limit.
        sink.push({ severity: 'warning', message: messages.recursionLimit(this.interp.config.recursionLimit), file: this.file, line: where?.line ?? 1, col: where?.col ?? 0, code: 'recursion-limit' });
        return undefined;
      }
      throw e;
    }
  }

  private discoverModels(): ModelCandidate[] {
    const out: ModelCandidate[] = [];
    const seenInstances = new Set<InstanceValue>();
    const instanceClasses = new Set<ClassValue>();
    for (const [name, v] of this.record.value.attrs) {
      if (v.kind !== 'instance' || !v.module || seenInstances.has(v)) continue;
      if (name.startsWith('__')) continue;
      seenInstances.add(v);
      instanceClasses.add(v.cls);
      // Anchored where this file names the model (`model = make_model()`, `model = torchvision.models.resnet18()`),
      // else where it was built.
      out.push({ entry: name, instance: v, line: this.assignmentLine(name) ?? (v.module.createdAt?.file === this.file ? v.module.createdAt.line : undefined) });
    }
    for (const [, v] of this.record.value.attrs) {
      if (v.kind !== 'class' || !v.isModule || v.location?.file !== this.file || instanceClasses.has(v)) continue;
      if (!this.constructibleWithoutArgs(v)) continue;
      out.push({ entry: `${v.name}()`, cls: v, line: v.location.line });
    }
    return out;
  }

  /**
   * `torchinfo.summary(model, input_size=(N, C, H, W))` (or `input_data=tensor(s)`, or the size as
   * the second argument) declares the model's input the way a call does: torchinfo's sizes include
   * the batch. Several inputs are a list of sizes.
   */
  private observeSummary(args: Value[], kwargs: Map<string, Value>): void {
    const model = args[0] ?? kwargs.get('model');
    if (model?.kind !== 'instance' || !model.module) return;
    const sizeOf = (v: Value): number[] | undefined => {
      if (v.kind !== 'tuple' && v.kind !== 'list') return undefined;
      const dims = v.items.map((i) => (i.kind === 'int' && typeof i.value === 'number' ? i.value : undefined));
      return dims.length > 0 && dims.every((d): d is number => d !== undefined) ? dims : undefined;
    };
    let inputs: Value[] | undefined;
    const data = kwargs.get('input_data');
    if (data?.kind === 'tensor') inputs = [data];
    else if (data && (data.kind === 'list' || data.kind === 'tuple') && data.items.every((i) => i.kind === 'tensor')) inputs = data.items;
    else {
      const size = kwargs.get('input_size') ?? args[1];
      const one = size ? sizeOf(size) : undefined;
      const several = !one && size && (size.kind === 'list' || size.kind === 'tuple') ? size.items.map(sizeOf) : undefined;
      const shapes = one ? [one] : several?.every((s): s is number[] => s !== undefined) ? several : undefined;
      inputs = shapes?.map((shape) => this.interp.newTensor(shape));
    }
    if (!inputs || inputs.length === 0) return;
    if (!this.observedInputs.has(model)) this.observedInputs.set(model, inputs);
    if (!this.observedByClass.has(model.cls)) this.observedByClass.set(model.cls, inputs);
  }

  /** Line of the last top-level `name = ...` of the file (inside top-level ifs too), if any. */
  private assignmentLine(name: string): number | undefined {
    let line: number | undefined;
    const visit = (stmts: readonly Stmt[]): void => {
      for (const s of stmts) {
        if (s.t === 'assign' && s.targets.some((t) => t.t === 'name' && t.id === name)) line = s.span.line;
        else if (s.t === 'if') { visit(s.body); visit(s.orelse); }
      }
    };
    visit(this.ast.body);
    return line;
  }

  private constructibleWithoutArgs(cls: ClassValue): boolean {
    const init = this.interp.lookupClassAttr(cls, '__init__');
    if (!init) return true;
    if (init.kind === 'function') {
      const impl = init.impl as { kind: string; def?: { params: { name: string; kind: string; default?: unknown }[] } };
      if (impl.kind !== 'user' || !impl.def) return true;
      return impl.def.params.slice(1).every((p) => p.kind !== 'positional' && p.kind !== 'keyword-only' ? true : p.default !== undefined);
    }
    // Builtin __init__ (catalog layers, containers): only containers take no required args.
    return !cls.mro.some((c) => c.builtinModule);
  }

  private analyzeModel(c: ModelCandidate, fileDiagnostics: DiagnosticReport[]): ModelReport | undefined {
    const interp = this.interp;
    const before = interp.diagnostics.length;
    interp.resetBudget();
    const entryLoc: SourceLocation = { file: this.file, line: c.line ?? 1, col: 0 };
    let model: Value | undefined = c.instance;
    if (!model && c.cls) model = this.guard(() => interp.callValue(c.cls!, [], new Map(), { file: this.file, line: c.line ?? 1, col: 0 }), fileDiagnostics, entryLoc);
    if (!model && c.expression) model = this.guard(() => this.evalEntry(c.expression!), fileDiagnostics, entryLoc);
    if (!model || model.kind !== 'instance' || !model.module) {
      if (c.expression) {
        fileDiagnostics.push({ severity: 'error', message: model ? messages.entryNotModel(c.expression) : messages.entryFailed(c.expression), file: this.file, line: 1, col: 0, code: 'entry' });
      }
      for (const d of interp.diagnostics.slice(before)) fileDiagnostics.push(diagnosticReport(d));
      return undefined;
    }
    const root = model;
    const helpers = nnHelpersOf(interp);
    // Analysis is of inference (eval) mode unless asked otherwise, like the goldens' model.eval().
    const paths = new Map<InstanceValue, string>();
    const modules = helpers.namedModules(root);
    for (let i = 0; i < modules.length; i++) {
      modules[i][1].module!.training = false;
      paths.set(modules[i][1], modules[i][0]);
    }

    const chosen = this.chooseInputs(root, c);
    let inputs = chosen.inputs;
    const result: TraceResult = {
      model: root, name: root.cls.name, entry: c.entry, inputs: [],
      output: { kind: 'unknown' }, layerCalls: [], statements: [], paths, functionalMacs: 0, diagnostics: [],
      line: c.line ?? root.cls.location?.line, definedIn: c.line === undefined ? root.cls.location?.file : undefined, entryFile: this.file,
    };
    const traceDiagnostics: DiagnosticReport[] = [];
    if (inputs.length === 0) {
      interp.diagnostic('info', messages.noInputs(root.cls.name), entryLoc, 'no-inputs');
    } else {
      const beforeTrace = interp.diagnostics.length;
      let trace = this.trace(root, inputs, paths, entryLoc);
      if (chosen.source === 'symbolic' && trace.requirements.length > 0) {
        // A guessed symbolic input that a layer pins down (Linear(400) after a flatten):
        // trace again with the smallest input size that satisfies it.
        const solved = solveInputSizes(trace.requirements);
        if (solved.size > 0) {
          interp.truncateDiagnostics(beforeTrace);
          inputs = inputs.map((t) => (t.kind === 'tensor' && t.shape ? interp.newTensor(t.shape.map((d) => dim.substitute(d, solved)), t.dtype) : t));
          trace = this.trace(root, inputs, paths, entryLoc);
          const sizes = [...solved].map(([k, v]) => `${k} = ${v}`).join(', ');
          interp.diagnostic('info', messages.inputSizeSolved(sizes), entryLoc, 'input-solved');
        }
      }
      traceDiagnostics.push(...trace.diagnostics);
      result.layerCalls = trace.layerCalls;
      result.statements = trace.statements;
      result.functionalMacs = trace.functionalMacs;
      if (trace.output) result.output = trace.output;
      if (trace.graph) result.graph = { recorder: trace.graph, outputs: trace.graph.outputsOf(result.output) };
      // Notes from inside libraries are not shown; when nothing else explains an unknown
      // output (a library construct Netlens does not model), say so rather than stay silent.
      if (result.output.kind === 'unknown' && traceDiagnostics.length === 0 && interp.diagnostics.length === before) {
        interp.diagnostic('info', messages.outputUnknown(root.cls.name), entryLoc, 'output-unknown');
      }
    }
    result.inputs = inputs.filter((v): v is TensorValue => v.kind === 'tensor');
    result.diagnostics.push(...interp.diagnostics.slice(before));
    const report = buildModelReport(interp, result, this.options);
    report.diagnostics.push(...traceDiagnostics);
    return report;
  }

  /** Calls the model on the inputs with leaf-layer recording on. */
  private trace(root: InstanceValue, inputs: Value[], paths: Map<InstanceValue, string>, entryLoc: SourceLocation): TraceState & { output?: Value; diagnostics: DiagnosticReport[] } {
    const interp = this.interp;
    interp.resetBudget();
    const state: TraceState = { layerCalls: [], paths, functionalMacs: 0, macsStack: [], requirements: [], statements: [] };
    if (this.options.recordGraph) state.graph = new GraphRecorder(inputs, stateNamesOf(interp, root));
    interp.tracing = state;
    const diagnostics: DiagnosticReport[] = [];
    try {
      const output = this.guard(() => interp.callValue(root, inputs, new Map(), entryLoc), diagnostics, entryLoc);
      return { ...state, output, diagnostics };
    } finally {
      interp.tracing = undefined;
    }
  }

  private evalEntry(expression: string): Value {
    const parsed = this.interp.config.parse(`(${expression})\n`, this.file);
    const stmt = parsed.body[0];
    if (!stmt || stmt.t !== 'expr' || parsed.syntaxErrors.length) return { kind: 'unknown' };
    const scope = new Scope(null, this.record, 'module', undefined, this.record.value.attrs);
    return this.interp.eval(stmt.value, scope);
  }

  /** --input, else a `# netlens: input=` comment, else a tensor the file passes to the model, else symbolic. */
  private chooseInputs(root: InstanceValue, c: ModelCandidate): { inputs: Value[]; source: 'option' | 'comment' | 'file' | 'symbolic' } {
    const batch = this.options.batch;
    const fromSpecs = (specs: InputSpec[]): Value[] => specs.map((s) => {
      const shape: Dim[] = s.shape.map((d) => (typeof d === 'number' ? d : dim.sym(d)));
      if (batch !== undefined && shape.length > 0) shape[0] = batch;
      return this.interp.newTensor(shape, s.dtype ?? 'float32');
    });
    if (this.options.inputs && this.options.inputs.length) return { inputs: fromSpecs(this.options.inputs), source: 'option' };
    const comment = this.inputCommentFor(root, c);
    if (comment) {
      const specs = parseInputComment(comment.text);
      if (specs) return { inputs: fromSpecs(specs), source: 'comment' };
      this.interp.diagnostic('warning', messages.badInputComment(comment.text), { file: this.file, line: comment.line, col: 0 }, 'input-comment');
    }
    const observed = this.observedInputs.get(root) ?? this.observedByClass.get(root.cls);
    if (observed) {
      const inputs = observed.map((v) => {
        if (v.kind !== 'tensor' || !v.shape || batch === undefined) return v;
        const shape = v.shape.slice();
        shape[0] = batch;
        return this.interp.newTensor(shape, v.dtype);
      });
      return { inputs, source: 'file' };
    }
    const symbolic = symbolicInput(this.interp, root);
    if (symbolic && batch !== undefined && symbolic.shape) symbolic.shape[0] = batch;
    return { inputs: symbolic ? [symbolic] : [], source: 'symbolic' };
  }

  private inputCommentFor(root: InstanceValue, c: ModelCandidate): { text: string; line: number } | undefined {
    const comments = this.ast.inputComments;
    if (comments.length === 0) return undefined;
    const anchor = root.cls.location?.file === this.file ? root.cls.location.line : c.line;
    if (anchor !== undefined) {
      // The comment right above the class (or entry) wins: within the 3 lines before it, or in its first lines.
      // The closest comment above wins: two models declared on consecutive lines keep their own.
      const above = comments.filter((k) => k.line < anchor && anchor - k.line <= 3).at(-1);
      const near = above ?? comments.find((k) => k.line >= anchor && k.line <= anchor + 2);
      if (near) return near;
    }
    const loose = comments.filter((k) => !this.isAttachedToOtherClass(k.line, root));
    return loose[0];
  }

  private isAttachedToOtherClass(line: number, root: InstanceValue): boolean {
    for (const v of this.record.value.attrs.values()) {
      if (v.kind !== 'class' || v === root.cls || v.location?.file !== this.file) continue;
      const d = v.location.line - line;
      if (d > 0 && d <= 3) return true;
    }
    return false;
  }
}

/**
 * Input sizes (other than the batch N) implied by size requirements met during a symbolic
 * trace. Several free sizes in one requirement (H and W of a flattened map) are taken equal,
 * a square input; the smallest size that satisfies the requirement is chosen.
 */
function solveInputSizes(requirements: { got: Dim; expected: number }[]): Map<string, number> {
  const solved = new Map<string, number>();
  for (const r of requirements) {
    const got = dim.substitute(r.got, solved);
    const free = dim.freeSymbols(got).filter((s) => s !== 'N');
    if (free.length === 0 || free.length !== dim.freeSymbols(got).length) continue;
    const shared = dim.sym(free.join('='));
    const expression = free.length === 1 ? got : dim.substituteSymbols(got, new Map(free.map((s) => [s, shared])));
    const solution = dim.solveFor(expression, r.expected);
    if (!solution || solution.values.length === 0) continue;
    for (const s of free) solved.set(s, solution.values[0]);
  }
  return solved;
}

const SHAPE_AGNOSTIC_LAYERS = /^(Flatten|Identity|Dropout\d?d?|AlphaDropout|ReLU6?|LeakyReLU|PReLU|ELU|SELU|CELU|GELU|SiLU|Mish|Sigmoid|Tanh|Hardswish|Hardsigmoid|Hardtanh|Softmax|LogSoftmax|Softplus|Upsample)$/;

/** A symbolic input built from what the first layer expects (Conv2d → [N, C_in, H, W], ...). */
function symbolicInput(interp: Interpreter, root: InstanceValue): TensorValue | undefined {
  const N = dim.sym('N');
  for (const [, m] of nnHelpersOf(interp).namedModules(root)) {
    const layer = m.cls.mro.find((k) => k.builtinModule);
    if (!layer) continue;
    const attr = (name: string): number | undefined => {
      const v = m.attrs.get(name);
      if (!v) return undefined;
      if (v.kind === 'int') return dim.constValue(v.value);
      if (v.kind === 'tuple' && v.items[0]?.kind === 'int') return dim.constValue(v.items[0].value);
      return undefined;
    };
    const flag = (name: string): boolean => { const v = m.attrs.get(name); return !!v && v.kind === 'bool' && v.value; };
    const type = layer.name;
    const spatial = (n: number): Dim[] => ['D', 'H', 'W'].slice(3 - n).map((s) => dim.sym(n === 1 ? 'L' : s));
    const convLike = /^(Conv|ConvTranspose|LazyConv)(\d)d$/.exec(type) ?? /^(BatchNorm|InstanceNorm)(\d)d$/.exec(type);
    if (convLike) {
      const n = Number(convLike[2]);
      const c = attr('in_channels') ?? attr('num_features');
      if (c === undefined) return undefined;
      return interp.newTensor([N, c, ...spatial(n)]);
    }
    if (type === 'Linear' || type === 'Bilinear') {
      const f = attr('in_features') ?? attr('in1_features');
      return f === undefined ? undefined : interp.newTensor([N, f]);
    }
    if (type === 'Embedding' || type === 'EmbeddingBag') return interp.newTensor([N, dim.sym('L')], 'int64');
    if (type === 'RNN' || type === 'LSTM' || type === 'GRU') {
      const f = attr('input_size');
      if (f === undefined) return undefined;
      return interp.newTensor(flag('batch_first') ? [N, dim.sym('L'), f] : [dim.sym('L'), N, f]);
    }
    if (type === 'LayerNorm') {
      const f = attr('normalized_shape');
      return f === undefined ? undefined : interp.newTensor([N, f]);
    }
    if (type === 'MultiheadAttention') {
      const e = attr('embed_dim');
      if (e === undefined) return undefined;
      return interp.newTensor(flag('batch_first') ? [N, dim.sym('L'), e] : [dim.sym('L'), N, e]);
    }
    if (type === 'GroupNorm') {
      const c = attr('num_channels');
      return c === undefined ? undefined : interp.newTensor([N, c, dim.sym('H'), dim.sym('W')]);
    }
    // Layers that take any shape say nothing about the input: look at the next one.
    if (SHAPE_AGNOSTIC_LAYERS.test(type)) continue;
    return undefined;
  }
  return undefined;
}

export type { TorchCatalog };

/** Tensor id → state_dict key of every parameter and buffer of the model (for graph references). */
function stateNamesOf(interp: Interpreter, root: InstanceValue): Map<number, string> {
  const helpers = nnHelpersOf(interp);
  const names = new Map<number, string>();
  for (const [name, tensor] of [...helpers.namedParameters(root), ...helpers.namedBuffers(root)]) if (!names.has(tensor.id)) names.set(tensor.id, name);
  return names;
}
