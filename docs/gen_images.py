"""Render the documentation figures into docs/img/: one picture per registered op (its effect on a bundled
sample, geometry drawn where geoaug puts it) and the pixel-frame convention figure.

    python docs/gen_images.py

Fixed seeds: running it twice gives the same bytes. Each picture is at most 320 px wide.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import geoaug
from geoaug.draw import distinct_colours, font
from geoaug.preview import SAMPLES_DIR, read_samples, tile

OUT = Path(__file__).resolve().parent / "img"
WIDTH = 320

# op name -> (sample, params, seed). Params are chosen so the effect is visible at thumbnail size.
OPS = {
    "hflip": ("street", {}, 0),
    "vflip": ("street", {}, 0),
    "rot90": ("street", {"k": 1}, 0),
    "rotate": ("doc", {"max_deg": 20, "fill": [200, 200, 200]}, 3),
    "affine": (
        "street",
        {"scale": [0.8, 0.8], "translate": [0.05, 0.05], "shear": 15, "rotate": 10, "fill": [200, 200, 200]},
        1,
    ),
    "perspective": ("doc", {"scale": [0.05, 0.15], "fill": [200, 200, 200]}, 2),
    "resize": ("street", {"longest": 320}, 0),
    "smart_resize": ("street", {"factor": 32, "max_pixels": 65536}, 0),
    "crop": ("street", {"x": 200, "y": 150, "width": 400, "height": 250, "fill": [200, 200, 200]}, 0),
    "center_crop": ("street", {"width": 400, "height": 300}, 0),
    "random_crop": ("street", {"scale": [0.3, 0.5]}, 4),
    "pad": ("street", {"top": 40, "bottom": 40, "left": 80, "right": 0, "fill": [200, 200, 200]}, 0),
    "pad_to_multiple": ("doc", {"multiple": 128, "fill": [200, 200, 200]}, 0),
    "color_jitter": ("street", {"brightness": [1.3, 1.4], "saturation": [1.6, 1.8], "hue": [0.1, 0.12]}, 0),
    "gamma": ("street", {"gamma": [2.0, 2.2]}, 0),
    "grayscale": ("street", {}, 0),
    "gaussian_blur": ("doc", {"sigma": [2.0, 2.5]}, 0),
    "gaussian_noise": ("street", {"std": [0.08, 0.1]}, 0),
    "jpeg": ("doc", {"quality": [5, 8]}, 0),
    "one_of": ("street", {"ops": [{"name": "hflip"}, {"name": "vflip"}]}, 0),
    "some_of": (
        "street",
        {
            "ops": [
                {"name": "hflip"},
                {"name": "gamma", "params": {"gamma": [2, 2]}},
                {"name": "rotate", "params": {"max_deg": 15}},
            ],
            "n": 2,
        },
        0,
    ),
}


def samples() -> dict:
    return {s.name.split(".")[0]: s for s in read_samples(SAMPLES_DIR / "samples.jsonl")}


def save(img: np.ndarray | Image.Image, name: str) -> None:
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    im.save(OUT / name, optimize=True)


def op_image(smp, name: str, params: dict, seed: int, colours: dict) -> np.ndarray:
    aug = geoaug.Pipeline([geoaug.make_op(name, params)])
    res = aug(smp.image, boxes=smp.boxes, quads=smp.quads, lines=smp.lines, seed=seed)
    img, _ = tile(res, smp.name, 0, WIDTH, colours)
    return img


def kinds_figure(street) -> Image.Image:
    """Every kind on the street sample, before and after one fused draw (mirror, rotation, zoomed crop):
    boxes and lane lines from the sample, a person's keypoints whose left/right joints swap under the
    mirror, a concave polygon the crop cuts in two, and an instance mask warped with the image."""
    h, w = street.image.shape[:2]
    person = street.boxes.xyxy[3]
    px, py = (person[0] + person[2]) / 2, person[1]
    ph = person[3] - person[1]
    joints = ("head", "l_shoulder", "r_shoulder", "l_hand", "r_hand")
    xy = [
        [px, py + 0.1 * ph],
        [px + 8, py + 0.3 * ph],
        [px - 8, py + 0.3 * ph],
        [px + 14, py + 0.6 * ph],
        [px - 14, py + 0.6 * ph],
    ]
    points = geoaug.Points(
        np.array([xy]), names=joints, flip_pairs=[("l_shoulder", "r_shoulder"), ("l_hand", "r_hand")], label=["person"]
    )
    # a U-shaped road marking: the crop below cuts off its base, leaving two parts (two rows, one .index)
    u = np.array([[20, 250], [70, 250], [70, 390], [150, 390], [150, 250], [200, 250], [200, 399], [20, 399]], float)
    polygons = geoaug.Polygons([u], label=["marking"])
    yy, xx = np.mgrid[0:h, 0:w]
    blob = (((xx - 520) / 70.0) ** 2 + ((yy - 120) / 45.0) ** 2 <= 1).astype(np.uint8)
    masks = geoaug.Masks(blob[None], label=["tree"])
    geometry = {"boxes": street.boxes, "lines": street.lines, "points": points, "polygons": polygons, "masks": masks}
    aug = geoaug.Pipeline(
        [
            geoaug.make_op("hflip"),
            geoaug.make_op("rotate", {"max_deg": 12, "fill": [200, 200, 200]}),
            geoaug.make_op("crop", {"x": 40, "y": 50, "width": 560, "height": 300, "fill": [200, 200, 200]}),
        ]
    )
    before = geoaug.Pipeline([])(street.image, seed=0, **geometry)
    after = aug(street.image, seed=3, **geometry)
    pics = []
    for res, title in ((before, "input"), (after, "hflip + rotate + crop, one warp")):
        img = geoaug.draw(res.image, show_labels="first", **{k: res.tables[k] for k in geometry})
        pics.append(_titled(Image.fromarray(img), title))
    gap = 12
    out = Image.new("RGB", (sum(p.width for p in pics) + gap, max(p.height for p in pics)), "white")
    out.paste(pics[0], (0, 0))
    out.paste(pics[1], (pics[0].width + gap, 0))
    scale = 3 * WIDTH / out.width
    return out.resize((3 * WIDTH, int(round(out.height * scale))), Image.LANCZOS)


def _titled(im: Image.Image, title: str) -> Image.Image:
    out = Image.new("RGB", (im.width, im.height + 28), "white")
    out.paste(im, (0, 28))
    ImageDraw.Draw(out).text((4, 4), title, fill=(0, 0, 0), font=font(20))
    return out


def convention_figure() -> Image.Image:
    """A 4x3 image in the continuous frame: pixel squares, their centres (i + .5, j + .5), and the box
    x1=1, y1=0, x2=3, y2=2 lying on pixel edges."""
    s, m = 64, 36  # pixels per image pixel, margin
    w, h = 4, 3
    im = Image.new("RGB", (m * 2 + w * s + 8, m * 2 + h * s), "white")
    d = ImageDraw.Draw(im)
    f = font(12)
    for j in range(h):
        for i in range(w):
            x0, y0 = m + i * s, m + j * s
            shade = (225, 230, 240) if (i + j) % 2 else (240, 243, 250)
            d.rectangle([x0, y0, x0 + s, y0 + s], fill=shade, outline=(150, 150, 160))
            cx, cy = x0 + s / 2, y0 + s / 2
            d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(40, 40, 40))
            d.text((cx - 22, cy + 6), f"({i + 0.5:g},{j + 0.5:g})", fill=(60, 60, 60), font=f)
    for i in range(w + 1):
        d.text((m + i * s - 3, m - 18), str(i), fill=(0, 0, 0), font=f)
    for j in range(h + 1):
        d.text((m - 16, m + j * s - 7), str(j), fill=(0, 0, 0), font=f)
    d.text((m + w * s - 4, m - 32), "x", fill=(0, 0, 0), font=f)
    d.text((m - 30, m + h * s - 7), "y", fill=(0, 0, 0), font=f)
    x1, y1, x2, y2 = 1, 0, 3, 2
    d.rectangle([m + x1 * s, m + y1 * s, m + x2 * s, m + y2 * s], outline=(220, 30, 30), width=3)
    d.text((m + x1 * s + 4, m + y2 * s + 4), "box [1, 0, 3, 2]", fill=(220, 30, 30), font=f)
    return im


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    missing = sorted(set(geoaug.available_ops()) - set(OPS))
    if missing:
        print(f"no picture configured for ops: {', '.join(missing)}", file=sys.stderr)
        return 1
    smp = samples()
    colours = distinct_colours(lab for s in smp.values() for lab in s.labels)
    for key, s in smp.items():
        res = geoaug.Pipeline([])(s.image, boxes=s.boxes, quads=s.quads, lines=s.lines, seed=0)
        save(tile(res, s.name, 0, WIDTH, colours)[0], f"sample_{key}.png")
    for name, (key, params, seed) in OPS.items():
        save(op_image(smp[key], name, params, seed, colours), f"op_{name}.png")
    save(convention_figure(), "pixel_frame.png")
    save(kinds_figure(smp["street"]), "kinds.png")
    total = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(f"wrote {len(OPS) + len(smp) + 2} images to {OUT} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
