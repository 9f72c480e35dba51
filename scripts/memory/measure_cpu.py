"""CPU oracle for Netlens' training-memory model.

Measures the peak bytes of live tensor storages during one steady training step
(zero_grad(set_to_none=True), forward, cross-entropy, backward, optimizer.step(), after two
warm-up steps) on the CPU. A TorchDispatchMode sees every op the step runs, forward,
backward (the autograd engine carries the mode into backward) and the optimizer; every
output storage not seen before is counted when it appears and uncounted by a weakref
finalizer when PyTorch frees it. That is the allocator-level number for tensors (what
torch.cuda.max_memory_allocated counts on a GPU, minus the CUDA allocator's 512-byte
rounding and library workspaces); torch.profiler's CPU memory events would give the same
allocations but only as a flat event list, without the live-set peak.

Run: python3 scripts/memory/measure_cpu.py > tests/unit/goldens/memory/cpu_oracle.json

FOREACH_CASES run the optimizers with foreach=True, the multi-tensor path PyTorch picks for
CUDA parameters (it also runs on CPU tensors when asked): they check the CUDA-style optimizer
temporaries on the CPU. `--foreach` runs only those (their results carry "foreach": true).
AUTOCAST_CASES run forward and loss under CPU bfloat16 autocast (`--autocast`: only those).
"""
import importlib.util
import json
import os
import sys
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class StorageTracker(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self.seen = {}

    def track(self, t):
        if not isinstance(t, torch.Tensor):
            return
        st = t.untyped_storage()
        key = st._cdata
        if key in self.seen:
            return
        nbytes = st.nbytes()
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


def load(source, entry):
    """`source` is an examples/ file name or "torchvision:<module>" (e.g. torchvision:models.resnet)."""
    if source.startswith("torchvision:"):
        # CPU-only torch lacks torchvision's C++ ops; its meta registrations are not needed here.
        import types
        sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
        mod = importlib.import_module("torchvision." + source.split(":", 1)[1])
        return eval(entry, vars(mod))
    spec = importlib.util.spec_from_file_location("m", os.path.join(ROOT, "examples", source))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return eval(entry, vars(mod))


def optimizer_for(name, params, foreach=None):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, foreach=foreach)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=foreach)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3, foreach=foreach)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3, foreach=foreach)
    return torch.optim.RMSprop(params, lr=1e-3, foreach=foreach)


def measure(example, entry, shape, classes, optimizer, foreach=False, dtype="float32"):
    torch.manual_seed(0)
    model = load(example, entry).train()
    opt = optimizer_for(optimizer, model.parameters(), foreach=True if foreach else None)
    # Two-dimensional inputs are token ids; the loss is over every position's logits.
    x = torch.randint(0, classes, shape) if len(shape) == 2 else torch.randn(*shape)
    y = None
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        nonlocal y
        opt.zero_grad(set_to_none=True)
        # Mixed precision as a training loop writes it: forward and loss under autocast, backward
        # and the optimizer step outside it.
        with torch.autocast("cpu", dtype=getattr(torch, dtype), enabled=dtype != "float32"):
            out = model(x)
            while isinstance(out, (tuple, list, dict)):  # the first output is the one trained
                out = next(iter(out.values())) if isinstance(out, dict) else out[0]
            out = out.reshape(-1, out.shape[-1])
            if y is None:  # one label per row of logits
                y = torch.randint(0, out.shape[-1], (out.shape[0],))
            loss = loss_fn(out, y)
        loss.backward()
        opt.step()

    step()
    step()
    opt.zero_grad(set_to_none=True)
    tracker = StorageTracker()
    # What exists before the step: parameters, buffers, optimizer state, the batch.
    for t in list(model.parameters()) + list(model.buffers()) + [x, y]:
        tracker.track(t)
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                tracker.track(v)
    start = tracker.live
    with tracker:
        step()
    result = {"example": example, "entry": entry, "input": list(shape), "optimizer": optimizer,
              "input_dtype": "int64" if len(shape) == 2 else "float32", "dtype": dtype, "start_bytes": start, "peak_bytes": tracker.peak}
    if foreach:
        result["foreach"] = True
    return result


