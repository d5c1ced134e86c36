"""Image decoding for the training hot path: decode JPEGs at a reduced scale when the target is much
smaller, and report the exact scale so that coordinates stay exact."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import ImageError


@dataclass
class Decoded:
    image: np.ndarray          # HxWx3 uint8 RGB
    scale: float               # decoded = original * scale (1, 1/2, 1/4 or 1/8)
    original_size: tuple       # (width, height) of the file's full-resolution image

    @property
    def matrix(self) -> np.ndarray:
        """Original-image frame -> decoded-image frame."""
        return np.diag([self.scale, self.scale, 1.0])


def read_rgb(path, min_size: tuple | None = None, *, record: str = "") -> Decoded:
    """Decode ``path`` to RGB. With ``min_size=(w, h)``, a JPEG is decoded by libjpeg's DCT scaling at the
    smallest of 1/8, 1/4, 1/2 that still covers ``min_size`` -- a 2480x3508 page headed for 832x1184 is
    decoded at 1/2, about 3x less work than a full decode and the resize after it.

    The reduced image's pixel i averages original pixels [k*i, k*i + k) (blocks start at the origin), so
    the map is exactly x' = x / k; the last column may cover a partial block."""
    where = f"{record}: " if record else ""
    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise ImageError(f"{where}image file not found: {path}") from None
    except Exception as e:  # PIL raises several types for unreadable files
        raise ImageError(f"{where}cannot read image {path}: {e}") from None
    with im:
        full = im.size
        scale = 1.0
        if min_size is not None and im.format == "JPEG":
            k = _reduction(full, min_size)
            if k > 1:
                im.draft("RGB", (-(-full[0] // k), -(-full[1] // k)))
                scale = 1.0 / round(full[0] / im.size[0])
        try:
            if im.mode != "RGB":
                im = im.convert("RGB")
            arr = np.asarray(im)
        except Exception as e:
            raise ImageError(f"{where}corrupt image {path}: {e}") from None
    return Decoded(arr, scale, full)


def _reduction(full, min_size) -> int:
    for k in (8, 4, 2):
        if full[0] / k >= min_size[0] and full[1] / k >= min_size[1]:
            return k
    return 1
