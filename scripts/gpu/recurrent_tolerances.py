#!/usr/bin/env python3
"""Emulates, without a GPU, how far TF32 GEMMs move the CUDA executor's lstm/gru results, to justify
cuda_parity_test's TF32 tolerance (5e-3 of each tensor's scale) for recurrentParity's cases.

The executor runs every recurrent GEMM through cuBLAS (input projections, h·W_hhᵀ per step, dh,
dW_ih, dW_hh, dx); in tf32 mode each GEMM rounds its two operands to a 10-bit mantissa. This script
writes the same LSTM/GRU (PyTorch's equations and gate order) with an explicit matmul whose forward
and backward products round their operands that way, in float64 otherwise, and compares it with the
unrounded run on the parity test's loss (mse over the output, h_n and c_n): the worst relative error
(max|a − b| / max|b| per tensor) over the output, h_n, c_n, dx and every parameter gradient, 10 seeds.
Session 5 measured at most 9.5e-4 (lstm, 2 layers bidirectional); the test allows 5e-3.
Usage: python3 scripts/gpu/recurrent_tolerances.py   (torch CPU, a few seconds)
"""
import torch

torch.set_default_dtype(torch.float64)


def tf32(x):
    """float32 rounded to nearest even at 10 mantissa bits (TF32), returned as float64."""
    bits = x.to(torch.float32).view(torch.int32)
    lsb = (bits >> 13) & 1
    bits = ((bits + 0x0FFF + lsb) >> 13) << 13
    return bits.view(torch.float32).to(torch.float64)


class Matmul(torch.autograd.Function):
    rounding = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        r = tf32 if Matmul.rounding else (lambda t: t)
        return r(a) @ r(b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        r = tf32 if Matmul.rounding else (lambda t: t)
        return r(g) @ r(b).T, r(a).T @ r(g)


def layer(x, wih, whh, bih, bhh, cell, reverse):
    steps, batch, _ = x.shape
    hidden = whh.shape[1]
    xg = Matmul.apply(x.reshape(steps * batch, -1), wih.T).reshape(steps, batch, -1) + bih
    h = torch.zeros(batch, hidden)
    c = torch.zeros(batch, hidden)
    out = [None] * steps
    for s in range(steps):
        t = steps - 1 - s if reverse else s
        hg = Matmul.apply(h, whh.T) + bhh
        if cell == 'lstm':
            i, f, g, o = (xg[t] + hg).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            ar, az, an = xg[t].chunk(3, 1)
            hr, hz, hn = hg.chunk(3, 1)
            r = torch.sigmoid(ar + hr)
            z = torch.sigmoid(az + hz)
            n = torch.tanh(an + r * hn)
            h = (1 - z) * n + z * h
        out[t] = h
    return torch.stack(out), h, c


def run(cell, inputs, hidden, steps, batch, layers, directions, seed, rounding):
    Matmul.rounding = rounding
    gen = torch.Generator().manual_seed(seed)
    gates = 4 if cell == 'lstm' else 3
    bound = hidden ** -0.5
    x = (torch.rand(steps, batch, inputs, generator=gen) * 2 - 1).to(torch.float32).double().requires_grad_()
    params = []
    for l in range(layers):
        for _ in range(directions):
            width = inputs if l == 0 else directions * hidden
            shapes = [(gates * hidden, width), (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]
            params.append([((torch.rand(*s, generator=gen) * 2 - 1) * bound).to(torch.float32).double().requires_grad_() for s in shapes])
    value, hs, cs = x, [], []
    for l in range(layers):
        outs = []
        for d in range(directions):
            o, h, c = layer(value, *params[l * directions + d], cell, d == 1)
            outs.append(o)
            hs.append(h)
            cs.append(c)
        value = torch.cat(outs, 2)
    flat = torch.cat([value.reshape(-1), torch.stack(hs).reshape(-1), torch.stack(cs).reshape(-1)])
    target = torch.rand(flat.numel(), generator=gen) * 2 - 1
    ((flat - target) ** 2).mean().backward()
    return [value.detach(), torch.stack(hs).detach(), torch.stack(cs).detach(), x.grad] + [p.grad for ps in params for p in ps]


def relative(a, b):
    return ((a - b).abs().max() / (b.abs().max() + 1e-12)).item()


# recurrentParity's shapes: (cell, input_size, hidden_size, steps, batch, num_layers, directions)
CASES = [('lstm', 5, 8, 6, 4, 1, 1), ('gru', 5, 8, 6, 4, 1, 1), ('lstm', 5, 6, 7, 3, 2, 2), ('gru', 5, 6, 7, 3, 2, 2)]

if __name__ == '__main__':
    for case in CASES:
        worst = max(max(relative(a, b) for a, b in zip(run(*case, seed, True), run(*case, seed, False))) for seed in range(10))
        print(f'{case}: worst relative error of TF32 GEMMs {worst:.2e} (test allows 5e-3)')
