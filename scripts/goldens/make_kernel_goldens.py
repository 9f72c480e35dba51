#!/usr/bin/env python3
"""Writes tests/native/goldens/kernels.json: what real PyTorch computes for the engine's ops and
optimizers, so the C++ engine tests (native/tests/engine_golden_test.cpp) check the CPU kernels
against it without Python.

Requires torch==2.13.0+cpu (the tests do not). Run from anywhere:

    python3 scripts/goldens/make_kernel_goldens.py

Every case carries its own engine graph spec (the same JSON the analyzer's lowering produces), so
the test builds it with the engine's Executor, loads the recorded parameters, and compares:
- "ops": one op (or a pool + unpool pair) on small random float32 tensors: the forward output,
  and for loss = sum(output * grad_output) the gradients of every input and parameter, plus
  buffers after the forward (batch-norm running statistics).
- "losses": cross-entropy (with label smoothing) and MSE: the loss and the prediction's gradient.
- "training": a small CNN (conv, batch norm, relu, max pool, linear) trained for a few steps by
  each optimizer from the same weights and batches: the loss of each step and every parameter
  and buffer at the end. One case freezes a layer, several use weight decay and schedules.
- "long_run", "long_run_adam": 50 steps (SGD with momentum, or Adam; weight decay, warm-up + cosine)
  of that CNN on batches both sides compute from a formula: the loss of every step and the final state.
- "schedules": the learning rate of each step under LinearLR warm-up followed by StepLR or
  CosineAnnealingLR (SequentialLR), as the engine's schedule config describes it.
Tensors are {"shape": [...], "data": [... row-major float32 values ...]}.

It also writes tests/native/goldens/lowered_models.json: whole fixture models
(tests/native/fixtures/lowering_ops.py) with PyTorch's eval-mode output for a fixed state_dict and
input, which tests/native/lowering.test.ts compares with the engine running the lowered spec.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO_ROOT, "tests", "native", "goldens", "kernels.json")


def encode(tensor):
    tensor = tensor.detach().to(torch.float32).contiguous()
    # 9 significant digits round-trip every float32 exactly and keep the file small.
    return {"shape": list(tensor.shape), "data": [float(f"{v:.9g}") for v in tensor.reshape(-1).tolist()]}


def py_attrs(attrs):
    """Engine attrs use PyTorch's constructor names; lists become tuples for the constructors."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


class SpecModel(nn.Module):
    """Runs engine-spec nodes with PyTorch modules registered under the node ids, so the
    state_dict keys are exactly the spec's parameter names."""

    def __init__(self, nodes):
        super().__init__()
        self.nodes = nodes
        self.calls = {}
        for node in nodes:
            op, attrs, node_id = node["op"], py_attrs(node.get("attrs", {})), node["id"]
            module = None
            if op == "conv2d":
                module = nn.Conv2d(**attrs)
            elif op == "conv_transpose2d":
                module = nn.ConvTranspose2d(**attrs)
            elif op == "linear":
                module = nn.Linear(**attrs)
            elif op == "batch_norm2d":
                module = nn.BatchNorm2d(**attrs)
            elif op == "batch_norm1d":
                module = nn.BatchNorm1d(**attrs)
            elif op == "layer_norm":
                module = nn.LayerNorm(**attrs)
            elif op == "relu":
                module = nn.ReLU()
            elif op == "relu6":
                module = nn.ReLU6()
            elif op == "leaky_relu":
                module = nn.LeakyReLU(**attrs)
            elif op == "gelu":
                module = nn.GELU(**attrs)
            elif op == "silu":
                module = nn.SiLU()
            elif op == "sigmoid":
                module = nn.Sigmoid()
            elif op == "tanh":
                module = nn.Tanh()
            elif op == "hardswish":
                module = nn.Hardswish()
            elif op == "max_pool2d":
                module = nn.MaxPool2d(**attrs, return_indices=True)
            elif op == "avg_pool2d":
                module = nn.AvgPool2d(**attrs)
            elif op == "adaptive_avg_pool2d":
                module = nn.AdaptiveAvgPool2d(**attrs)
            elif op == "max_unpool2d":
                module = nn.MaxUnpool2d(**{k: v for k, v in attrs.items() if k != "output_size"})
            elif op == "dropout":
                module = nn.Dropout(**attrs)
            elif op == "flatten":
                module = nn.Flatten(**attrs)
            elif op == "identity":
                module = nn.Identity()
            elif op in MODULE_OPS:
                module = MODULE_OPS[op](**attrs)
            if module is not None:
                setattr(self, node_id, module)

    def forward(self, **inputs):
        values = dict(inputs)
        indices = {}
        states = {}
        for node in self.nodes:
            op, attrs, node_id = node["op"], node.get("attrs", {}), node["id"]
            args = [values[name] for name in node["inputs"]]
            if op == "max_pool2d":
                out, indices[node_id] = getattr(self, node_id)(args[0])
            elif op == "max_unpool2d":
                size = attrs.get("output_size")
                out = getattr(self, node_id)(args[0], indices[node["inputs"][1]], output_size=size)
            elif op == "reshape":
                out = args[0].reshape(attrs["shape"])
            elif op == "add" and len(args) > 2:
                out = args[0]
                for term in args[1:]:
                    out = out + term
            elif op == "cat":
                out = torch.cat(args, dim=attrs.get("dim", 0))
            elif op in ("add", "sub", "mul", "div") and (len(args) == 1 or len(args) == 2):
                out = arithmetic(op, args, attrs)
            elif op in ("lstm", "gru"):
                out, state = getattr(self, node_id)(args[0])
                states[node_id] = state if op == "lstm" else (state,)
            elif op == "recurrent_state":
                out = states[node["inputs"][0]][1 if attrs.get("state", "h") == "c" else 0]
            elif op == "interpolate":
                scale = attrs.get("scale_factor")
                options = {"mode": attrs.get("mode", "nearest")}
                if "align_corners" in attrs:
                    options["align_corners"] = attrs["align_corners"]
                out = (F.interpolate(args[0], scale_factor=scale, **options) if scale is not None
                       else F.interpolate(args[0], size=attrs["size"], **options))
            elif op in ("exp", "log", "sqrt", "rsqrt", "abs"):
                out = getattr(torch, op)(args[0])
            elif op == "pow":
                out = torch.pow(args[0], attrs["exponent"])
            elif op == "clamp":
                out = torch.clamp(args[0], min=attrs.get("min"), max=attrs.get("max"))
            elif op == "matmul":
                out = torch.matmul(args[0], args[1])
            elif op == "sum":
                dim = attrs.get("dim")
                out = args[0].sum() if dim is None else args[0].sum(dim=dim, keepdim=attrs.get("keepdim", False))
            elif op == "narrow":
                out = args[0].narrow(attrs.get("dim", 0), attrs["start"], attrs["length"])
            elif op == "select":
                out = args[0].select(attrs.get("dim", 0), attrs["index"])
            elif op == "embedding":
                out = getattr(self, node_id)(args[0].long())
            elif op == "permute":
                out = args[0].permute(attrs["dims"])
            elif op == "mean":
                dim = attrs.get("dim")
                out = args[0].mean() if dim is None else args[0].mean(dim=dim, keepdim=attrs.get("keepdim", False))
            else:
                out = getattr(self, node_id)(*args)
            values[node_id] = out
        return values


