"""How well each decode-and-shrink path keeps a text page: A4 JPEG (2480x3508, quality 90) brought to
Qwen3-VL's 832x1184 (MAX_PIXELS=1003520), each compared with a float INTER_AREA reduction of the full
decode (the ideal box filter). PSNR in dB and SSIM (Gaussian, 11x11, sigma 1.5) on the grey image, and the
time of each path (median of 5, one thread).

    python benchmarks/shrink_quality.py [--out benchmarks/results/shrink_quality.json]

Paths: ms-swift's (full decode, PIL bicubic resize, as qwen_vl_utils does), and geoaug's plan-then-decode
(`geoaug.io.ImageSource`) at each reduced JPEG decode it can use, followed by its one warp."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import geoaug  # noqa: E402
from benchmarks.workloads import document_page  # noqa: E402
from geoaug.io import ImageSource, required_scale  # noqa: E402


def grey(a):
    return cv2.cvtColor(a.astype(np.float32), cv2.COLOR_RGB2GRAY).astype(np.float64)


def psnr(a, ref):
    mse = np.mean((grey(a) - grey(ref)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a, ref):
    x, y = grey(a), grey(ref)
    blur = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))))


def timed(f, n=5):
    ts, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return out, float(np.median(ts) * 1e3)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "results", "shrink_quality.json"))
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    page, _ = document_page()
    path = os.path.join(tempfile.mkdtemp(), "a4.jpg")
    Image.fromarray(page).save(path, quality=90)
    aug = geoaug.Pipeline([{"name": "smart_resize", "params": {"factor": 32, "max_pixels": 1003520}}])
    w, h = Image.open(path).size
    plan = aug.plan((w, h))
    ow, oh = plan["output_size"]
    full = np.asarray(Image.open(path).convert("RGB"))
    ref = cv2.resize(full.astype(np.float32), (ow, oh), interpolation=cv2.INTER_AREA)  # kept in float

    def swift():
        return np.asarray(Image.open(path).convert("RGB").resize((ow, oh)))

    def geo(min_scale):
        def run():
            with ImageSource(path) as src:
                dec = src.decode(min_scale=min_scale)
                return aug.replay(plan, dec.image, frame=dec.original_size, image_scale=dec.scale).image, dec.scale

        return run

    rows = []
    img, ms = timed(swift)
    rows.append(
        {"path": "ms-swift: full decode + PIL bicubic", "ms": ms, "psnr": psnr(img, ref), "ssim": ssim(img, ref)}
    )
    need = required_scale(plan)
    for label, min_scale in (("geoaug: full decode + warp", None), ("geoaug: as planned", need)):
        (img, scale), ms = timed(geo(min_scale))
        rows.append(
            {"path": f"{label} (decoded at {scale:g})", "ms": ms, "psnr": psnr(img, ref), "ssim": ssim(img, ref)}
        )
    print(f"A4 page {w}x{h} JPEG -> {ow}x{oh}; plan needs scale >= {need:.3f}")
    print(f"{'path':52s} {'ms':>7s} {'PSNR dB':>8s} {'SSIM':>7s}")
    for r in rows:
        print(f"{r['path']:52s} {r['ms']:7.1f} {r['psnr']:8.1f} {r['ssim']:7.4f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"input": [w, h], "output": [ow, oh], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
