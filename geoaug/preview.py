"""Contact sheets: N augmented views of a few images with their geometry drawn and, under each tile, the
parameters that view drew (from ``res.replay["steps"]``). What ``geoaug preview`` renders.

Input is an image, or a JSONL of training records (one per line, paths relative to the JSONL's folder):
    {"image": "imgs/0001.jpg", "objects": [{"label": "cat", "bbox": [x1, y1, x2, y2]},
                                           {"label": "EXIT", "quad": [[x, y], [x, y], [x, y], [x, y]]},
                                           {"label": "lane", "line": [[x, y], [x, y], ...]},
                                           {"label": "eye", "point": [x, y]},
                                           {"label": "roof", "polygon": [[x, y], [x, y], [x, y], ...]}]}
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import matrix as M
from .draw import as_rgb8, distinct_colours, draw, font
from .functional import map_geometry
from .geometry import map_boxes, map_lines, map_quads
from .instances import Boxes, Lines, Quads
from .io import to_rgb8
from .kinds import get_kind, kinds
from .records import GEOMETRY_KEYS, KIND_OF, RecordError, check_record, iter_jsonl
from .seeding import sample_seed

if TYPE_CHECKING:
    from .kinds import Kind
    from .result import Result

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Sample:
    name: str
    image: np.ndarray
    boxes: Boxes = field(default_factory=Boxes)
    quads: Quads = field(default_factory=Quads)
    lines: Lines = field(default_factory=Lines)
    others: dict[str, Any] = field(default_factory=dict)  # the other kinds' tables by kind name ("points", "polygons")

    @property
    def labels(self) -> list[Any]:
        tables = (self.boxes, self.quads, self.lines, *self.others.values())
        return [lab for t in tables for lab in t.fields.get("label", [])]


# ---- reading ---------------------------------------------------------------------------------------
def parse_record(rec: object, where: str, base: Path) -> tuple[Path, dict[str, tuple[list[Any], list[str]]]]:
    """One JSONL record -> (image path, {"boxes": (xyxy, labels), "quads": ..., "lines": ..., "points": ...}),
    one entry per kind an object key names (``geoaug.records.KIND_OF``)."""
    img, objs = check_record(where, rec)
    out: dict[str, tuple[list[Any], list[str]]] = {kind: ([], []) for kind in KIND_OF.values()}
    for obj in objs:
        key = next(k for k in GEOMETRY_KEYS if k in obj)
        out[KIND_OF[key]][0].append(obj[key])
        out[KIND_OF[key]][1].append(obj["label"])
    path = Path(img).expanduser()
    return (path if path.is_absolute() else base / path), out


def load_image(path: Path, where: str = "") -> np.ndarray:
    if not path.is_file():
        raise RecordError(f"{where}{': ' if where else ''}field 'image': file not found: {path}")
    with Image.open(path) as im:
        return to_rgb8(im)


def read_samples(path: str | os.PathLike[str]) -> list[Sample]:
    """An image file (no geometry) or a JSONL of records, every record checked before any is used."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [Sample(path.name, load_image(path))]
    if not path.is_file():
        raise RecordError(f"input not found: {path}")
    samples: list[Sample] = []
    for _, where, rec in iter_jsonl(path):
        img_path, geo = parse_record(rec, where, path.parent)
        image = load_image(img_path, where)
        samples.append(
            Sample(
                img_path.name,
                image,
                Boxes(np.reshape(geo["boxes"][0], (-1, 4)), label=geo["boxes"][1]),
                Quads(np.reshape(geo["quads"][0], (-1, 4, 2)), label=geo["quads"][1]),
                Lines(geo["lines"][0], label=geo["lines"][1]),
                {
                    kind: get_kind(kind).table(np.asarray(v) if kind == "points" else v, label=labels)
                    for kind, (v, labels) in geo.items()
                    if v and kind not in ("boxes", "quads", "lines")
                },
            )
        )
    if not samples:
        raise RecordError(f"{path}: no records")
    return samples


# ---- rendering -------------------------------------------------------------------------------------
def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list) and v and isinstance(v[0], list):  # e.g. perspective corner offsets
        flat = [x for row in v for x in row if isinstance(x, (int, float))]
        return f"{len(v)}x{len(v[0])}:{min(flat):.3g}..{max(flat):.3g}" if flat else f"{len(v)} items"
    if isinstance(v, list):
        return "[" + ",".join(_fmt(x) for x in v) + "]" if len(v) <= 4 else f"[{len(v)} values]"
    return str(v)