# Engine ops that are one PyTorch module built from the node's attrs.
MODULE_OPS = {
    "elu": nn.ELU, "selu": nn.SELU, "celu": nn.CELU, "softplus": nn.Softplus, "hardsigmoid": nn.Hardsigmoid,
    "hardtanh": nn.Hardtanh, "mish": nn.Mish, "softsign": nn.Softsign, "logsigmoid": nn.LogSigmoid,
    "tanhshrink": nn.Tanhshrink, "softshrink": nn.Softshrink, "hardshrink": nn.Hardshrink, "prelu": nn.PReLU,
    "softmax": nn.Softmax, "log_softmax": nn.LogSoftmax, "adaptive_max_pool2d": nn.AdaptiveMaxPool2d,
    "local_response_norm": nn.LocalResponseNorm, "embedding": nn.Embedding, "lstm": nn.LSTM, "gru": nn.GRU,
}


def arithmetic(op, args, attrs):
    """The engine's add/sub/mul/div: two broadcast tensors, or one tensor and the number "other"
    ("reverse": the number comes first); alpha scales the second operand of add/sub."""
    if len(args) == 2:
        a, b = args
    elif attrs.get("reverse", False):
        a, b = attrs["other"], args[0]
    else:
        a, b = args[0], attrs["other"]
    alpha = attrs.get("alpha", 1)
    if op == "add":
        return torch.add(a, b, alpha=alpha) if isinstance(a, torch.Tensor) else a + alpha * b
    if op == "sub":
        return torch.sub(a, b, alpha=alpha) if isinstance(a, torch.Tensor) else a - alpha * b
    if op == "mul":
        return a * b
    return a / b


def spec_params(model, node_id):
    prefix = node_id + "."
    return {key[len(prefix):]: key for key in model.state_dict().keys() if key.startswith(prefix)}


def make_graph(nodes, inputs, outputs):
    probe = SpecModel(nodes)
    for node in nodes:
        params = spec_params(probe, node["id"])
        if params:
            node["params"] = params
    return {
        "inputs": [{"name": name, "shape": list(t.shape), "dtype": "float32"} for name, t in inputs.items()],
        "nodes": nodes,
        "outputs": outputs,
    }


def randomize(model, generator):
    """Random values for every parameter and float buffer (not the default init) so each element
    of a weight matters; running variances stay positive."""
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            if key.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
            else:
                value.copy_(torch.randn(value.shape, generator=generator) * 0.5)


def distinct_values(shape, generator, scale=2.0):
    """Values with no ties and none near zero (maxima and kinks are unambiguous)."""
    count = math.prod(shape)
    values = torch.randperm(count, generator=generator).to(torch.float32) / count * 2 * scale - scale
    values = values + torch.sign(values) * 0.05 + (values == 0).float() * 0.05
    return values.reshape(shape)


def op_case(name, nodes, input_shapes, generator, training=True, scale=1.0, distinct=False, outputs=None, away_from_zero=(),
            token_inputs=None, positive=False):
    """token_inputs: input name → vocabulary size for int64 token ids (no gradient)."""
    token_inputs = token_inputs or {}
    inputs = {}
    for input_name, shape in input_shapes.items():
        if input_name in token_inputs:
            inputs[input_name] = torch.randint(0, token_inputs[input_name], shape, generator=generator).float()
            continue
        data = distinct_values(shape, generator, 2.0 * scale) if distinct else torch.randn(shape, generator=generator) * scale
        if input_name in away_from_zero:
            # Divisors: magnitude at least 0.5, random sign.
            data = torch.sign(data) * (data.abs() + 0.5) + (data == 0).float() * 0.5
        if positive:
            data = data.abs() + 0.25
        inputs[input_name] = data.requires_grad_(True)
    outputs = outputs or [nodes[-1]["id"]]
    graph = make_graph(nodes, inputs, outputs)
    for spec_input in graph["inputs"]:
        if spec_input["name"] in token_inputs:
            spec_input["dtype"] = "int64"
    model = SpecModel(nodes)
    randomize(model, generator)
    model.train(training)
    state_before = {key: encode(value) for key, value in model.state_dict().items()}
    values = model(**inputs)
    out = values[outputs[0]]
    grad_output = torch.randn(out.shape, generator=generator)
    (out * grad_output).sum().backward()
    return {
        "name": name,
        "graph": graph,
        "training": training,
        "inputs": {k: encode(v) for k, v in inputs.items()},
        "state": state_before,
        "output": encode(out),
        "grad_output": encode(grad_output),
        "input_grads": {k: encode(v.grad) for k, v in inputs.items() if k not in token_inputs},
        "param_grads": {key: encode(p.grad) for key, p in model.named_parameters()},
        "state_after": {key: encode(value) for key, value in model.state_dict().items()},
    }


