#!/usr/bin/env python3
"""Writes tests/unit/goldens/state_dict/*.json: the state_dict keys and shapes PyTorch gives
a few example models, in order. tests/unit/lower.test.ts checks that the engine graph spec
lowered from the analyzer's report names exactly these tensors (parameters and buffers).

Requires torch==2.13.0+cpu (the tests do not: they read the committed JSON). Run from anywhere:

    python3 scripts/goldens/make_state_dict_goldens.py
"""
import importlib.util
import json
import os

import torch

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "unit", "goldens", "state_dict")

# (golden name, file relative to the repo, entry expression evaluated in the file's namespace)
EXAMPLES = [
    ("lenet5", "examples/lenet5.py", "LeNet5()"),
    ("resnet10_basic", "examples/resnet_blocks.py", "resnet10_basic()"),
    ("fcn", "examples/fcn.py", "SmallFCN()"),
]


def load_module(relative_path):
    path = os.path.join(REPO_ROOT, relative_path)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(0)
    for name, relative_path, entry in EXAMPLES:
        namespace = vars(load_module(relative_path))
        model = eval(entry, namespace)  # noqa: S307 - the entries are this script's own constants
        state = model.state_dict()
        golden = {
            "file": relative_path,
            "entry": entry,
            "torch": torch.__version__,
            "state_dict": [{"name": key, "shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", "")}
                           for key, value in state.items()],
        }
        out = os.path.join(OUT_DIR, name + ".json")
        # One tensor a line: small diffs when a model changes.
        lines = ",\n".join("  " + json.dumps(entry) for entry in golden.pop("state_dict"))
        head = json.dumps(golden)[:-1]
        with open(out, "w") as handle:
            handle.write(head + ',\n "state_dict": [\n' + lines + "\n ]}\n")
        print(f"{out}: {len(state)} tensors")


if __name__ == "__main__":
    main()
