"""Transfer learning: a torchvision ResNet-18 backbone, frozen, with a new classifier head.

Netlens reads torchvision's own source from the Python environment (or --python-path).
"""
import torch
import torch.nn as nn
from torchvision import models


def build_finetune_model(num_classes: int = 10, freeze_backbone: bool = True) -> nn.Module:
    model = models.resnet18(weights=None)
    if freeze_backbone:
        for param in model.parameters():
            param.requires_grad = False
    # The replaced head is created after freezing, so only it trains.
    num_features = model.fc.in_features
    model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(num_features, num_classes))
    return model


# netlens: input=(4, 3, 160, 160)
model = build_finetune_model()
