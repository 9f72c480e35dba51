"""A model split over a package the way projects grow: blocks in one file, the network in
another, joined by relative imports."""
from .net import TinyMobileNet

__all__ = ["TinyMobileNet"]
