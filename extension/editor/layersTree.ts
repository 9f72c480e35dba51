// The "Netlens Layers" tree view: the active file's models and their module hierarchy with
// output shapes and parameters; clicking a layer opens the line that constructs it. A model's
// hierarchy is built by the analysis worker when the model is expanded.
import * as vscode from 'vscode';

import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';
import type { EditorView } from './editorView';
import { groupDigits, moduleDescription, type ModelHeadline, type ModuleNode } from './presentation';

export const LAYERS_VIEW_ID = 'netlens.layers';
const EXPANDED_MODELS_MAX = 3;

type LayersItem =
  | { kind: 'model'; model: ModelHeadline; index: number; view: EditorView; file: string }
  | { kind: 'module'; node: ModuleNode; modelKey: string };

class LayersProvider implements vscode.TreeDataProvider<LayersItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private view: EditorView | undefined;
  private file = '';
  /** Each expanded model's children as last shown, by model key. */
  private readonly lastChildren = new Map<string, ModuleNode[]>();

  constructor(private readonly context: EditorContext) {}

  /** Shows the active file's view; keeps the last tree while the next view is computed. */
  refresh(): void {
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !isAnalyzable(document)) return;
    const view = this.context.analysis.currentView(document);
    if (!view) {
      if (document.uri.fsPath !== this.file) void this.context.analysis.viewFor(document, true);
      return;
    }
    if (this.file !== document.uri.fsPath) this.lastChildren.clear();
    this.file = document.uri.fsPath;
    this.view = view;
    this.changed.fire();
  }

  async getChildren(element?: LayersItem): Promise<LayersItem[]> {
    const view = this.view;
    if (!element) return view ? view.models.map((model, index) => ({ kind: 'model', model, index, view, file: this.file })) : [];
    if (element.kind === 'module') return element.node.children.map((node) => ({ kind: 'module', node, modelKey: element.modelKey }));
    const modelKey = `${element.file}#${element.model.entry}`;
    // A newer analysis replaced the view meanwhile: keep the model's last children until that
    // analysis's view (which refreshes the tree) is shown.
    const nodes = await this.context.analysis.moduleTree(element.view, element.index) ?? this.lastChildren.get(modelKey) ?? [];
    this.lastChildren.set(modelKey, nodes);
    return nodes.map((node) => ({ kind: 'module', node, modelKey }));
  }

  getTreeItem(element: LayersItem): vscode.TreeItem {
    if (element.kind === 'model') {
      const { model } = element;
      // A file of many models (every block class constructible on its own) opens collapsed:
      // expanding them all would build every module tree on each re-analysis.
      const expand = (this.view?.models.length ?? 0) <= EXPANDED_MODELS_MAX;
      const item = new vscode.TreeItem(model.name, expand ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      // Stable ids keep what the user expanded across the re-analysis of every edit.
      item.id = `${element.file}#${model.entry}`;
      item.description = `${groupDigits(model.params.total)} params`;
      item.tooltip = `${model.name} (${model.entry})`;
      item.iconPath = new vscode.ThemeIcon('symbol-class');
      if (model.line !== undefined) item.command = openLine(model.definedIn ?? element.file, model.line);
      return item;
    }
    const { node } = element;
    const item = new vscode.TreeItem(node.name, node.children.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `${element.modelKey}/${node.path}`;
    item.description = moduleDescription(node);
    item.tooltip = `${node.path}${node.type ? ` (${node.type})` : ''}\n${item.description}`;
    item.iconPath = new vscode.ThemeIcon(node.type ? 'symbol-field' : 'symbol-namespace');
    if (node.file && node.line !== undefined) item.command = openLine(node.file, node.line);
    return item;
  }
}

function openLine(file: string, line: number): vscode.Command {
  const position = new vscode.Position(line - 1, 0);
  return {
    title: 'Go to Definition',
    command: 'vscode.open',
    arguments: [vscode.Uri.file(file), { selection: new vscode.Range(position, position), preserveFocus: false } satisfies vscode.TextDocumentShowOptions],
  };
}

export function registerLayersTree(context: EditorContext): vscode.Disposable {
  const provider = new LayersProvider(context);
  const view = vscode.window.createTreeView(LAYERS_VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  provider.refresh();
  return vscode.Disposable.from(
    view,
    vscode.window.onDidChangeActiveTextEditor(() => provider.refresh()),
    context.analysis.onDidChangeReport(() => provider.refresh()),
  );
}
