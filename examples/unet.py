"""U-Net (Ronneberger et al., 2015) for segmentation: a contracting path, an expanding path,
and skip connections that concatenate encoder features into the decoder. Upsampled maps are
resized to the skip's size, so any input size works.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Sequential):
    def __init__(self, in_ch, out_ch, mid_ch=None):
        mid_ch = mid_ch or out_ch
        super().__init__(
            nn.Conv2d(in_ch, mid_ch, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=2, widths=(32, 64, 128, 256)):
        super().__init__()
        self.stem = DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            self.down.append(nn.Sequential(nn.MaxPool2d(2), DoubleConv(c_in, c_out)))
        self.up = nn.ModuleList()
        for c_in, c_out in zip(widths[::-1][:-1], widths[::-1][1:]):
            self.up.append(DoubleConv(c_in + c_out, c_out))
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x):
        skips = [self.stem(x)]
        for stage in self.down:
            skips.append(stage(skips[-1]))
        x = skips.pop()
        for stage in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([skip, x], dim=1))
        return self.head(x)


# netlens: input=(1, 3, 100, 140)
model = UNet()
