"""COCO run-length encoding of binary masks, without pycocotools.

A mask of H x W pixels is read column by column (Fortran order, as COCO does) and stored as the lengths of
alternating runs of 0s and 1s, starting with 0s (so the first count is 0 when the first pixel is set). The
counts travel either as a list of ints ("uncompressed", ``iscrowd`` annotations in COCO files) or as
pycocotools' compressed string: each count, after the third as the difference to the count two before it,
written 5 bits at a time, least significant first, as the characters 48 + (bits | 0x20 while more follow);
the last group's 0x10 bit carries the sign.

    rle = encode(mask)                 # {"size": [h, w], "counts": "..."}
    mask = decode(rle)                 # (h, w) uint8 of 0 and 1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import GeometryError


def encode(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """A 2-d mask (nonzero = set) as a COCO RLE ``{"size": [h, w], "counts": str | list[int]}``."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise GeometryError(f"rle.encode: a mask must have shape (H, W); got shape {m.shape}")
    h, w = m.shape
    counts = runs(m)
    return {"size": [int(h), int(w)], "counts": counts_to_string(counts) if compressed else counts.tolist()}


def runs(mask: np.ndarray) -> np.ndarray:
    """The run lengths of a 2-d mask in column-major order, starting with a (possibly empty) run of 0s."""
    flat = (np.asarray(mask) != 0).ravel(order="F")
    if not flat.size:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges)
    if flat[0]:
        counts = np.concatenate([[0], counts])
    out: np.ndarray = counts.astype(np.int64)
    return out


def counts_to_string(counts: Sequence[int] | np.ndarray) -> str:
    """pycocotools' compressed form of a counts list."""
    c = [int(v) for v in counts]
    out = bytearray()
    for i, v in enumerate(c):
        x = v - c[i - 2] if i > 2 else v
        more = True
        while more:
            b = x & 0x1F
            x >>= 5  # arithmetic shift: a negative difference keeps its sign
            more = x != -1 if b & 0x10 else x != 0
            out.append(48 + (b | 0x20 if more else b))
    return out.decode("ascii")


def string_to_counts(s: str | bytes, where: str = "rle") -> np.ndarray:
    """The counts list of pycocotools' compressed string."""
    data = s.encode("ascii", "replace") if isinstance(s, str) else bytes(s)
    counts: list[int] = []
    p, n = 0, len(data)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise GeometryError(f"{where}.counts: the string ends inside a count")
            c = data[p] - 48
            if not 0 <= c < 64:
                raise GeometryError(f"{where}.counts: {chr(data[p])!r} at {p} is no RLE character")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return np.asarray(counts, dtype=np.int64)


def decode(rle: Any, height: int | None = None, width: int | None = None, *, where: str = "rle") -> np.ndarray:
    """A COCO RLE (``{"size": [h, w], "counts": str | bytes | list}``) as an (h, w) uint8 mask of 0 and 1.
    ``height``/``width``, when given, must match its ``size``."""
    if not isinstance(rle, dict) or "counts" not in rle:
        raise GeometryError(f"{where} must be a dict with 'size' and 'counts', got {type(rle).__name__}")
    size = rle.get("size")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise GeometryError(f"{where}.size must be [height, width], got {size!r}")
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise GeometryError(f"{where}.size must be [height, width], got {size!r}") from None
    if h < 0 or w < 0:
        raise GeometryError(f"{where}.size must not be negative, got {size!r}")
    if (height is not None and h != height) or (width is not None and w != width):
        raise GeometryError(f"{where}.size is {h}x{w} (H x W) but the masks are {height}x{width}")
    raw = rle["counts"]
    if isinstance(raw, (str, bytes)):
        counts = string_to_counts(raw, where)
    else:
        try:
            counts = np.asarray(raw, dtype=np.int64).ravel()
        except (TypeError, ValueError, OverflowError):
            raise GeometryError(f"{where}.counts must be a string or a list of ints") from None
    if len(counts) and counts.min() < 0:
        raise GeometryError(f"{where}.counts has a negative run ({int(counts.min())})")
    if int(counts.sum()) != h * w:
        raise GeometryError(f"{where}.counts cover {int(counts.sum())} pixels, the size {h}x{w} has {h * w}")
    values = (np.arange(len(counts)) % 2).astype(np.uint8)
    flat = np.repeat(values, counts)
    out: np.ndarray = np.ascontiguousarray(flat.reshape((w, h)).T)
    return out


def area(rle: Any) -> int:
    """Set pixels of a COCO RLE, without decoding it."""
    raw = rle["counts"]
    counts = string_to_counts(raw) if isinstance(raw, (str, bytes)) else np.asarray(raw, dtype=np.int64)
    return int(counts[1::2].sum())
