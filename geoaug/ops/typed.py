"""Typed params for every registered op: one ``TypedDict`` per op, for mypy and IDEs.

An op's params are declared once, in its ``spec`` (``geoaug.params``), and checked when the op is built. These
TypedDicts describe the same params to a type checker, so a config written in Python is checked as it is
typed::

    from geoaug.ops.typed import OneOfParams, RotateParams

    rotate = {"name": "rotate", "params": RotateParams(max_deg=30, fill=[255, 255, 255])}
    RotateParams(max_deg="30")  # mypy: incompatible type "str"; expected "float"
    RotateParams(max_degs=30)   # mypy: unexpected keyword argument "max_degs"

They add nothing at run time (a TypedDict is a plain dict): the op's own check still validates every value and
range. Every key is optional (``total=False``): a param left out takes its default; the few required ones
(``crop``'s window, a combinator's ``ops``) are refused when the op is built if missing. ``OP_PARAMS`` maps
each op name to its TypedDict. tests/test_ops_typed.py checks that every registered op has one here, with
exactly the keys of its spec, each typed as its ``Param`` accepts (``Float`` -> float, ``Range`` -> a
[low, high] pair, ...), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from .base import Op

# [low, high], as a Range param takes it (a list or a tuple of two numbers).
Pair = tuple[float, float] | list[float]
# [low, high] of integers (jpeg's quality, some_of's n).
IntPair = tuple[int, int] | list[int]
# A border fill: one number, or one per channel (1, 3 or 4 values); None: the pipeline's fill.
FillValue = float | list[float] | tuple[float, ...] | None
# A combinator's child: an op mapping (``{"name": ..., "params": ...}``) or a built op.
OpItem = Op | Mapping[str, Any]


class _OpParams(TypedDict, total=False):
    prob: float


# ---- geometric ----------------------------------------------------------------------------------------
class HFlipParams(_OpParams, total=False):
    pass


class VFlipParams(_OpParams, total=False):
    pass


class Rot90Params(_OpParams, total=False):
    k: int | None


class RotateParams(_OpParams, total=False):
    max_deg: float
    expand: bool
    fill: FillValue


class AffineParams(_OpParams, total=False):
    scale: float | Pair
    translate: float | Pair
    shear: float
    rotate: float
    fill: FillValue


class PerspectiveParams(_OpParams, total=False):
    scale: Pair
    fill: FillValue


class ResizeParams(_OpParams, total=False):
    width: int | None
    height: int | None
    longest: int | None
    shortest: int | None


class SmartResizeParams(_OpParams, total=False):
    factor: int
    min_pixels: int
    max_pixels: int


class CropParams(_OpParams, total=False):
    x: int
    y: int
    width: int
    height: int
    fill: FillValue


class CenterCropParams(_OpParams, total=False):
    width: int
    height: int
    fill: FillValue


class RandomCropParams(_OpParams, total=False):
    width: int | None
    height: int | None
    scale: Pair | None
    ratio: Pair
    min_visibility: float
    keep_objects: bool
    max_tries: int


class PadParams(_OpParams, total=False):
    top: int
    bottom: int
    left: int
    right: int
    fill: FillValue


class PadToMultipleParams(_OpParams, total=False):
    multiple: int
    fill: FillValue


# ---- pixel --------------------------------------------------------------------------------------------
class ColorJitterParams(_OpParams, total=False):
    brightness: float | Pair | None
    contrast: float | Pair | None
    saturation: float | Pair | None
    hue: float | Pair | None


class GammaParams(_OpParams, total=False):
    gamma: Pair


class GrayscaleParams(_OpParams, total=False):
    pass


class GaussianBlurParams(_OpParams, total=False):
    sigma: Pair


class GaussianNoiseParams(_OpParams, total=False):
    std: Pair


class JpegParams(_OpParams, total=False):
    quality: IntPair


# ---- combinators --------------------------------------------------------------------------------------
class OneOfParams(_OpParams, total=False):
    ops: list[OpItem] | tuple[OpItem, ...]
    weights: list[float] | tuple[float, ...] | None


class SomeOfParams(_OpParams, total=False):
    ops: list[OpItem] | tuple[OpItem, ...]
    n: int | IntPair


# Op name (as in a config) -> its params' TypedDict.
OP_PARAMS: dict[str, type[Mapping[str, Any]]] = {
    "hflip": HFlipParams,
    "vflip": VFlipParams,
    "rot90": Rot90Params,
    "rotate": RotateParams,
    "affine": AffineParams,
    "perspective": PerspectiveParams,
    "resize": ResizeParams,
    "smart_resize": SmartResizeParams,
    "crop": CropParams,
    "center_crop": CenterCropParams,
    "random_crop": RandomCropParams,
    "pad": PadParams,
    "pad_to_multiple": PadToMultipleParams,
    "color_jitter": ColorJitterParams,
    "gamma": GammaParams,
    "grayscale": GrayscaleParams,
    "gaussian_blur": GaussianBlurParams,
    "gaussian_noise": GaussianNoiseParams,
    "jpeg": JpegParams,
    "one_of": OneOfParams,
    "some_of": SomeOfParams,
}

__all__ = [
    "OP_PARAMS",
    "FillValue",
    "IntPair",
    "OpItem",
    "Pair",
    "HFlipParams",
    "VFlipParams",
    "Rot90Params",
    "RotateParams",
    "AffineParams",
    "PerspectiveParams",
    "ResizeParams",
    "SmartResizeParams",
    "CropParams",
    "CenterCropParams",
    "RandomCropParams",
    "PadParams",
    "PadToMultipleParams",
    "ColorJitterParams",
    "GammaParams",
    "GrayscaleParams",
    "GaussianBlurParams",
    "GaussianNoiseParams",
    "JpegParams",
    "OneOfParams",
    "SomeOfParams",
]