def node(node_id, op, inputs, **attrs):
    return {"id": node_id, "op": op, "attrs": attrs, "inputs": inputs}


def op_cases(g):
    cases = []
    add = cases.append
    add(op_case("conv2d_3x3_pad1", [node("m", "conv2d", ["x"], in_channels=3, out_channels=4, kernel_size=3, padding=1)],
                {"x": [2, 3, 6, 6]}, g))
    add(op_case("conv2d_stride2_dilation2_groups2_nobias",
                [node("m", "conv2d", ["x"], in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2,
                      groups=2, bias=False)], {"x": [2, 4, 9, 9]}, g))
    add(op_case("conv2d_depthwise", [node("m", "conv2d", ["x"], in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=4)],
                {"x": [1, 4, 5, 5]}, g))
    add(op_case("conv2d_pointwise", [node("m", "conv2d", ["x"], in_channels=3, out_channels=5, kernel_size=1)],
                {"x": [2, 3, 4, 4]}, g))
    add(op_case("conv2d_rectangular", [node("m", "conv2d", ["x"], in_channels=3, out_channels=2, kernel_size=[2, 3], stride=[2, 1],
                                            padding=[1, 0])], {"x": [2, 3, 7, 6]}, g))
    add(op_case("conv2d_same", [node("m", "conv2d", ["x"], in_channels=2, out_channels=3, kernel_size=5, padding="same")],
                {"x": [1, 2, 6, 5]}, g))
    add(op_case("conv_transpose2d_stride2_outpad1",
                [node("m", "conv_transpose2d", ["x"], in_channels=4, out_channels=3, kernel_size=3, stride=2, padding=1,
                      output_padding=1)], {"x": [2, 4, 4, 4]}, g))
    add(op_case("conv_transpose2d_groups2_dilation2_nobias",
                [node("m", "conv_transpose2d", ["x"], in_channels=4, out_channels=6, kernel_size=3, groups=2, dilation=2,
                      bias=False)], {"x": [1, 4, 3, 3]}, g))
    add(op_case("linear", [node("m", "linear", ["x"], in_features=6, out_features=4)], {"x": [3, 6]}, g))
    add(op_case("linear_3d_nobias", [node("m", "linear", ["x"], in_features=6, out_features=5, bias=False)], {"x": [2, 3, 6]}, g))
    for op, attrs, scale in [("relu", {}, 1.0), ("relu6", {}, 4.0), ("leaky_relu", {"negative_slope": 0.2}, 1.0),
                             ("gelu", {}, 2.0), ("gelu", {"approximate": "tanh"}, 2.0), ("silu", {}, 2.0), ("sigmoid", {}, 2.0),
                             ("tanh", {}, 2.0), ("hardswish", {}, 2.5)]:
        suffix = "_tanh" if attrs.get("approximate") == "tanh" else ""
        add(op_case(op + suffix, [node("m", op, ["x"], **attrs)], {"x": [2, 3, 4, 5]}, g, scale=scale, distinct=True))
    add(op_case("max_pool2d_k2", [node("m", "max_pool2d", ["x"], kernel_size=2)], {"x": [2, 3, 6, 6]}, g, distinct=True))
    add(op_case("max_pool2d_k3_s2_p1", [node("m", "max_pool2d", ["x"], kernel_size=3, stride=2, padding=1)], {"x": [2, 3, 7, 7]}, g,
                distinct=True))
    add(op_case("max_pool2d_dilation2_ceil", [node("m", "max_pool2d", ["x"], kernel_size=2, stride=2, dilation=2, ceil_mode=True)],
                {"x": [1, 2, 8, 7]}, g, distinct=True))
    add(op_case("avg_pool2d_k2", [node("m", "avg_pool2d", ["x"], kernel_size=2)], {"x": [2, 3, 6, 6]}, g))
    add(op_case("avg_pool2d_k3_s2_p1_exclude_pad_ceil",
                [node("m", "avg_pool2d", ["x"], kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)],
                {"x": [2, 2, 6, 6]}, g))
    add(op_case("avg_pool2d_include_pad_ceil", [node("m", "avg_pool2d", ["x"], kernel_size=3, stride=2, padding=1, ceil_mode=True)],
                {"x": [1, 2, 6, 6]}, g))
    add(op_case("avg_pool2d_divisor_override", [node("m", "avg_pool2d", ["x"], kernel_size=2, divisor_override=3)],
                {"x": [1, 2, 4, 4]}, g))
    add(op_case("adaptive_avg_pool2d_1", [node("m", "adaptive_avg_pool2d", ["x"], output_size=1)], {"x": [2, 3, 5, 5]}, g))
    add(op_case("adaptive_avg_pool2d_3x2", [node("m", "adaptive_avg_pool2d", ["x"], output_size=[3, 2])], {"x": [2, 3, 7, 5]}, g))
    add(op_case("max_unpool2d", [node("pool", "max_pool2d", ["x"], kernel_size=2, stride=2),
                                 node("m", "max_unpool2d", ["pool", "pool"], kernel_size=2, stride=2)],
                {"x": [2, 2, 6, 6]}, g, distinct=True))
    add(op_case("max_unpool2d_output_size", [node("pool", "max_pool2d", ["x"], kernel_size=2, stride=2),
                                             node("m", "max_unpool2d", ["pool", "pool"], kernel_size=2, stride=2,
                                                  output_size=[7, 7])], {"x": [1, 2, 7, 7]}, g, distinct=True))
    add(op_case("batch_norm2d_train", [node("m", "batch_norm2d", ["x"], num_features=3)], {"x": [4, 3, 3, 3]}, g, scale=2.0))
    add(op_case("batch_norm2d_eval", [node("m", "batch_norm2d", ["x"], num_features=3)], {"x": [2, 3, 3, 3]}, g, training=False))
    add(op_case("batch_norm2d_no_affine_cumulative", [node("m", "batch_norm2d", ["x"], num_features=2, affine=False, momentum=None)],
                {"x": [3, 2, 4, 4]}, g))
    add(op_case("batch_norm2d_untracked_eval", [node("m", "batch_norm2d", ["x"], num_features=2, track_running_stats=False)],
                {"x": [3, 2, 2, 2]}, g, training=False))
    add(op_case("batch_norm1d_train_2d", [node("m", "batch_norm1d", ["x"], num_features=5, eps=1e-3, momentum=0.3)],
                {"x": [4, 5]}, g))
    add(op_case("batch_norm1d_train_3d", [node("m", "batch_norm1d", ["x"], num_features=4)], {"x": [3, 4, 6]}, g))
    add(op_case("layer_norm_last", [node("m", "layer_norm", ["x"], normalized_shape=8)], {"x": [2, 3, 8]}, g, scale=3.0))
    add(op_case("layer_norm_2d", [node("m", "layer_norm", ["x"], normalized_shape=[4, 5], eps=1e-6)], {"x": [2, 4, 5]}, g))
    add(op_case("layer_norm_no_affine", [node("m", "layer_norm", ["x"], normalized_shape=6, elementwise_affine=False)],
                {"x": [3, 6]}, g))
    add(op_case("dropout_eval", [node("m", "dropout", ["x"], p=0.5)], {"x": [2, 5]}, g, training=False))
    add(op_case("flatten", [node("m", "flatten", ["x"])], {"x": [2, 3, 2, 2]}, g))
    add(op_case("flatten_middle", [node("m", "flatten", ["x"], start_dim=1, end_dim=2)], {"x": [2, 3, 2, 4]}, g))
    add(op_case("reshape", [node("m", "reshape", ["x"], shape=[-1, 12])], {"x": [2, 3, 2, 2]}, g))
    add(op_case("identity", [node("m", "identity", ["x"])], {"x": [2, 3]}, g))
    add(op_case("add_three", [node("m", "add", ["x", "x1", "x2"])], {"x": [2, 3, 4], "x1": [2, 3, 4], "x2": [2, 3, 4]}, g))
    add(op_case("add_same_input_twice", [node("r", "relu", ["x"]), node("m", "add", ["r", "r"])], {"x": [2, 3]}, g, distinct=True))
    add(op_case("cat_dim1", [node("m", "cat", ["x", "x1"], dim=1)], {"x": [2, 3, 2, 2], "x1": [2, 1, 2, 2]}, g))
    add(op_case("cat_dim_last", [node("m", "cat", ["x", "x1", "x2"], dim=-1)], {"x": [2, 3], "x1": [2, 1], "x2": [2, 2]}, g))
    add(op_case("mean_spatial", [node("m", "mean", ["x"], dim=[2, 3])], {"x": [2, 3, 4, 5]}, g))
    add(op_case("mean_keepdim_last", [node("m", "mean", ["x"], dim=-1, keepdim=True)], {"x": [2, 3, 4]}, g))
    add(op_case("mean_all", [node("m", "mean", ["x"])], {"x": [2, 3, 4]}, g))
    return cases


