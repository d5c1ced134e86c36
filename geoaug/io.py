"""Image decoding for the training hot path: read the header, let the pipeline plan, then decode only as
many pixels as the plan needs (JPEGs at 1/2, 1/4 or 1/8 through libjpeg's DCT scaling), reporting the
exact scale so coordinates stay exact. ``to_rgb8`` turns any PIL mode into RGB uint8; ``probe_image``
checks a file from its header and tail without decoding it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import matrix as M
from .errors import ImageError

REDUCTIONS = (8, 4, 2)
_STRAIGHT_ALPHA = ("RGBA", "LA", "PA")
_PREMULTIPLIED_ALPHA = ("RGBa", "La")
_TAIL_BYTES = 4096  # covers an end marker followed by a little NUL padding


def to_rgb8(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Any PIL image as an HxWx3 uint8 C-contiguous RGB array.

    - RGB without a ``transparency`` entry: ``np.asarray(im)`` as is (the training fast path).
    - Images wider than 8 bits (I;16*, I, F): stretched over the data's own range, v -> round((v - lo) /
      (hi - lo) * 255) with lo, hi the min and max of the finite values; NaN -> 0, -inf -> 0, +inf -> 255.
      A constant image (hi == lo) is 255 where that value is > 0, else 0. PIL's own ``convert("RGB")``
      clips I;16 at 255 instead, turning most 16-bit images white.
    - Alpha (RGBA, LA, PA, RGBa, La, and P/L/RGB with a ``transparency`` entry): composited over
      ``background``, out = round(a * c + (1 - a) * bg) with a in [0, 1] (premultiplied modes add their
      stored a * c directly).
    - Everything else (P, L, 1, CMYK, YCbCr, LAB, HSV, ...): PIL's conversion to RGB.
    """
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return np.asarray(im)
    if mode in _PREMULTIPLIED_ALPHA:
        return _over(np.asarray(im), background, premultiplied=True)
    if mode in _STRAIGHT_ALPHA or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        return _over(np.asarray(im.convert("RGBA")), background, premultiplied=False)
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _stretch(np.asarray(im))
    return np.asarray(im.convert("RGB"))


def _over(arr: np.ndarray, background: tuple[int, int, int], premultiplied: bool) -> np.ndarray:
    # Integer arithmetic over a denominator of 255: the result is never an exact half, so rounding is exact.
    c = arr[..., :-1].astype(np.int32)
    a = arr[..., -1:].astype(np.int32)
    bg = np.asarray(background, dtype=np.int32).reshape(-1)[:3]
    out = (c * 255 if premultiplied else c * a) + (255 - a) * bg
    return ((out + 127) // 255).astype(np.uint8)


def _stretch(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float64)
    finite = np.isfinite(a)
    if finite.any():
        lo, hi = a[finite].min(), a[finite].max()
    else:
        lo = hi = 0.0
    if hi > lo:
        out = np.rint((np.clip(a, lo, hi) - lo) * (255.0 / (hi - lo)))
    else:
        out = np.where(a > 0, 255.0, 0.0)  # also sends +inf to 255 and -inf to 0
    out[np.isnan(a)] = 0
    out = out.astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(out[..., None], out.shape + (3,)))


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str


def probe_image(path: str | os.PathLike[str], decode: bool = False) -> ImageInfo:
    """Check an image file cheaply: its header (no pixels) and, for JPEG and PNG, its last bytes, which a
    truncated file lacks (the EOI marker FF D9; the IEND chunk). NUL padding after the end is ignored.
    ``decode=True`` also decodes the pixels; PIL decodes some corrupt JPEG data without complaint, so a
    file that passes can still hold garbage. Raises ImageError naming ``path``."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ImageError(f"image file not found: {path}") from None
    except OSError as e:
        raise ImageError(f"cannot read image {path}: {e}") from None
    with f:
        try:
            im = Image.open(f)
        except Exception as e:  # PIL raises several types for unreadable files
            raise ImageError(f"cannot read image {path}: {e}") from None
        info = ImageInfo(im.format or "", im.size[0], im.size[1], im.mode)
        if info.width <= 0 or info.height <= 0:
            raise ImageError(f"image {path} has zero size ({info.width}x{info.height})")
        if info.format in ("JPEG", "MPO", "PNG"):
            f.seek(max(0, os.fstat(f.fileno()).st_size - _TAIL_BYTES))
            tail = f.read().rstrip(b"\0")
            if info.format == "PNG" and not tail.endswith(b"IEND\xaeB`\x82"):
                raise ImageError(f"image {path} is truncated (no PNG IEND chunk)")
            if info.format != "PNG" and not tail.endswith(b"\xff\xd9"):
                raise ImageError(f"image {path} is truncated (no JPEG end marker)")
        if decode:
            try:
                im.load()
            except Exception as e:
                raise ImageError(f"cannot decode image {path}: {e}") from None
    return info


@dataclass
class Decoded:
    image: np.ndarray  # HxWx3 uint8 RGB
    scale: float  # decoded = original * scale (1, 1/2, 1/4 or 1/8)
    original_size: tuple  # (width, height) of the file's full-resolution image


class ImageSource:
    """An image file opened for its header only: ``size`` costs no decoding.

    with ImageSource(path, record="train.jsonl:17") as src:
        plan = aug.plan(src.size, boxes=boxes, seed=seed)
        dec = src.decode(min_scale=required_scale(plan))
        res = aug.replay(plan, dec.image, boxes=boxes, frame=dec.original_size, image_scale=dec.scale)
    """

    def __init__(
        self, path: str | os.PathLike[str], *, record: str = "", background: tuple[int, int, int] = (255, 255, 255)
    ) -> None:
        self.path, self.where, self.background = path, f"{record}: " if record else "", background
        try:
            self._im = Image.open(path)
        except FileNotFoundError:
            raise ImageError(f"{self.where}image file not found: {path}") from None
        except Exception as e:  # PIL raises several types for unreadable files
            raise ImageError(f"{self.where}cannot read image {path}: {e}") from None
        self.size = self._im.size

    def decode(self, min_scale: float | None = None) -> Decoded:
        """Decode to RGB (see ``to_rgb8``); with ``min_scale`` a JPEG is decoded at the smallest 1/k (k in 8, 4,
        2) that keeps at least that scale. Pixel i of a 1/k decode averages original pixels [k*i, k*i + k): the
        map is exactly x' = x / k (the last column may cover a partial block)."""
        im, scale = self._im, 1.0
        if min_scale is not None and im.format == "JPEG":
            k = next((k for k in REDUCTIONS if 1.0 / k >= min_scale), 1)
            if k > 1:
                im.draft("RGB", (-(-self.size[0] // k), -(-self.size[1] // k)))
                scale = 1.0 / round(self.size[0] / im.size[0])
        try:
            arr = to_rgb8(im, self.background)
        except Exception as e:
            raise ImageError(f"{self.where}corrupt image {self.path}: {e}") from None
        return Decoded(arr, scale, self.size)

    def close(self) -> None:
        self._im.close()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def required_scale(plan: dict) -> float:
    """The finest sampling a plan needs from its source: the largest local stretch of its matrix over the
    source canvas (corners and centre; exact for affine maps, the extremes for projective ones)."""
    a = np.asarray(plan["matrix"], dtype=np.float64)
    w, h = plan["input_size"]
    pts = np.vstack([M.canvas_corners(w, h), [[w / 2.0, h / 2.0]]])
    return max(max(M.axis_scales(a, w, h, at=p)) for p in pts)
