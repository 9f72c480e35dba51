// The inline experience in a real VS Code: examples/lenet5.py shows its shapes as inlay hints,
// a hover on a layer, the model's CodeLens, the status bar memory, the "Netlens Layers" tree and
// the summary page; a shape bug typed into the file is squiggled with its arithmetic (and fixed
// by the quick fix when the analyzer offers one); "Set Input Shape…" changes the hints, and a
// batch too large for the GPU turns the CodeLens and status bar into a warning.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { hintColumn } from '../../extension/editor/presentation';
import { repoRoot, UI_TIMEOUT_MS, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

const GPU_GB = 8;
let session: VsCodeSession;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const squash = (text: string) => text.replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim();

/** Polls until `read` gives a value `accept` takes; the last value is in the error otherwise. */
async function waitFor<T>(what: string, read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = UI_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(250);
    value = await read();
  }
  return value;
}

/** The rendered editor line that starts with `code` (hints included), squashed. */
async function renderedLine(code: string): Promise<string | undefined> {
  const lines = await session.visibleEditorLines();
  return lines.map(squash).find((line) => line.startsWith(squash(code)));
}

/** Waits until the line shows `hint` where the extension places it (before a trailing comment). */
async function expectHint(code: string, hint: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  const { column } = hintColumn(code);
  const before = code.slice(0, column);
  const after = code.slice(column);
  // Inlay hint padding is CSS, not a character: accept the hint with or without spaces around it.
  const accepted = new Set([`${before} ${hint} ${after}`, `${before}${hint}${after}`, `${before} ${hint}${after}`, `${before}${hint} ${after}`].map(squash));
  await waitFor(`hint "${hint}" on "${code.trim()}"`, () => renderedLine(before), (line) => line !== undefined && accepted.has(line), timeoutMs);
}

async function goToLine(line: number, column = 1): Promise<void> {
  await session.page.keyboard.press('Control+g');
  const input = session.page.locator('.quick-input-widget input.input');
  await input.waitFor({ timeout: UI_TIMEOUT_MS });
  // Ctrl+G opens Quick Open with the ':' prefix; filling replaces it, so write it again.
  await input.fill(`:${line}:${column}`);
  await session.page.keyboard.press('Enter');
  await waitFor(`cursor on line ${line}`, async () => squash((await session.page.locator('#status\\.editor\\.selection').textContent()) ?? ''),
    (text) => text.startsWith(`Ln ${line}, Col ${column}`));
}

before(async () => {
  session = await VsCodeSession.start({ name: 'editor', settings: { 'netlens.gpuMemoryGB': GPU_GB, 'netlens.optimizer': 'adam' } });
  await session.step('open-lenet5', () => session.openFile('lenet5.py'));
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
});

test('inlay hints: the output shape and params after each layer construction line', { timeout: 120_000 }, async () => {
  await session.step('layer-hints', async () => {
    // The first analysis also starts the worker and loads the parser: allow it time.
    await expectHint('        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)', '→ [1, 6, 28, 28] · 156 params', 90_000);
    await expectHint('        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)', '→ [1, 6, 14, 14] … [1, 16, 5, 5] (2 calls)');
    await expectHint('        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)', '→ [1, 16, 10, 10] · 2.42 k params');
    await expectHint('        self.fc1 = nn.Linear(16 * 5 * 5, 120)', '→ [1, 120] · 48.12 k params');
    await expectHint('        self.fc2 = nn.Linear(120, 84)', '→ [1, 84] · 10.16 k params');
    await expectHint('        self.fc3 = nn.Linear(84, num_classes)', '→ [1, 10] · 850 params');
  });
  await session.screenshot('inlay-hints', 'editor-inlay-hints');
});

