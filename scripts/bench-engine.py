#!/usr/bin/env python3
"""PyTorch's side of scripts/bench-engine.mjs: times the CPU training step of a model class from a file.

The step is the one `netlens bench` times: forward, cross-entropy on random labels, backward and
SGD with momentum 0.9, on random inputs, after warm-up steps; prints the same JSON fields.

Usage: python3 scripts/bench-engine.py FILE CLASS --input C,H,W --batch B [--steps S] [--warmup W] [--threads T]
"""
import argparse
import importlib.util
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def load_class(path, name):
    spec = importlib.util.spec_from_file_location("bench_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("cls")
    parser.add_argument("--input", required=True, help="per-sample shape, e.g. 3,32,32")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_class(args.file, args.cls)()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    shape = [args.batch] + [int(d) for d in args.input.split(",")]
    x = torch.rand(shape) * 2 - 1
    y = torch.randint(0, 10, (args.batch,))

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    times = []
    cpu_times = []  # process CPU time, all threads: less sensitive than wall time to a shared machine
    for _ in range(args.steps):
        start = time.perf_counter()
        cpu_start = time.process_time()
        step()
        times.append((time.perf_counter() - start) * 1000.0)
        cpu_times.append((time.process_time() - cpu_start) * 1000.0)
    median = statistics.median(times)
    print(json.dumps({
        "device": "cpu",
        "batch": args.batch,
        "steps": args.steps,
        "step_ms_median": round(median, 3),
        "step_ms_min": round(min(times), 3),
        "cpu_ms_median": round(statistics.median(cpu_times), 3),
        "images_per_s": round(1000.0 * args.batch / median, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
