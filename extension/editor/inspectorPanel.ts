// The "Netlens Activations" panel: one webview that shows what an inspector source computes.
// It relays the page's requests (sample, image file, saliency, occlusion) to the source one at a
// time, keeps the latest answers to replay when the page (re)loads, and logs the page's timings.
import * as vscode from 'vscode';

import { inspectorBodyHtml } from '../../webviews/activations/body';
import { isFromInspector, type FromInspector, type ToInspector } from '../../webviews/activations/protocol';
import type { EngineInspectorSource } from './inspectorEngineSource';

/** What the panel needs of a source: the engine's own sessions, or an ONNX model's (onnxInspectorSource.ts). */
export type InspectorSource = Pick<EngineInspectorSource, 'sessionMessage' | 'filters' | 'sample' | 'imageFile' | 'saliency' | 'occlusion' | 'close'>;
import { createNetlensPanel } from './webviewPanel';

export const INSPECTOR_VIEW_TYPE = 'netlens.activations';

type Replayed = 'session' | 'filters' | 'image' | 'saliency' | 'occlusion' | 'status';
const REPLAY_ORDER: readonly Replayed[] = ['session', 'filters', 'image', 'saliency', 'occlusion', 'status'];

export class InspectorPanel implements vscode.Disposable {
  private static instance: InspectorPanel | undefined;
  private source: InspectorSource | undefined;
  private pageReady = false;
  /** The newest message of each kind, replayed when the page (re)loads. */
  private readonly latest = new Map<Replayed, ToInspector>();
  /** Engine requests run one after another; an image request waiting behind others only keeps the newest. */
  private queue: Promise<void> = Promise.resolve();
  private imageRequest = 0;
  private readonly disposables: vscode.Disposable[] = [];

  /** The open panel, or a new one beside the editor. */
  static show(extension: vscode.ExtensionContext, output: vscode.LogOutputChannel, title: string): InspectorPanel {
    if (InspectorPanel.instance) {
      InspectorPanel.instance.panel.title = `Activations: ${title}`;
      InspectorPanel.instance.panel.reveal(vscode.ViewColumn.Beside, true);
      return InspectorPanel.instance;
    }
    const panel = createNetlensPanel(
      extension,
      INSPECTOR_VIEW_TYPE,
      { page: 'activations', title: `Activations: ${title}`, bodyHtml: inspectorBodyHtml },
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
    );
    InspectorPanel.instance = new InspectorPanel(panel, output);
    return InspectorPanel.instance;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => this.received(message)),
      // A hidden webview is unloaded; when shown again the page says `ready` and gets the replay.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.pageReady = false;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Says what is being prepared (model analysis, engine session) before a source exists. */
  busy(message: string): void {
    this.post({ type: 'busy', message });
  }

  fail(message: string): void {
    this.post({ type: 'error', message });
  }

  /** Shows a new source (closing the previous one) and runs its first image. */
  attach(source: InspectorSource, first: { sample: number } | { file: string }): void {
    const previous = this.source;
    this.source = source;
    this.latest.clear();
    void previous?.close();
    this.post(source.sessionMessage());
    this.enqueue(async () => {
      const filters = await source.filters();
      if (filters && this.source === source) this.post(filters);
    });
    if ('file' in first) this.requestImageFile(first.file);
    else this.requestSample(first.sample);
  }

  dispose(): void {
    if (InspectorPanel.instance === this) InspectorPanel.instance = undefined;
    // Requests still in flight finish into the void.
    this.pageReady = false;
    void this.source?.close();
    this.source = undefined;
    for (const disposable of this.disposables) disposable.dispose();
    this.disposables.length = 0;
    this.panel.dispose();
  }

  private post(message: ToInspector): void {
    if (message.type === 'busy' || message.type === 'error') {
      this.latest.set('status', message);
    } else {
      this.latest.set(message.type, message);
      if (message.type === 'session' || message.type === 'image') this.latest.delete('status');
      if (message.type === 'image') {
        this.latest.delete('saliency');
        this.latest.delete('occlusion');
      }
    }
    if (this.pageReady) void this.panel.webview.postMessage(message);
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      this.output.error(`inspector: ${text}`);
      this.post({ type: 'error', message: text });
    });
  }

  private requestSample(index: number): void {
    const request = ++this.imageRequest;
    this.enqueue(async () => {
      const source = this.source;
      if (!source || request !== this.imageRequest) return;
      this.post(await source.sample(index));
    });
  }

  private requestImageFile(file: string): void {
    const request = ++this.imageRequest;
    this.enqueue(async () => {
      const source = this.source;
      if (!source || request !== this.imageRequest) return;
      this.post(await source.imageFile(file));
    });
  }

  private received(message: unknown): void {
    if (!isFromInspector(message)) return;
    this.handle(message);
  }

  private handle(message: FromInspector): void {
    switch (message.type) {
      case 'ready':
        this.pageReady = true;
        for (const kind of REPLAY_ORDER) {
          const latest = this.latest.get(kind);
          if (latest) void this.panel.webview.postMessage(latest);
        }
        break;
      case 'sample':
        this.requestSample(message.index);
        break;
      case 'openImageFile':
        void vscode.window
          .showOpenDialog({ canSelectMany: false, openLabel: 'Inspect', filters: { Images: ['png', 'jpg', 'jpeg'] } })
          .then((picked) => {
            const file = picked?.[0]?.fsPath;
            if (file) this.requestImageFile(file);
          });
        break;
      case 'saliency':
        this.enqueue(async () => {
          const answer = await this.source?.saliency(message.token, message.classIndex);
          if (answer) this.post(answer);
        });
        break;
      case 'occlusion':
        this.enqueue(async () => {
          const answer = await this.source?.occlusion(message.token, message.classIndex, message.patch, message.stride);
          if (answer) this.post(answer);
        });
        break;
      case 'rendered': {
        const { timing } = message;
        const image = this.latest.get('image');
        const engineMs = image?.type === 'image' && image.image.token === timing.token ? ` (engine ${image.image.sourceMs.toFixed(1)} ms)` : '';
        this.output.info(`inspector: ${timing.canvases} layers drawn in ${timing.renderMs.toFixed(1)} ms, on screen after ${timing.framedMs.toFixed(1)} ms${engineMs}`);
        break;
      }
    }
  }
}
