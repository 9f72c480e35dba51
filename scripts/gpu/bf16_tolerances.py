#!/usr/bin/env python3
"""Calibrates cuda_parity_test's bf16 tolerances without a GPU: emulates the CUDA executor's bf16 mode
in PyTorch on the CPU (conv/linear operands rounded to bf16 with round-to-nearest-even, fp32
accumulation; convolution outputs and convolution input/weight gradients rounded to bf16 as cuDNN's
BFLOAT16 configuration writes them; linear results and every other op fp32) and compares it with
fp32 on the op chains and training runs the test uses, printing the worst relative error (the
test's metric: largest difference over the tensor's largest value) over several seeds.
It says how far bf16 rounding alone moves the numbers; it is no substitute for the GPU run.
Usage: python3 scripts/gpu/bf16_tolerances.py   (torch CPU; about 2 minutes on 2 cores)
"""
import torch
import torch.nn.functional as F

torch.manual_seed(0)
r = lambda t: t.bfloat16().float()

class Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        xr, wr = r(x), r(w)
        ctx.save_for_backward(xr, wr); ctx.args = (stride, padding, dilation, groups); ctx.hasb = b is not None
        y = r(F.conv2d(xr, wr, None, stride, padding, dilation, groups))
        return y + b.view(1, -1, 1, 1) if b is not None else y
    @staticmethod
    def backward(ctx, dy):
        xr, wr = ctx.saved_tensors; s, p, d, g = ctx.args
        dyr = r(dy)
        dx = r(torch.nn.grad.conv2d_input(xr.shape, wr, dyr, s, p, d, g))
        dw = r(torch.nn.grad.conv2d_weight(xr, wr.shape, dyr, s, p, d, g))
        db = dy.sum((0, 2, 3)) if ctx.hasb else None
        return dx, dw, db, None, None, None, None

class Lin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        xr, wr = r(x), r(w); ctx.save_for_backward(xr, wr); ctx.hasb = b is not None
        y = xr @ wr.t()
        return y + b if b is not None else y
    @staticmethod
    def backward(ctx, dy):
        xr, wr = ctx.saved_tensors; dyr = r(dy)
        dx = dyr @ wr
        dw = (dyr.reshape(-1, dyr.shape[-1]).t() @ xr.reshape(-1, xr.shape[-1]))
        return dx, dw, (dy.reshape(-1, dy.shape[-1]).sum(0) if ctx.hasb else None)

class BConv(torch.nn.Conv2d):
    def forward(self, x):
        return Conv.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
class BLin(torch.nn.Linear):
    def forward(self, x):
        return Lin.apply(x, self.weight, self.bias)

def rel(a, b):
    return ((a - b).abs().max() / (b.abs().max() + 1e-12)).item()

def compare(name, build, xshape, tshape):
    worst = 0
    for trial in range(20):
        torch.manual_seed(trial)
        ref = build(False); mix = build(True); mix.load_state_dict(ref.state_dict())
        x = torch.rand(xshape) * 2 - 1; t = torch.rand(tshape) * 2 - 1
        xa = x.clone().requires_grad_(); xb = x.clone().requires_grad_()
        ya = ref(xa); yb = mix(xb)
        la = F.mse_loss(ya, t); lb = F.mse_loss(yb, t); la.backward(); lb.backward()
        errs = [rel(yb, ya), rel(xb.grad, xa.grad)] + [rel(pb.grad, pa.grad) for pa, pb in zip(ref.parameters(), mix.parameters())]
        worst = max(worst, max(errs))
    print(f"{name}: worst relative error over 20 seeds {worst:.2e}")

