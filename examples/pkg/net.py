"""A small MobileNetV2-style classifier assembled from the blocks module."""
import torch
import torch.nn as nn

from .blocks import ConvNormAct, InvertedResidual, _make_divisible

# (expand ratio, channels, repeats, first stride)
SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 2, 2),
    (6, 64, 2, 2),
]


class TinyMobileNet(nn.Module):
    def __init__(self, num_classes=100, width_mult=1.0):
        super().__init__()
        in_ch = _make_divisible(32 * width_mult)
        features = [ConvNormAct(3, in_ch, stride=2)]
        for t, c, n, s in SETTINGS:
            out_ch = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, expand_ratio=t))
                in_ch = out_ch
        self.last_channels = _make_divisible(256 * max(1.0, width_mult))
        features.append(ConvNormAct(in_ch, self.last_channels, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channels, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# netlens: input=(2, 3, 64, 64)
if __name__ == "__main__":
    print(TinyMobileNet()(torch.randn(2, 3, 64, 64)).shape)
