#!/usr/bin/env python3
"""Writes the PyTorch goldens for Netlens's ONNX support (tests/unit/onnx*.test.ts).

A small CNN with a residual add, a concatenation of two branches, batch norm with non-trivial
running statistics, max/average/global pooling, dropout and a linear head gets seeded weights and
is exported with torch.onnx.export (the TorchScript exporter, opset 17, eval mode, batch norm kept
as its own node so every PyTorch layer has its ONNX node). For one fixed input the script records:

- every leaf module's call as PyTorch forward hooks see it: path, class, output shape, its own
  parameters split into weight and bias (the ONNX layer table must match these exactly),
- the logits and softmax of the output,
- the full activation of a few layers (what a session with added intermediate outputs returns).

Outputs tests/unit/goldens/onnx/small_cnn.onnx and small_cnn.json. The input is
x[i] = 1.5·sin(0.1·i) over the flattened (1, 3, 32, 32) tensor, computed in float64 then rounded to
float32, which the tests reproduce exactly.

torchvision's resnet18 is left out on purpose: its 45 MiB of weights do not belong in the
repository, and the small model covers the same op kinds (Conv, BatchNormalization, Relu, MaxPool,
Add, GlobalAveragePool, Flatten, Gemm).

Requires torch==2.13.0+cpu and onnx. Run from anywhere:

    python3 scripts/goldens/make_onnx_goldens.py
"""
import json
import math
import os

import torch
import torch.nn as nn

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "unit", "goldens", "onnx")
INPUT_SHAPE = (1, 3, 32, 32)
ACTIVATION_LAYERS = ["relu1", "pool1", "merge_relu"]


class SmallCnn(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.left = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.right = nn.Conv2d(8, 4, 1)
        self.right_act = nn.Sigmoid()
        self.merge = nn.Conv2d(12, 8, 1)
        self.merge_relu = nn.ReLU()
        self.pool2 = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        branches = torch.cat([self.left(x), self.right_act(self.right(x))], dim=1)
        x = self.merge_relu(self.merge(branches) + x)
        x = self.gap(self.pool2(x))
        return self.fc(self.drop(self.flatten(x)))


def fixed_input() -> torch.Tensor:
    count = math.prod(INPUT_SHAPE)
    values = [1.5 * math.sin(0.1 * i) for i in range(count)]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(INPUT_SHAPE)


def main() -> None:
    torch.manual_seed(7)
    model = SmallCnn()
    with torch.no_grad():
        # Running statistics that are not the identity, so a wrong eval-mode batch norm shows.
        model.bn1.running_mean.copy_(torch.linspace(-0.2, 0.3, 8))
        model.bn1.running_var.copy_(torch.linspace(0.5, 1.5, 8))
        model.bn1.weight.copy_(torch.linspace(0.8, 1.2, 8))
        model.bn1.bias.copy_(torch.linspace(-0.1, 0.1, 8))
    model.eval()

    layers = []
    activations = {}

    def hook_for(path):
        def hook(module, _inputs, output):
            own = dict(module.named_parameters(recurse=False))
            weight = own.get("weight")
            bias = own.get("bias")
            layers.append({
                "path": path,
                "type": type(module).__name__,
                "output": list(output.shape),
                "weight_params": weight.numel() if weight is not None else 0,
                "bias_params": bias.numel() if bias is not None else 0,
            })
            if path in ACTIVATION_LAYERS:
                activations[path] = {"shape": list(output.shape), "data": output.detach().reshape(-1).tolist()}
        return hook

    for path, module in model.named_modules():
        if path and not list(module.children()):
            module.register_forward_hook(hook_for(path))

    x = fixed_input()
    with torch.no_grad():
        logits = model(x)
    probabilities = torch.softmax(logits, dim=1)

    os.makedirs(OUT_DIR, exist_ok=True)
    onnx_path = os.path.join(OUT_DIR, "small_cnn.onnx")
    # A second model without hooks for the exporter (hooks would run during tracing).
    export_model = SmallCnn()
    export_model.load_state_dict(model.state_dict())
    export_model.eval()
    # TrainingMode.PRESERVE keeps BatchNormalization as a node (EVAL would fold it into the conv,
    # and the table could no longer match PyTorch's layers one by one); the model is in eval mode,
    # so the node still computes eval-mode batch norm.
    torch.onnx.export(
        export_model, (x,), onnx_path, dynamo=False, opset_version=17,
        input_names=["input"], output_names=["logits"], training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )

    import onnx  # checks the file and lists the nodes for the record
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    nodes = [{"name": n.name, "op": n.op_type} for n in proto.graph.node]

    total = sum(p.numel() for p in model.parameters())
    document = {
        "model": "SmallCnn",
        "input_shape": list(INPUT_SHAPE),
        "input_formula": "x[i] = float32(1.5 * sin(0.1 * i))",
        "opset": 17,
        "params_total": total,
        "layers": layers,
        "onnx_nodes": nodes,
        "logits": logits.reshape(-1).tolist(),
        "probabilities": probabilities.reshape(-1).tolist(),
        "activations": activations,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
    }
    with open(os.path.join(OUT_DIR, "small_cnn.json"), "w") as f:
        json.dump(document, f, indent=1)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), {len(nodes)} nodes, {total} params")
    for node in nodes:
        print(f"  {node['op']:<20} {node['name']}")


if __name__ == "__main__":
    main()
