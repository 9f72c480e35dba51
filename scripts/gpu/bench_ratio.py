#!/usr/bin/env python3
"""Pairs cuda_bench's and bench_torch.py's JSON lines (same model, batch, precision) and prints one
line each: PyTorch's median step time over Netlens's (graph replay and eager), > 1 when Netlens is
faster. Usage: bench_ratio.py NETLENS.jsonl TORCH.jsonl"""
import json
import sys


def load(path):
    rows = []
    try:
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    except OSError as error:
        print(f"bench ratio: cannot read {path}: {error}")
    return [row for row in rows if "step_ms_median" in row]


def main():
    ours, theirs = load(sys.argv[1]), load(sys.argv[2])
    torch_times = {(r["model"], r["batch"], r["precision"]): r["step_ms_median"] for r in theirs}
    if not ours or not torch_times:
        print(f"bench ratio: no pairs ({len(ours)} netlens rows, {len(torch_times)} torch rows)")
        return 1
    for row in ours:
        key = (row["model"], row["batch"], row["precision"])
        if key not in torch_times:
            continue
        ratio = torch_times[key] / row["step_ms_median"]
        print(f"bench {row['model']} batch {row['batch']} {row['precision']} {row['mode']}: netlens {row['step_ms_median']:.3f} ms, "
              f"torch {torch_times[key]:.3f} ms, torch/netlens {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