def caption(res: Result) -> list[str]:
    """One line per step that ran: the op and what it drew (seeds left out: they say nothing to a reader)."""
    lines: list[str] = []
    for s in res.replay["steps"]:
        d = {k: v for k, v in s["draw"].items() if k not in ("seed", "tries")}
        lines.append(s["op"] + (" " + " ".join(f"{k}={_fmt(v)}" for k, v in d.items()) if d else ""))
    return lines or ["(no op ran)"]


def _fit(d: ImageDraw.ImageDraw, word: str, f: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float) -> str:
    while len(word) > 1 and d.textlength(word, font=f) > width:
        word = word[:-2] + "~"
    return word


def _wrap(
    d: ImageDraw.ImageDraw, text: str, f: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float
) -> list[str]:
    out: list[str] = []
    cur = ""
    for word in (_fit(d, w, f, width - 12) for w in text.split(" ")):
        trial = f"{cur} {word}".strip()
        if cur and d.textlength(trial, font=f) > width:
            out.append(cur)
            cur = "  " + word
        else:
            cur = trial
    return out + [cur]


def tile(
    res: Result, sample_name: str, view: int, size: int, colours: Mapping[str, Sequence[int]]
) -> tuple[np.ndarray, list[str]]:
    """The augmented image scaled to fit ``size`` (geometry scaled by the same matrix, then drawn at tile
    resolution so lines stay crisp) and its caption lines."""
    w, h = res.size
    s = min(size / w, size / h)
    tw, th = max(1, round(w * s)), max(1, round(h * s))
    a = M.scale(tw / w, th / h)  # exactly what cv2.resize does to the frame
    img = as_rgb8(res.image)
    img = np.asarray(
        Image.fromarray(img).resize((tw, th), Image.Resampling.BILINEAR if s > 1 else Image.Resampling.BOX)
    )
    vis = draw(
        img,
        boxes=map_boxes(res.boxes, a),
        quads=map_quads(res.quads, a, "keep"),
        lines=map_lines(res.lines, a),
        **{k.name: map_geometry(getattr(res, k.name), a, (tw, th), kind=k.name) for k in _others(res)},
        colours=colours,
        thickness=2,
        font_size=11,
        show_labels="first",
    )
    head = f"#{view} {sample_name} {w}x{h}"
    dropped = len(res.report.dropped)
    if dropped:
        head += f" ({dropped} dropped)"
    return vis, [head] + caption(res)


def _others(res: Result) -> list[Kind]:
    """The kinds beside boxes, quads and lines that ``res`` has rows of (masks included)."""
    return [k for k in kinds() if k.name not in ("boxes", "quads", "lines") and len(res.tables.get(k.name, ()))]


def contact_sheet(
    aug: Callable[..., Result],
    samples: list[Sample],
    n: int = 16,
    seed: int = 0,
    tile_size: int = 300,
    columns: int | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> Image.Image:
    """N views, cycling through ``samples``; view i uses seed ``sample_seed(seed, 0, i)``."""
    colours = distinct_colours(lab for s in samples for lab in s.labels)
    tiles = []
    for i in range(n):
        smp = samples[i % len(samples)]
        res = aug(
            smp.image, boxes=smp.boxes, quads=smp.quads, lines=smp.lines, seed=sample_seed(seed, 0, i), **smp.others
        )
        tiles.append(tile(res, smp.name, i, tile_size, colours))
        if progress:
            progress(i + 1, n)
    cols = columns or min(n, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    f = font(13)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    wrapped = [[w for line in cap for w in _wrap(scratch, line, f, tile_size - 8)] for _, cap in tiles]
    line_h = 16
    cap_h = 6 + line_h * max(len(c) for c in wrapped)
    pad = 8
    cell_w, cell_h = tile_size + pad, tile_size + cap_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + pad), (32, 32, 36))
    d = ImageDraw.Draw(sheet)
    for k, ((img, _), cap) in enumerate(zip(tiles, wrapped)):
        x0, y0 = pad + (k % cols) * cell_w, pad + (k // cols) * cell_h
        th, tw = img.shape[:2]
        sheet.paste(Image.fromarray(img), (x0 + (tile_size - tw) // 2, y0 + (tile_size - th) // 2))
        for j, line in enumerate(cap):
            d.text(
                (x0 + 4, y0 + tile_size + 4 + j * line_h),
                line,
                font=f,
                fill=(255, 255, 255) if j == 0 else (200, 200, 205),
            )
    return sheet
