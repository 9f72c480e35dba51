"""GPU proof for Netlens' training-memory model (issue 4). Run on the GPU machine:

    python3 scripts/memory/measure_gpu.py > tests/unit/goldens/memory/gpu.json

For each case: build the model on CUDA, run two warm-up training steps
(zero_grad(set_to_none=True), forward under autocast when the dtype is bfloat16/float16,
cross-entropy, backward, optimizer.step()), then reset the peak counter and record
torch.cuda.max_memory_allocated() over one more step. No GradScaler: the model describes the
step without it (its few scalar tensors are far below the tolerance). The JSON carries the
GPU, its compute capability, torch, CUDA and cuDNN versions; tests/unit/memoryOracle.test.ts
compares each result with the analyzer's CUDA estimate (±10 %) and skips, with the reason,
while this file is absent. Needs torchvision (for its model files) and the repo's examples/.
Pass a substring to run only matching entries.

What the CPU oracle cannot see, recorded so that the next session can decide how to model it
(docs/MEMORY.md, "CUDA-only terms"):
- `cublas_workspaces`: the bytes PyTorch's cuBLAS/cuBLASLt workspaces add, probed on a tiny
  matmul (main thread), an nn.Linear with bias (cuBLASLt) and its backward (autograd's thread).
  Each case starts with the workspaces cleared (torch._C._cuda_clearCublasWorkspaces), so a case
  holds only the workspaces of its own GEMMs, as the estimate assumes.
- per result `stats`: torch.cuda.memory_stats() peaks of the measured step (allocated, requested:
  the sizes asked for before the 512-byte rounding, active, reserved, small/large pools);
- per result `tensor_peak_bytes`: the peak of live tensor storages over a fourth step, each
  rounded to 512 bytes as the allocator does, seen by a TorchDispatchMode (as measure_cpu.py):
  peak_bytes − tensor_peak_bytes − the case's cuBLAS workspaces is what cuDNN's workspaces (and
  blocks handed out larger than asked) add at the peak;
- `probes`: steps of models the analyzer's tests do not compare (no convolution; convolutions
  with cuDNN off), for the same gaps.
Stops starting new cases after MEASURE_GPU_BUDGET_S seconds (default 120; scripts/gpu/device-check.sh
kills it at 150) and lists the cases it left out under `skipped`.
"""
import importlib
import importlib.util
import json
import os
import sys
import time
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUDGET_S = float(os.environ.get("MEASURE_GPU_BUDGET_S", "120"))
BLOCK = 512  # c10/cuda/CUDACachingAllocator.cpp kMinBlockSize

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
    # Attention: nn.MultiheadAttention through SDPA's fused kernels, and attention written out with
    # einsum/softmax; under autocast CUDA's float32 list (LayerNorm, softmax) decides their sizes.
    ("transformer_classifier.py", "TransformerClassifier()", (32, 128), "int64", 1000, [("float32", "adam"), ("bfloat16", "adam")]),
    ("vit_tiny.py", "TinyViT()", (64, 3, 64, 64), "float32", 10, [("float32", "adam"), ("bfloat16", "adam")]),
    # In-place SiLU (a clone each), stochastic depth, LayerNorm2d on CUDA.
    ("torchvision:models.efficientnet", "efficientnet_b0()", (32, 3, 224, 224), "float32", 1000, [("float32", "sgd"), ("bfloat16", "adam")]),
    ("torchvision:models.convnext", "convnext_tiny()", (16, 3, 224, 224), "float32", 1000, [("float32", "adamw"), ("bfloat16", "adamw")]),
]


