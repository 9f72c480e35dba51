// The "Netlens Layers" tree view: the active file's models and their module hierarchy with
// output shapes and parameters; clicking a layer opens the line that constructs it.
import * as vscode from 'vscode';

import type { ModelReport } from '../analysis/reportTypes';
import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';
import { groupDigits, moduleDescription, moduleTree, type ModuleNode } from './presentation';

export const LAYERS_VIEW_ID = 'netlens.layers';
const EXPANDED_MODELS_MAX = 3;

type LayersItem = { kind: 'model'; model: ModelReport; file: string } | { kind: 'module'; node: ModuleNode; modelKey: string };

class LayersProvider implements vscode.TreeDataProvider<LayersItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private models: ModelReport[] = [];
  private file = '';

  constructor(private readonly context: EditorContext) {}

  /** Shows the active file's report; keeps the last tree while the next report is computed. */
  refresh(): void {
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !isAnalyzable(document)) return;
    const report = this.context.analysis.currentReport(document);
    if (!report) {
      if (document.uri.fsPath !== this.file) void this.context.analysis.reportFor(document, true);
      return;
    }
    this.file = document.uri.fsPath;
    this.models = report.models;
    this.changed.fire();
  }

  getChildren(element?: LayersItem): LayersItem[] {
    if (!element) return this.models.map((model) => ({ kind: 'model', model, file: this.file }));
    const modelKey = element.kind === 'model' ? `${element.file}#${element.model.entry}` : element.modelKey;
    const nodes = element.kind === 'model' ? moduleTree(element.model) : element.node.children;
    return nodes.map((node) => ({ kind: 'module', node, modelKey }));
  }

  getTreeItem(element: LayersItem): vscode.TreeItem {
    if (element.kind === 'model') {
      const { model } = element;
      // A file of many models (every block class constructible on its own) opens collapsed:
      // expanding them all would build every module tree on each re-analysis.
      const expand = this.models.length <= EXPANDED_MODELS_MAX;
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
