#!/usr/bin/env python3
"""PyTorch's training-step time for the models native/tests/cuda_bench.cpp times in Netlens.

Run on the lent GPU machine (scripts/gpu/device-check.sh does). Same models, batch sizes and
precisions as cuda_bench, same step: the batch copied from pinned host memory, forward,
cross-entropy, backward, SGD with momentum 0.9, and the loss read back (loss.item(), as Netlens's
trainStep returns the loss). Timed with CUDA events after a warm-up, torch.backends.cudnn.benchmark
on (PyTorch's best convolution algorithms). Precisions: strict fp32, TF32 (allow_tf32 for cuDNN and
matmul) and bf16 (torch.autocast(dtype=torch.bfloat16) around forward and loss, fp32 parameters and
optimizer: what Netlens's bf16 mode mirrors). lenet5 and resnet18 run at issue 7's batches only
(256 and 128). Prints one JSON object a line.

NETLENS_DRY_RUN=1 rehearses the script on a machine without a GPU (tests/native/gpuScripts.test.ts):
the same models and steps on the CPU, batches cut to 2, 1 warm-up and 2 timed steps, wall-clock
timing, no pinned memory; every row says "dry_run": true, and its numbers are no measurement.

Usage: python3 scripts/gpu/bench_torch.py [batch ...]   (default: 64 256)
"""
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

DRY_RUN = os.environ.get("NETLENS_DRY_RUN") == "1"
WARMUP = 1 if DRY_RUN else 5
STEPS = 2 if DRY_RUN else 30
DRY_RUN_BATCH = 2


class StepTimer:
    """CUDA events around a step on the GPU; the wall clock in a dry run (where the step is synchronous)."""

    def __init__(self):
        self.start = self.end = None
        self.started = 0.0

    def record_start(self):
        if DRY_RUN:
            self.started = time.perf_counter()
            return
        self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        self.start.record()

    def milliseconds(self):
        if DRY_RUN:
            return (time.perf_counter() - self.started) * 1000.0
        self.end.record()
        self.end.synchronize()
        return self.start.elapsed_time(self.end)


def cifar():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4096, 512), nn.ReLU(), nn.Linear(512, 10))


def seed():
    layers, channels = [], 3
    for width in (64, 128, 256):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                   nn.MaxPool2d(2)]
        channels = width
    layers += [nn.Flatten(), nn.Linear(4096, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.n1 = nn.BatchNorm2d(64)
        self.c2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.n2 = nn.BatchNorm2d(64)

    def forward(self, x):
        return torch.relu(self.n2(self.c2(torch.relu(self.n1(self.c1(x))))) + x)


def resnet8():
    return nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), Block(), Block(), Block(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block (written out so torchvision need not be installed)."""

    def __init__(self, channels, width, stride):
        super().__init__()
        self.c1 = nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False)
        self.n1 = nn.BatchNorm2d(width)
        self.c2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.n2 = nn.BatchNorm2d(width)
        self.down = None
        if stride != 1 or channels != width:
            self.down = nn.Sequential(nn.Conv2d(channels, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        shortcut = x if self.down is None else self.down(x)
        return torch.relu(self.n2(self.c2(torch.relu(self.n1(self.c1(x))))) + shortcut)


def resnet18():
    layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    channels = 64
    for width in (64, 128, 256, 512):
        for block in range(2):
            layers.append(BasicBlock(channels, width, 2 if block == 0 and width != 64 else 1))
            channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


# name → (builder, input channels, input size, fixed batch or None for the batches given)
MODELS = (("cifar", cifar, 3, 32, None), ("seed", seed, 3, 32, None), ("resnet8", resnet8, 3, 32, None),
          ("lenet5", lenet5, 1, 28, 256), ("resnet18", resnet18, 3, 224, 128))


def bench(name, build, batch, precision, channels=3, size=32):
    """One row; in a dry run the step runs on DRY_RUN_BATCH images while the row keeps the batch asked for (its key)."""
    ran = DRY_RUN_BATCH if DRY_RUN else batch
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    device = torch.device("cpu" if DRY_RUN else "cuda")
    model = build().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(1)
    x_host = torch.rand(ran, channels, size, size, generator=generator) * 2 - 1
    y_host = torch.randint(0, 10, (ran,), generator=generator)
    if not DRY_RUN:  # pinning needs CUDA
        x_host, y_host = x_host.pin_memory(), y_host.pin_memory()

    def step():
        x = x_host.to(device, non_blocking=True)
        y = y_host.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(WARMUP):
        step()
    if not DRY_RUN:
        torch.cuda.synchronize()
    times = []
    loss = 0.0
    for _ in range(STEPS):
        timer = StepTimer()
        timer.record_start()
        loss = step()
        times.append(timer.milliseconds())
    median = statistics.median(times)
    row = {"engine": "torch", "model": name, "batch": batch, "precision": precision, "mode": "eager",
           "step_ms_median": round(median, 3), "step_ms_min": round(min(times), 3),
           "images_per_s": round(1000.0 * ran / median, 1), "last_loss": round(loss, 4),
           "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
           "gpu": "none (dry run on the CPU)" if DRY_RUN else torch.cuda.get_device_name(0)}
    if DRY_RUN:
        row.update(dry_run=True, dry_run_batch=ran)
    return row


def main():
    if not DRY_RUN and not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch.cuda.is_available() is False"}))
        return 0
    torch.backends.cudnn.benchmark = True
    batches = [int(b) for b in sys.argv[1:]] or [64, 256]
    failures = 0
    for name, build, channels, size, fixed_batch in MODELS:
        for batch in ([fixed_batch] if fixed_batch else batches):
            for precision in ("fp32", "tf32", "bf16"):
                try:
                    print(json.dumps(bench(name, build, batch, precision, channels, size)), flush=True)
                except Exception as error:  # one failing configuration must not hide the others
                    failures += 1
                    print(json.dumps({"engine": "torch", "model": name, "batch": batch, "precision": precision,
                                      "error": str(error)}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
