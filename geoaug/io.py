"""Image decoding for the training hot path: read the header, let the pipeline plan, then decode only as
many pixels as the plan needs (JPEGs at 1/2, 1/4 or 1/8 through libjpeg's DCT scaling), reporting the
exact scale so coordinates stay exact."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import matrix as M
from .errors import ImageError

REDUCTIONS = (8, 4, 2)


@dataclass
class Decoded:
    image: np.ndarray          # HxWx3 uint8 RGB
    scale: float               # decoded = original * scale (1, 1/2, 1/4 or 1/8)
    original_size: tuple       # (width, height) of the file's full-resolution image


class ImageSource:
    """An image file opened for its header only: ``size`` costs no decoding.

        with ImageSource(path, record="train.jsonl:17") as src:
            plan = aug.plan(src.size, boxes=boxes, seed=seed)
            dec = src.decode(min_scale=required_scale(plan))
            res = aug.replay(plan, dec.image, boxes=boxes, frame=dec.original_size, image_scale=dec.scale)
    """

    def __init__(self, path, *, record: str = ""):
        self.path, self.where = path, f"{record}: " if record else ""
        try:
            self._im = Image.open(path)
        except FileNotFoundError:
            raise ImageError(f"{self.where}image file not found: {path}") from None
        except Exception as e:  # PIL raises several types for unreadable files
            raise ImageError(f"{self.where}cannot read image {path}: {e}") from None
        self.size = self._im.size

    def decode(self, min_scale: float | None = None) -> Decoded:
        """Decode to RGB; with ``min_scale`` a JPEG is decoded at the smallest 1/k (k in 8, 4, 2) that keeps at
        least that scale. Pixel i of a 1/k decode averages original pixels [k*i, k*i + k): the map is exactly
        x' = x / k (the last column may cover a partial block)."""
        im, scale = self._im, 1.0
        if min_scale is not None and im.format == "JPEG":
            k = next((k for k in REDUCTIONS if 1.0 / k >= min_scale), 1)
            if k > 1:
                im.draft("RGB", (-(-self.size[0] // k), -(-self.size[1] // k)))
                scale = 1.0 / round(self.size[0] / im.size[0])
        try:
            if im.mode != "RGB":
                im = im.convert("RGB")
            arr = np.asarray(im)
        except Exception as e:
            raise ImageError(f"{self.where}corrupt image {self.path}: {e}") from None
        return Decoded(arr, scale, self.size)

    def close(self):
        self._im.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def required_scale(plan: dict) -> float:
    """The finest sampling a plan needs from its source: the largest local stretch of its matrix over the
    source canvas (corners and centre; exact for affine maps, the extremes for projective ones)."""
    a = np.asarray(plan["matrix"], dtype=np.float64)
    w, h = plan["input_size"]
    pts = np.vstack([M.canvas_corners(w, h), [[w / 2.0, h / 2.0]]])
    return max(max(M.axis_scales(a, w, h, at=p)) for p in pts)
