// The webview side of messaging. Inside VS Code it wraps acquireVsCodeApi(); in a plain browser
// (fixture pages, fast tests) it replays a message log given as ?fixture=<url of a JSON array>.

interface VsCodeWebviewApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  // Provided by VS Code inside webviews only.
  var acquireVsCodeApi: (() => VsCodeWebviewApi) | undefined;
}

export interface WebviewChannel<Outgoing> {
  post(message: Outgoing): void;
  /** Calls `listener` with every message the extension (or the fixture log) sends. */
  listen(listener: (message: unknown) => void): void;
  /** The page's saved view state: VS Code keeps it while a hidden panel's page is unloaded; a plain browser keeps it per tab. */
  getState(): unknown;
  setState(state: unknown): void;
  readonly insideVsCode: boolean;
}

const BROWSER_STATE_KEY = 'netlens.webviewState';

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
    getState() {
      if (api) return api.getState();
      const saved = window.sessionStorage.getItem(BROWSER_STATE_KEY);
      return saved === null ? undefined : (JSON.parse(saved) as unknown);
    },
    setState(state) {
      if (api) api.setState(state);
      else window.sessionStorage.setItem(BROWSER_STATE_KEY, JSON.stringify(state));
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
