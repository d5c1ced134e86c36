"""Issue-6 benchmark: an augmented training fetch (geoaug_train.build_dataset) next to ms-swift's plain
fetch of the same records (stock qwen3_vl template: decode, qwen_vl_utils bicubic resize, image
processor), in one process, one thread, interleaved, on a tiny random-weight Qwen3-VL's processor.

    python benchmarks/fetch.py [--num 8] [--rounds 3] [--out benchmarks/results/fetch.json]

Workloads (data generated here, never downloaded):
  A. 1250x940 natural-ish image with 50 boxes, as JPEG and as PNG; the seed augmentation (hflip 0.3,
     rotate 15 deg 0.3, color_jitter brightness 0.3, pad_to_multiple 32); qwen_vl_utils' default limit.
  B. an A4 page 2480x3508 JPEG with 300 text-line quads; rotate 5 + perspective + color_jitter;
     MAX_PIXELS=1003520 (-> 832x1184), set before ms-swift loads, as a user would.
Targets: A <= 0.8x the plain fetch; B <= 0.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.workloads import document_page, natural_image, random_boxes  # noqa: E402

SEED_OPS = [
    {"name": "hflip", "params": {"prob": 0.3}},
    {"name": "rotate", "params": {"max_deg": 15.0, "prob": 0.3}},
    {"name": "color_jitter", "params": {"brightness": [0.85, 1.15], "prob": 0.3}},
    {"name": "pad_to_multiple", "params": {"multiple": 32}},
]
DOC_OPS = [
    {"name": "rotate", "params": {"max_deg": 5.0}},
    {"name": "perspective", "params": {"scale": [0.01, 0.03]}},
    {"name": "color_jitter", "params": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2}},
]
TARGETS = {"A-jpeg": 0.8, "A-png": 0.8, "B-a4-jpeg": 0.5}


def write_records(folder, name, images, objects):
    os.makedirs(os.path.join(folder, "imgs"), exist_ok=True)
    lines = []
    for i, (img, objs) in enumerate(zip(images, objects)):
        rel = f"imgs/{name}_{i:03d}{'.png' if name.endswith('png') else '.jpg'}"
        Image.fromarray(img).save(os.path.join(folder, rel), **({} if rel.endswith(".png") else {"quality": 90}))
        lines.append(json.dumps({"image": rel, "objects": objs}))
    path = os.path.join(folder, f"{name}.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def config(folder, model, train, ops, max_pixels=None):
    cfg = {
        "model": {"path": model, "torch_dtype": "float32"},
        "training": {
            "output_dir": os.path.join(folder, "out-" + os.path.basename(train)),
            "max_steps": 1,
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
        },
        "data": {"train": train, "prompt": "Locate every object."},
        "global_max_length": 65536,
        "custom": {"augmentation": {"ops": ops}},
    }
    if max_pixels:
        cfg["data"]["max_pixels"] = max_pixels
    path = os.path.join(folder, os.path.basename(train) + ".yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "fetch.json"))
    args = ap.parse_args(argv)
    os.environ["MAX_PIXELS"] = "1003520"  # workload B's limit; A sets its own explicitly (qwen's default)
    from geoaug_train.bench_data import format_report, run_bench
    from geoaug_train.config import load_config
    from geoaug_train.tiny_model import build_tiny_model

    work = tempfile.mkdtemp(prefix="geoaug-fetch-")
    model = build_tiny_model(os.path.join(work, "tiny"))
    rng = np.random.default_rng(0)
    n = args.num
    nat = [natural_image(1250, 940, seed=i) for i in range(n)]
    boxes = [
        [{"label": f"obj{j}", "bbox": b.round(1).tolist()} for j, b in enumerate(random_boxes(50, 1250, 940, rng))]
        for _ in range(n)
    ]
    pages = [document_page(seed=i) for i in range(n)]
    quads = [[{"label": "text", "quad": q.round(1).tolist()} for q in qs] for _, qs in pages]
    qwen_default = 16384 * 32 * 32
    cases = {
        "A-jpeg": config(work, model, write_records(work, "A-jpeg", nat, boxes), SEED_OPS, qwen_default),
        "A-png": config(work, model, write_records(work, "A-png", nat, boxes), SEED_OPS, qwen_default),
        "B-a4-jpeg": config(work, model, write_records(work, "B-a4-jpeg", [p for p, _ in pages], quads), DOC_OPS),
    }
    results = {}
    for name, cfg_path in cases.items():
        if name.startswith("A"):  # qwen_vl_utils' default limit for the plain path too
            os.environ["IMAGE_MAX_TOKEN_NUM"] = "16384"
        else:
            os.environ.pop("IMAGE_MAX_TOKEN_NUM", None)
        rep = run_bench(load_config(cfg_path), num=n, rounds=args.rounds)
        rep["target_ratio"] = TARGETS[name]
        rep["met"] = rep["ratio_geoaug_over_plain"] <= TARGETS[name]
        results[name] = rep
        print(f"\n== {name} (target <= {TARGETS[name]}x): {'met' if rep['met'] else 'NOT met'}")
        print(format_report(rep))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