def more_op_cases(g):
    """The ops added after the first set, on their own generator so the earlier cases keep their values."""
    cases = []
    add = cases.append
    x4 = {"x": [2, 3, 4, 5]}
    for name, op, attrs, scale in [
            ("elu_alpha07", "elu", {"alpha": 0.7}, 2.0), ("selu", "selu", {}, 2.0), ("celu_alpha15", "celu", {"alpha": 1.5}, 2.0),
            ("softplus", "softplus", {}, 2.0), ("softplus_beta2_threshold1", "softplus", {"beta": 2.0, "threshold": 1.0}, 2.0),
            ("hardsigmoid", "hardsigmoid", {}, 4.0), ("hardtanh", "hardtanh", {}, 2.0),
            ("hardtanh_min_max", "hardtanh", {"min_val": -0.5, "max_val": 1.5}, 2.0), ("mish", "mish", {}, 2.0),
            ("softsign", "softsign", {}, 2.0), ("logsigmoid", "logsigmoid", {}, 3.0), ("tanhshrink", "tanhshrink", {}, 2.0),
            ("softshrink", "softshrink", {}, 2.0), ("softshrink_lambd07", "softshrink", {"lambd": 0.7}, 2.0),
            ("hardshrink", "hardshrink", {}, 2.0)]:
        add(op_case(name, [node("m", op, ["x"], **attrs)], x4, g, scale=scale, distinct=True))
    add(op_case("prelu_shared", [node("m", "prelu", ["x"])], {"x": [2, 3, 4, 4]}, g, distinct=True))
    add(op_case("prelu_per_channel", [node("m", "prelu", ["x"], num_parameters=3)], {"x": [2, 3, 4, 4]}, g, distinct=True))
    add(op_case("prelu_2d", [node("m", "prelu", ["x"], num_parameters=5)], {"x": [4, 5]}, g, distinct=True))
    add(op_case("softmax_dim1", [node("m", "softmax", ["x"], dim=1)], {"x": [2, 5, 3]}, g, scale=2.0))
    add(op_case("softmax_last", [node("m", "softmax", ["x"], dim=-1)], {"x": [3, 7]}, g, scale=2.0))
    add(op_case("log_softmax_dim1", [node("m", "log_softmax", ["x"], dim=1)], {"x": [4, 6]}, g, scale=2.0))
    add(op_case("log_softmax_last_3d", [node("m", "log_softmax", ["x"], dim=-1)], {"x": [2, 3, 5]}, g, scale=3.0))
    add(op_case("adaptive_max_pool2d_1", [node("m", "adaptive_max_pool2d", ["x"], output_size=1)], {"x": [2, 3, 5, 5]}, g,
                distinct=True))
    add(op_case("adaptive_max_pool2d_3x2", [node("m", "adaptive_max_pool2d", ["x"], output_size=[3, 2])], {"x": [2, 3, 7, 5]}, g,
                distinct=True))
    add(op_case("local_response_norm_alexnet", [node("m", "local_response_norm", ["x"], size=5, alpha=1e-4, beta=0.75, k=2.0)],
                {"x": [2, 7, 3, 3]}, g, scale=2.0))
    add(op_case("local_response_norm_strong", [node("m", "local_response_norm", ["x"], size=3, alpha=0.5, beta=0.75, k=1.0)],
                {"x": [2, 6, 4]}, g))
    add(op_case("local_response_norm_even_size", [node("m", "local_response_norm", ["x"], size=4, alpha=1.0, beta=0.5, k=1.5)],
                {"x": [1, 5, 2, 2]}, g))
    add(op_case("permute_nhwc", [node("m", "permute", ["x"], dims=[0, 2, 3, 1])], {"x": [2, 3, 4, 5]}, g))
    add(op_case("permute_transpose_2d", [node("m", "permute", ["x"], dims=[1, 0])], {"x": [3, 4]}, g))
    add(op_case("permute_transpose_12", [node("m", "permute", ["x"], dims=[0, -1, 1])], {"x": [2, 3, 4]}, g))
    add(op_case("add_broadcast_channel", [node("m", "add", ["x", "x1"])], {"x": [2, 3, 4, 4], "x1": [2, 3, 1, 1]}, g))
    add(op_case("add_alpha", [node("m", "add", ["x", "x1"], alpha=0.5)], {"x": [2, 3], "x1": [2, 3]}, g))
    add(op_case("sub_broadcast_last", [node("m", "sub", ["x", "x1"])], {"x": [2, 3, 4], "x1": [4]}, g))
    add(op_case("mul_squeeze_excitation", [node("s", "sigmoid", ["x1"]), node("m", "mul", ["x", "s"])],
                {"x": [2, 3, 4, 4], "x1": [2, 3, 1, 1]}, g))
    add(op_case("mul_both_broadcast", [node("m", "mul", ["x", "x1"])], {"x": [2, 1, 4], "x1": [3, 1]}, g))
    add(op_case("div_broadcast", [node("m", "div", ["x", "x1"])], {"x": [2, 3, 4], "x1": [2, 1, 4]}, g, away_from_zero=("x1",)))
    add(op_case("mul_scalar", [node("m", "mul", ["x"], other=2.5)], {"x": [2, 3]}, g))
    add(op_case("add_scalar", [node("m", "add", ["x"], other=-0.75)], {"x": [2, 3]}, g))
    add(op_case("rsub_scalar", [node("m", "sub", ["x"], other=1.0, reverse=True)], {"x": [2, 3]}, g))
    add(op_case("div_scalar", [node("m", "div", ["x"], other=4.0)], {"x": [2, 3]}, g))
    add(op_case("rdiv_scalar", [node("m", "div", ["x"], other=2.0, reverse=True)], {"x": [2, 3]}, g, away_from_zero=("x",)))
    add(op_case("mean_spatial_keepdim", [node("m", "mean", ["x"], dim=[2, 3], keepdim=True)], {"x": [2, 3, 4, 5]}, g))
    add(op_case("mean_dim1", [node("m", "mean", ["x"], dim=1)], {"x": [2, 3, 4]}, g))
    add(op_case("interpolate_nearest_scale2", [node("m", "interpolate", ["x"], size=[8, 10], scale_factor=2.0)], {"x": [2, 3, 4, 5]}, g))
    add(op_case("interpolate_nearest_size", [node("m", "interpolate", ["x"], size=[7, 4])], {"x": [2, 3, 5, 7]}, g))
    add(op_case("interpolate_bilinear", [node("m", "interpolate", ["x"], size=[7, 9], mode="bilinear", align_corners=False)],
                {"x": [2, 3, 4, 5]}, g))
    add(op_case("interpolate_bilinear_align_corners",
                [node("m", "interpolate", ["x"], size=[6, 8], mode="bilinear", align_corners=True)], {"x": [1, 2, 4, 5]}, g))
    add(op_case("interpolate_bilinear_scale15", [node("m", "interpolate", ["x"], size=[6, 9], scale_factor=[1.5, 1.5], mode="bilinear")],
                {"x": [1, 2, 4, 6]}, g))
    add(op_case("interpolate_bilinear_down", [node("m", "interpolate", ["x"], size=[3, 4], mode="bilinear")], {"x": [1, 2, 7, 9]}, g))
    add(op_case("sum_spatial_keepdim", [node("m", "sum", ["x"], dim=[2, 3], keepdim=True)], {"x": [2, 3, 4, 5]}, g))
    add(op_case("sum_all", [node("m", "sum", ["x"])], {"x": [2, 3, 4]}, g))
    add(op_case("narrow_chunk_last", [node("m", "narrow", ["x"], dim=-1, start=4, length=4)], {"x": [2, 3, 12]}, g))
    add(op_case("narrow_split_dim1", [node("m", "narrow", ["x"], dim=1, start=1, length=2)], {"x": [2, 4, 3, 2]}, g))
    for op, attrs, positive in [("exp", {}, False), ("log", {}, True), ("sqrt", {}, True), ("rsqrt", {}, True), ("abs", {}, False),
                                ("pow", {"exponent": 2.0}, False), ("pow", {"exponent": 3.0}, False), ("pow", {"exponent": 0.5}, True),
                                ("pow", {"exponent": -1.5}, True), ("clamp", {"min": -0.5, "max": 0.8}, False),
                                ("clamp", {"min": 0.1}, False), ("clamp", {"max": -0.2}, False)]:
        suffix = "".join(f"_{k}{v}" for k, v in attrs.items())
        add(op_case(op + suffix, [node("m", op, ["x"], **attrs)], {"x": [2, 3, 4]}, g, distinct=True, positive=positive))
    add(op_case("matmul_2d", [node("m", "matmul", ["x", "x1"])], {"x": [3, 4], "x1": [4, 5]}, g))
    add(op_case("matmul_attention", [node("m", "matmul", ["x", "x1"])], {"x": [2, 3, 5, 4], "x1": [2, 3, 4, 6]}, g))
    add(op_case("matmul_broadcast_batch", [node("m", "matmul", ["x", "x1"])], {"x": [2, 1, 3, 4], "x1": [3, 4, 2]}, g))
    add(op_case("select_middle", [node("m", "select", ["x"], dim=1, index=2)], {"x": [2, 4, 3]}, g))
    add(op_case("select_last_negative", [node("m", "select", ["x"], dim=-1, index=-1)], {"x": [2, 4, 3]}, g))
    add(op_case("embedding", [node("m", "embedding", ["x"], num_embeddings=10, embedding_dim=4)], {"x": [2, 5]}, g,
                token_inputs={"x": 10}))
    add(op_case("embedding_padding_idx", [node("m", "embedding", ["x"], num_embeddings=6, embedding_dim=3, padding_idx=0)],
                {"x": [3, 4]}, g, token_inputs={"x": 6}))
    add(op_case("lstm_time_major", [node("m", "lstm", ["x"], input_size=4, hidden_size=5)], {"x": [3, 2, 4]}, g))
    add(op_case("gru_time_major_nobias", [node("m", "gru", ["x"], input_size=4, hidden_size=5, bias=False)], {"x": [4, 2, 4]}, g))
    for cell in ("lstm", "gru"):
        # Both the sequence output and the final states reach the loss, as in a classifier that
        # reads h_n (gru_classifier.py) and pools the outputs.
        nodes = [node("m", cell, ["x"], input_size=4, hidden_size=3, num_layers=2, bidirectional=True, batch_first=True),
                 node("h", "recurrent_state", ["m"], state="h"),
                 node("last", "select", ["h"], dim=0, index=-1),
                 node("first", "select", ["h"], dim=0, index=-4 if cell == "gru" else 1)]
        finals = ["last", "first"]
        if cell == "lstm":
            nodes += [node("c", "recurrent_state", ["m"], state="c"), node("cl", "select", ["c"], dim=0, index=-2)]
            finals = ["last", "cl"]
        nodes += [node("pooled", "mean", ["m"], dim=1), node("joined", "cat", finals, dim=1),
                  node("out", "add", ["pooled", "joined"])]
        add(op_case(f"{cell}_2layer_bidirectional_batch_first_states", nodes, {"x": [2, 5, 4]}, g))
    return cases


