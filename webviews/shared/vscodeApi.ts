// The webview side of messaging. Inside VS Code it wraps acquireVsCodeApi(); in a plain browser
// (fixture pages, fast tests) it replays a message log given as ?fixture=<url of a JSON array>.

interface VsCodeWebviewApi {
  postMessage(message: unknown): void;
}

declare global {
  // Provided by VS Code inside webviews only.
  var acquireVsCodeApi: (() => VsCodeWebviewApi) | undefined;
}

export interface WebviewChannel<Outgoing> {
  post(message: Outgoing): void;
  /** Calls `listener` with every message the extension (or the fixture log) sends. */
  listen(listener: (message: unknown) => void): void;
  readonly insideVsCode: boolean;
}

export function connect<Outgoing>(): WebviewChannel<Outgoing> {
  const api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  return {
    insideVsCode: api !== undefined,
    post(message) {
      if (api) api.postMessage(message);
      else console.info('[netlens webview] would post', message);
    },
    listen(listener) {
      window.addEventListener('message', (event: MessageEvent<unknown>) => listener(event.data));
      if (!api) void replayFixture(listener);
    },
  };
}

async function replayFixture(listener: (message: unknown) => void): Promise<void> {
  const fixtureUrl = new URLSearchParams(window.location.search).get('fixture');
  if (!fixtureUrl) return;
  const response = await fetch(fixtureUrl);
  const messages: unknown = await response.json();
  if (!Array.isArray(messages)) throw new Error(`fixture ${fixtureUrl} is not a JSON array of messages`);
  for (const message of messages) listener(message);
}
