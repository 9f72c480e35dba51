"""Dilated (atrous) convolutions: a context module that grows the receptive field
exponentially while keeping the resolution (Yu & Koltun, 2016).
"""
import torch
from torch import nn


class ContextModule(nn.Module):
    def __init__(self, channels=64, dilations=(1, 1, 2, 4, 8, 16, 1)):
        super().__init__()
        layers = []
        for d in dilations:
            # padding == dilation keeps H and W for a 3x3 kernel: H + 2d - 2d - 1 + 1.
            layers.append(nn.Conv2d(channels, channels, kernel_size=3, padding=d, dilation=d))
            layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x):
        return self.head(self.body(x))


class DilatedSegNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=21):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.context = ContextModule(64)
        # Without padding, a dilated kernel shrinks the map by dilation * (kernel - 1).
        self.shrink = nn.Conv2d(64, 64, kernel_size=3, dilation=2)
        self.same = nn.Conv2d(64, 64, kernel_size=5, dilation=3, padding="same")
        self.classifier = nn.Conv2d(64, num_classes, kernel_size=1)

    def forward(self, x):
        x = self.stem(x)
        x = self.context(x)
        x = torch.relu(self.shrink(x))
        x = torch.relu(self.same(x))
        return self.classifier(x)


if __name__ == "__main__":
    model = DilatedSegNet()
    y = model(torch.randn(2, 3, 96, 128))