def loss_cases(g):
    cases = []
    for name, smoothing in [("cross_entropy", 0.0), ("cross_entropy_label_smoothing", 0.1)]:
        logits = (torch.randn(5, 4, generator=g) * 2).requires_grad_(True)
        labels = torch.randint(0, 4, (5,), generator=g)
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        loss.backward()
        cases.append({"name": name, "graph": {
            "inputs": [{"name": "x", "shape": [5, 4]}, {"name": "target", "shape": [5], "dtype": "int64"}],
            "nodes": [node("m", "identity", ["x"])], "outputs": ["m"],
            "loss": {"op": "cross_entropy", "input": "m", "target": "target", "label_smoothing": smoothing}},
            "inputs": {"x": encode(logits), "target": encode(labels.float())},
            "loss": loss.item(), "input_grads": {"x": encode(logits.grad)}})
    prediction = torch.randn(3, 4, generator=g).requires_grad_(True)
    target = torch.randn(3, 4, generator=g)
    loss = F.mse_loss(prediction, target)
    loss.backward()
    cases.append({"name": "mse", "graph": {
        "inputs": [{"name": "x", "shape": [3, 4]}, {"name": "target", "shape": [3, 4]}],
        "nodes": [node("m", "identity", ["x"])], "outputs": ["m"], "loss": {"op": "mse", "input": "m", "target": "target"}},
        "inputs": {"x": encode(prediction), "target": encode(target)},
        "loss": loss.item(), "input_grads": {"x": encode(prediction.grad)}})
    return cases


