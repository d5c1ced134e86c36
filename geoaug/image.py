"""Image intake: accept numpy arrays and PIL images, work on HxWxC arrays, give back the same kind."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import ImageError, ImageTypeError

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32)
_PIL_MODES = {"L", "RGB", "RGBA", "I;16", "F"}


def dtype_max(dtype) -> float:
    """The value of full white: 255, 65535, or 1.0 for float images."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def to_array(image, name: str = "image") -> tuple[np.ndarray, Callable[[np.ndarray], object]]:
    """Return (HxWxC array, restore) where restore turns a processed array back into the input's kind."""
    pil_mode = None
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "getbands"):
        pil_mode = image.mode
        if pil_mode not in _PIL_MODES:
            raise ImageTypeError(
                f"{name}: PIL mode {pil_mode!r} is not supported; use one of {sorted(_PIL_MODES)} "
                f"(e.g. image.convert('RGB'))")
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

    def restore(out: np.ndarray):
        out = out[:, :, 0] if squeeze else out
        if pil_mode is None:
            return out
        from PIL import Image
        return Image.fromarray(np.ascontiguousarray(out))

    return work, restore


def fill_value(fill, channels: int, dtype) -> tuple:
    """A fill as OpenCV's 4-tuple borderValue; scalars repeat per channel."""
    vals = [float(fill)] * channels if np.isscalar(fill) else [float(v) for v in fill]
    if len(vals) != channels:
        raise ImageError(f"fill {fill!r} has {len(vals)} values for an image of {channels} channels")
    return tuple(vals + [0.0] * (4 - len(vals)))
