"""The benchmark workloads: inputs, and the same augmentation written for each library.

Every builder returns ``name -> callable(i)`` where ``i`` is the call number (used as the seed), so the
runner can time them side by side. Libraries that are not installed are skipped, not faked.
"""

from __future__ import annotations

import cv2
import numpy as np

import geoaug
from geoaug.ops.geometric import qwen_smart_resize

SEED_PROBS = {"hflip": 0.3, "rotate": 0.3, "color_jitter": 0.3}


# ---- inputs ------------------------------------------------------------------------------------
def natural_image(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients, filled shapes and mild noise: enough structure for warps to do real work."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.dstack([xx / w * 200 + 30, yy / h * 180 + 40, 128 + 90 * np.sin(xx / 37) * np.cos(yy / 53)])
    img = img.astype(np.uint8)
    for _ in range(40):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(img, p, int(rng.integers(5, max(6, w // 10))), c, -1, cv2.LINE_AA)
        else:
            q = (p[0] + int(rng.integers(10, max(11, w // 6))), p[1] + int(rng.integers(10, max(11, h // 6))))
            cv2.rectangle(img, p, q, c, -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def random_boxes(n: int, w: int, h: int, rng, size=(4, 40)) -> np.ndarray:
    """Boxes anywhere inside the image, edges included, so a slight transform pushes some across."""
    half = rng.uniform(size[0] / 2, size[1] / 2, (n, 2))
    c = rng.uniform(half, [w, h] - half)
    return np.concatenate([c - half, c + half], axis=1)


def random_quads(n: int, w: int, h: int, rng, size=(6, 40)) -> np.ndarray:
    """Slightly rotated rectangles, clockwise from top-left (text-line shaped), inside the image."""
    hw = rng.uniform(size[0], size[1], n) / 2
    hh = hw * rng.uniform(0.15, 0.5, n)
    t = np.deg2rad(rng.uniform(-8, 8, n))
    base = np.stack([np.stack([-hw, -hh], 1), np.stack([hw, -hh], 1), np.stack([hw, hh], 1), np.stack([-hw, hh], 1)], 1)
    rot = np.stack([np.stack([np.cos(t), -np.sin(t)], 1), np.stack([np.sin(t), np.cos(t)], 1)], 1)
    shape = np.einsum("nij,nkj->nki", rot, base)
    lo, hi = -shape.min(axis=1), [w, h] - shape.max(axis=1)
    return rng.uniform(lo, hi)[:, None, :] + shape


def random_lines(n: int, w: int, h: int, rng, points: int = 5, step: float = 10.0) -> list:
    walk = np.cumsum(rng.uniform(-step, step, (n, points, 2)), axis=1)
    lo, hi = -walk.min(axis=1), [w, h] - walk.max(axis=1)
    return list(rng.uniform(lo, hi)[:, None, :] + walk)


def document_page(w: int = 2480, h: int = 3508, lines: int = 300, seed: int = 0):
    """A white page with 300 dark text lines; their quads are the geometry."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 250, np.uint8)
    quads = []
    margin, pitch = 180, (h - 360) / lines
    for k in range(lines):
        y0 = margin + k * pitch
        x0 = margin + rng.uniform(0, 200)
        x1 = w - margin - rng.uniform(0, 600)
        th = pitch * 0.6
        quads.append([[x0, y0], [x1, y0], [x1, y0 + th], [x0, y0 + th]])
        xs = x0
        while xs < x1 - 10:  # words: dark blocks with gaps
            we = min(x1, xs + rng.uniform(30, 160))
            cv2.rectangle(img, (int(xs), int(y0 + 2)), (int(we), int(y0 + th - 2)), (30, 30, 40), -1)
            xs = we + rng.uniform(12, 30)
    return img, np.asarray(quads, dtype=np.float64)


# ---- library adapters ----------------------------------------------------------------------------
def _alb():
    try:
        import os

        os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
        import albumentations as A

        return A
    except ImportError:
        return None


def _tv():
    try:
        import torch
        from torchvision import tv_tensors
        from torchvision.transforms import v2

        torch.set_num_threads(1)
        return torch, tv_tensors, v2
    except ImportError:
        return None


def seed_aug(p: dict):
    """The seed pipeline in geoaug, with each op's probability from ``p`` (default 1)."""
    return geoaug.from_config(
        [
            {"name": "hflip", "params": {"prob": p.get("hflip", 1.0)}},
            {"name": "rotate", "params": {"max_deg": 15, "prob": p.get("rotate", 1.0)}},
            {"name": "color_jitter", "params": {"brightness": [0.85, 1.15], "prob": p.get("color_jitter", 1.0)}},
            {"name": "pad_to_multiple", "params": {"multiple": 32}},
        ]
    )


def seed_alb_ops(A, p: dict, fill_mask=None) -> list:
    """The same ops in albumentations (``fill_mask``: the fill of a mask beside the image, when given)."""
    mask = {} if fill_mask is None else {"fill_mask": fill_mask}
    return [
        A.HorizontalFlip(p=p.get("hflip", 1.0)),
        A.Rotate(limit=15, border_mode=cv2.BORDER_CONSTANT, fill=0, p=p.get("rotate", 1.0), **mask),
        A.ColorJitter(brightness=(0.85, 1.15), contrast=0, saturation=0, hue=0, p=p.get("color_jitter", 1.0)),
        A.PadIfNeeded(
            min_height=None,
            min_width=None,
            pad_height_divisor=32,
            pad_width_divisor=32,
            position="top_left",
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            **mask,
        ),
    ]


def seed_pipeline(img, boxes, probs: dict | None):
    """Workload 1: hflip, rotate 15, brightness [0.85, 1.15], pad to a multiple of 32."""
    p = probs or {}
    h, w = img.shape[:2]
    labels = list(range(len(boxes)))
    cases = {}
    aug = seed_aug(p)
    # The table is built inside the timed call, as a data loader builds it per sample (and as
    # albumentations receives its boxes and labels per call): its validation is part of the cost.
    cases["geoaug"] = lambda i: aug(img, boxes=geoaug.Boxes(boxes, label=labels), seed=i)
    A = _alb()
    if A is not None:
        alb = A.Compose(
            seed_alb_ops(A, p),
            bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
            seed=0,
        )
        cases["albumentations"] = lambda i: alb(image=img, bboxes=boxes, labels=labels)
    tv = _tv()
    if tv is not None:
        torch, tvt, v2 = tv
        ph, pw = -(-h // 32) * 32 - h, -(-w // 32) * 32 - w
        tr = v2.Compose(
            [
                v2.RandomHorizontalFlip(p=p.get("hflip", 1.0)),
                v2.RandomApply([v2.RandomRotation(15, fill=0)], p=p.get("rotate", 1.0)),
                v2.RandomApply([v2.ColorJitter(brightness=(0.85, 1.15))], p=p.get("color_jitter", 1.0)),
                v2.Pad([0, 0, pw, ph], fill=0),
            ]
        )
        tb = tvt.BoundingBoxes(torch.as_tensor(boxes, dtype=torch.float32), format="XYXY", canvas_size=(h, w))
        cases["torchvision"] = lambda i: tr(tvt.Image(torch.from_numpy(img).permute(2, 0, 1)), tb)
    return cases


def seed_floor(img, boxes):
    """The least any library can do for workload 1: one warpAffine, one brightness pass, one pad, with
    the angle and factor drawn per call as the pipelines draw them (the warp's speed depends on the
    angle). ``floor``: plain 3-channel calls; ``floor 4ch``: the warp on the image widened to 4
    channels, as geoaug does for uint8 (see benchmarks/paths.py)."""
    h, w = img.shape[:2]
    ph, pw = -(-h // 32) * 32 - h, -(-w // 32) * 32 - w
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def draw(i):
        rng = np.random.default_rng(i)
        angle, factor = rng.uniform(-15, 15), rng.uniform(0.85, 1.15)
        return cv2.invertAffineTransform(cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)), factor

    def floor(i):
        inv, factor = draw(i)
        out = cv2.warpAffine(img, inv, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT)
        out = cv2.convertScaleAbs(out, alpha=factor)
        return cv2.copyMakeBorder(out, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=0)

    def floor4(i):
        inv, factor = draw(i)
        wide = cv2.warpAffine(
            cv2.cvtColor(img, cv2.COLOR_RGB2RGBA), inv, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT
        )
        out = cv2.convertScaleAbs(cv2.cvtColor(wide, cv2.COLOR_RGBA2RGB), alpha=factor)
        return cv2.copyMakeBorder(out, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=0)

    return {"floor": floor, "floor 4ch": floor4}


def document(img, quads):
    """Workload 2: rotate 5, perspective, smart_resize to max_pixels 1003520 (factor 32), color_jitter."""
    h, w = img.shape[:2]
    nh, nw = qwen_smart_resize(h, w, 32, 65536, 1003520)
    cases = {}
    aug = geoaug.from_config(
        [
            {"name": "rotate", "params": {"max_deg": 5, "fill": 255}},
            {"name": "perspective", "params": {"scale": [0.02, 0.06], "fill": 255}},
            {"name": "smart_resize", "params": {"factor": 32, "max_pixels": 1003520}},
            {"name": "color_jitter", "params": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2}},
        ]
    )
    cases["geoaug"] = lambda i: aug(img, quads=quads, seed=i)
    kps = quads.reshape(-1, 2)
    A = _alb()
    if A is not None:
        alb = A.Compose(
            [
                A.Rotate(limit=5, border_mode=cv2.BORDER_CONSTANT, fill=255, p=1),
                A.Perspective(scale=(0.02, 0.06), border_mode=cv2.BORDER_CONSTANT, fill=255, p=1),
                A.Resize(height=nh, width=nw),
                A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0, p=1),
            ],
            keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
            seed=0,
        )
        cases["albumentations"] = lambda i: alb(image=img, keypoints=kps)
    tv = _tv()
    if tv is not None:
        torch, tvt, v2 = tv
        tr = v2.Compose(
            [
                v2.RandomRotation(5, fill=255),
                v2.RandomPerspective(distortion_scale=0.1, p=1.0, fill=255),
                v2.Resize((nh, nw), antialias=True),
                v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            ]
        )
        tk = tvt.KeyPoints(torch.as_tensor(kps, dtype=torch.float32), canvas_size=(h, w))
        cases["torchvision"] = lambda i: tr(tvt.Image(torch.from_numpy(img).permute(2, 0, 1)), tk)
    return cases, (nw, nh)


def document_floor(img, out_size):
    """One area reduction to the target size, one perspective warp there, one tone pass."""
    nw, nh = out_size
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [nw, 0], [nw, nh], [0, nh]])
    dst = src + np.float32([[20, 15], [-25, 20], [-15, -20], [18, -12]])
    pm = cv2.getPerspectiveTransform(src, dst)

    def floor(i):
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        out = cv2.warpPerspective(small, pm, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
        return cv2.convertScaleAbs(out, alpha=1.07, beta=-5)

    return floor


def objects_case(img, n_boxes: int, max_deg: float = 2.0, scale=(1.01, 1.02), seed: int = 0):
    """Workload 3: n boxes, n/5 quads and n/10 lines (5 points each) through one affine op (a slight
    rotation and zoom about the centre), so that a few % of the objects end up crossing the border."""
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    boxes = random_boxes(n_boxes, w, h, rng)
    quads = random_quads(n_boxes // 5, w, h, rng)
    lines = random_lines(n_boxes // 10, w, h, rng)
    aug = geoaug.from_config([{"name": "affine", "params": {"rotate": max_deg, "scale": list(scale)}}])
    lb, lq, ll = (list(range(n)) for n in (len(boxes), len(quads), len(lines)))
    ab, aq, al = (np.arange(n) for n in (len(boxes), len(quads), len(lines)))
    # Tables are built inside the timed call, as a data loader builds them per sample: validation is part
    # of the cost. Labels as Python lists (as most users pass them) and as arrays: list fields are copied
    # element by element whenever a table drops rows (geoaug/instances.py), arrays by one fancy index.
    gb, gq, gl = geoaug.Boxes(boxes, label=lb), geoaug.Quads(quads, label=lq), geoaug.Lines(lines, label=ll)
    geo = {
        "geoaug": lambda i: aug(
            img,
            boxes=geoaug.Boxes(boxes, label=lb),
            quads=geoaug.Quads(quads, label=lq),
            lines=geoaug.Lines(lines, label=ll),
            seed=i,
        ),
        "geoaug, labels as arrays": lambda i: aug(
            img,
            boxes=geoaug.Boxes(boxes, label=ab),
            quads=geoaug.Quads(quads, label=aq),
            lines=geoaug.Lines(lines, label=al),
            seed=i,
        ),
    }
    A = _alb()
    if A is not None:
        kps = np.concatenate([quads.reshape(-1, 2)] + ([np.concatenate(lines)] if lines else [np.zeros((0, 2))]))
        labels = list(range(len(boxes)))
        alb = A.Compose(
            [A.Affine(rotate=(-max_deg, max_deg), scale=scale, border_mode=cv2.BORDER_CONSTANT, p=1)],
            bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
            keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
            seed=0,
        )
        geo["albumentations"] = lambda i: alb(image=img, bboxes=boxes, labels=labels, keypoints=kps)
    return geo, (gb, gq, gl)