def small_cnn_nodes():
    return [
        # No bias before batch norm (as real models do): its true gradient is zero, and Adam would
        # amplify the rounding noise into arbitrary updates that no two implementations share.
        node("c1", "conv2d", ["x"], in_channels=3, out_channels=4, kernel_size=3, padding=1, bias=False),
        node("bn1", "batch_norm2d", ["c1"], num_features=4),
        node("r1", "relu", ["bn1"]),
        node("p1", "max_pool2d", ["r1"], kernel_size=2),
        node("flat", "flatten", ["p1"]),
        node("fc1", "linear", ["flat"], in_features=64, out_features=8),
        node("r2", "gelu", ["fc1"]),
        node("fc2", "linear", ["r2"], in_features=8, out_features=5),
    ]


def torch_optimizer(config, params):
    kind = config["type"]
    lr = config["lr"]
    wd = config.get("weight_decay", 0.0)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.get("momentum", 0.0), dampening=config.get("dampening", 0.0),
                               nesterov=config.get("nesterov", False), weight_decay=wd)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(config.get("betas", (0.9, 0.999))), eps=config.get("eps", 1e-8),
                                weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(config.get("betas", (0.9, 0.999))), eps=config.get("eps", 1e-8),
                                 weight_decay=config.get("weight_decay", 0.01))
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=config.get("alpha", 0.99), eps=config.get("eps", 1e-8), weight_decay=wd,
                                   momentum=config.get("momentum", 0.0), centered=config.get("centered", False))
    raise ValueError(kind)


