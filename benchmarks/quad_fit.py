"""How well a cut quad's corners describe its visible part, by ``quad_clip`` policy: IoU of the quad that
comes back with the true visible polygon (shapely's overlay of the quad and the canvas).

Random convex quads on a 100 x 100 canvas, each placed so that the canvas cuts it, kept when at least 30% of
it stays visible and its visible part is not a quad (only those are approximated; a cut that is a quad is
exact under every policy). Prints the median and the worst tenth (10th percentile) of the IoU per policy,
and the time per approximated quad.

    python benchmarks/quad_fit.py [--n 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import shapely

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from geoaug.clip import clip_quads  # noqa: E402
from geoaug.instances import Quads  # noqa: E402
from geoaug.report import Report  # noqa: E402

W = H = 100.0


def random_cut_quads(n: int, rng: np.random.Generator, min_visibility: float = 0.3) -> np.ndarray:
    """``n`` convex quads (clockwise on screen) that the canvas cuts into something other than a quad, with at
    least ``min_visibility`` of their area inside."""
    out: list[np.ndarray] = []
    canvas = shapely.box(0.0, 0.0, W, H)
    while len(out) < n:
        m = 4 * n
        # 4 corners at increasing angles about a centre near the border, radii 5-60 px: convex when every
        # turn goes one way (checked below)
        ang = np.sort(rng.uniform(0, 2 * np.pi, (m, 4)), axis=1)
        rad = rng.uniform(5, 60, (m, 4)) * rng.uniform(0.5, 1.0, (m, 1))
        centre = rng.uniform(-20, 120, (m, 1, 2))
        q = centre + np.stack([np.cos(ang), np.sin(ang)], axis=-1) * rad[..., None]
        e = np.roll(q, -1, axis=1) - q
        turn = e[..., 0] * np.roll(e, -1, axis=1)[..., 1] - e[..., 1] * np.roll(e, -1, axis=1)[..., 0]
        q = q[(turn > 0).all(axis=1)]
        polys = shapely.polygons(q)
        seen = shapely.intersection(polys, canvas)
        vis = shapely.area(seen) / shapely.area(polys)
        corners = shapely.get_num_coordinates(shapely.simplify(seen, 0.0)) - 1
        cut = (vis >= min_visibility) & (vis < 1.0) & (corners != 4)
        out.extend(q[cut])
    return np.asarray(out[:n])


def iou(quads: np.ndarray, truth: np.ndarray) -> np.ndarray:
    a = shapely.make_valid(shapely.polygons(quads))
    inter, union = shapely.area(shapely.intersection(a, truth)), shapely.area(shapely.union(a, truth))
    return np.divide(inter, union, out=np.zeros(len(quads)), where=union > 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    q = random_cut_quads(args.n, np.random.default_rng(args.seed))
    truth = shapely.intersection(shapely.polygons(q), shapely.box(0.0, 0.0, W, H))
    print(f"{len(q)} convex quads cut by a {W:g} x {H:g} canvas, visibility >= 0.3, visible part not a quad")
    print(f"{'policy':8} {'median IoU':>10} {'worst tenth':>11} {'min':>6} {'us / quad':>9}")
    for policy in ("clamp", "fit"):
        report = Report()
        t0 = time.perf_counter()
        out = clip_quads(Quads(q), W, H, report, policy=policy)
        dt = (time.perf_counter() - t0) / len(q) * 1e6
        assert len(out) == len(q) and report.approximated["quads"] == len(q)
        assert out.points.min() >= 0 and out.points[..., 0].max() <= W and out.points[..., 1].max() <= H
        s = iou(out.points, truth)
        print(f"{policy:8} {np.median(s):10.3f} {np.quantile(s, 0.1):11.3f} {s.min():6.3f} {dt:9.1f}")


if __name__ == "__main__":
    main()
