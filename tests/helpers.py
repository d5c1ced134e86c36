"""Test helpers: the coordinate image used by the oracle, and a bilinear read-back."""

import numpy as np

FILL = -1.0e4


def coordinate_image(w: int, h: int) -> np.ndarray:
    """float32 image whose pixel (i, j) holds its own centre (i + .5, j + .5) and a validity flag 1."""
    xs, ys = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    return np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(np.float32)


def read_back(img: np.ndarray, pts: np.ndarray):
    """Bilinear read of channels 0,1 at continuous points; None per point where a neighbour is fill or off-canvas."""
    h, w = img.shape[:2]
    out = []
    for x, y in np.asarray(pts, dtype=np.float64).reshape(-1, 2):
        u, v = x - 0.5, y - 0.5
        i0, j0 = int(np.floor(u)), int(np.floor(v))
        if i0 < 0 or j0 < 0 or i0 + 1 >= w or j0 + 1 >= h:
            out.append(None)
            continue
        patch = img[j0 : j0 + 2, i0 : i0 + 2].astype(np.float64)
        if np.abs(patch[..., 2] - 1.0).max() > 1e-4:
            out.append(None)
            continue
        fu, fv = u - i0, v - j0
        wts = np.array([[(1 - fu) * (1 - fv), fu * (1 - fv)], [(1 - fu) * fv, fu * fv]])
        out.append((float((patch[..., 0] * wts).sum()), float((patch[..., 1] * wts).sum())))
    return out
