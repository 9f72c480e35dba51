// Owns the tree-sitter parser: loading the two .wasm files from disk, parsing a file into
// the plain AST, and incremental reparsing of an edited document.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Language, Parser, type Tree } from 'web-tree-sitter';
import type { ModuleAst, Stmt } from './ast';
import { convertModule } from './convert';

const RUNTIME_WASM = 'tree-sitter.wasm';
const PYTHON_WASM = 'tree-sitter-python.wasm';

let wasmDirectoryOverride: string | undefined;

/** Where bundles find the .wasm files (the bundler copies them next to dist/*.js). */
export function setWasmDirectory(dir: string | undefined): void {
  wasmDirectoryOverride = dir;
}

function locateWasm(file: string, packageEntry: string): string {
  const candidates: string[] = [];
  if (wasmDirectoryOverride) candidates.push(path.join(wasmDirectoryOverride, file));
  candidates.push(path.join(__dirname, file));
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return require.resolve(packageEntry);
}

let loading: Promise<PythonParser> | undefined;

const treeOwners = new FinalizationRegistry<Tree>((tree) => tree.delete());

/** Loads the parser once per process. */
export function loadPythonParser(): Promise<PythonParser> {
  if (!loading) {
    loading = (async () => {
      const runtimePath = locateWasm(RUNTIME_WASM, 'web-tree-sitter/tree-sitter.wasm');
      await Parser.init({ locateFile: () => runtimePath });
      const language = await Language.load(fs.readFileSync(locateWasm(PYTHON_WASM, 'tree-sitter-python/tree-sitter-python.wasm')));
      const parser = new PythonParser(language);
      parser.warmUp();
      return parser;
    })();
    loading.catch(() => { loading = undefined; });
  }
  return loading;
}

/** A text edit in the form the editor reports it (offsets and positions before the edit). */
export interface TextEdit {
  startIndex: number;
  oldEndIndex: number;
  newEndIndex: number;
  startPosition: { row: number; column: number };
  oldEndPosition: { row: number; column: number };
  newEndPosition: { row: number; column: number };
}

const WARM_UP_PARSES = 5;

/** The statement and expression kinds of typical model code, for the parser's warm-up parse. */
const WARM_UP_SOURCE = `import torch
from torch import nn
import torch.nn.functional as F
from typing import Optional


class Block(nn.Module):
    expansion: int = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, *args, norm_layer=None, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_planes, planes * self.expansion, kernel_size=3, stride=stride, padding=1, bias=False)
        self.layers = nn.Sequential(*[nn.ReLU(inplace=True) for _ in range(2)])
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        elif isinstance(norm_layer, str):
            raise ValueError(f"unknown norm {norm_layer!r}")
        self.sizes = {"a": (1, 2), 'b': [3, -4.5]}

    @torch.jit.unused
    def forward(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        out = F.relu(self.conv(x)) + x[:, 0:2, ...]
        for i, layer in enumerate(self.layers):
            out = layer(out) if i % 2 == 0 else out // 2
        while not out.shape[0] and out is not None:
            break
        with torch.no_grad():
            y = lambda t: t.flatten(1)
        try:
            return torch.cat([out, y(out)], dim=1)
        except (RuntimeError, TypeError) as e:
            pass
        finally:
            del y
        return out


if __name__ == "__main__":
    model = Block(3, 64)
    print(model(torch.randn(1, 3, 224, 224)).shape)
`;

export class PythonParser {
  private readonly parser: Parser;
  constructor(language: Language) {
    this.parser = new Parser();
    this.parser.setLanguage(language);
  }

  /**
   * Loading the parser ends with a few parses of a small file: V8 compiles the wasm lazily
   * and moves hot functions to its optimizing tier only after they ran a while, so without
   * this the first real file pays that (measured: first parse of torchvision's resnet.py
   * 50–77 ms, 9–16 ms after five warm-up parses; one was not enough). Only tree-sitter runs
   * here; the AST conversion and the interpreter are not warmed.
   */
  warmUp(): void {
    for (let i = 0; i < WARM_UP_PARSES; i++) this.parser.parse(WARM_UP_SOURCE)?.delete();
  }

