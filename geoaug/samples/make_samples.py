"""Regenerate the bundled sample images and samples.jsonl (run: python -m geoaug.samples.make_samples).

Two small synthetic scenes, drawn from code so they carry no licence and their labels are exact:
  doc.jpg    a photographed-looking page: text lines as quads (the page is tilted), a figure box
  street.jpg a road scene: cars, a person and a sign as boxes, an EXIT sign as a quad, lanes as polylines
The tilt of the page is applied with geoaug itself (a replayed rotate), so the quads are as right as geoaug.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

import geoaug
from geoaug.draw import font

HERE = Path(__file__).resolve().parent
WORDS = (
    "the quick brown fox jumps over a lazy dog while geometry moves with every pixel of the page "
    "boxes quads and lines stay attached through flips rotations crops and pads"
).split()


def make_doc(rng):
    w, h = 480, 600
    page = Image.new("RGB", (w, h), (246, 244, 236))
    d = ImageDraw.Draw(page)
    objects = []

    def text_line(x, y, text, size, label):
        f = font(size)
        d.text((x, y), text, fill=(25, 25, 35), font=f)
        l, t, r, b = d.textbbox((x, y), text, font=f)
        objects.append({"label": label, "quad": [[l - 2, t - 2], [r + 2, t - 2], [r + 2, b + 2], [l - 2, b + 2]]})

    text_line(40, 36, "Quarterly Field Report", 30, "title")
    y = 100
    for _ in range(6):
        n = int(rng.integers(5, 9))
        text_line(40, y, " ".join(rng.choice(WORDS, n)), 16, "text")
        y += 28
    # a figure: a small bar chart in a frame
    fx, fy, fw, fh = 40, 290, 250, 150
    d.rectangle([fx, fy, fx + fw, fy + fh], outline=(60, 60, 60), width=2)
    for k in range(6):
        bh = int(rng.integers(30, 130))
        d.rectangle([fx + 20 + k * 38, fy + fh - 8 - bh, fx + 44 + k * 38, fy + fh - 8], fill=(70, 110, 170))
    objects.append({"label": "figure", "bbox": [fx, fy, fx + fw + 1, fy + fh + 1]})
    y = 470
    for _ in range(3):
        text_line(40, y, " ".join(rng.choice(WORDS, int(rng.integers(5, 9)))), 16, "text")
        y += 28

    # Tilt the page on a desk with geoaug: a replayed rotate with a fixed angle, canvas expanded.
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 10, "expand": True, "fill": [92, 84, 76]}}])
    record = {
        "version": 1,
        "input_size": [w, h],
        "steps": [
            {"op": "rotate", "params": {"max_deg": 10, "expand": True, "fill": [92, 84, 76]}, "draw": {"angle": 4.0}}
        ],
    }
    quads = [o for o in objects if "quad" in o]
    boxes = [o for o in objects if "bbox" in o]
    res = aug.replay(record, np.asarray(page), quads=[o["quad"] for o in quads], boxes=[o["bbox"] for o in boxes])
    out = []
    for o, q in zip(quads, res.quads.points):
        out.append({"label": o["label"], "quad": np.round(q, 2).tolist()})
    for o, b in zip(boxes, res.boxes.xyxy):
        out.append({"label": o["label"], "bbox": np.round(b, 2).tolist()})
    return res.image, out


def make_street(rng):
    w, h = 640, 400
    img = np.zeros((h, w, 3), np.uint8)
    horizon = 170
    for y in range(horizon):  # sky gradient
        img[y] = (150 + y // 3, 190 + y // 6, 235)
    img[horizon:] = (96, 140, 80)  # grass
    vx, vy = 320, horizon - 10  # vanishing point
    road = np.array([[vx - 20, horizon], [vx + 20, horizon], [w + 120, h], [-120, h]], np.int32)
    cv2.fillPoly(img, [road], (88, 88, 92), cv2.LINE_AA)
    objects = []
    for lx in (-120 + 190, w + 120 - 190):  # two lane markings, bottom -> horizon
        ys = np.linspace(h - 1, horizon + 6, 5)
        t = (ys - vy) / (h - vy)
        xs = vx + (lx - vx) * t
        pts = np.stack([xs, ys], 1)
        for a, b in zip(pts[:-1], pts[1:]):
            cv2.line(
                img,
                tuple(np.round(a).astype(int)),
                tuple(np.round(b).astype(int)),
                (245, 245, 240),
                max(1, int(6 * (a[1] - vy) / (h - vy))),
                cv2.LINE_AA,
            )
        objects.append({"label": "lane", "line": np.round(pts + [0.5, 0.5], 2).tolist()})

    def car(x, y, cw, ch, colour):
        cv2.rectangle(img, (x, y + ch // 3), (x + cw - 1, y + ch - 1 - ch // 6), colour, -1)
        cv2.rectangle(img, (x + cw // 5, y), (x + cw - 1 - cw // 5, y + ch // 3), colour, -1)
        cv2.rectangle(img, (x + cw // 4, y + ch // 12), (x + cw - 1 - cw // 4, y + ch // 3 - 2), (180, 210, 230), -1)
        for wx in (x + cw // 5, x + cw - cw // 5):
            cv2.circle(img, (wx, y + ch - ch // 6), ch // 6, (20, 20, 20), -1, cv2.LINE_AA)
        objects.append({"label": "car", "bbox": [x, y, x + cw, y + ch]})

    car(150, 250, 150, 90, (200, 40, 40))
    car(360, 205, 90, 55, (40, 80, 200))
    car(290, 182, 44, 28, (230, 200, 40))
    # a person on the verge
    px, py = 560, 235
    cv2.circle(img, (px, py + 10), 9, (230, 190, 160), -1, cv2.LINE_AA)
    cv2.rectangle(img, (px - 10, py + 20), (px + 10, py + 60), (60, 60, 140), -1)
    cv2.rectangle(img, (px - 8, py + 60), (px + 8, py + 95), (40, 40, 40), -1)
    objects.append({"label": "person", "bbox": [px - 11, py, px + 11, py + 96]})
    # a speed sign on a pole
    cv2.line(img, (90, 200), (90, 300), (120, 120, 120), 4)
    cv2.circle(img, (90, 185), 22, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (90, 185), 22, (220, 30, 30), 5, cv2.LINE_AA)
    cv2.putText(img, "50", (76, 193), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    objects.append({"label": "sign", "bbox": [67, 162, 114, 209]})
    # a green EXIT sign seen at an angle: a quad
    quad = np.array([[460, 60], [600, 40], [604, 104], [462, 112]], np.float64)
    cv2.line(img, (530, 108), (530, 175), (120, 120, 120), 5)
    cv2.fillPoly(img, [np.round(quad).astype(np.int32)], (20, 130, 60), cv2.LINE_AA)
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [140, 0], [140, 60], [0, 60]]), np.float32(quad))
    label = np.zeros((60, 140, 3), np.uint8)
    cv2.putText(label, "EXIT", (18, 44), cv2.FONT_HERSHEY_DUPLEX, 1.3, (255, 255, 255), 3, cv2.LINE_AA)
    warped = cv2.warpPerspective(label, m, (w, h))
    img = np.maximum(img, warped)
    objects.append({"label": "EXIT", "quad": (quad + 0.5).tolist()})
    noise = rng.normal(0, 3, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    return img, objects


def main():
    rng = np.random.default_rng(7)
    lines = []
    for name, make in (("doc.jpg", make_doc), ("street.jpg", make_street)):
        img, objects = make(rng)
        Image.fromarray(img).save(HERE / name, quality=85, optimize=True)
        lines.append(json.dumps({"image": name, "objects": objects}))
    (HERE / "samples.jsonl").write_text("\n".join(lines) + "\n")
    total = sum((HERE / n).stat().st_size for n in ("doc.jpg", "street.jpg", "samples.jsonl"))
    print(f"wrote {HERE}: doc.jpg, street.jpg, samples.jsonl ({total / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
