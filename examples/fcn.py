"""A small fully convolutional segmentation net: a strided-conv encoder, a max pool that
remembers where the maxima were, and a decoder that unpools to those positions and
upsamples with transposed convolutions back to the input size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SmallFCN(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.enc1 = ConvBNReLU(3, 32, stride=2)            # H/2
        self.enc2 = ConvBNReLU(32, 64)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2, return_indices=True)   # H/4
        self.enc3 = ConvBNReLU(64, 128, stride=2)          # H/8
        self.up1 = nn.ConvTranspose2d(128, 64, kernel_size=3, stride=2, padding=1, output_padding=1)  # H/4
        self.unpool = nn.MaxUnpool2d(kernel_size=2, stride=2)                   # H/2
        self.dec2 = ConvBNReLU(64, 32)
        self.up2 = nn.ConvTranspose2d(32, num_classes, kernel_size=4, stride=2, padding=1)  # H

    def forward(self, x):
        x = self.enc1(x)
        x = self.enc2(x)
        unpooled_size = x.size()
        x, indices = self.pool(x)
        x = self.enc3(x)
        x = F.relu(self.up1(x))
        x = self.unpool(x, indices, output_size=unpooled_size)
        x = self.dec2(x)
        return self.up2(x)


# netlens: input=(1, 3, 64, 96)
model = SmallFCN()
