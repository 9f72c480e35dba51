// Imports resolved to files: relative imports, absolute imports against the package root
// (found by walking up __init__.py), --python-path roots, site-packages, unsaved buffers
// through options.readFile, cycles, star imports, and unresolvable modules as Unknown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeSnippet } from './interpSupport';

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-imports-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const LAYERS = `import torch.nn as nn
WIDTH = 8
def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())
`;

const MODEL = (importLine: string) => `import torch
import torch.nn as nn
${importLine}
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = block(3, WIDTH)
    def forward(self, x):
        return self.body(x)
`;

test('relative imports inside a package', async () => {
  const root = tree({ 'pkg/__init__.py': '', 'pkg/common/__init__.py': '', 'pkg/common/layers.py': LAYERS, 'pkg/models/__init__.py': '', 'pkg/models/net.py': MODEL('from ..common.layers import block, WIDTH') });
  const file = path.join(root, 'pkg/models/net.py');
  const report = await analyzeSnippet(fs.readFileSync(file, 'utf8'), { inputs: [{ shape: [1, 3, 4, 4] }] }, file);
  assert.deepEqual(report.models.map((m) => [m.name, m.output]), [['Net', [[1, 8, 4, 4]]]]);
  assert.equal(report.models[0].layers[0].file, path.join(root, 'pkg/common/layers.py'));
  assert.equal(report.models[0].layers[0].line, 4);
});

test('absolute imports against the package root, and `import a.b as c`', async () => {
  const root = tree({ 'pkg/__init__.py': '', 'pkg/common/__init__.py': '', 'pkg/common/layers.py': LAYERS, 'pkg/models/__init__.py': '', 'pkg/models/net.py': MODEL('import pkg.common.layers as L\nblock, WIDTH = L.block, L.WIDTH') });
  const file = path.join(root, 'pkg/models/net.py');
  const report = await analyzeSnippet(fs.readFileSync(file, 'utf8'), { inputs: [{ shape: [1, 3, 4, 4] }] }, file);
  assert.deepEqual(report.models[0].output, [[1, 8, 4, 4]]);
});

test('--python-path roots and site-packages', async () => {
  const lib = tree({ 'mylib/__init__.py': 'from .layers import block, WIDTH\n', 'mylib/layers.py': LAYERS });
  const app = tree({ 'app.py': MODEL('from mylib import block, WIDTH') });
  const file = path.join(app, 'app.py');
  for (const options of [{ pythonPath: [lib] }, { sitePackages: [lib] }]) {
    const report = await analyzeSnippet(fs.readFileSync(file, 'utf8'), { ...options, inputs: [{ shape: [1, 3, 4, 4] }] }, file);
    assert.deepEqual(report.models[0].output, [[1, 8, 4, 4]], JSON.stringify(options));
  }
  const missing = await analyzeSnippet(fs.readFileSync(file, 'utf8'), { inputs: [{ shape: [1, 3, 4, 4] }] }, file);
  assert.ok(missing.diagnostics.some((d) => d.code === 'unresolved-import' && d.message.includes("'mylib'")));
});

test('unsaved editor buffers are read through options.readFile', async () => {
  const root = tree({ 'layers.py': LAYERS.replace('WIDTH = 8', 'WIDTH = 2'), 'net.py': MODEL('from layers import block, WIDTH') });
  const file = path.join(root, 'net.py');
  const buffers: Record<string, string> = { [path.join(root, 'layers.py')]: LAYERS.replace('WIDTH = 8', 'WIDTH = 16') };
  const readFile = (f: string): string | undefined => buffers[f] ?? (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
  const report = await analyzeSnippet(fs.readFileSync(file, 'utf8'), { readFile, inputs: [{ shape: [1, 3, 4, 4] }] }, file);
  assert.deepEqual(report.models[0].output, [[1, 16, 4, 4]]);
});

test('import cycles and star imports', async () => {
  const root = tree({
    'pkg/__init__.py': 'from .a import *\nfrom .b import helper\n',
    'pkg/a.py': 'from . import b\nA_CONST = 3\ndef use_b():\n    return b.B_CONST\n',
    'pkg/b.py': 'from . import a\nB_CONST = 5\ndef helper():\n    return a.A_CONST + B_CONST\n',
    'main.py': 'import pkg\nfrom pkg import A_CONST, helper, use_b\nvalues = (A_CONST, helper(), use_b())\n',
  });
  const file = path.join(root, 'main.py');
  const report = await analyzeSnippet(fs.readFileSync(file, 'utf8') + 'import torch.nn as nn\nclass Probe(nn.Module):\n    def __init__(self):\n        super().__init__()\n        assert values == (3, 8, 5)\n        self.fc = nn.Linear(1, 1)\n    def forward(self, x):\n        return self.fc(x)\n', {}, file);
  assert.deepEqual(report.diagnostics.filter((d) => d.severity !== 'info'), []);
  assert.deepEqual(report.models.map((m) => m.name), ['Probe']);
});

test('unresolvable imports and members become Unknown, never errors', async () => {
  const report = await analyzeSnippet(`
import numpy_missing as npm
from torch.some_future_module import FancyLayer
from typing import Optional, List
import torch.nn as nn
class Net(nn.Module):
    def __init__(self, act: Optional[nn.Module] = None):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.extra = FancyLayer(4) if act is not None else None
    def forward(self, x):
        return self.fc(x)
`);
  assert.deepEqual(report.models.map((m) => [m.name, m.output]), [['Net', [['N', 4]]]]);
  assert.ok(report.diagnostics.every((d) => d.severity === 'info'));
});

test('an error raised inside a library is reported on the analyzed file\'s line that called it', async () => {
  const root = tree({
    'lib/__init__.py': '',
    'lib/blocks.py': 'import torch.nn as nn\nclass Block(nn.Module):\n    def __init__(self, groups=1):\n        super().__init__()\n        if groups != 1:\n            raise ValueError("Block only supports groups=1")\n',
    'app.py': 'from lib.blocks import Block\n\nmodel = Block(groups=2)\n',
  });
  const file = path.join(root, 'app.py');
  const report = await analyzeSnippet(fs.readFileSync(file, 'utf8'), {}, file);
  assert.deepEqual(report.diagnostics.map((d) => [d.severity, d.message, d.file, d.line]), [['error', 'ValueError: Block only supports groups=1', file, 3]]);
});