C = lambda bf, *a, **k: (BConv if bf else torch.nn.Conv2d)(*a, **k)
L = lambda bf, *a, **k: (BLin if bf else torch.nn.Linear)(*a, **k)
compare("conv2d", lambda bf: torch.nn.Sequential(C(bf, 6, 8, 3, stride=2, padding=1)), (4, 6, 9, 9), (4, 8, 5, 5))
compare("linear", lambda bf: torch.nn.Sequential(L(bf, 40, 24)), (16, 40), (16, 24))
compare("conv groups dilation", lambda bf: torch.nn.Sequential(C(bf, 6, 4, 3, dilation=2, groups=2, bias=False, padding=2)), (4, 6, 9, 9), (4, 4, 9, 9))
compare("linear 3-D", lambda bf: torch.nn.Sequential(L(bf, 12, 7)), (3, 5, 12), (3, 5, 7))
compare("conv flatten linear", lambda bf: torch.nn.Sequential(C(bf, 6, 8, 3, stride=2, padding=1), torch.nn.Flatten(), L(bf, 200, 5)), (4, 6, 9, 9), (4, 5))
class Res(torch.nn.Module):
    def __init__(self, bf): super().__init__(); self.c = C(bf, 6, 6, 3, padding=1)
    def forward(self, x): return x + torch.tanh(self.c(x))
compare("residual tanh", Res, (2, 6, 8, 8), (2, 6, 8, 8))
class Shared(torch.nn.Module):
    def __init__(self, bf): super().__init__(); self.a = L(bf, 10, 10)
    def forward(self, x): return self.a(torch.tanh(self.a(x)))
compare("shared weights", Shared, (4, 10), (4, 10))
compare("conv (no bias) bn avgpool", lambda bf: torch.nn.Sequential(C(bf, 6, 8, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.AvgPool2d(2)), (4, 6, 9, 9), (4, 8, 2, 2))
class ResRelu(torch.nn.Module):
    def __init__(self, bf): super().__init__(); self.c = C(bf, 6, 6, 3, padding=1)
    def forward(self, x): return x + torch.relu(self.c(x))
compare("residual relu (excluded from the test: kink)", ResRelu, (2, 6, 8, 8), (2, 6, 8, 8))
compare("conv (no bias) bn maxpool (excluded from the test: kink)", lambda bf: torch.nn.Sequential(C(bf, 6, 8, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.MaxPool2d(2)), (4, 6, 9, 9), (4, 8, 2, 2))

def cifar(bf, bn):
    layers, ch = [], 3
    for w in (32, 32, 0, 64, 64, 0):
        if w == 0: layers.append(torch.nn.MaxPool2d(2)); continue
        layers.append(C(bf, ch, w, 3, padding=1))
        if bn: layers.append(torch.nn.BatchNorm2d(w))
        layers.append(torch.nn.ReLU()); ch = w
    layers += [torch.nn.Flatten(), L(bf, 4096, 512), torch.nn.ReLU(), L(bf, 512, 10)]
    return torch.nn.Sequential(*layers)

def train(batch, steps, bn, seed):
    torch.manual_seed(seed)
    ref = cifar(False, bn); mix = cifar(True, bn); mix.load_state_dict(ref.state_dict())
    oa = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9); ob = torch.optim.SGD(mix.parameters(), lr=0.01, momentum=0.9)
    worst_loss = 0; worst_rows = 0
    for step in range(steps):
        x = torch.rand(batch, 3, 32, 32) * 2 - 1; y = torch.randint(0, 10, (batch,))
        res = []
        for m, o in ((ref, oa), (mix, ob)):
            o.zero_grad(); out = m(x); loss = F.cross_entropy(out, y); loss.backward(); o.step()
            res.append((loss.item(), (out.argmax(1) == y).sum().item()))
        worst_loss = max(worst_loss, abs(res[0][0] - res[1][0]) / max(1, abs(res[0][0])))
        worst_rows = max(worst_rows, abs(res[0][1] - res[1][1]))
    worst_param = max(rel(pb.detach(), pa.detach()) for pa, pb in zip(ref.state_dict().values(), mix.state_dict().values()) if pa.dtype.is_floating_point)
    return worst_loss, worst_rows, worst_param

for bn, batch, steps in ((False, 64, 20), (True, 32, 10)):
    results = [train(batch, steps, bn, seed) for seed in range(4)]
    print(f"CIFAR CNN bn={bn} batch {batch} {steps} steps: worst loss rel {max(r[0] for r in results):.2e}, rows {max(r[1] for r in results)}, params {max(r[2] for r in results):.2e}")
