"""A small CNN for 32x32 RGB images (CIFAR-10): the model issue 6 benchmarks the engine with.

Two stages of two 3x3 convolutions (32 then 64 channels, padding 1) with ReLU, each followed by a
2x2 max pool, then a 512-unit hidden layer and 10 class scores.
"""
import torch
import torch.nn as nn


# netlens: input=(64, 3, 32, 32)
class CifarCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


if __name__ == "__main__":
    model = CifarCNN()
    print(model(torch.randn(64, 3, 32, 32)).shape)
