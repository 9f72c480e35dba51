// `netlens analyze` as a user runs it: the command line grammar, the JSON document of the
// contract in ARCHITECTURE.md, the table, and exit code 2 with a message naming the bad flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { parseCommandLine, parseInputSpec, UsageError } from '../../extension/cli/args';
import { main } from '../../extension/cli/main';
import { findPythonEnvironment } from '../../extension/cli/pythonEnvironment';
import type { FileReport } from '../../extension/analysis/reportTypes';

const repoRoot = path.resolve(__dirname, '..', '..');
const cliEntry = path.join(repoRoot, 'extension', 'cli', 'main.ts');
// No Python environment: the results must not depend on what the machine has installed.
const quietEnv = { ...process.env, NETLENS_PYTHON: 'none', VIRTUAL_ENV: '', CONDA_PREFIX: '' };

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    cwd: repoRoot,
    env: quietEnv,
  });
  return { code, stdout, stderr };
}

function usageMessage(args: string[]): string {
  try {
    parseCommandLine(args);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`expected ${args.join(' ')} to be a usage error`);
}

test('--input takes the full shape, an optional dtype, and symbolic names', () => {
  assert.deepEqual(parseInputSpec('1,3,224,224'), { shape: [1, 3, 224, 224] });
  assert.deepEqual(parseInputSpec('8,128:int64'), { shape: [8, 128], dtype: 'int64' });
  assert.deepEqual(parseInputSpec('(1, 3, 32, 32)'), { shape: [1, 3, 32, 32] });
  assert.deepEqual(parseInputSpec('N,3,H,W:bfloat16'), { shape: ['N', 3, 'H', 'W'], dtype: 'bfloat16' });
  assert.deepEqual(parseInputSpec('16,'), { shape: [16] });
});

test('analyze options parse in both --flag value and --flag=value forms', () => {
  const command = parseCommandLine(['analyze', 'model.py', '--entry', 'Net(num_classes=10)', '--input=2,3,32,32',
    '--input', '2,7:int64', '--batch', '64', '--dtype=bfloat16', '--optimizer', 'adamw', '--python-path', 'src',
    '--python-path=lib', '--json']);
  assert.deepEqual(command, {
    kind: 'analyze',
    options: {
      file: 'model.py', entry: 'Net(num_classes=10)',
      inputs: [{ shape: [2, 3, 32, 32] }, { shape: [2, 7], dtype: 'int64' }],
      batch: 64, dtype: 'bfloat16', optimizer: 'adamw', pythonPath: ['src', 'lib'], json: true, detail: false,
    },
  });
});

test('usage errors name the bad flag and the fix', () => {
  assert.match(usageMessage(['analyze']), /missing FILE/);
  assert.match(usageMessage(['analyze', 'a.py', '--frobnicate']), /unknown option --frobnicate/);
  assert.match(usageMessage(['analyze', 'a.py', '--batch', 'x']), /--batch 'x' is not a positive whole number/);
  assert.match(usageMessage(['analyze', 'a.py', '--batch', '0']), /--batch '0'/);
  assert.match(usageMessage(['analyze', 'a.py', '--dtype', 'float8']), /--dtype 'float8' is not one of float32, bfloat16, float16/);
  assert.match(usageMessage(['analyze', 'a.py', '--optimizer', 'lamb']), /--optimizer 'lamb'/);
  assert.match(usageMessage(['analyze', 'a.py', '--input', '1,3,x-1']), /--input '1,3,x-1': 'x-1' is not/);
  assert.match(usageMessage(['analyze', 'a.py', '--input', '1,0,4']), /dimension 0 must be positive/);
  assert.match(usageMessage(['analyze', 'a.py', '--input', '4,8:int8']), /dtype 'int8' is not one of/);
  assert.match(usageMessage(['analyze', 'a.py', '--entry']), /--entry needs a value/);
  assert.match(usageMessage(['analyze', 'a.py', 'b.py']), /takes one FILE, got 2/);
  assert.match(usageMessage(['analyse', 'a.py']), /unknown command 'analyse'/);
});

