// Messages between the extension and the "Netlens Engine" webview. Type-only on both sides.
import type { EngineHello } from '../../extension/engine/protocol';

export type EngineInfoViewState =
  | { status: 'starting' }
  | { status: 'ready'; hello: EngineHello }
  | { status: 'failed'; error: string }
  | { status: 'disabled'; reason: string };

/** Extension → webview. */
export type ToEngineInfoView = { type: 'state'; state: EngineInfoViewState };

/** Webview → extension. */
export type FromEngineInfoView = { type: 'ready' } | { type: 'restartEngine' };

export function isFromEngineInfoView(value: unknown): value is FromEngineInfoView {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'restartEngine';
}

export function isToEngineInfoView(value: unknown): value is ToEngineInfoView {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; state?: { status?: unknown } };
  return message.type === 'state' && typeof message.state === 'object' && message.state !== null &&
    typeof message.state.status === 'string';
}
