// Start-up warm-up of a long-lived analyzer process (the editor's analysis worker). V8 runs a
// function in its bytecode interpreter until it has run a while, then compiles it with its
// optimizing tiers; the analyzer's interpreter, torch catalog and report code are the same for
// every Python file, so a few analyses of a built-in model at start-up leave them compiled, and
// the user's first file is analyzed at the speed of a later one (measured in
// docs/PERFORMANCE.md: scripts/bench-analyzer.mjs, "cold" with and without it).
//
// The built-in file and the module it imports are read from memory (no disk) and analyzed the two
// ways the editor analyzes: discovery (symbolic input) and an entry with a concrete input, each
// followed by a one-line edit and an incremental re-analysis. Each analysis is a separate step so
// that a caller can stop between them when real work arrives.
import { DocumentAnalyzer, type AnalyzeOptions } from './index';

/** A file that looks like the model code people write: stages built in loops, concatenation and residual additions, an init loop. */
export const WARM_UP_MODEL = `import math
from collections import OrderedDict
from functools import partial
from typing import Any, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from warm_up_blocks import BasicBlock, conv3x3
from warm_up_api import Weights, WeightsEnum, log_api_usage, override_param, register_model


class DenseLayer(nn.Module):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(bn_size * growth_rate, growth_rate)
        self.drop_rate = float(drop_rate)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        concated = torch.cat(inputs, 1)
        out = self.conv1(self.relu1(self.norm1(concated)))
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int, drop_rate: float) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size, drop_rate=drop_rate)
            self.add_module("denselayer%d" % (i + 1), layer)

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = [init_features]
        for name, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class WarmUpNet(nn.Module):
    def __init__(self, growth_rate: int = 8, block_config: Tuple[int, ...] = (3, 4), num_init_features: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        log_api_usage(self)
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers=num_layers, num_input_features=num_features, bn_size=2, growth_rate=growth_rate, drop_rate=0.0)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module("transition%d" % (i + 1), Transition(num_features, num_features // 2))
                num_features = num_features // 2
        width = num_features
        self.stage = nn.Sequential(*[BasicBlock(width, width, norm_layer=partial(nn.BatchNorm2d, eps=1e-5)) for _ in range(2)])
        self.down = BasicBlock(width, 2 * width, stride=2, downsample=nn.Sequential(nn.Conv2d(width, 2 * width, 1, stride=2, bias=False), nn.BatchNorm2d(2 * width)))
        self.heads = nn.ModuleList([nn.Linear(2 * width, num_classes), nn.Linear(2 * width, 1)])
        self.dropout = nn.Dropout(p=0.2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 1.0 / math.sqrt(m.in_features))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = F.relu(self.features(x), inplace=True)
        out = self.down(self.stage(features))
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = torch.flatten(out, 1)
        out = self.dropout(out.view(out.size(0), -1))
        return self.heads[0](out), torch.sigmoid(self.heads[1](out)).squeeze(-1)


_COMMON_META = {"min_size": (32, 32), "categories": None, "recipe": "https://example.invalid/recipe"}


class WarmUpNet_Weights(WeightsEnum):
    SMALL_V1 = Weights(
        url="https://example.invalid/warm_up_net-small.pth",
        transforms=partial(dict, crop_size=64, resize_size=72),
        meta={**_COMMON_META, "num_params": 12345, "metrics": {"acc@1": 70.1, "acc@5": 89.9}},
    )
    DEFAULT = SMALL_V1


def _warm_up_net(growth_rate: int, block_config: Tuple[int, ...], weights: Optional[WeightsEnum], progress: bool, **kwargs: Any) -> WarmUpNet:
    if weights is not None:
        override_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = WarmUpNet(growth_rate=growth_rate, block_config=block_config, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


@register_model()
def warm_up_net(*, weights: Optional[WarmUpNet_Weights] = None, progress: bool = True, **kwargs: Any) -> WarmUpNet:
    weights = WarmUpNet_Weights.verify(weights)
    return _warm_up_net(8, (3, 4), weights, progress, **kwargs)
`;

/**
 * The registry, weights and argument helpers a model zoo puts beside its models (decorator
 * factories, an Enum of dataclass records, keyword-argument dictionaries): library code the
 * builders above call, so that calls with `**kwargs`, dictionary displays and unknown library
 * calls are compiled too.
 */