def mlp():
    """A step without convolutions: only cuBLAS(Lt) GEMMs, elementwise ops and the loss."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 2048), torch.nn.ReLU(),
                               torch.nn.Linear(2048, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 10))


# (name, model factory, input shape, classes, dtype, optimizer, cudnn enabled)
PROBES = [
    ("mlp", mlp, (256, 3, 32, 32), 10, "float32", "momentum", True),
    ("resnet10_basic cudnn off", lambda: load("resnet_blocks.py", "resnet10_basic()"), (128, 3, 32, 32), 10, "float32", "momentum", False),
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
    while isinstance(out, (tuple, list, dict)):  # the first output is the one trained
        out = next(iter(out.values())) if isinstance(out, dict) else out[0]
    return out


def clear_cublas_workspaces():
    clear = getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
    if clear is not None:
        clear()
    return clear is not None


class StorageTracker(TorchDispatchMode):
    """Live tensor storages on the GPU, each counted in whole 512-byte blocks, and their peak."""

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self.seen = {}

    def track(self, t):
        if not isinstance(t, torch.Tensor) or t.device.type != "cuda":
            return
        st = t.untyped_storage()
        key = st._cdata
        if key in self.seen or st.nbytes() == 0:
            return
        nbytes = -(-st.nbytes() // BLOCK) * BLOCK
        self.seen[key] = nbytes
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        weakref.finalize(st, self.release, key)

    def release(self, key):
        self.live -= self.seen.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            self.track(t)
        return out


STAT_KEYS = ["allocated_bytes.all.peak", "requested_bytes.all.peak", "active_bytes.all.peak", "reserved_bytes.all.peak",
             "allocated_bytes.small_pool.peak", "allocated_bytes.large_pool.peak", "num_alloc_retries", "num_ooms"]


def run_case(model, shape, input_dtype, classes, dtype, optimizer):
    """Two warm-up steps, the measured step, then a step seen tensor by tensor."""
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = model.to(dev).train()
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
    step_ms = (time.perf_counter() - t0) * 1e3
    peak = torch.cuda.max_memory_allocated()
    all_stats = torch.cuda.memory_stats()
    stats = {k: all_stats.get(k) for k in STAT_KEYS}

    opt.zero_grad(set_to_none=True)
    tracker = StorageTracker()
    for t in list(model.parameters()) + list(model.buffers()) + [x, y]:
        tracker.track(t)
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor):
                tracker.track(v)
    with tracker:
        step()
    torch.cuda.synchronize()
    result = {"start_bytes": start, "peak_bytes": peak, "step_ms": step_ms, "stats": stats, "tensor_peak_bytes": tracker.peak}
    del model, opt, x, y, tracker
    return result


def measure(source, entry, shape, input_dtype, classes, dtype, optimizer):
    clear_cublas_workspaces()
    torch.cuda.empty_cache()
    result = {"source": source, "entry": entry, "input": list(shape), "input_dtype": input_dtype, "dtype": dtype, "optimizer": optimizer}
    result.update(run_case(load(source, entry), shape, input_dtype, classes, dtype, optimizer))
    torch.cuda.empty_cache()
    return result


def probe_cublas_workspaces():
    """Bytes the workspaces add: a matmul on this thread, nn.Linear with bias (cuBLASLt), its backward (autograd's thread)."""
    dev = torch.device("cuda")
    clear_cublas_workspaces()
    torch.cuda.empty_cache()
    a = torch.randn(64, 64, device=dev)
    linear = torch.nn.Linear(64, 64).to(dev)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        c = a @ a
    del c
    after_mm = torch.cuda.memory_allocated()
    with torch.no_grad():
        c = linear(a)
    del c
    after_linear = torch.cuda.memory_allocated()
    inp = a.clone().requires_grad_(True)
    before_backward = torch.cuda.memory_allocated()
    linear(inp).sum().backward()
    linear.zero_grad(set_to_none=True)
    inp.grad = None
    torch.cuda.synchronize()
    after_backward = torch.cuda.memory_allocated()
    del inp, a, linear
    clear_cublas_workspaces()
    return {"matmul_this_thread": after_mm - base, "linear_bias_forward": after_linear - after_mm,
            "linear_backward": after_backward - before_backward}


def settings():
    backends = torch.backends
    out = {"cudnn_benchmark": backends.cudnn.benchmark, "cudnn_deterministic": backends.cudnn.deterministic,
           "cudnn_allow_tf32": backends.cudnn.allow_tf32, "matmul_allow_tf32": backends.cuda.matmul.allow_tf32,
           "env": {k: os.environ.get(k) for k in ("CUBLAS_WORKSPACE_CONFIG", "CUBLASLT_WORKSPACE_SIZE", "TORCH_CUBLASLT_UNIFIED_WORKSPACE",
                                                  "TORCH_CUBLAS_WORKSPACE_CACHE", "PYTORCH_CUDA_ALLOC_CONF", "TORCH_CUDNN_V8_API_LRU_CACHE_LIMIT")}}
    try:
        out["preferred_blas_library"] = str(backends.cuda.preferred_blas_library())
    except Exception as e:  # older torch: no such call
        out["preferred_blas_library"] = repr(e)
    return out


if __name__ == "__main__":
    only = sys.argv[1] if len(sys.argv) > 1 else None
    started = time.perf_counter()
    results, failures, skipped, probes = [], [], [], []
    workspaces = None
    try:
        workspaces = probe_cublas_workspaces()
        print("cublas workspaces", workspaces, file=sys.stderr)
    except Exception as e:
        failures.append({"entry": "cublas workspace probe", "error": repr(e)})
    # The probes first: two short steps that decide how cuDNN's workspaces are modelled.
    for name, factory, shape, classes, dtype, optimizer, cudnn in ([] if only else PROBES):
        if time.perf_counter() - started > BUDGET_S:
            skipped.append({"entry": name})
            continue
        try:
            clear_cublas_workspaces()
            torch.cuda.empty_cache()
            with torch.backends.cudnn.flags(enabled=cudnn):
                r = run_case(factory(), shape, "float32", classes, dtype, optimizer)
            probes.append({"name": name, "input": list(shape), "dtype": dtype, "optimizer": optimizer, "cudnn": cudnn, **r})
            print(name, r["peak_bytes"], "tensors", r["tensor_peak_bytes"], file=sys.stderr)
        except Exception as e:
            failures.append({"entry": name, "error": repr(e)})
        torch.cuda.empty_cache()
    for source, entry, shape, input_dtype, classes, case_settings in CASES:
        if only and only not in entry:
            continue
        for dtype, optimizer in case_settings:
            if time.perf_counter() - started > BUDGET_S:
                skipped.append({"entry": entry, "input": list(shape), "dtype": dtype, "optimizer": optimizer})
                continue
            try:
                results.append(measure(source, entry, shape, input_dtype, classes, dtype, optimizer))
                r = results[-1]
                print(entry, shape, dtype, optimizer, r["peak_bytes"], "tensors", r["tensor_peak_bytes"], f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
            except Exception as e:  # reported in the JSON, never hidden
                failures.append({"entry": entry, "input": list(shape), "dtype": dtype, "optimizer": optimizer, "error": repr(e)})
                torch.cuda.empty_cache()
    import torchvision
    major, minor = torch.cuda.get_device_capability()
    json.dump({
        "gpu": torch.cuda.get_device_name(), "compute_capability": f"{major}.{minor}",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "method": "torch.cuda.max_memory_allocated over the third training step",
        "settings": settings(), "cublas_workspaces": workspaces,
        "results": results, "probes": probes, "failures": failures, "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }, sys.stdout, indent=1)