test('help, version, and the commands that are not there yet', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /netlens analyze FILE/);
  const analyzeHelp = await runCli(['analyze', '--help']);
  assert.equal(analyzeHelp.code, 0);
  assert.match(analyzeHelp.stdout, /--input SHAPE\[:DT\]/);
  const version = await runCli(['--version']);
  assert.match(version.stdout, /^netlens \d+\.\d+\.\d+\n$/);
  for (const command of ['train', 'bench']) {
    const result = await runCli([command, '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, new RegExp(`Usage: netlens ${command} FILE`));
  }
});

test('a missing FILE or --python-path is a usage error (exit 2)', async () => {
  const missing = await runCli(['analyze', 'examples/no_such_model.py', '--json']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read FILE 'examples\/no_such_model.py': no such file/);
  assert.equal(missing.stdout, '');
  const badRoot = await runCli(['analyze', 'examples/lenet5.py', '--python-path', 'no/such/dir']);
  assert.equal(badRoot.code, 2);
  assert.match(badRoot.stderr, /--python-path 'no\/such\/dir' does not exist/);
});

test('--json prints one document in the contract shape', async () => {
  const result = await runCli(['analyze', 'examples/lenet5.py', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as FileReport;
  assert.equal(path.resolve(repoRoot, report.file), path.join(repoRoot, 'examples', 'lenet5.py'));
  const lenet = report.models.find((model) => model.name === 'LeNet5');
  assert.ok(lenet, `LeNet5 not among ${report.models.map((m) => m.name).join(', ')}`);
  assert.deepEqual(lenet.inputs, [[1, 1, 32, 32]], 'the # netlens: input comment gives the input');
  assert.deepEqual(lenet.output, [[1, 10]]);
  assert.deepEqual(lenet.params, { total: 61706, trainable: 61706 });
  assert.equal(typeof lenet.macs, 'number');
  assert.deepEqual(lenet.layers.map((layer) => layer.path), ['conv1', 'pool', 'conv2', 'pool', 'fc1', 'fc2', 'fc3']);
  // The contract's fields; the report may carry more detail (hover data, saved bytes).
  for (const layer of lenet.layers) {
    for (const key of ['path', 'type', 'file'] as const) assert.equal(typeof layer[key], 'string', `${layer.path}.${key}`);
    for (const key of ['line', 'params', 'macs'] as const) assert.equal(typeof layer[key], 'number', `${layer.path}.${key}`);
    assert.ok(Array.isArray(layer.output), `${layer.path}.output`);
    assert.ok(layer.line >= 1, `${layer.path}: line ${layer.line}`);
  }
  const conv1 = lenet.layers[0];
  assert.deepEqual(
    { path: conv1.path, type: conv1.type, file: conv1.file, line: conv1.line, output: conv1.output, params: conv1.params, macs: conv1.macs },
    { path: 'conv1', type: 'Conv2d', file: path.join(repoRoot, 'examples', 'lenet5.py'), line: 14,
      output: [[1, 6, 28, 28]], params: 156, macs: 6 * 28 * 28 * 1 * 25 });
  for (const key of ['params_bytes', 'grads_bytes', 'optimizer_bytes', 'activations_bytes', 'training_peak_bytes', 'inference_peak_bytes'] as const) {
    assert.equal(typeof lenet.memory[key], 'number', `memory.${key}`);
  }
  assert.equal(lenet.memory.params_bytes, 61706 * 4);
  assert.ok(Array.isArray(lenet.diagnostics));
});

test('--json keeps the contract fields; --detail adds the editor detail', async () => {
  const plain = await runCli(['analyze', 'examples/lenet5.py', '--json']);
  const detailed = await runCli(['analyze', 'examples/lenet5.py', '--json', '--detail']);
  assert.equal(detailed.code, 0, detailed.stderr);
  const plainModel = (JSON.parse(plain.stdout) as FileReport).models[0];
  const detailModel = (JSON.parse(detailed.stdout) as FileReport).models[0];
  const contractModelKeys = ['name', 'entry', 'inputs', 'output', 'params', 'macs', 'layers', 'memory', 'diagnostics'];
  assert.deepEqual(Object.keys(plainModel).filter((key) => !contractModelKeys.includes(key)), []);
  const contractLayerKeys = ['path', 'type', 'file', 'line', 'output', 'params', 'macs', 'saved_bytes'];
  for (const layer of plainModel.layers) assert.deepEqual(Object.keys(layer).filter((key) => !contractLayerKeys.includes(key)), [], layer.path);

  assert.ok(detailModel.statements && detailModel.statements.length > 0, 'forward statements with --detail');
  const conv1 = detailModel.layers[0];
  assert.deepEqual(conv1.inputs, [[1, 1, 32, 32]]);
  assert.deepEqual(conv1.parameters, [{ name: 'weight', shape: [6, 1, 5, 5] }, { name: 'bias', shape: [6] }]);
  assert.deepEqual(conv1.arithmetic, ['H: (32 − 5 + 2·0)/1 + 1 = 28', 'W: (32 − 5 + 2·0)/1 + 1 = 28']);
  // The contract's part is the same document either way.
  assert.deepEqual(detailModel.layers.map((l) => [l.path, l.output, l.params, l.macs]), plainModel.layers.map((l) => [l.path, l.output, l.params, l.macs]));
  assert.ok(detailed.stdout.length > plain.stdout.length);

  assert.match(usageMessage(['analyze', 'a.py', '--detail']), /--detail adds fields to the JSON document; use it together with --json/);
  assert.match((await runCli(['analyze', '--help'])).stdout, /--detail/);
});

test('--entry, --input and --batch choose the model and its input', async () => {
  const result = await runCli(['analyze', 'examples/resnet_blocks.py', '--entry', 'resnet26_bottleneck(num_classes=7)',
    '--input', '3,3,64,64', '--batch', '5', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const [model] = (JSON.parse(result.stdout) as FileReport).models;
  assert.equal(model.name, 'SmallResNet');
  assert.equal(model.entry, 'resnet26_bottleneck(num_classes=7)');
  assert.deepEqual(model.inputs, [[5, 3, 64, 64]]);
  assert.deepEqual(model.output, [[5, 7]]);
});

test('without --json a torchinfo-like table with totals and memory', async () => {
  const result = await runCli(['analyze', 'examples/lenet5.py', '--entry', 'LeNet5()', '--optimizer', 'adam']);
  assert.equal(result.code, 0, result.stderr);
  const table = result.stdout;
  assert.match(table, /Layer \(type\)\s+Output Shape\s+Param #\s+MACs/);
  assert.match(table, /conv1 \(Conv2d\)\s+\[1, 6, 28, 28\]\s+156\s+117,600/);
  assert.match(table, /fc3 \(Linear\)\s+\[1, 10\]\s+850/);
  assert.match(table, /Total params: 61,706/);
  assert.match(table, /Trainable params: 61,706/);
  assert.match(table, /Memory \(default dtype, optimizer adam\):/);
  assert.match(table, /Parameters: +241\.04 KiB/);
});

test('symbolic dimensions read as names in the table', async () => {
  const result = await runCli(['analyze', 'examples/lenet5.py', '--entry', 'LeNet5()', '--input', 'N,1,32,32']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /fc3 \(Linear\)\s+\[N, 10\]/);
});

test('the CLI runs as a process: exit 0 with JSON, exit 2 on a usage error', () => {
  const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cliEntry, ...args],
    { cwd: repoRoot, encoding: 'utf8', env: quietEnv, timeout: 60_000 });
  const ok = run(['analyze', 'examples/alexnet.py', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as FileReport;
  assert.deepEqual(report.models.map((model) => model.output), [[[1, 1000]]]);
  const bad = run(['analyze', 'examples/alexnet.py', '--dtype', 'fp8']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^netlens: --dtype 'fp8' is not one of/);
});

test('a virtual environment\'s site-packages are found; NETLENS_PYTHON=none turns the search off', () => {
  const venv = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-venv-'));
  try {
    const sitePackages = path.join(venv, 'lib', 'python3.12', 'site-packages');
    fs.mkdirSync(sitePackages, { recursive: true });
    const found = findPythonEnvironment({ VIRTUAL_ENV: venv, NETLENS_PYTHON: path.join(venv, 'no-python') });
    assert.deepEqual(found, { source: 'VIRTUAL_ENV', sitePackages: [fs.realpathSync(sitePackages)] });
    assert.equal(findPythonEnvironment({ VIRTUAL_ENV: venv, NETLENS_PYTHON: 'none' }), undefined);
    assert.equal(findPythonEnvironment({ NETLENS_PYTHON: path.join(venv, 'no-python') }), undefined);
  } finally {
    fs.rmSync(venv, { recursive: true, force: true });
  }
});