def torch_scheduler(config, optimizer):
    schedule = config.get("schedule")
    if not schedule:
        return None
    warmup = schedule.get("warmup_steps", 0)
    kind = schedule.get("type", "constant")
    if kind == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, step_size=schedule["step_size"], gamma=schedule.get("gamma", 0.1))
    elif kind == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=schedule["t_max"], eta_min=schedule.get("eta_min", 0.0))
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if warmup == 0:
        return main
    start = schedule.get("warmup_start_factor", 1.0 / 3.0)
    warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, main], milestones=[warmup])


def training_runs(g, steps=4):
    """Every run starts from the same weights and sees the same batches, so they differ only in
    the optimizer; the initial state, batches and graph are stored once."""
    nodes = small_cnn_nodes()
    batches = [{"x": torch.randn(6, 3, 8, 8, generator=g), "target": torch.randint(0, 5, (6,), generator=g)} for _ in range(steps)]
    initial_model = SpecModel(nodes)
    randomize(initial_model, g)
    initial_state = {key: value.clone() for key, value in initial_model.state_dict().items()}
    graph = make_graph(nodes, {"x": batches[0]["x"]}, ["fc2"])
    graph["inputs"].append({"name": "target", "shape": [6], "dtype": "int64"})
    graph["loss"] = {"op": "cross_entropy", "input": "fc2", "target": "target"}

    runs = []
    for name, config in training_configs():
        model = SpecModel(nodes)
        model.load_state_dict(initial_state)
        frozen = config.get("frozen", [])
        trainable = []
        for key, param in model.named_parameters():
            is_frozen = any(key == f or key.startswith(f + ".") for f in frozen)
            param.requires_grad_(not is_frozen)
            if not is_frozen:
                trainable.append(param)
        optimizer = torch_optimizer(config, trainable)
        scheduler = torch_scheduler(config, optimizer)
        model.train()
        losses, lrs = [], []
        for batch in batches:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x=batch["x"])["fc2"], batch["target"])
            loss.backward()
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
        runs.append({"name": name, "optimizer": config, "losses": losses, "lrs": lrs,
                     "state_after": {key: encode(value) for key, value in model.state_dict().items()}})
    return {
        "graph": graph,
        "state": {key: encode(value) for key, value in initial_state.items()},
        "batches": [{"x": encode(b["x"]), "target": encode(b["target"].float())} for b in batches],
        "runs": runs,
    }