test('CodeLens above the model and the status bar: params, MACs, training memory, GPU fit', { timeout: 60_000 }, async () => {
  // Memory numbers come from the analyzer's memory model; the lens must show exactly its numbers.
  const file = path.join(repoRoot, 'examples', 'lenet5.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { optimizer: 'adam', dtype: 'float32' });
  const peak = report.models[0]?.memory.training_peak_bytes ?? 0;
  const lens = await session.step('codelens', () => waitFor('CodeLens',
    async () => (await session.page.$$eval('.monaco-editor .codelens-decoration', (elements) => elements.map((element) => element.textContent ?? ''))).map(squash),
    (texts) => texts.some((text) => text.startsWith('LeNet5:'))));
  const text = lens.find((line) => line.startsWith('LeNet5:')) ?? '';
  assert.match(text, /^LeNet5: 61\.71 k params · 416\.52 k MACs · training \d+\.\d\d (KiB|MiB) at batch 1, float32, adam · fits the 8\.00 GiB GPU/);
  assert.ok(peak > 0 && peak < GPU_GB * 2 ** 30, `analyzer peak ${peak}`);
  assert.match(text, /\| Summary \| Train \| Inspect$/, 'the actions sit next to the numbers');
  assert.equal(lens.filter((line) => line.startsWith('LeNet5:')).length, 1, 'one lens for the class and its `model = LeNet5()` instance');
  // The lens sits right above `class LeNet5(nn.Module):`, not above `model = LeNet5()` at the end.
  const lensBoxes = await session.page.$$eval('.editor-instance .monaco-editor .codelens-decoration',
    (elements) => elements.map((element) => ({ text: element.textContent ?? '', bottom: element.getBoundingClientRect().bottom })));
  const lineBoxes = await session.page.$$eval('.editor-instance .monaco-editor .view-line',
    (elements) => elements.map((element) => ({ text: element.textContent ?? '', top: element.getBoundingClientRect().top, height: element.getBoundingClientRect().height })));
  const lensBox = lensBoxes.find((box) => squash(box.text).startsWith('LeNet5:'));
  const classBox = lineBoxes.find((box) => squash(box.text).startsWith('class LeNet5('));
  const placement = lensBox && classBox ? { gap: classBox.top - lensBox.bottom, lineHeight: classBox.height } : undefined;
  assert.ok(placement && placement.gap > -1 && placement.gap < placement.lineHeight, `lens placement ${JSON.stringify(placement)}`);

  const status = await session.step('status-bar', () => waitFor('status bar item',
    async () => squash((await session.page.locator('.statusbar-item', { hasText: 'LeNet5:' }).first().textContent().catch(() => '')) ?? ''),
    (value) => value.includes('LeNet5:')));
  assert.match(status, /LeNet5: \d+\.\d\d (KiB|MiB) \/ 8\.00 GiB/);
  await session.screenshot('codelens', 'editor-codelens');
});

test('hover on a layer: type, output shape, params, MACs and the summary link', { timeout: 60_000 }, async () => {
  await goToLine(14, 20);
  await session.page.keyboard.press('Control+k');
  await session.page.keyboard.press('Control+i');
  const hover = await session.step('hover', () => waitFor('hover',
    async () => squash((await session.page.locator('.monaco-hover-content').first().textContent().catch(() => '')) ?? ''),
    (text) => text.includes('conv1')));
  assert.match(hover, /conv1: Conv2d/);
  const lenet = path.join(repoRoot, 'examples', 'lenet5.py');
  const conv1 = (await analyzeFile(lenet, fs.readFileSync(lenet, 'utf8'), {})).models[0]?.layers.find((layer) => layer.path === 'conv1');
  // The input shape, the arithmetic and the weight/bias split appear when the analyzer reports them.
  assert.ok(hover.includes(conv1?.inputs ? 'Output: [1, 1, 32, 32] → [1, 6, 28, 28]' : 'Output: [1, 6, 28, 28]'), hover);
  assert.match(hover, /Params: 156/);
  assert.match(hover, /MACs: 117,600/);
  assert.match(hover, /Open summary/);
  for (const line of conv1?.arithmetic ?? []) assert.ok(hover.includes(squash(line)), `hover lacks "${line}": ${hover}`);
  if (conv1?.parameters) assert.match(hover, /weight \[6, 1, 5, 5\] = 150 \+ bias \[6\] = 6/);
  // conv1 keeps only the batch for backward, which the memory model counts as the input: said in words, not "0 B".
  if (conv1?.saved_bytes === 0) assert.match(hover, /Kept for backward: its input, the batch itself \(counted once, as the input batch/);
  assert.doesNotMatch(hover, /Kept for backward: 0 B/);
  // The hover fades in: wait until it is opaque so the screenshot shows it, not the code under it.
  await waitFor('hover opaque', () => session.page.locator('.monaco-hover').first().evaluate((element) => getComputedStyle(element).opacity), (opacity) => opacity === '1');
  await session.screenshot('hover', 'editor-hover');
  await session.page.keyboard.press('Escape');
});

test('inlay hints after forward statements', { timeout: 60_000 }, async () => {
  const file = path.join(repoRoot, 'examples', 'lenet5.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), {});
  assert.ok(report.models.some((model) => (model.statements ?? []).length > 0), 'the analyzer reports no forward statements');
  await session.step('forward-hints', async () => {
    await expectHint('        x = self.pool(F.relu(self.conv1(x)))   # 6 x 14 x 14', '→ [1, 6, 14, 14]');
    await expectHint('        x = self.pool(F.relu(self.conv2(x)))   # 16 x 5 x 5', '→ [1, 16, 5, 5]');
    await expectHint('        x = x.view(x.size(0), -1)', '→ [1, 400]');
    await expectHint('        return self.fc3(x)', '→ [1, 10]');
  });
  await session.screenshot('forward-hints', 'editor-forward-hints');
  await goToLine(24, 9);
  await session.page.keyboard.press('Control+k');
  await session.page.keyboard.press('Control+i');
  const hover = await session.step('statement-hover', () => waitFor('hover on a forward statement',
    async () => squash((await session.page.locator('.monaco-hover-content').first().textContent().catch(() => '')) ?? ''),
    (text) => text.includes('Shape:')));
  assert.match(hover, /^Shape: \[1, 400\]/);
  await session.page.keyboard.press('Escape');
});

test('"Netlens Layers" tree lists the modules; a click jumps to the line', { timeout: 60_000 }, async () => {
  await session.step('open-tree', async () => {
    await session.page.locator('.activitybar .action-item .action-label[aria-label^="Netlens"]').first().click();
  });
  const rows = await session.step('tree-rows', () => waitFor('tree rows',
    async () => (await session.page.$$eval('.part.sidebar .monaco-list-row', (elements) => elements.map((element) => element.textContent ?? ''))).map(squash),
    (texts) => texts.some((text) => text.startsWith('fc3'))));
  assert.ok(rows.includes('LeNet561,706 params'), JSON.stringify(rows));
  assert.ok(rows.includes('conv1Conv2d [1, 6, 28, 28] · 156 params'), JSON.stringify(rows));
  assert.ok(rows.includes('poolAvgPool2d [1, 6, 14, 14] ×2'), JSON.stringify(rows));
  assert.ok(rows.includes('fc1Linear [1, 120] · 48.12 k params'), JSON.stringify(rows));
  await session.screenshot('layers-tree', 'editor-layers-tree');
  await session.page.locator('.part.sidebar .monaco-list-row', { hasText: 'fc2' }).first().click();
  await waitFor('cursor on fc2', async () => squash((await session.page.locator('#status\\.editor\\.selection').textContent()) ?? ''),
    (text) => text.startsWith('Ln 18,'));
});

test('"Netlens: Show Model Summary" shows the torchinfo-like table', { timeout: 90_000 }, async () => {
  await session.step('run-summary', () => session.runCommand('Netlens: Show Model Summary'));
  const frame = await session.step('summary-frame', () => session.findWebviewFrame('#summary-layers-0', 60_000));
  const rows = await frame.$$eval('#summary-layers-0 tbody tr', (elements) =>
    elements.map((element) => Array.from(element.querySelectorAll('td')).map((cell) => (cell.textContent ?? '').trim())));
  assert.deepEqual(rows[0], ['conv1 (Conv2d)', '[1, 6, 28, 28]', '156', '117,600']);
  assert.deepEqual(rows[5], ['fc3 (Linear)', '[1, 10]', '850', '840']);
  const totals = await frame.$$eval('.totals tr', (elements) => elements.map((element) => (element.textContent ?? '').trim()));
  assert.ok(totals.includes('Total params61,706'), JSON.stringify(totals));
  await session.screenshot('summary', 'editor-summary');
  await session.step('copy-markdown', async () => {
    await frame.click('#summary-copy');
    await session.waitForNotification('model summary copied as Markdown');
    await session.runCommand('Notifications: Clear All Notifications');
  });
  // The click focused the summary's group; close the panel with its tab's close button (focus may
  // sit in the webview) so the editor is the only group again.
  await session.step('close-summary', async () => {
    const tab = session.page.locator('.tabs-container .tab[aria-label^="Netlens Summary"]');
    await tab.locator('.tab-actions .action-label').first().click();
    await tab.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  });
});

test('a planted shape bug is squiggled with its arithmetic', { timeout: 120_000 }, async () => {
  // Back to the editor; fc1 now expects 16×4×4 features while conv2/pool give 16×5×5.
  await session.step('focus-editor', () => session.openFile('lenet5.py'));
  await goToLine(17, 9);
  await session.page.keyboard.press('Shift+End');
  // The closing parenthesis types over the one the editor auto-closed.
  await session.page.keyboard.type('self.fc1 = nn.Linear(16 * 4 * 4, 120)');
  await waitFor('planted line', () => renderedLine('        self.fc1 = nn.Linear(16 * 4 * 4, 120)'), (line) => line !== undefined);
  const problems = await session.step('squiggle', async () => {
    await session.page.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 60_000 });
    await session.page.keyboard.press('Control+Shift+m');
    return waitFor('problems panel', async () =>
      (await session.page.$$eval('.markers-panel .monaco-list-row', (elements) => elements.map((element) => element.textContent ?? ''))).map(squash),
    // Typing goes through intermediate sources (`Linear(1`, `Linear(16 * 4`, …) whose diagnostics
    // may show first: wait for the one of the finished line.
    (texts) => texts.some((text) => text.includes('Linear expects 256 ')), 60_000);
  });
  const message = problems.find((text) => text.includes('Linear expects 256 ')) ?? '';
  assert.match(message, /Linear expects 256 input features, gets 400 = 16×5×5/);
  assert.match(message, /Netlens/);
  await session.screenshot('shape-bug', 'editor-shape-bug');
});

test('the quick fix of the planted bug sets in_features to the computed value', { timeout: 90_000 }, async () => {
  const file = path.join(repoRoot, 'examples', 'lenet5.py');
  const planted = fs.readFileSync(file, 'utf8').replace('nn.Linear(16 * 5 * 5, 120)', 'nn.Linear(16 * 4 * 4, 120)');
  const report = await analyzeFile(file, planted, {});
  const fixable = [...report.diagnostics, ...report.models.flatMap((model) => model.diagnostics)].find((diagnostic) => diagnostic.fix);
  assert.ok(fixable?.fix, 'the analyzer reports no `fix` for the planted Linear in_features bug');
  await goToLine(fixable.line, fixable.col + 1);
  await session.page.keyboard.press('Control+.');
  const action = session.page.locator('.action-widget .monaco-list-row', { hasText: fixable.fix?.title ?? '' }).first();
  await session.step('quick-fix-menu', () => action.waitFor({ timeout: UI_TIMEOUT_MS }));
  await session.screenshot('quick-fix', 'editor-quick-fix');
  // Enter, not a click: the action widget lays a pointer block over the page while it is open.
  assert.match((await action.getAttribute('class')) ?? '', /\bfocused\b/, 'the fix is not the selected action');
  await session.page.keyboard.press('Enter');
  await expectHint('        self.fc1 = nn.Linear(400, 120)', '→ [1, 120] · 48.12 k params', 60_000);
});

test('"Netlens: Set Input Shape…" re-analyzes with the new batch', { timeout: 90_000 }, async () => {
  // Undo the planted bug (or the fix) so the model traces again.
  await session.step('restore-line', async () => {
    await goToLine(17, 9);
    await session.page.keyboard.press('Shift+End');
    await session.page.keyboard.type('self.fc1 = nn.Linear(16 * 5 * 5, 120)');
    await expectHint('        self.fc1 = nn.Linear(16 * 5 * 5, 120)', '→ [1, 120] · 48.12 k params', 60_000);
  });
  await session.step('set-input-shape', async () => {
    await session.runCommand('Netlens: Set Input Shape…');
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill('4,1,32,32');
    await session.page.keyboard.press('Enter');
  });
  await expectHint('        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)', '→ [4, 6, 28, 28] · 156 params', 60_000);
  await expectHint('        self.fc3 = nn.Linear(84, num_classes)', '→ [4, 10] · 850 params');
});

test('a batch that does not fit the GPU: a warning on the CodeLens and the status bar, with the largest batch that fits', { timeout: 90_000 }, async () => {
  const batch = 200_000;
  await session.step('set-huge-batch', async () => {
    await session.runCommand('Netlens: Set Input Shape…');
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill(`${batch},1,32,32`);
    await session.page.keyboard.press('Enter');
  });
  // The analyzer's own answer for this model, batch, dtype, optimizer and GPU.
  const file = path.join(repoRoot, 'examples', 'lenet5.py');
  const source = fs.readFileSync(file, 'utf8');
  const entry = (await analyzeFile(file, source, {})).models[0]?.entry ?? 'LeNet5()';
  const sized = await analyzeFile(file, source, {
    entry, inputs: [{ shape: [batch, 1, 32, 32] }], optimizer: 'adam', dtype: 'float32', maxBatchTable: true, gpuMemoryGB: GPU_GB * 2 ** 30 / 1e9,
  });
  const memory = sized.models[0]?.memory;
  const largest = memory?.max_batch?.entries.find((candidate) => candidate.optimizer === 'adam' && candidate.dtype === 'float32')?.batch;
  assert.ok(memory && memory.training_peak_bytes > GPU_GB * 2 ** 30 && largest !== undefined && largest > 0 && largest < batch,
    `analyzer: peak ${memory?.training_peak_bytes}, largest batch ${largest}`);

  const lens = await session.step('codelens-does-not-fit', () => waitFor('CodeLens with the GPU warning',
    async () => (await session.page.$$eval('.monaco-editor .codelens-decoration', (elements) => elements.map((element) => element.textContent ?? ''))).map(squash),
    (texts) => texts.some((text) => text.startsWith('LeNet5:') && text.includes('largest batch that fits')), 60_000));
  const text = lens.find((line) => line.startsWith('LeNet5:')) ?? '';
  assert.match(text, new RegExp(`^LeNet5: ⚠ does not fit the 8\\.00 GiB GPU — largest batch that fits: ${largest} · 61\\.71 k params · .* at batch ${batch}, float32, adam`));
  const status = session.page.locator('.statusbar-item', { hasText: 'LeNet5:' }).first();
  const statusText = await waitFor('status bar warning', async () => squash((await status.textContent().catch(() => '')) ?? ''), (value) => value.includes('does not fit'));
  assert.match(statusText, /LeNet5: \d+\.\d\d GiB \/ 8\.00 GiB — does not fit/);
  assert.ok(await status.locator('.codicon-warning').count() > 0, 'the status bar item shows the warning icon');
  await session.screenshot('does-not-fit', 'editor-does-not-fit');

  // Back to the file's own input so later runs start from the same state.
  await session.step('clear-input-shape', async () => {
    await session.runCommand('Netlens: Set Input Shape…');
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill('');
    await session.page.keyboard.press('Enter');
  });
  await expectHint('        self.fc3 = nn.Linear(84, num_classes)', '→ [1, 10] · 850 params', 60_000);
});
