"""Which OpenCV path is fastest for each dtype and channel count on this build?

Times, interleaved and single-threaded, the kernels geoaug's warp and tone passes can choose between:
a 3-channel warp against the same warp on the image widened to 4 channels (cvtColor there and back),
and a uint8 brightness pass as cv2.LUT against cv2.convertScaleAbs. The results justify the choices
hard-coded in geoaug/warp.py (WIDEN_TO_4) and geoaug/pipeline.py (_apply_tone); rerun on a new build.

    python benchmarks/paths.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.timing import interleaved  # noqa: E402

cv2.setNumThreads(1)


def _widened(fn):
    def run(img):
        out = fn(cv2.cvtColor(img, cv2.COLOR_RGB2RGBA))
        return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    rounds = 5 if args.quick else 15
    h, w = 940, 1250
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.dstack([xx / w, yy / h, (np.sin(xx / 40) * np.cos(yy / 30) + 1) / 2]) * 0.9
    base += rng.normal(0, 0.02, base.shape)
    base = np.clip(base, 0, 1).astype(np.float32)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.0)
    persp = np.vstack([rot, [1e-5, 2e-5, 1]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    kernels = {
        "warpAffine": lambda im: cv2.warpAffine(im, rot, (1280, 960), flags=flags),
        "warpPerspective": lambda im: cv2.warpPerspective(im, persp, (1280, 960), flags=flags),
        "resize_area": lambda im: cv2.resize(im, (400, 300), interpolation=cv2.INTER_AREA),
    }
    results = {}
    for dt in (np.uint8, np.uint16, np.float32):
        top = 1.0 if dt == np.float32 else np.iinfo(dt).max
        img = np.ascontiguousarray((base * top).astype(dt))
        for kname, fn in kernels.items():
            cases = {
                "3ch": lambda i, fn=fn, img=img: fn(img),
                "3ch_widened_to_4": lambda i, fn=fn, img=img: _widened(fn)(img),
            }
            same = np.array_equal(cases["3ch"](0), cases["3ch_widened_to_4"](0))
            med = interleaved(cases, rounds=rounds, repeat=3)
            key = f"{np.dtype(dt).name}/{kname}"
            results[key] = {**{k: v * 1e3 for k, v in med.items()}, "identical": bool(same)}
            print(
                f"{key:28s} 3ch {med['3ch'] * 1e3:7.2f} ms   widened {med['3ch_widened_to_4'] * 1e3:7.2f} ms"
                f"   ratio {med['3ch'] / med['3ch_widened_to_4']:.2f}x   identical={same}"
            )
    img8 = np.ascontiguousarray((base * 255).astype(np.uint8))
    lut = np.clip(np.rint(np.arange(256) * 1.1), 0, 255).astype(np.uint8)
    tone = {"LUT": lambda i: cv2.LUT(img8, lut), "convertScaleAbs": lambda i: cv2.convertScaleAbs(img8, alpha=1.1)}
    med = interleaved(tone, rounds=rounds, repeat=3)
    same = np.array_equal(tone["LUT"](0), tone["convertScaleAbs"](0))
    results["uint8/brightness"] = {**{k: v * 1e3 for k, v in med.items()}, "identical": bool(same)}
    print(
        f"{'uint8/brightness':28s} LUT {med['LUT'] * 1e3:7.2f} ms"
        f"   convertScaleAbs {med['convertScaleAbs'] * 1e3:7.2f} ms"
        f"   identical={same}"
    )
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "paths.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"opencv": cv2.__version__, "cpu_count": os.cpu_count(), "ms": results}, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
