// The `netlens analyze --json` document. By default it keeps the fields of the contract in
// ARCHITECTURE.md (plus the small machine-readable extras: per-layer saved_bytes, the memory
// breakdown, diagnostic codes, ranges and fixes); the editor's bulky detail (forward
// statements, per-layer inputs, parameter shapes, arithmetic) only with --detail, because it
// makes the document several times larger on real models.
import type { FileReport, LayerReport, ModelReport } from '../analysis/reportTypes';

type ContractLayer = Pick<LayerReport, 'path' | 'type' | 'file' | 'line' | 'output' | 'params' | 'macs' | 'saved_bytes'>;
type ContractModel = Omit<ModelReport, 'layers' | 'statements' | 'line' | 'definedIn' | 'graph'> & { layers: ContractLayer[] };
export type ContractFileReport = Omit<FileReport, 'models'> & { models: ContractModel[] };

export function contractLayer(layer: LayerReport): ContractLayer {
  const out: ContractLayer = {
    path: layer.path, type: layer.type, file: layer.file, line: layer.line, output: layer.output, params: layer.params, macs: layer.macs,
  };
  if (layer.saved_bytes !== undefined) out.saved_bytes = layer.saved_bytes;
  return out;
}

export function contractModel(model: ModelReport): ContractModel {
  // Fields other rooms add to the model later (memory breakdowns) stay; only the editor's detail goes.
  const { layers, statements: _statements, line: _line, definedIn: _definedIn, graph: _graph, ...contract } = model;
  return { ...contract, layers: layers.map(contractLayer) };
}

/** The JSON text of a report: the contract's fields, or everything with `detail`. */
export function reportJson(report: FileReport, detail: boolean): string {
  const document: FileReport | ContractFileReport = detail ? report : { ...report, models: report.models.map(contractModel) };
  return JSON.stringify(document, null, 2) + '\n';
}
