#!/usr/bin/env python3
"""Checks that a Netlens checkpoint loads into PyTorch and writes the golden the native tests use.

1. Trains a tiny conv/batch-norm/linear model for a few steps with the Netlens CLI
   (`netlens train`, the native engine) on the built-in shapes32 data.
2. Loads the safetensors checkpoint the run wrote with safetensors.torch.load_file and
   `model.load_state_dict(..., strict=True)` into the same model defined in PyTorch; checks
   num_batches_tracked arrives as int64 with the number of steps.
3. Writes tests/native/goldens/checkpoint_tiny.safetensors (the checkpoint) and
   checkpoint_tiny.json (the model source, the steps, and PyTorch's eval-mode output for a
   fixed input), which tests/native/checkpoint.test.ts compares the engine against.

Requires torch==2.13.0+cpu, safetensors, node with the repository's dependencies and the built
add-on. Run from anywhere:

    python3 scripts/goldens/make_checkpoint_goldens.py
"""
import json
import os
import shutil
import subprocess
import tempfile

import torch
from safetensors.torch import load_file

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "native", "goldens")
STEPS = 3

MODEL_SOURCE = '''import torch
import torch.nn as nn


# netlens: input=(8, 3, 32, 32)
class TinyBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def forward(self, x):
        return self.head(self.pool(torch.relu(self.bn(self.conv(x)))))
'''


def fixed_input():
    return torch.linspace(-1.0, 1.0, 2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)


def main():
    work = tempfile.mkdtemp(prefix="netlens-checkpoint-")
    try:
        model_file = os.path.join(work, "tiny_bn.py")
        with open(model_file, "w") as handle:
            handle.write(MODEL_SOURCE)
        command = ["npx", "tsx", os.path.join(REPO_ROOT, "extension", "cli", "main.ts"), "train", model_file,
                   "--max-steps", str(STEPS), "--batch", "8", "--lr", "0.1", "--json-events", "--runs-root", work]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"netlens train failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        checkpoint = next(event["path"] for event in events if event["type"] == "checkpoint")

        namespace = {}
        exec(compile(MODEL_SOURCE, model_file, "exec"), namespace)  # noqa: S102 - this script's own model
        model = namespace["TinyBN"]()
        state = load_file(checkpoint)
        model.load_state_dict(state, strict=True)
        tracked = state["bn.num_batches_tracked"]
        assert tracked.dtype == torch.int64 and int(tracked) == STEPS, tracked
        model.eval()
        with torch.no_grad():
            output = model(fixed_input())

        os.makedirs(OUT_DIR, exist_ok=True)
        shutil.copyfile(checkpoint, os.path.join(OUT_DIR, "checkpoint_tiny.safetensors"))
        golden = {
            "generated_by": "scripts/goldens/make_checkpoint_goldens.py",
            "torch": torch.__version__,
            "model_source": MODEL_SOURCE,
            "entry": "TinyBN()",
            "steps": STEPS,
            "state_dict": {key: list(value.shape) for key, value in state.items()},
            "input": {"shape": [2, 3, 32, 32], "linspace": [-1.0, 1.0]},
            "output": {"shape": list(output.shape), "data": [float(v) for v in output.flatten()]},
        }
        with open(os.path.join(OUT_DIR, "checkpoint_tiny.json"), "w") as handle:
            json.dump(golden, handle, indent=1)
            handle.write("\n")
        print(f"load_state_dict(strict=True) accepted {len(state)} tensors from {checkpoint}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
