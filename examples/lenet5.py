"""LeNet-5 (LeCun et al., 1998) for 32x32 grayscale digits.

Two conv/pool stages extract features; three fully connected layers classify.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


# netlens: input=(1, 1, 32, 32)
class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))   # 6 x 14 x 14
        x = self.pool(F.relu(self.conv2(x)))   # 16 x 5 x 5
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


if __name__ == "__main__":
    model = LeNet5()
    print(model(torch.randn(1, 1, 32, 32)).shape)