export const WARM_UP_API = `import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, Optional, TypeVar

import torch

M = TypeVar("M", bound=torch.nn.Module)
BUILTIN_MODELS: Dict[str, Callable[..., Any]] = {}


def register_model(name: Optional[str] = None) -> Callable[[Callable[..., M]], Callable[..., M]]:
    def wrapper(fn: Callable[..., M]) -> Callable[..., M]:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"a model is already registered as '{key}'")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


@dataclass
class Weights:
    url: str
    transforms: Callable
    meta: Dict[str, Any] = field(default_factory=dict)


class WeightsEnum(Enum):
    @classmethod
    def verify(cls, obj: Any) -> Any:
        if obj is not None:
            if type(obj) is str:
                obj = cls[obj.replace(cls.__name__ + ".", "")]
            elif not isinstance(obj, cls):
                raise TypeError(f"Invalid weights: expected {cls.__name__} but got {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        return torch.hub.load_state_dict_from_url(self.value.url, *args, **kwargs)

    @property
    def meta(self) -> Dict[str, Any]:
        return self.value.meta


def log_api_usage(obj: Any) -> None:
    module = obj.__module__
    if not module.startswith("warm_up"):
        module = f"warm_up.{module}"
    name = obj.__class__.__name__
    if sys.version_info >= (3, 8) and not torch.jit.is_scripting():
        torch._C._log_api_usage_once(f"{module}.{name}")


def override_param(kwargs: Dict[str, Any], param: str, new_value: Any) -> None:
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} instead.")
    else:
        kwargs[param] = new_value
`;

/** An imported module of the warm-up model: library code, whose function bodies are converted on first use. */
export const WARM_UP_BLOCKS = `from typing import Optional

import torch
import torch.nn as nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


class BasicBlock(nn.Module):
    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None, norm_layer=None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)
`;

export const WARM_UP_FILE = '/netlens-warm-up/warm_up_model.py';
const WARM_UP_BLOCKS_FILE = '/netlens-warm-up/warm_up_blocks.py';
const WARM_UP_API_FILE = '/netlens-warm-up/warm_up_api.py';
const EDIT_FROM = 'num_classes: int = 10)';
const EDIT_TO = 'num_classes: int = 100)';

/** The warm-up's three files, served from memory (the `readFile` option of the analysis). */
export function warmUpFiles(file: string): string | undefined {
  switch (file) {
    case WARM_UP_FILE: return WARM_UP_MODEL;
    case WARM_UP_BLOCKS_FILE: return WARM_UP_BLOCKS;
    case WARM_UP_API_FILE: return WARM_UP_API;
    default: return undefined;
  }
}

/** The analyses of one round: discovery, then an entry with a concrete input. */
const ROUND_OPTIONS: AnalyzeOptions[] = [
  {},
  { entry: 'warm_up_net(num_classes=10)', inputs: [{ shape: [2, 3, 64, 64] }] },
];

/** How many rounds the editor's worker runs at start-up (see docs/PERFORMANCE.md for the effect). */
export const WARM_UP_ROUNDS = 4;

export interface AnalyzerWarmUp {
  /** Runs one analysis of the warm-up (a few tens of ms); false once all have run. */
  step(): boolean;
  dispose(): void;
}

/** A warm-up of `rounds` rounds on its own analyzer; the parser is loaded here. */
export async function createAnalyzerWarmUp(rounds: number = WARM_UP_ROUNDS): Promise<AnalyzerWarmUp> {
  const analyzer = await DocumentAnalyzer.create(WARM_UP_FILE, { astCacheDir: false });
  const at = WARM_UP_MODEL.indexOf(EDIT_FROM);
  const edited = WARM_UP_MODEL.slice(0, at) + EDIT_TO + WARM_UP_MODEL.slice(at + EDIT_FROM.length);
  const readFile = warmUpFiles;
  // Each round: per option set, the file as written, then the edit (the parser finds the changed
  // region itself and reparses incrementally, as for an editor that sends only the new text).
  const steps: (() => void)[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const options of ROUND_OPTIONS) {
      const withFs: AnalyzeOptions = { ...options, readFile };
      steps.push(() => { analyzer.update(WARM_UP_MODEL); analyzer.analyze(withFs); });
      steps.push(() => { analyzer.update(edited); analyzer.analyze(withFs); });
    }
  }
  let next = 0;
  return {
    step(): boolean {
      if (next < steps.length) steps[next++]();
      return next < steps.length;
    },
    dispose(): void {
      next = steps.length;
      analyzer.dispose();
    },
  };
}

/** Runs the whole warm-up at once (scripts, tests, one-shot processes); returns the milliseconds it took. */
export async function warmUpAnalyzer(rounds: number = WARM_UP_ROUNDS): Promise<number> {
  const started = performance.now();
  const warmUp = await createAnalyzerWarmUp(rounds);
  try {
    while (warmUp.step()) { /* every step */ }
  } finally {
    warmUp.dispose();
  }
  return performance.now() - started;
}
