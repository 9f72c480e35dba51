// Entry of the engine process (bundled to dist/engineHost.js). The extension forks it so that a
// fault in native code ends this process, never the extension host. It loads the add-on named by
// NETLENS_ADDON_PATH (or argv[2]) and answers typed requests over the IPC channel.
import { loadAddon, type NativeAddon } from './addon';
import { EngineRuns } from '../training/engineRuns';
import { InferenceSessions } from '../training/inference';
import { OnnxEngineRequests } from '../onnx/engineRequests';
import {
  ADDON_PATH_ENV,
  ENGINE_TEST_ENV,
  isClientToHostMessage,
  type EngineHello,
  type EngineRequest,
  type EngineResponse,
  type EngineStartup,
  type HostToClientMessage,
} from './protocol';

function send(message: HostToClientMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hello(addon: NativeAddon, addonPath: string): EngineHello {
  return {
    ...addon.engineInfo(),
    addonPath,
    pid: process.pid,
    nodeVersion: process.version,
    napiVersion: process.versions.napi ?? 'unknown',
  };
}

let runs: EngineRuns | undefined;
function runsFor(addon: NativeAddon): EngineRuns {
  runs ??= new EngineRuns(addon);
  return runs;
}

let inference: InferenceSessions | undefined;
function inferenceFor(addon: NativeAddon): InferenceSessions {
  inference ??= new InferenceSessions(addon);
  return inference;
}

// ONNX requests answer asynchronously (onnxruntime's run is async); onnxruntime loads on the first one.
let onnx: OnnxEngineRequests | undefined;
async function answerOnnx(addon: NativeAddon, request: EngineRequest): Promise<EngineResponse> {
  try {
    onnx ??= new OnnxEngineRequests(addon);
    return { type: 'response', id: request.id, ok: true, result: await onnx.answer(request) };
  } catch (error) {
    return { type: 'response', id: request.id, ok: false, error: errorText(error) };
  }
}

function answer(addon: NativeAddon, addonPath: string, request: EngineRequest): EngineResponse | Promise<EngineResponse> {
  try {
    switch (request.kind) {
      case 'hello':
        return { type: 'response', id: request.id, ok: true, result: hello(addon, addonPath) };
      case 'engineOps':
        return { type: 'response', id: request.id, ok: true, result: addon.engineOps() };
      case 'bench':
      case 'trainOpen':
      case 'trainSteps':
      case 'trainEvaluate':
      case 'trainState':
      case 'trainLoadState':
      case 'trainOptimizerState':
      case 'trainLoadOptimizerState':
      case 'trainClose':
        return { type: 'response', id: request.id, ok: true, result: runsFor(addon).answer(request) };
      case 'inferOpen':
      case 'inferSample':
      case 'inferImageFile':
      case 'inferRun':
      case 'inferSaliency':
      case 'inferOcclusion':
      case 'inferState':
      case 'inferClose':
        return { type: 'response', id: request.id, ok: true, result: inferenceFor(addon).answer(request) };
      case 'onnxTable':
      case 'onnxOpen':
      case 'onnxImageFile':
      case 'onnxRun':
      case 'onnxOcclusion':
      case 'onnxClose':
      case 'onnxExport':
        return answerOnnx(addon, request);
      case 'crashForTest':
        if (process.env[ENGINE_TEST_ENV] === '1') process.abort();
        return { type: 'response', id: request.id, ok: false, error: `crashForTest needs ${ENGINE_TEST_ENV}=1` };
      default: {
        const unknownKind: never = request.kind;
        return { type: 'response', id: request.id, ok: false, error: `unknown request kind ${String(unknownKind)}` };
      }
    }
  } catch (error) {
    return { type: 'response', id: request.id, ok: false, error: errorText(error) };
  }
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write('netlens engine host: start it with child_process.fork (it needs an IPC channel)\n');
    process.exitCode = 2;
    return;
  }
  // The parent going away (extension host reload, crash) must not leave an orphan engine behind.
  process.on('disconnect', () => process.exit(0));
  // Ctrl-C in a terminal signals the whole process group: the parent (CLI) cancels the run
  // cleanly and needs this process alive to finish the chunk and hand back the checkpoint.
  process.on('SIGINT', () => undefined);

  const addonPath = process.env[ADDON_PATH_ENV] ?? process.argv[2] ?? '';
  let addon: NativeAddon;
  try {
    if (addonPath === '') throw new Error(`no add-on path given (set ${ADDON_PATH_ENV})`);
    addon = loadAddon(addonPath);
  } catch (error) {
    const failed: EngineStartup = { type: 'startupFailed', addonPath, error: errorText(error) };
    await send(failed);
    process.exit(1);
  }

  process.on('message', (message: unknown) => {
    if (!isClientToHostMessage(message)) {
      process.stderr.write(`netlens engine host: ignoring a malformed message\n`);
      return;
    }
    void Promise.resolve(answer(addon, addonPath, message)).then(send);
  });
  await send({ type: 'ready', addonPath, pid: process.pid });
}

void main();