# (example file, entry expression, input shape, classes, optimizers)
CASES = [
    ("lenet5.py", "LeNet5()", (16, 1, 32, 32), 10, ("sgd", "momentum", "adam", "adamw", "rmsprop")),
    ("lenet5.py", "LeNet5()", (64, 1, 32, 32), 10, ("sgd",)),
    ("resnet_blocks.py", "resnet10_basic()", (8, 3, 32, 32), 10, ("sgd", "momentum", "adam")),
    ("resnet_blocks.py", "resnet10_basic()", (32, 3, 32, 32), 10, ("momentum",)),
    ("resnet_blocks.py", "resnet26_bottleneck()", (4, 3, 32, 32), 10, ("momentum",)),
    ("vgg16.py", "vgg16(num_classes=10, batch_norm=True)", (2, 3, 64, 64), 10, ("sgd", "momentum", "adam")),
    ("alexnet.py", "AlexNet(num_classes=10)", (2, 3, 227, 227), 10, ("momentum",)),
    ("squeezenet_fire.py", "SqueezeNetCifar()", (8, 3, 32, 32), 10, ("sgd",)),
    ("torchvision:models.resnet", "resnet18()", (4, 3, 224, 224), 1000, ("momentum",)),
    ("char_rnn.py", "CharRNN()", (8, 64), 96, ("adam",)),
    # Held out from fitting the CPU LSTM workspace factor (fitted on the case above).
    ("char_rnn.py", "CharRNN(vocab_size=65, hidden_size=128, num_layers=3)", (4, 100), 65, ("momentum",)),
    ("gru_classifier.py", "GRUClassifier()", (8, 64), 4, ("adam",)),
    ("torchvision:models.mobilenetv2", "mobilenet_v2()", (2, 3, 224, 224), 1000, ("sgd",)),
    # Attention at sizes where the batch × heads × L × S weights dominate: nn.MultiheadAttention's
    # internals (CPU math path with dropout), and attention written out with chunk/einsum/softmax.
    ("transformer_classifier.py", "TransformerClassifier()", (32, 128), 1000, ("adam",)),
    ("vit_tiny.py", "TinyViT()", (32, 3, 64, 64), 10, ("adam",)),
    # torchvision families with in-place SiLU/Hardswish (a clone each), stochastic depth, LayerNorm2d,
    # shifted windows (roll, masks) and MaxViT's window partitions, at activation-dominated sizes.
    ("torchvision:models.efficientnet", "efficientnet_b0()", (16, 3, 128, 128), 1000, ("sgd",)),
    ("torchvision:models.mobilenetv3", "mobilenet_v3_small()", (4, 3, 128, 128), 1000, ("adam",)),
    ("torchvision:models.convnext", "convnext_tiny()", (16, 3, 64, 64), 1000, ("adamw",)),
    ("torchvision:models.swin_transformer", "swin_t()", (8, 3, 64, 64), 1000, ("sgd",)),
    ("torchvision:models.maxvit", "maxvit_t()", (2, 3, 224, 224), 1000, ("sgd",)),
    ("torchvision:models.vision_transformer", "vit_b_16(image_size=64)", (16, 3, 64, 64), 1000, ("sgd",)),
    # The rest of the seed's architectures in examples/: U-Net (crop and concat), FCN (MaxUnpool,
    # transposed conv), dilated convs, an inception block, a dense block, the CIFAR CNN.
    ("unet.py", "UNet()", (2, 3, 100, 140), 4, ("adam",)),
    ("fcn.py", "SmallFCN()", (4, 3, 64, 96), 4, ("momentum",)),
    ("dilated.py", "DilatedSegNet()", (2, 3, 64, 64), 4, ("sgd",)),
    ("inception.py", "MiniGoogLeNet()", (16, 3, 32, 32), 10, ("momentum",)),
    ("densenet_block.py", "TinyDenseNet()", (16, 3, 32, 32), 10, ("adam",)),
    ("cifar_cnn.py", "CifarCNN()", (64, 3, 32, 32), 10, ("sgd",)),
]
# The same step with foreach=True. VGG-16's 411 MB fc weight tells the paths apart: the per-tensor
# path holds two temporaries of it at once, the foreach path one temporary of every parameter.
FOREACH_CASES = [
    ("lenet5.py", "LeNet5()", (16, 1, 32, 32), 10, ("momentum", "adam", "rmsprop")),
    ("resnet_blocks.py", "resnet10_basic()", (8, 3, 32, 32), 10, ("adam",)),
    ("vgg16.py", "vgg16(num_classes=10, batch_norm=True)", (2, 3, 64, 64), 10, ("adam", "rmsprop")),
    ("char_rnn.py", "CharRNN()", (8, 64), 96, ("adamw",)),
]

