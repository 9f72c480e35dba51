// Re-analysis after an edit must report exactly what a cold analysis of the edited text
// reports: DocumentAnalyzer keeps its interpreter world (builtins, catalog, imported modules),
// the previous AST's unchanged top-level statements, memoised catalog signatures and memory
// rules across runs, and none of that may leak into a result. Each file goes through a chain
// of one-line edits (sent as incremental edits, or as whole texts as the editor's worker does),
// and every step is compared with `analyzeFile` on the same text in a fresh analyzer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile, DocumentAnalyzer, type AnalyzeOptions, type TextEdit } from '../../extension/analysis/index';

const examples = path.resolve(__dirname, '..', '..', 'examples');

/** The edit that replaces the first `from` in `text` by `to`, as an editor reports it. */
function replaceEdit(text: string, from: string, to: string): { text: string; edit: TextEdit } {
  const at = text.indexOf(from);
  assert.ok(at >= 0, `'${from}' not found`);
  const position = (index: number) => {
    const row = text.slice(0, index).split('\n').length - 1;
    return { row, column: index - (text.lastIndexOf('\n', index - 1) + 1) };
  };
  const start = position(at);
  const inserted = to.split('\n');
  const newEndPosition = inserted.length === 1
    ? { row: start.row, column: start.column + to.length }
    : { row: start.row + inserted.length - 1, column: inserted[inserted.length - 1].length };
  return {
    text: text.slice(0, at) + to + text.slice(at + from.length),
    edit: { startIndex: at, oldEndIndex: at + from.length, newEndIndex: at + to.length, startPosition: start, oldEndPosition: position(at + from.length), newEndPosition },
  };
}

interface EditChain {
  file: string;
  options: AnalyzeOptions;
  /** Applied one after the other; each step is checked. */
  edits: [from: string, to: string][];
}

const memoryOptions: AnalyzeOptions = { recordGraph: true, maxBatchTable: true, dtype: 'bfloat16', optimizer: 'adam' };

const chains: EditChain[] = [
  {
    file: 'lenet5.py',
    options: {},
    edits: [
      ['nn.Linear(120, 84)', 'nn.Linear(120, 80)'], // fc3 now gets 80 features where it expects 84: a diagnostic
      ['nn.Linear(84, num_classes)', 'nn.Linear(80, num_classes)'], // fixed again
      ['class LeNet5', '# a comment line above the class\nclass LeNet5'], // every later statement moves down a line
      ['kernel_size=5)', 'kernel_size=3)'],
    ],
  },
  {
    file: 'lenet5.py',
    options: { ...memoryOptions, inputs: [{ shape: [4, 1, 32, 32] }] },
    edits: [['nn.Conv2d(6, 16', 'nn.Conv2d(6, 12'], ['nn.Conv2d(6, 12', 'nn.Conv2d(6, 16'], ['num_classes=10', 'num_classes=3']],
  },
  {
    file: 'resnet_blocks.py',
    options: { entry: 'resnet10_basic()', inputs: [{ shape: [2, 3, 32, 32] }] },
    edits: [['num_classes: int = 10) -> None', 'num_classes: int = 7) -> None'], ['[1, 1, 1, 1]', '[2, 1, 1, 1]'], ['expansion = 1', 'expansion = 2']],
  },
  {
    file: 'densenet_block.py',
    options: memoryOptions,
    edits: [['bn_size * growth_rate, growth_rate, kernel_size=3', 'bn_size * growth_rate, growth_rate, kernel_size=1'], ['padding=1, bias=False', 'padding=0, bias=False']],
  },
  {
    file: 'char_rnn.py',
    options: {},
    edits: [['hidden_size=256', 'hidden_size=128'], ['num_layers=2', 'num_layers=1']],
  },
  {
    file: 'gru_classifier.py',
    options: memoryOptions,
    edits: [['batch_first=True', 'batch_first=False'], ['batch_first=False', 'batch_first=True']],
  },
];

async function coldReport(file: string, text: string, options: AnalyzeOptions): Promise<string> {
  return JSON.stringify(await analyzeFile(file, text, options, { astCacheDir: false }));
}

for (const chain of chains) {
  for (const mode of ['incremental edits', 'whole texts'] as const) {
    test(`${chain.file} ${JSON.stringify(chain.options)}: after each edit (${mode}) the report equals a cold analysis`, async () => {
      const file = path.join(examples, chain.file);
      let text = fs.readFileSync(file, 'utf8');
      const analyzer = await DocumentAnalyzer.create(file, { astCacheDir: false });
      try {
        analyzer.update(text);
        assert.equal(JSON.stringify(analyzer.analyze(chain.options)), await coldReport(file, text, chain.options));
        for (const [from, to] of chain.edits) {
          const next = replaceEdit(text, from, to);
          text = next.text;
          analyzer.update(text, mode === 'incremental edits' ? next.edit : undefined);
          const report = analyzer.analyze(chain.options);
          assert.equal(JSON.stringify(report), await coldReport(file, text, chain.options), `after '${from}' → '${to}'`);
        }
      } finally {
        analyzer.dispose();
      }
    });
  }
}

test('a syntax error typed and fixed, and an imported file changed on disk, still give cold results', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-equiv-'));
  fs.mkdirSync(path.join(dir, 'pkg'));
  fs.writeFileSync(path.join(dir, 'pkg', '__init__.py'), '');
  for (const name of ['blocks.py', 'net.py']) fs.copyFileSync(path.join(examples, 'pkg', name), path.join(dir, 'pkg', name));
  const file = path.join(dir, 'pkg', 'net.py');
  let text = fs.readFileSync(file, 'utf8');
  const analyzer = await DocumentAnalyzer.create(file, { astCacheDir: false });
  try {
    const step = async (next: string, note: string): Promise<void> => {
      text = next;
      analyzer.update(text);
      assert.equal(JSON.stringify(analyzer.analyze({})), await coldReport(file, text, {}), note);
    };
    await step(text, 'first analysis');
    const lines = text.split('\n');
    const body = lines.findIndex((l) => /^\s+self\.\w+ = /.test(l));
    assert.ok(body > 0, 'net.py assigns a submodule');
    await step([...lines.slice(0, body), `${lines[body]} +`, ...lines.slice(body + 1)].join('\n'), 'syntax error');
    await step(lines.join('\n'), 'syntax error fixed');
    // The imported module changes on disk: the world with the old one must not be reused.
    const blocks = path.join(dir, 'pkg', 'blocks.py');
    const changed = fs.readFileSync(blocks, 'utf8').replace(/\b(\d+)\b/, (n) => String(Number(n) + 1));
    fs.writeFileSync(blocks, changed);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(blocks, later, later);
    await step(text, 'imported file changed');
  } finally {
    analyzer.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
