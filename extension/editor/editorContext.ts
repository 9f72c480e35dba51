// What the editor features share: the analysis service and the memory context (dtype,
// optimizer, GPU memory) their numbers are stated in, with one event for when that changes.
import * as vscode from 'vscode';

import type { AnalysisService } from './analysisService';
import { gpuMemoryBytes } from './config';
import type { EngineService } from './engineService';
import type { MemoryContext } from './presentation';
import type { EngineInfoViewState } from '../../webviews/engineInfo/messages';

/** The engine's GPU when it reports one (it sizes the CUDA-only memory terms). */
function reportedGpu(state: EngineInfoViewState): { name: string; computeCapability: string } | undefined {
  return state.status === 'ready' && state.hello.gpuPresent ? { name: state.hello.deviceName, computeCapability: state.hello.computeCapability } : undefined;
}

export class EditorContext implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  /** Fires when the GPU memory or the memory settings change (reports change through the service). */
  readonly onDidChangeMemoryContext = this.changed.event;

  constructor(readonly analysis: AnalysisService, private readonly engine: EngineService) {
    analysis.setGpu(reportedGpu(engine.current));
    this.disposables.push(
      engine.onDidChangeState((state) => {
        analysis.setGpu(reportedGpu(state));
        this.changed.fire();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('netlens')) this.changed.fire();
      }),
    );
  }

  memoryContext(): MemoryContext {
    const settings = this.analysis.currentSettings;
    return { dtype: settings.dtype, optimizer: settings.optimizer, gpuMemoryBytes: gpuMemoryBytes(this.engine.current) };
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