# The same step under CPU bfloat16 autocast: which ops run in bfloat16, which in float32 and which
# follow their inputs decides the bytes of every activation (docs/MEMORY.md "Autocast"). The CPU
# lists differ from CUDA's (LayerNorm and softmax stay in the low dtype here), but type promotion
# (a bfloat16 activation plus a float32 parameter is float32, as in a ViT's residual stream after
# its position embedding), the cast copies the low-precision ops save and the float32 loss are
# the same on both devices.
AUTOCAST_CASES = [
    ("lenet5.py", "LeNet5()", (16, 1, 32, 32), 10, ("sgd",)),
    ("resnet_blocks.py", "resnet10_basic()", (8, 3, 32, 32), 10, ("momentum",)),
    ("vit_tiny.py", "TinyViT()", (4, 3, 64, 64), 10, ("adam",)),
    ("transformer_classifier.py", "TransformerClassifier()", (8, 64), 1000, ("adamw",)),
    ("vgg16.py", "vgg16(num_classes=10, batch_norm=True)", (2, 3, 64, 64), 10, ("momentum",)),
    ("transformer_classifier.py", "TransformerClassifier()", (32, 128), 1000, ("adam",)),
    ("vit_tiny.py", "TinyViT()", (32, 3, 64, 64), 10, ("adam",)),
    ("torchvision:models.mobilenetv3", "mobilenet_v3_small()", (4, 3, 128, 128), 1000, ("adam",)),
    ("torchvision:models.convnext", "convnext_tiny()", (16, 3, 64, 64), 1000, ("adamw",)),
    ("torchvision:models.swin_transformer", "swin_t()", (8, 3, 64, 64), 1000, ("sgd",)),
    ("torchvision:models.densenet", "densenet121()", (16, 3, 64, 64), 1000, ("momentum",)),
    ("unet.py", "UNet()", (2, 3, 100, 140), 4, ("adam",)),
    ("fcn.py", "SmallFCN()", (4, 3, 64, 96), 4, ("momentum",)),
    ("cifar_cnn.py", "CifarCNN()", (64, 3, 32, 32), 10, ("sgd",)),
]

flags = {"--foreach", "--autocast"}
args = [a for a in sys.argv[1:] if a not in flags]
ALL_RUNS = [(c, False, "float32") for c in CASES] + [(c, True, "float32") for c in FOREACH_CASES] + [(c, False, "bfloat16") for c in AUTOCAST_CASES]
RUNS = [r for r in ALL_RUNS if r[1]] if "--foreach" in sys.argv[1:] else [r for r in ALL_RUNS if r[2] != "float32"] if "--autocast" in sys.argv[1:] else ALL_RUNS
if args:  # only the cases whose entry contains the argument
    RUNS = [r for r in RUNS if args[0] in r[0][1]]

if __name__ == "__main__":
    torch.set_num_threads(1)
    results = []
    for (example, entry, shape, classes, optimizers), foreach, dtype in RUNS:
        for optimizer in optimizers:
            try:
                results.append(measure(example, entry, shape, classes, optimizer, foreach, dtype))
            except Exception as e:  # a case that cannot run is reported, not hidden
                print(f"{example} {entry}: {e}", file=sys.stderr)
    json.dump({"torch": torch.__version__, "device": "cpu", "method": "TorchDispatchMode storage liveness", "results": results}, sys.stdout, indent=1)
