#!/usr/bin/env python3
"""Writes the PyTorch goldens for the engine's inference requests (tests/native/inference.test.ts).

A small CNN (conv, batch norm with non-trivial running statistics, ReLU, max pool, conv, global
average pool, linear) gets seeded weights; its state_dict is saved as a safetensors checkpoint
(what `inferOpen` loads), and for one fixed input the script records in eval mode:

- the softmax probabilities of the output,
- the activation of the `pool` layer,
- the saliency: d(logit of CLASS_INDEX)/d(input).

Outputs tests/native/goldens/inference_cnn.safetensors and inference_cnn.json. The input is
x[i] = 1.5·sin(0.1·i) over the flattened (1, 3, 32, 32) tensor, computed in float64 then rounded
to float32, which the test reproduces exactly.

Requires torch==2.13.0+cpu and safetensors. Run from anywhere:

    python3 scripts/goldens/make_inference_goldens.py
"""
import json
import math
import os

import torch
from safetensors.torch import save_file

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "native", "goldens")
CLASS_INDEX = 3

MODEL_SOURCE = '''import torch
import torch.nn as nn


# netlens: input=(1, 3, 32, 32)
class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.head(x)
'''


def fixed_input():
    count = 3 * 32 * 32
    values = [1.5 * math.sin(0.1 * i) for i in range(count)]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(1, 3, 32, 32)


def main():
    namespace = {}
    exec(compile(MODEL_SOURCE, "small_cnn.py", "exec"), namespace)
    torch.manual_seed(7)
    model = namespace["SmallCNN"]()
    with torch.no_grad():
        # Running statistics away from (0, 1) and affine parameters away from (1, 0), so eval-mode
        # batch norm is really exercised.
        model.bn1.running_mean.copy_(torch.randn(6) * 0.3)
        model.bn1.running_var.copy_(torch.rand(6) + 0.5)
        model.bn1.weight.copy_(torch.rand(6) + 0.5)
        model.bn1.bias.copy_(torch.randn(6) * 0.2)
        model.bn1.num_batches_tracked.fill_(12)
        # Larger head weights make the probabilities far from uniform.
        model.head[2].weight.mul_(4.0)
    model.eval()

    activations = {}
    model.pool.register_forward_hook(lambda _module, _inputs, output: activations.__setitem__("pool", output.detach().clone()))
    x = fixed_input().requires_grad_(True)
    logits = model(x)
    probabilities = torch.softmax(logits, dim=1)
    logits[0, CLASS_INDEX].backward()

    os.makedirs(OUT_DIR, exist_ok=True)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, os.path.join(OUT_DIR, "inference_cnn.safetensors"))
    golden = {
        "model_source": MODEL_SOURCE,
        "entry": "SmallCNN()",
        "torch": torch.__version__,
        "input": {"shape": [1, 3, 32, 32], "formula": "1.5*sin(0.1*i)"},
        "class_index": CLASS_INDEX,
        "probabilities": probabilities[0].tolist(),
        "activation": {"id": "pool", "shape": list(activations["pool"].shape[1:]), "data": activations["pool"].flatten().tolist()},
        "saliency": {"shape": list(x.grad.shape[1:]), "data": x.grad.flatten().tolist()},
    }
    with open(os.path.join(OUT_DIR, "inference_cnn.json"), "w") as handle:
        json.dump(golden, handle)
        handle.write("\n")
    print("probabilities", [round(p, 4) for p in golden["probabilities"]])


if __name__ == "__main__":
    main()
