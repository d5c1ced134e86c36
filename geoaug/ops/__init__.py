"""All registered ops. Importing this module fills the registry."""

from .base import GeometricOp, Op, PixelOp, ToneStage  # noqa: F401
from .combinators import OneOf, SomeOf  # noqa: F401
from .geometric import (  # noqa: F401
    Affine,
    CenterCrop,
    Crop,
    HFlip,
    Pad,
    PadToMultiple,
    Perspective,
    RandomCrop,
    Resize,
    Rot90,
    Rotate,
    SmartResize,
    VFlip,
    qwen_smart_resize,
)
from .pixel import ColorJitter, Gamma, GaussianBlur, GaussianNoise, Grayscale, Jpeg  # noqa: F401
