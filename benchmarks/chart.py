"""A bar chart of a benchmark result, drawn with OpenCV (matplotlib is not a dependency)."""

from __future__ import annotations

import cv2
import numpy as np

COLOURS = {
    "geoaug": (60, 140, 40),
    "albumentations": (40, 90, 200),
    "torchvision": (160, 80, 150),
    "floor": (130, 130, 130),
    "floor 4ch": (100, 100, 100),
    "image alone": (190, 190, 190),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _panels(result):
    for w in result["workloads"]:
        yield w["name"], [(k, v) for k, v in w["ms"].items()]
    for s in result["scaling"]:
        if s["boxes"] == max(r["boxes"] for r in result["scaling"]):
            name = f"W3 640x480 affine, {s['boxes']} boxes + {s['quads']} quads + {s['lines']} lines"
            yield name, [(k, v) for k, v in s["ms"].items()]


def draw_chart(result: dict, path: str, width: int = 1100) -> None:
    panels = list(_panels(result))
    bar, gap, head, left = 26, 6, 34, 260
    height = 50 + sum(head + len(b) * (bar + gap) + 14 for _, b in panels)
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(
        img,
        f"ms per call, 1 thread, lower is better ({result['cpu_count']} cores, OpenCV {result['versions']['opencv']})",
        (12, 30),
        FONT,
        0.6,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    y = 50
    for name, bars in panels:
        cv2.putText(img, name, (12, y + 22), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        y += head
        top = max(v for _, v in bars)
        for label, ms in bars:
            colour = _colour(label)
            length = int((width - left - 110) * ms / top)
            cv2.rectangle(img, (left, y), (left + max(length, 1), y + bar), colour[::-1], -1)
            cv2.putText(img, label, (12, y + bar - 8), FONT, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
            cv2.putText(img, f"{ms:.2f} ms", (left + length + 8, y + bar - 8), FONT, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
            y += bar + gap
        y += 14
    cv2.imwrite(path, img)


def _colour(label: str) -> tuple:
    if label in COLOURS:
        return COLOURS[label]
    if "alone" in label:
        return COLOURS["image alone"]
    if label.startswith("geoaug"):
        return (130, 190, 110)  # geoaug variants: a lighter green
    return COLOURS["floor"] if label.startswith("floor") else (100, 100, 100)
