"""Image intake: accept numpy arrays and PIL images, work on HxWxC arrays, give back the same kind."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from .errors import ImageError, ImageTypeError

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32)
_PIL_MODES = {"L", "RGB", "RGBA", "I;16", "F"}


def dtype_max(dtype: np.dtype[Any] | type[np.generic]) -> float:
    """The value of full white: 255, 65535, or 1.0 for float images."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


# Float images and pixel ops: pixel ops read a float32 image as [0, 1] (1.0 = white: the range their
# parameters mean something on: noise std, gamma, JPEG levels) and keep it there. An image that pixel ops
# will read must be in that range. Values at most this far outside are rounding noise (a resampler's
# overshoot), not an error: tone, colour, noise and JPEG clip them, blur and grayscale (averages) never
# push them farther.
UNIT_SLACK = 1e-3


def check_unit_range(arr: np.ndarray, name: str = "image") -> None:
    """Raise unless the float image ``arr`` lies in [0, 1] (within UNIT_SLACK): never clip it silently."""
    lo, hi = arr.min(), arr.max()
    if lo >= np.float32(-UNIT_SLACK) and hi <= np.float32(1.0 + UNIT_SLACK):  # compared as float32 values
        return
    lo, hi = float(lo), float(hi)
    found = "holds NaN" if np.isnan(lo) or np.isnan(hi) else f"values span [{lo:g}, {hi:g}]"
    raise ImageError(
        f"{name}: float32 {found}, but pixel ops read float images as [0, 1] (1.0 = white). Scale it first "
        f"(e.g. image / 255 for 0-255 data) or pass uint8/uint16; a pipeline without pixel ops (or "
        f"replay(..., pixel_ops=False)) takes float images in any range"
    )


def to_array(image: Any, name: str = "image") -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """Return (HxWxC array, restore) where restore turns a processed array back into the input's kind."""
    pil_mode = None
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "getbands"):
        pil_mode = image.mode
        if pil_mode not in _PIL_MODES:
            raise ImageTypeError(
                f"{name}: PIL mode {pil_mode!r} is not supported; use one of {sorted(_PIL_MODES)} "
                f"(e.g. image.convert('RGB'))"
            )
        arr = np.asarray(image)
        if pil_mode == "I;16":
            arr = arr.astype(np.uint16, copy=False)
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise ImageTypeError(f"{name} must be a numpy array or a PIL image, got {type(image).__name__}")

    if arr.dtype not in SUPPORTED_DTYPES:
        raise ImageTypeError(f"{name}: dtype {arr.dtype} is not supported; use uint8, uint16 or float32")
    if arr.ndim not in (2, 3):
        raise ImageError(f"{name} must be HxW or HxWxC; got {arr.ndim} dimensions (shape {arr.shape})")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name} is empty (shape {arr.shape})")
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"{name} has {arr.shape[2]} channels; geoaug supports 1, 3 or 4")

    squeeze = arr.ndim == 2
    work = arr[:, :, None] if squeeze else arr

    def restore(out: np.ndarray) -> Any:
        out = out[:, :, 0] if squeeze else out
        if pil_mode is None:
            return out
        from PIL import Image

        return Image.fromarray(np.ascontiguousarray(out))

    return work, restore


def fill_value(
    fill: float | Sequence[float], channels: int, dtype: np.dtype[Any] | type[np.generic], unit: bool = False
) -> tuple[float, float, float, float]:
    """A fill as OpenCV's 4-tuple borderValue; scalars repeat per channel. Fills are in the image's own
    units: for integer images a level of the dtype, rounded to the nearest (so the warp's border and the
    exact fill of a post step agree) and an error outside its range (never wrapped or saturated); for float
    images any finite value, or within [0, 1] when pixel ops read the image (``unit``)."""
    key = (fill if np.isscalar(fill) else tuple(cast("Sequence[float]", fill)), channels, np.dtype(dtype).char, unit)
    hit = _FILLS.get(key)
    if hit is None:
        hit = _fill_value(fill, channels, dtype, unit)
        if len(_FILLS) < 1024:  # a pipeline has a handful of fills: a per-call check costs nothing once seen
            _FILLS[key] = hit
    return hit


_FILLS: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}


def _fill_value(
    fill: Any, channels: int, dtype: np.dtype[Any] | type[np.generic], unit: bool
) -> tuple[float, float, float, float]:
    # np.isscalar's TypeGuard admits str/bytes; float() of those raises ValueError, as callers expect
    vals = [float(fill)] * channels if np.isscalar(fill) else [float(v) for v in fill]  # type: ignore[arg-type]
    if len(vals) != channels:
        raise ImageError(f"fill {fill!r} has {len(vals)} values for an image of {channels} channels")
    top = _INT_TOPS.get(np.dtype(dtype).char)  # (np.issubdtype and np.iinfo cost microseconds a call)
    if top is not None:
        vals = [float(round(v)) if math.isfinite(v) else v for v in vals]  # half to even, as np.rint
        if not all(0.0 <= v <= top for v in vals):
            raise ImageError(f"fill {_show(fill)} is outside the range of a {np.dtype(dtype).name} image [0, {top:g}]")
    elif unit and not all(np.float32(-UNIT_SLACK) <= np.float32(v) <= np.float32(1.0 + UNIT_SLACK) for v in vals):
        raise ImageError(
            f"fill {_show(fill)} is outside [0, 1], the range of a float32 image that pixel ops read (1.0 = white)"
        )
    padded = vals + [0.0] * (4 - len(vals))  # OpenCV's borderValue: 4 values (len(vals) == channels <= 4)
    return padded[0], padded[1], padded[2], padded[3]


_INT_TOPS = {np.dtype(np.uint8).char: 255.0, np.dtype(np.uint16).char: 65535.0}


def _show(fill: Any) -> str:
    return f"{float(fill):g}" if np.isscalar(fill) else "[" + ", ".join(f"{float(v):g}" for v in fill) + "]"  # type: ignore[arg-type]  # as in _fill_value
