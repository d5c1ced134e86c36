"""Pixel stages: tone curves (brightness, contrast, gamma) folded into one lookup pass, other stages run as
given. A ``region`` limits what contrast's mean reads to the pixels that were image at that point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np

from .image import dtype_max
from .ops.base import ToneStage
from .ops.pixel import with_alpha

if TYPE_CHECKING:
    from .ops.base import Stage
    from .warp import Region


def run_stages(arr: np.ndarray, stages: Sequence[Stage], region: Region | None = None) -> np.ndarray:
    i = 0
    while i < len(stages):
        stage = stages[i]
        if isinstance(stage, ToneStage):
            j = i
            while j < len(stages) and isinstance(stages[j], ToneStage):
                j += 1
            arr = _apply_tone(arr, cast("Sequence[ToneStage]", stages[i:j]), region)  # each one is (loop above)
            i = j
        else:
            arr = stage(arr)
            i += 1
    return arr


def _apply_tone(arr: np.ndarray, curves: Sequence[ToneStage], region: Region | None = None) -> np.ndarray:
    """Fold consecutive tone curves into one pass: a 256-entry lookup for uint8 (means for contrast
    come from the channel histograms, exactly), a 65536-entry one for uint16, direct maths for float."""
    top = dtype_max(arr.dtype)
    colour = arr[..., :3] if arr.shape[2] >= 3 else arr
    out: np.ndarray
    if arr.dtype == np.float32:
        out = colour.astype(np.float32)
        for c in curves:
            mean = float(_grey_mean_direct(out, region)) if c.needs_mean else None
            out = np.clip(c(out, mean, top), 0, top).astype(np.float32)
        return with_alpha(arr, out)
    levels = np.arange(int(top) + 1, dtype=np.float64)
    hist = _histograms(arr, len(levels), region) if any(c.needs_mean for c in curves) else None
    lut: np.ndarray = levels
    for c in curves:
        mean = None
        if c.needs_mean:
            assert hist is not None  # built above whenever a curve needs the mean
            per_channel = (hist * lut[None, :]).sum(axis=1) / hist.sum(axis=1)
            mean = _luma(per_channel)
        lut = np.clip(c(lut, mean, top), 0, top)
    curve = lut
    lut = np.rint(lut).astype(arr.dtype)
    if arr.dtype == np.uint8 and arr.shape[2] == 4:
        # One 4-channel lookup with alpha mapped to itself: no slicing out and pasting back the colour
        # (numpy's strided paste of 3 of 4 channels alone costs ~10 ms on a 1 MP image).
        return cv2.LUT(arr, np.stack([lut, lut, lut, _LEVELS_U8], axis=-1).reshape(256, 1, 4))
    if arr.dtype == np.uint8:
        scale = _as_scale_abs(curve, lut)
        if scale is not None:
            out = cv2.convertScaleAbs(arr, alpha=scale[0], beta=scale[1])
        else:
            out = cv2.LUT(arr, lut)
        out = out[..., None] if out.ndim == 2 else out
    else:
        out = lut[colour]
    return with_alpha(arr, out)


_LEVELS_U8 = np.arange(256, dtype=np.uint8)


def _as_scale_abs(curve: np.ndarray, lut: np.ndarray) -> tuple[float, float] | None:
    """(alpha, beta) when cv2.convertScaleAbs reproduces the uint8 lookup ``lut`` exactly, else None.

    convertScaleAbs is about 3x faster than cv2.LUT (benchmarks/paths.py) but computes in float32 with
    its own rounding, so it is only taken after checking all 256 input levels, through both its vector
    path (a contiguous row) and its scalar path (a strided column): a pointwise map that agrees on
    every level agrees on every image.
    """
    inner = np.nonzero((curve > 0) & (curve < 255))[0]
    if len(inner) < 2:
        return None
    i0, i1 = int(inner[0]), int(inner[-1])
    alpha = (curve[i1] - curve[i0]) / (i1 - i0)
    beta = curve[i0] - alpha * i0
    if alpha < 0:
        return None
    row = cv2.convertScaleAbs(_LEVELS_U8[None, :], alpha=alpha, beta=beta)[0]
    col: np.ndarray = np.repeat(_LEVELS_U8[:, None], 2, axis=1)[:, :1]
    col = cv2.convertScaleAbs(col, alpha=alpha, beta=beta)[:, 0]
    if np.array_equal(row, lut) and np.array_equal(col, lut):
        return float(alpha), float(beta)
    return None


def _histograms(arr: np.ndarray, n: int, region: Region | None = None) -> np.ndarray:
    """Per colour channel (alpha excluded) level counts. uint8: calcHist reads a channel of the whole
    array in place, twice as fast as on a copied-out channel."""
    channels = range(3 if arr.shape[2] >= 3 else arr.shape[2])
    arr, mask = (arr, None) if region is None else region.select(arr)
    if n == 256:
        return np.stack([cv2.calcHist([arr], [i], mask, [256], [0, 256]).reshape(-1) for i in channels]).astype(
            np.float64
        )
    pick = (lambda c: c.ravel()) if mask is None else (lambda c: c[mask > 0])
    return np.stack([np.bincount(pick(arr[..., i]), minlength=n) for i in channels]).astype(np.float64)


def _luma(per_channel: np.ndarray) -> float:
    return float(per_channel[0]) if len(per_channel) == 1 else float(np.dot(per_channel[:3], [0.299, 0.587, 0.114]))


def _grey_mean_direct(colour: np.ndarray, region: Region | None = None) -> float:
    colour, mask = (colour, None) if region is None else region.select(colour)
    flat = colour.reshape(-1, colour.shape[2]) if mask is None else colour[mask > 0]
    return _luma(flat.mean(axis=0))
