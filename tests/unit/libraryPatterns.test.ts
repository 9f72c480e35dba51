// Patterns from model libraries (timm, torchvision's video models) through the real catalog:
// a subclass of a catalog layer with its own __init__ and forward, torch.unique with known
// values and return_counts (timm's RegNet stage depths), tensor_split's keyword overloads
// (torchvision's MViT), the Python type of tolist()/item() when the values are unknown (timm's
// drop-path rates). Expected values are what PyTorch 2.13 prints for the same code.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { analyzeFile } from '../../extension/analysis/index';
import type { ModelReport } from '../../extension/analysis/reportTypes';

async function analyze(source: string): Promise<ModelReport> {
  const report = await analyzeFile('/virtual/model.py', source, {});
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  const model = report.models[0];
  assert.deepEqual(model.diagnostics.filter((d) => d.severity !== 'info'), []);
  return model;
}

test('a subclass of BatchNorm2d runs its own __init__ (extra keyword) and forward; with children it is not a leaf', async () => {
  const model = await analyze(`
import torch
import torch.nn as nn

class BNAct(nn.BatchNorm2d):
    def __init__(self, num_features, eps=1e-5, inplace=True, act=True):
        super().__init__(num_features, eps=eps)
        self.act = nn.ReLU(inplace=inplace) if act else nn.Identity()
    def forward(self, x):
        x = super().forward(x)
        return self.act(x)

class PlainBN(nn.BatchNorm2d):
    def __init__(self, c, inplace=False):
        super().__init__(c)
        self.extra = 2 if inplace else 1

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = BNAct(8)
        self.bn2 = PlainBN(8, inplace=True)
    def forward(self, x):
        return self.bn2(self.bn(self.conv(x)))

model = Net()
out = model(torch.randn(1, 3, 10, 10))
`);
  // PyTorch's forward hooks on modules without children: BNAct has a child (act), PlainBN has none.
  assert.deepEqual(model.layers.map((l) => [l.path, l.type, l.output, l.params]), [
    ['conv', 'Conv2d', [[1, 8, 8, 8]], 224],
    ['bn.act', 'ReLU', [[1, 8, 8, 8]], 0],
    ['bn2', 'PlainBN', [[1, 8, 8, 8]], 16],
  ]);
  assert.deepEqual(model.params, { total: 256, trainable: 256 });
});

test('torch.unique with known values returns values, inverse and counts like PyTorch; tensor_split takes indices= and sections=', async () => {
  const model = await analyze(`
import torch
import torch.nn as nn

def stage_depths(widths):
    values, counts = torch.unique(torch.tensor(widths), return_counts=True)
    return values.tolist(), counts.tolist()

class Net(nn.Module):
    def __init__(self, widths=(24, 56, 24, 152, 56, 56, 368)):
        super().__init__()
        stage_widths, depths = stage_depths(list(widths))
        assert isinstance(depths, list)
        self.stages = nn.ModuleList([nn.Linear(w, w) for w, d in zip(stage_widths, depths) for _ in range(d)])
        u, inv = torch.unique(torch.tensor([3, 1, 3]), sorted=True, return_inverse=True)
        self.inv = nn.Linear(inv.tolist()[1] + 1, 1)
    def forward(self, x):
        cls_token, rest = torch.tensor_split(x, indices=(1,), dim=1)
        a, b, c = x.tensor_split(3, dim=2)
        d = torch.tensor_split(x, sections=2, dim=2)
        return cls_token, rest, a, b, c, d[0], d[1]

model = Net()
out = model(torch.randn(2, 5, 7))
`);
  assert.deepEqual(model.output, [[2, 1, 7], [2, 4, 7], [2, 5, 3], [2, 5, 2], [2, 5, 2], [2, 5, 4], [2, 5, 3]]);
  // Linear(w, w) per stage, repeated by the stage's count: widths 24, 24, 56, 56, 56, 152, 368; then Linear(1, 1).
  const widths = [24, 24, 56, 56, 56, 152, 368];
  const expected = widths.reduce((sum, w) => sum + w * w + w, 0) + 2;
  assert.equal(model.params.total, expected);
});

test('tolist()/item() of tensors with unknown values still have their Python type for isinstance()', async () => {
  // timm's calculate_drop_path_rates branches on isinstance(depths, int); a list must not pass for an int.
  const model = await analyze(`
import torch
import torch.nn as nn

def calculate_rates(depths):
    if isinstance(depths, int):
        raise ValueError("depths must be a list here")
    return [d for d in depths]

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        rates = calculate_rates(torch.randn(4).tolist())
        self.fc = nn.Linear(4, 4) if isinstance(torch.randn(4).tolist(), list) else nn.Linear(3, 3)
        self.fc2 = nn.Linear(5, 7) if isinstance(torch.randn(()).item(), float) else nn.Linear(6, 6)
        self.fc3 = nn.Linear(7, 7) if isinstance(torch.randint(0, 5, (3,))[0].item(), int) else nn.Linear(8, 8)
    def forward(self, x):
        return self.fc3(self.fc2(x))

model = Net()
out = model(torch.randn(2, 5))
`);
  // Linear(4, 4) + Linear(5, 7) + Linear(7, 7), as PyTorch counts them.
  assert.equal(model.params.total, 118);
  assert.deepEqual(model.output, [[2, 7]]);
});
