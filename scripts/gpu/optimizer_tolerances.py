#!/usr/bin/env python3
"""Checks, without a GPU, whether cuda_parity_test's training comparisons can hold between two correct
fp32 implementations. Two PyTorch CPU runs of the same model, weights and batches differ only in
kernel rounding (contiguous against channels_last convolutions: other summation orders, as cuDNN's
against the CPU executor's); each case prints, per seed, the test's three measures with its metric
(max|a - b| / max|b| per tensor): the largest per-step loss difference (the test allows 1e-3), the
worst optimizer-state tensor (pipelineAndOptimizerState allows 1e-2) and the worst parameter tensor
after the steps (trainingParity allows 1e-2 in fp32).

The cases are cuda_parity_test's CIFAR CNN (conv 32, 32, pool, 64, 64, pool, fc 512, fc 10 on
3x32x32, batch 32, conv bias on, ReLU and max pooling, optional batch norm) with each optimizer it
trains, then the same with "smooth" nets (tanh and average pooling, no conv bias before batch norm)
and RMSProp at lr 1e-4 (its first steps move every weight by about 10 lr, which at 1e-3 makes the
run chaotic). Adam and RMSProp normalize each element's update, so an element whose
gradient is rounding noise (a conv bias feeding batch norm has a zero gradient up to rounding) or
changes at a ReLU/max-pool kink gets a full-size update whose direction rounding decides.
It says how far rounding alone moves these numbers; it is no substitute for the GPU run.
Usage: python3 scripts/gpu/optimizer_tolerances.py [substring]   (torch CPU; about 2 minutes on 2 cores)
"""
import copy
import sys

import torch
import torch.nn.functional as F
from torch import nn

SEEDS = (1, 2, 3, 4)


def cifar(batch_norm, smooth):
    activation = nn.Tanh if smooth else nn.ReLU
    pool = nn.AvgPool2d if smooth else nn.MaxPool2d
    layers, channels = [], 3
    for width in (32, 32, 0, 64, 64, 0):
        if width == 0:
            layers.append(pool(2))
            continue
        layers.append(nn.Conv2d(channels, width, 3, padding=1, bias=not (batch_norm and smooth)))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(activation())
        channels = width
    layers += [nn.Flatten(), nn.Linear(4096, 512), activation(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def relative(a, b):
    return ((a.double() - b.double()).abs().max() / (b.double().abs().max() + 1e-12)).item()


def compare(name, batch_norm, smooth, optimizer, steps, batch=32):
    cells = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        plain = cifar(batch_norm, smooth)
        other = copy.deepcopy(plain).to(memory_format=torch.channels_last)
        plain_opt, other_opt = optimizer(plain.parameters()), optimizer(other.parameters())
        generator = torch.Generator().manual_seed(seed + 100)
        worst_loss = 0.0
        for _ in range(steps):
            x = torch.rand(batch, 3, 32, 32, generator=generator) * 2 - 1
            y = torch.randint(0, 10, (batch,), generator=generator)
            losses = []
            for model, opt, inputs in ((plain, plain_opt, x), (other, other_opt, x.contiguous(memory_format=torch.channels_last))):
                opt.zero_grad()
                loss = F.cross_entropy(model(inputs), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
            worst_loss = max(worst_loss, abs(losses[0] - losses[1]))
        pairs = list(zip(plain.parameters(), other.parameters()))
        state = max([relative(value, other_opt.state[b][key]) for a, b in pairs for key, value in plain_opt.state[a].items()
                     if isinstance(value, torch.Tensor) and value.dim() > 0] or [0.0])
        parameters = max(relative(a.detach(), b.detach()) for a, b in pairs)
        cells.append(f"loss {worst_loss:.1e} state {state:.1e} params {parameters:.1e}")
    print(f"{name}: " + " | ".join(cells), flush=True)


CASES = [
    # As cuda_parity_test runs them (HEAD 6f4b268).
    ("CIFAR CNN, SGD momentum, batch 64, 20 steps", False, False, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), 20, 64),
    ("CIFAR CNN, SGD momentum, pipelined, 6 steps", False, False, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), 6),
    ("BN CNN, Adam, pipelined, 6 steps", True, False, lambda p: torch.optim.Adam(p, lr=1e-3), 6),
    ("BN CNN, RMSProp centered + momentum + weight decay, pipelined, 6 steps", True, False,
     lambda p: torch.optim.RMSprop(p, lr=1e-3, centered=True, momentum=0.9, weight_decay=1e-4), 6),
    ("BN CNN, AdamW, 10 steps", True, False, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01), 10),
    ("CIFAR CNN, RMSProp, 10 steps", False, False, lambda p: torch.optim.RMSprop(p, lr=1e-3), 10),
    # Smooth nets (tanh, average pooling, no conv bias before batch norm), RMSProp at lr 1e-4.
    ("smooth CIFAR CNN, SGD momentum, pipelined, 6 steps", False, True, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), 6),
    ("smooth BN CNN, Adam, pipelined, 6 steps", True, True, lambda p: torch.optim.Adam(p, lr=1e-3), 6),
    ("smooth BN CNN, AdamW, 10 steps", True, True, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01), 10),
    ("smooth BN CNN, RMSProp centered + momentum + weight decay lr 1e-4, pipelined, 6 steps", True, True,
     lambda p: torch.optim.RMSprop(p, lr=1e-4, centered=True, momentum=0.9, weight_decay=1e-4), 6),
    ("smooth CIFAR CNN, RMSProp lr 1e-4, 10 steps", False, True, lambda p: torch.optim.RMSprop(p, lr=1e-4), 10),
]

if __name__ == "__main__":
    torch.set_num_threads(1)
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    for case in CASES:
        if only in case[0]:
            compare(*case)
