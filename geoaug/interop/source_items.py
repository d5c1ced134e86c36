"""Turn one item of a record list or a base dataset into (image, geometry by kind, passthrough)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .sample import EXTRA_KINDS, FormatError, Sample

_BASE_KINDS = ("boxes", "quads", "lines")


def load_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Default loader: an image file as an RGB uint8 array (see ``geoaug.io.to_rgb8``: alpha over white,
    16-bit and float stretched over their range)."""
    from PIL import Image

    from ..io import to_rgb8

    with Image.open(path) as im:
        return to_rgb8(im)


def unpack(
    item: Any,
    where: str,
    image_root: str | os.PathLike[str] | None = None,
    load_image: Callable[[Any], Any] = load_image_rgb,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Accept a Sample (image loaded from its path) or a mapping with ``image`` and optional ``boxes``,
    ``quads``, ``lines``, ``points``, ``polygons``, ``masks``; every other key of a mapping passes through
    unchanged. The geometry comes back by kind name: boxes, quads and lines always (None when a mapping has
    none), points, polygons and masks only when given (a Sample's: when non-empty)."""
    if isinstance(item, Sample):
        image, rest = item.image, {"meta": item.meta}
        geom = {"boxes": item.boxes, "quads": item.quads, "lines": item.lines, **item.extra_tables()}
    elif isinstance(item, Mapping):
        if "image" not in item:
            raise FormatError(f"{where}: has no 'image' key (keys: {sorted(item)})")
        image = item["image"]
        geom = {k: item.get(k) for k in _BASE_KINDS}  # None or array-likes, converted by the pipeline
        geom.update({k: item[k] for k in EXTRA_KINDS if item.get(k) is not None})
        rest = {k: v for k, v in item.items() if k != "image" and k not in _BASE_KINDS and k not in EXTRA_KINDS}
    else:
        raise FormatError(
            f"{where}: expected a geoaug.interop.Sample or a mapping with 'image', got {type(item).__name__}"
        )
    if isinstance(image, (str, os.PathLike)):
        path = os.path.join(image_root, image) if image_root is not None else image
        try:
            image = load_image(path)
        except OSError as e:
            raise FormatError(f"{where}.image: cannot read {os.fspath(path)!r} ({e})") from None
    return image, geom, rest