def training_configs():
    return [
        ("sgd", {"type": "sgd", "lr": 0.1}),
        ("sgd_weight_decay", {"type": "sgd", "lr": 0.1, "weight_decay": 0.05}),
        ("sgd_momentum_dampening", {"type": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 1e-3}),
        ("sgd_nesterov", {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("adam", {"type": "adam", "lr": 0.01}),
        ("adam_weight_decay", {"type": "adam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1}),
        ("adamw", {"type": "adamw", "lr": 0.01, "weight_decay": 0.1}),
        ("rmsprop", {"type": "rmsprop", "lr": 0.005}),
        ("rmsprop_centered_momentum", {"type": "rmsprop", "lr": 0.002, "alpha": 0.9, "momentum": 0.5, "centered": True,
                                       "weight_decay": 0.01}),
        ("sgd_frozen_conv_step_schedule", {"type": "sgd", "lr": 0.1, "momentum": 0.9, "frozen": ["c1", "bn1.weight"],
                                           "schedule": {"type": "step", "step_size": 2, "gamma": 0.1}}),
        ("adam_warmup_cosine", {"type": "adam", "lr": 0.02, "schedule": {"type": "cosine", "t_max": 3, "warmup_steps": 2,
                                                                           "warmup_start_factor": 0.1}}),
    ]


def synthetic_batch(step, batch):
    """Data both sides compute instead of storing, in double then rounded to float32: for the
    row-major index i of [batch, 3, 8, 8], sample n = i // 192, pixel p = i % 64 and label
    y = (n + step) % 5: x[i] = sin(0.001·(i+1)·(step+1)·7.3) + cos((y+1)·p·0.2) (a class pattern
    under noise, so the loss has something to learn)."""
    index = torch.arange(batch * 3 * 8 * 8, dtype=torch.float64)
    sample = torch.div(index, 192, rounding_mode="floor")
    label = torch.remainder(sample + step, 5)
    pixel = torch.remainder(index, 64)
    x = torch.sin(0.001 * (index + 1) * (step + 1) * 7.3) + torch.cos((label + 1) * pixel * 0.2)
    target = (torch.arange(batch) + step) % 5
    return x.to(torch.float32).reshape(batch, 3, 8, 8), target


LONG_RUN_SGD = {"type": "sgd", "lr": 0.2, "momentum": 0.9, "weight_decay": 5e-4,
                "schedule": {"type": "cosine", "t_max": 50, "warmup_steps": 5}}
LONG_RUN_ADAM = {"type": "adam", "lr": 0.02, "weight_decay": 1e-4, "schedule": {"type": "cosine", "t_max": 50, "warmup_steps": 5}}


def long_run(config=LONG_RUN_SGD, steps=50, batch=8):
    """The issue's parity proof: the first 50 steps of a small CNN from the same initial weights and
    the same batches (computed, not stored) follow PyTorch's loss."""
    g = torch.Generator().manual_seed(50)
    nodes = small_cnn_nodes()
    model = SpecModel(nodes)
    randomize(model, g)
    initial = {key: encode(value) for key, value in model.state_dict().items()}
    optimizer = torch_optimizer(config, list(model.parameters()))
    scheduler = torch_scheduler(config, optimizer)
    model.train()
    losses = []
    for step in range(steps):
        x, target = synthetic_batch(step, batch)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x=x)["fc2"], target)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    graph = make_graph(nodes, {"x": torch.zeros(batch, 3, 8, 8)}, ["fc2"])
    graph["inputs"].append({"name": "target", "shape": [batch], "dtype": "int64"})
    graph["loss"] = {"op": "cross_entropy", "input": "fc2", "target": "target"}
    graph["optimizer"] = config
    return {"graph": graph, "state": initial, "batch": batch, "losses": losses,
            "state_after": {key: encode(value) for key, value in model.state_dict().items()}}


def schedule_cases():
    configs = [
        {"type": "sgd", "lr": 0.1, "schedule": {"type": "step", "step_size": 3, "gamma": 0.1}},
        {"type": "sgd", "lr": 0.1, "schedule": {"type": "cosine", "t_max": 8, "eta_min": 0.001}},
        {"type": "sgd", "lr": 0.1, "schedule": {"type": "cosine", "t_max": 6, "warmup_steps": 4}},
        {"type": "sgd", "lr": 0.1, "schedule": {"type": "step", "step_size": 2, "warmup_steps": 3, "warmup_start_factor": 0.01}},
        {"type": "sgd", "lr": 0.1, "schedule": {"type": "constant", "warmup_steps": 5, "warmup_start_factor": 0.2}},
    ]
    cases = []
    for config in configs:
        param = nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=config["lr"])
        scheduler = torch_scheduler(config, optimizer)
        lrs = []
        for _ in range(16):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        cases.append({"optimizer": config, "lrs": lrs})
    return cases


LOWERED_PATH = os.path.join(REPO_ROOT, "tests", "native", "goldens", "lowered_models.json")


def lowered_model_cases():
    """Whole models written the way users write them (tests/native/fixtures/lowering_ops.py): the
    test lowers each with the analyzer, loads this state_dict into the engine and compares the
    eval-mode output, and for float inputs the input's gradient of sum(output · grad_output)."""
    import importlib.util
    fixture = os.path.join(REPO_ROOT, "tests", "native", "fixtures", "lowering_ops.py")
    spec = importlib.util.spec_from_file_location("lowering_ops", fixture)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    g = torch.Generator().manual_seed(61)
    cases = []
    for entry, make_input in [
            ("OpsNet()", lambda: torch.randn(2, 3, 16, 16, generator=g).requires_grad_(True)),
            ("TokenNet()", lambda: torch.randint(0, 30, (3, 7), generator=g)),
            ("ResizeNet()", lambda: torch.randn(2, 3, 6, 8, generator=g).requires_grad_(True)),
            ("AttentionNet()", lambda: torch.randn(2, 6, 8, generator=g).requires_grad_(True))]:
        model = eval("module." + entry)
        randomize(model, g)
        model.eval()
        x = make_input()
        out = model(x)
        grad_output = torch.randn(out.shape, generator=g)
        case = {"file": "tests/native/fixtures/lowering_ops.py", "entry": entry,
                "input": encode(x.float()), "input_dtype": "float32" if x.is_floating_point() else "int64",
                "state": {key: encode(value) for key, value in model.state_dict().items()},
                "output": encode(out), "grad_output": encode(grad_output)}
        if x.is_floating_point():
            (out * grad_output).sum().backward()
            case["input_grad"] = encode(x.grad)
        cases.append(case)
    return cases


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(20261127)
    document = {
        "generator": "scripts/goldens/make_kernel_goldens.py",
        "torch": torch.__version__,
        "ops": op_cases(g) + more_op_cases(torch.Generator().manual_seed(20261128)),
        "losses": loss_cases(g),
        "training": training_runs(g),
        "long_run": long_run(),
        "long_run_adam": long_run(LONG_RUN_ADAM),
        "schedules": schedule_cases(),
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as handle:
        json.dump(document, handle, separators=(",", ":"))
        handle.write("\n")
    lowered = {"generator": "scripts/goldens/make_kernel_goldens.py", "torch": torch.__version__, "models": lowered_model_cases()}
    with open(LOWERED_PATH, "w") as handle:
        json.dump(lowered, handle, separators=(",", ":"))
        handle.write("\n")
    print(f"wrote {LOWERED_PATH}: {len(lowered['models'])} models")
    print(f"wrote {OUT_PATH}: {len(document['ops'])} ops, {len(document['losses'])} losses, "
          f"{len(document['training']['runs'])} training runs, {len(document['schedules'])} schedules "
          f"({os.path.getsize(OUT_PATH) // 1024} KiB)")


if __name__ == "__main__":
    main()