  /** Parse a whole file. Never throws; syntax errors are in the result. */
  parse(source: string): ModuleAst {
    const tree = this.parser.parse(source);
    if (!tree) return { body: [], syntaxErrors: [], inputComments: [] };
    try {
      return convertModule(tree.rootNode, source).ast;
    } finally {
      tree.delete();
    }
  }

  /**
   * Parse a library file whose function bodies are converted on first use. The tree lives
   * until the AST is garbage collected.
   */
  parseLazily(source: string): ModuleAst {
    const tree = this.parser.parse(source);
    if (!tree) return { body: [], syntaxErrors: [], inputComments: [] };
    const converted = convertModule(tree.rootNode, source, { lazyBodies: true });
    treeOwners.register(converted.treeUser, tree);
    return converted.ast;
  }

  /** Parse keeping the tree for later incremental reparses. */
  parseTree(source: string, oldTree?: Tree): Tree | null {
    return this.parser.parse(source, oldTree ?? null);
  }
}

/**
 * A document being edited: keeps the tree-sitter tree so that an edit reparses only the
 * changed region, and converts the new tree to the AST, reusing the top-level statements an
 * edit did not touch. Function bodies are converted on first use from a copy of the tree
 * that lives as long as they may need it.
 */
export class ParsedDocument {
  private tree: Tree | null = null;
  private source = '';
  private ast: ModuleAst | undefined;
  private previousTopLevel: ReadonlyMap<string, Stmt> | undefined;

  constructor(private readonly parser: PythonParser) {}

  get text(): string { return this.source; }

  /**
   * Replace the text. A copy of the old tree is edited and reused (incremental parse): with
   * `edit` as given, else with the one changed region found by comparing the texts (the
   * editor sends whole texts after a debounced burst of keystrokes).
   */
  update(source: string, edit?: TextEdit): void {
    const old = this.tree;
    if (old && source === this.source) return;
    if (old && !edit) edit = changedRegion(this.source, source);
    if (old && edit) {
      const base = old.copy();
      base.edit(edit);
      this.tree = this.parser.parseTree(source, base);
      base.delete();
    } else {
      this.tree = this.parser.parseTree(source);
    }
    old?.delete();
    this.source = source;
    this.ast = undefined;
  }

  getAst(): ModuleAst {
    if (!this.ast) {
      if (!this.tree) return { body: [], syntaxErrors: [], inputComments: [] };
      const forAst = this.tree.copy();
      const converted = convertModule(forAst.rootNode, this.source, { lazyBodies: true, reuse: this.previousTopLevel });
      treeOwners.register(converted.treeUser, forAst);
      this.previousTopLevel = converted.topLevel;
      this.ast = converted.ast;
    }
    return this.ast;
  }

  dispose(): void {
    this.tree?.delete();
    this.tree = null;
    this.previousTopLevel = undefined;
  }
}

/**
 * The edit that turns `before` into `after`: everything between their common prefix and their
 * common suffix. Indices and columns are in UTF-16 code units, as web-tree-sitter counts them.
 */
export function changedRegion(before: string, after: string): TextEdit {
  const shorter = Math.min(before.length, after.length);
  let start = 0;
  while (start < shorter && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  // Never split a surrogate pair.
  if (start > 0 && start < shorter && isHighSurrogate(before.charCodeAt(start - 1))) start--;
  let suffix = 0;
  while (suffix < shorter - start && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  if (suffix > 0 && suffix < shorter - start && isHighSurrogate(before.charCodeAt(before.length - 1 - suffix))) suffix--;
  const startPosition = positionAt(before, start);
  return {
    startIndex: start,
    oldEndIndex: before.length - suffix,
    newEndIndex: after.length - suffix,
    startPosition,
    oldEndPosition: positionAfter(before, start, startPosition, before.length - suffix),
    newEndPosition: positionAfter(after, start, startPosition, after.length - suffix),
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function positionAt(text: string, index: number): { row: number; column: number } {
  return positionAfter(text, 0, { row: 0, column: 0 }, index);
}

/** The position of `index`, counting on from `from` (whose position is `at`). */
function positionAfter(text: string, from: number, at: { row: number; column: number }, index: number): { row: number; column: number } {
  let row = at.row;
  let lineStart = from - at.column;
  for (let i = text.indexOf('\n', from); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: index - lineStart };
}
