"""Where W3's overhead goes. The same 10,000 boxes + 2,000 quads + 1,000 lines go through W3's affine (a few %
of the objects end up crossing the border) and through one that moves none across (zoom 0.95), all kinds
together and one kind at a time. Best of 7 repeats of 100 calls, one thread; tables built in every call,
as in run.py.

    python benchmarks/w3_parts.py
"""

from __future__ import annotations

import os
import sys
import timeit

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import geoaug  # noqa: E402
from benchmarks import workloads as W  # noqa: E402

AFFINES = {
    "crossing (W3)": {"rotate": 2.0, "scale": [1.01, 1.02]},
    "nothing crosses": {"rotate": 0.5, "scale": [0.95, 0.96]},
}


def best_ms(call, number: int = 100) -> float:
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e3


def main() -> None:
    cv2.setNumThreads(1)
    img = W.natural_image(640, 480)
    rng = np.random.default_rng(0)
    boxes, quads, lines = (
        W.random_boxes(10000, 640, 480, rng),
        W.random_quads(2000, 640, 480, rng),
        W.random_lines(1000, 640, 480, rng),
    )
    labels = {k: list(range(len(v))) for k, v in (("boxes", boxes), ("quads", quads), ("lines", lines))}

    def tables(kinds):
        return {
            k: getattr(geoaug, k.title())(v, label=labels[k])
            for k, v in (("boxes", boxes), ("quads", quads), ("lines", lines))
            if k in kinds
        }

    for name, params in AFFINES.items():
        aug = geoaug.from_config([{"name": "affine", "params": params}])
        seeds = iter(range(10**9))
        alone = best_ms(lambda aug=aug, seeds=seeds: aug(img, seed=next(seeds)))
        extra = {}
        for kinds in (("boxes",), ("quads",), ("lines",), ("boxes", "quads", "lines")):
            run = lambda aug=aug, kinds=kinds, seeds=seeds: aug(img, **tables(kinds), seed=next(seeds))
            extra[kinds] = best_ms(run) - alone
        report = aug(img, **tables(("boxes", "quads", "lines")), seed=3).report
        print(
            f"{name:16s} image alone {alone:.3f} ms; objects add: boxes {extra[('boxes',)]:.3f}, "
            f"quads {extra[('quads',)]:.3f}, lines {extra[('lines',)]:.3f}, all three "
            f"{extra[('boxes', 'quads', 'lines')]:.3f} ms ({extra[('boxes', 'quads', 'lines')] / alone:.0%}); "
            f"clipped (seed 3): {dict(report.clipped)}"
        )


if __name__ == "__main__":
    main()
