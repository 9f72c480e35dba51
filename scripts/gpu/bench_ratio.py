#!/usr/bin/env python3
"""Pairs cuda_bench's and bench_torch.py's JSON lines (same model, batch, precision) and prints one
line per model, batch and Netlens mode (graph replay, eager) with the three precisions side by side:
Netlens's and PyTorch's median step times and PyTorch's over Netlens's (> 1 when Netlens is faster),
a dash where either side has no number (an error line says why). Then issue 7's goals against the
graph-mode ratios at the issue's batches: at least 2x on the seed net and LeNet-5 (batch 256) in every
precision, 1.1x on ResNet-18 (batch 128) bf16 (and the autotuned rows' ratio beside, where cuda_bench
--autotune ran, and the channels-last rows' beside, where cuda_bench timed them). Between them, what
fused epilogues ("graph-unfused" rows), autotuning ("graph+autotune" rows) and NHWC layouts
("graph+channels-last" rows) change against the plain graph rows.
Usage: bench_ratio.py NETLENS.jsonl TORCH.jsonl"""
import json
import sys

PRECISIONS = ("fp32", "tf32", "bf16")
# (model, issue 7's batch, precision) → the step-rate ratio the issue asks for.
GOALS = ([(("seed", 256, p), 2.0) for p in PRECISIONS] + [(("lenet5", 256, p), 2.0) for p in PRECISIONS] +
         [(("resnet18", 128, "bf16"), 1.1)])


def load(path):
    rows = []
    try:
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    print(f"bench ratio: not JSON in {path}: {line[:200]}")
    except OSError as error:
        print(f"bench ratio: cannot read {path}: {error}")
    for row in rows:
        if "error" in row:
            print(f"bench ratio: {row.get('engine')} {row.get('model')} batch {row.get('batch')} {row.get('precision')} "
                  f"{row.get('mode', '')}: {row['error']}")
    return [row for row in rows if "step_ms_median" in row]


def main():
    ours, theirs = load(sys.argv[1]), load(sys.argv[2])
    torch_times = {(r["model"], r["batch"], r["precision"]): r["step_ms_median"] for r in theirs}
    if not ours or not torch_times:
        print(f"bench ratio: no pairs ({len(ours)} netlens rows, {len(torch_times)} torch rows)")
        return 1
    netlens_times = {(r["model"], r["batch"], r["mode"], r["precision"]): r["step_ms_median"] for r in ours}
    groups = []
    for row in ours:
        group = (row["model"], row["batch"], row["mode"])
        if group not in groups:
            groups.append(group)
    graph_ratios = {}  # (model, batch, precision) → graph-mode ratio
    for model, batch, mode in groups:
        cells = []
        for precision in PRECISIONS:
            mine = netlens_times.get((model, batch, mode, precision))
            torch_ms = torch_times.get((model, batch, precision))
            if mine is None or torch_ms is None:
                cells.append(f"{precision} —")
                continue
            ratio = torch_ms / mine
            if mode == "graph":
                graph_ratios[(model, batch, precision)] = ratio
            cells.append(f"{precision} {mine:.3f}/{torch_ms:.3f} ms {ratio:.2f}x")
        print(f"bench {model} batch {batch} {mode} (netlens/torch, torch/netlens): " + " | ".join(cells))
    # What fused epilogues and autotuning change against the plain graph rows (> 1: the variant is faster).
    for variant, meaning in (("graph-unfused", "fused epilogues"), ("graph+autotune", "autotuning"),
                             ("graph+channels-last", "channels-last")):
        for (model, batch, mode, precision), variant_ms in netlens_times.items():
            if mode != variant:
                continue
            graph_ms = netlens_times.get((model, batch, "graph", precision))
            if graph_ms is None:
                continue
            gain = variant_ms / graph_ms if variant == "graph-unfused" else graph_ms / variant_ms
            print(f"{meaning} {model} batch {batch} {precision}: {gain:.3f}x "
                  f"({variant.replace('graph+', '').replace('graph-', '')} {variant_ms:.3f} ms, graph {graph_ms:.3f} ms)")
    for (model, batch, precision), goal in GOALS:
        ratio = graph_ratios.get((model, batch, precision))
        tuned_ms = netlens_times.get((model, batch, "graph+autotune", precision))
        torch_ms = torch_times.get((model, batch, precision))
        tuned = torch_ms / tuned_ms if tuned_ms and torch_ms else None
        verdict = "no number" if ratio is None else ("met" if ratio >= goal else "missed")
        shown = "—" if ratio is None else f"{ratio:.2f}x"
        tuned_shown = "" if tuned is None else f"; autotuned {tuned:.2f}x ({'met' if tuned >= goal else 'missed'})"
        nhwc_ms = netlens_times.get((model, batch, "graph+channels-last", precision))
        nhwc = torch_ms / nhwc_ms if nhwc_ms and torch_ms else None
        nhwc_shown = "" if nhwc is None else f"; channels-last {nhwc:.2f}x ({'met' if nhwc >= goal else 'missed'})"
        print(f"goal {model} batch {batch} {precision} >= {goal}x: {shown} ({verdict}){tuned_shown}{nhwc_shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
