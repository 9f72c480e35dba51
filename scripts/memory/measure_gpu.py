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
sets it 30 s below the time its stage has) and lists the cases it left out under `skipped`. A SIGTERM
(the stage's timeout) ends the case in progress and still writes the JSON, marked "interrupted".

NETLENS_DRY_RUN=1 rehearses the script without a GPU (tests/native/gpuScripts.test.ts): every case
on the CPU at batch 2 (images above 64x64 cut to 64x64), the CUDA allocator's numbers reported as 0;
the JSON says "dry_run": true and is no measurement (never a gpu.json golden).
"""
import importlib
import importlib.util
import json
import os
import signal
import sys
import time
import types
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUDGET_S = float(os.environ.get("MEASURE_GPU_BUDGET_S", "120"))
BLOCK = 512  # c10/cuda/CUDACachingAllocator.cpp kMinBlockSize
DRY_RUN = os.environ.get("NETLENS_DRY_RUN") == "1"
DEVICE = "cpu" if DRY_RUN else "cuda"
DRY_RUN_BATCH = 2
DRY_RUN_IMAGE = 64


def _zero(*_args, **_kwargs):
    return 0


def _nothing(*_args, **_kwargs):
    return None


# The torch.cuda calls this script makes, answered for the CPU on a dry run (no allocator there).
gpu = torch.cuda if not DRY_RUN else types.SimpleNamespace(
    synchronize=_nothing, empty_cache=_nothing, reset_peak_memory_stats=_nothing, memory_allocated=_zero,
    max_memory_allocated=_zero, memory_stats=dict, get_device_name=lambda *_: "none (dry run on the CPU)",
    get_device_capability=lambda *_: (0, 0))


class Interrupted(BaseException):
    """SIGTERM arrived (the stage's time limit): stop measuring and write what there is."""


def _interrupt(_signum, _frame):
    raise Interrupted()

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
        if DRY_RUN:  # CPU-only torch lacks torchvision's C++ ops; its meta registrations are not needed here
            sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
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
    clear = None if DRY_RUN else getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
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
        if not isinstance(t, torch.Tensor) or t.device.type != DEVICE:
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
    dev = torch.device(DEVICE)
    if DRY_RUN:  # the same code paths on less work: batch 2, ImageNet-sized images at 64x64
        shape = (min(shape[0], DRY_RUN_BATCH),) + tuple(shape[1:])
        if len(shape) == 4 and shape[2] > DRY_RUN_IMAGE:
            shape = shape[:2] + (DRY_RUN_IMAGE, DRY_RUN_IMAGE)
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
        with torch.autocast(DEVICE, dtype=amp, enabled=amp is not None):
            logits = first_tensor(model(x))
            logits = logits.reshape(-1, logits.shape[-1])
            if y is None:
                y = torch.randint(0, logits.shape[-1], (logits.shape[0],), device=dev)
            loss = loss_fn(logits, y)
        loss.backward()
        opt.step()

    step()
    step()
    gpu.synchronize()
    opt.zero_grad(set_to_none=True)
    gpu.reset_peak_memory_stats()
    start = gpu.memory_allocated()
    t0 = time.perf_counter()
    step()
    gpu.synchronize()
    step_ms = (time.perf_counter() - t0) * 1e3
    peak = gpu.max_memory_allocated()
    all_stats = gpu.memory_stats()
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
    gpu.synchronize()
    result = {"start_bytes": start, "peak_bytes": peak, "step_ms": step_ms, "stats": stats, "tensor_peak_bytes": tracker.peak}
    del model, opt, x, y, tracker
    return result


def measure(source, entry, shape, input_dtype, classes, dtype, optimizer):
    clear_cublas_workspaces()
    gpu.empty_cache()
    result = {"source": source, "entry": entry, "input": list(shape), "input_dtype": input_dtype, "dtype": dtype, "optimizer": optimizer}
    result.update(run_case(load(source, entry), shape, input_dtype, classes, dtype, optimizer))
    gpu.empty_cache()
    return result


def probe_cublas_workspaces():
    """Bytes the workspaces add: a matmul on this thread, nn.Linear with bias (cuBLASLt), its backward (autograd's thread)."""
    dev = torch.device(DEVICE)
    clear_cublas_workspaces()
    gpu.empty_cache()
    a = torch.randn(64, 64, device=dev)
    linear = torch.nn.Linear(64, 64).to(dev)
    gpu.synchronize()
    base = gpu.memory_allocated()
    with torch.no_grad():
        c = a @ a
    del c
    after_mm = gpu.memory_allocated()
    with torch.no_grad():
        c = linear(a)
    del c
    after_linear = gpu.memory_allocated()
    inp = a.clone().requires_grad_(True)
    before_backward = gpu.memory_allocated()
    linear(inp).sum().backward()
    linear.zero_grad(set_to_none=True)
    inp.grad = None
    gpu.synchronize()
    after_backward = gpu.memory_allocated()
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


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    started = time.perf_counter()
    results, failures, skipped, probes = [], [], [], []
    workspaces = None
    interrupted = False
    current = "cublas workspace probe"
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            workspaces = probe_cublas_workspaces()
            print("cublas workspaces", workspaces, file=sys.stderr)
        except Exception as e:
            failures.append({"entry": current, "error": repr(e)})
        # The probes first: two short steps that decide how cuDNN's workspaces are modelled.
        for name, factory, shape, classes, dtype, optimizer, cudnn in ([] if only else PROBES):
            if time.perf_counter() - started > BUDGET_S:
                skipped.append({"entry": name})
                continue
            current = name
            try:
                clear_cublas_workspaces()
                gpu.empty_cache()
                with torch.backends.cudnn.flags(enabled=cudnn):
                    r = run_case(factory(), shape, "float32", classes, dtype, optimizer)
                probes.append({"name": name, "input": list(shape), "dtype": dtype, "optimizer": optimizer, "cudnn": cudnn, **r})
                print(name, r["peak_bytes"], "tensors", r["tensor_peak_bytes"], file=sys.stderr)
            except Exception as e:
                failures.append({"entry": name, "error": repr(e)})
            gpu.empty_cache()
        for source, entry, shape, input_dtype, classes, case_settings in CASES:
            if only and only not in entry:
                continue
            for dtype, optimizer in case_settings:
                if time.perf_counter() - started > BUDGET_S:
                    skipped.append({"entry": entry, "input": list(shape), "dtype": dtype, "optimizer": optimizer})
                    continue
                current = f"{entry} {list(shape)} {dtype} {optimizer}"
                try:
                    results.append(measure(source, entry, shape, input_dtype, classes, dtype, optimizer))
                    r = results[-1]
                    print(entry, shape, dtype, optimizer, r["peak_bytes"], "tensors", r["tensor_peak_bytes"],
                          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
                except Exception as e:  # reported in the JSON, never hidden
                    failures.append({"entry": entry, "input": list(shape), "dtype": dtype, "optimizer": optimizer, "error": repr(e)})
                    gpu.empty_cache()
    except Interrupted:
        interrupted = True
        failures.append({"entry": current, "error": "interrupted by SIGTERM (the stage's time limit); later cases not run"})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:  # the version only: the cases above already report a torchvision that cannot be imported
        import torchvision
        torchvision_version = torchvision.__version__
    except Exception as e:
        torchvision_version = f"not importable: {e!r}"
    try:  # a machine whose GPU cannot be used still gets its JSON, with every case's error in it
        major, minor = gpu.get_device_capability()
        gpu_name, capability = gpu.get_device_name(), f"{major}.{minor}"
    except Exception as e:
        gpu_name, capability = f"unavailable: {e!r}", None
    report = {
        "gpu": gpu_name, "compute_capability": capability,
        "torch": torch.__version__, "torchvision": torchvision_version,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "method": "torch.cuda.max_memory_allocated over the third training step",
        "settings": settings(), "cublas_workspaces": workspaces,
        "results": results, "probes": probes, "failures": failures, "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if interrupted:
        report["interrupted"] = True
    if DRY_RUN:
        report["dry_run"] = True
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
