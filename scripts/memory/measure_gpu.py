"""GPU proof for Netlens' training-memory model (issue 4). Run on the GPU machine:

    python3 scripts/memory/measure_gpu.py > tests/unit/goldens/memory/gpu.json

For each case: build the model on CUDA, run two warm-up training steps
(zero_grad(set_to_none=True), forward under autocast when the dtype is bfloat16/float16,
cross-entropy, backward, optimizer.step()), then reset the peak counter and record
torch.cuda.max_memory_allocated() over one more step. No GradScaler: the model describes the
step without it (its few scalar tensors are far below the tolerance). The JSON carries the
GPU, torch, CUDA and cuDNN versions; tests/unit/memoryGpu.test.ts compares each case with the
analyzer's estimate (±10 %) and skips, with the reason, while this file is absent.
Needs torchvision (for its model files) and the repo's examples/. Pass a substring to run
only matching entries.
"""
import importlib
import importlib.util
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (source, entry, input shape, input dtype, classes, [(dtype, optimizer), ...])
F32_MOMENTUM = [("float32", "momentum")]
ALL_SETTINGS = [("float32", "sgd"), ("float32", "momentum"), ("float32", "adam"), ("float32", "rmsprop"),
                ("bfloat16", "momentum"), ("float16", "adamw")]
CASES = [
    ("torchvision:models.resnet", "resnet18()", (16, 3, 224, 224), "float32", 1000, F32_MOMENTUM),
    ("torchvision:models.resnet", "resnet18()", (32, 3, 224, 224), "float32", 1000, ALL_SETTINGS),
    ("torchvision:models.resnet", "resnet18()", (64, 3, 224, 224), "float32", 1000, F32_MOMENTUM + [("bfloat16", "adam")]),
    ("torchvision:models.resnet", "resnet18()", (128, 3, 224, 224), "float32", 1000, F32_MOMENTUM),
    ("torchvision:models.resnet", "resnet50()", (32, 3, 224, 224), "float32", 1000, ALL_SETTINGS),
    ("torchvision:models.vgg", "vgg16()", (16, 3, 224, 224), "float32", 1000, ALL_SETTINGS),
    ("torchvision:models.mobilenetv2", "mobilenet_v2()", (32, 3, 224, 224), "float32", 1000, ALL_SETTINGS),
    ("resnet_blocks.py", "resnet10_basic()", (128, 3, 32, 32), "float32", 10, ALL_SETTINGS),
    ("lenet5.py", "LeNet5()", (256, 1, 32, 32), "float32", 10, F32_MOMENTUM),
    ("char_rnn.py", "CharRNN()", (32, 128), "int64", 96, [("float32", "adam"), ("bfloat16", "adam")]),
]


def load(source, entry):
    if source.startswith("torchvision:"):
        mod = importlib.import_module("torchvision." + source.split(":", 1)[1])
        return eval(entry, vars(mod))
    spec = importlib.util.spec_from_file_location("m", os.path.join(ROOT, "examples", source))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return eval(entry, vars(mod))


def optimizer_for(name, params):
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=0.01),
        "momentum": lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3),
        "adamw": lambda: torch.optim.AdamW(params, lr=1e-3),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=1e-3),
    }[name]()


def first_tensor(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def measure(source, entry, shape, input_dtype, classes, dtype, optimizer):
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = load(source, entry).to(dev).train()
    opt = optimizer_for(optimizer, model.parameters())
    if input_dtype == "int64":
        x = torch.randint(0, classes, shape, device=dev)
    else:
        x = torch.randn(*shape, device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    amp = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    y = None

    def step():
        nonlocal y
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            logits = first_tensor(model(x))
            logits = logits.reshape(-1, logits.shape[-1])
            if y is None:
                y = torch.randint(0, logits.shape[-1], (logits.shape[0],), device=dev)
            loss = loss_fn(logits, y)
        loss.backward()
        opt.step()

    step()
    step()
    torch.cuda.synchronize()
    opt.zero_grad(set_to_none=True)
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    result = {"source": source, "entry": entry, "input": list(shape), "input_dtype": input_dtype, "dtype": dtype,
              "optimizer": optimizer, "start_bytes": start, "peak_bytes": torch.cuda.max_memory_allocated(),
              "step_ms": (time.perf_counter() - t0) * 1e3}
    del model, opt, x, y
    torch.cuda.empty_cache()
    return result


if __name__ == "__main__":
    only = sys.argv[1] if len(sys.argv) > 1 else None
    results, failures = [], []
    for source, entry, shape, input_dtype, classes, settings in CASES:
        if only and only not in entry:
            continue
        for dtype, optimizer in settings:
            try:
                results.append(measure(source, entry, shape, input_dtype, classes, dtype, optimizer))
                print(entry, shape, dtype, optimizer, results[-1]["peak_bytes"], file=sys.stderr)
            except Exception as e:  # reported in the JSON, never hidden
                failures.append({"entry": entry, "input": list(shape), "dtype": dtype, "optimizer": optimizer, "error": repr(e)})
                torch.cuda.empty_cache()
    import torchvision
    json.dump({
        "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "method": "torch.cuda.max_memory_allocated over the third training step",
        "results": results, "failures": failures,
    }, sys.stdout, indent=1)
