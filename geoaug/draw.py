"""Draw geometry on an image to check it by eye: boxes, quads (first point marked), polylines, points,
one colour per label (stable across calls and processes), label text on a filled tag.

    vis = geoaug.draw(res.image, boxes=res.boxes, quads=res.quads, lines=res.lines)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import GeometryError
from .image import dtype_max, to_array
from .kinds import check_geometry_keys, kinds

# Distinct, colour-blind-friendlier hues (Okabe-Ito + Tableau), RGB. Indexed by a hash of the label.
PALETTE = [
    (255, 64, 64),
    (0, 158, 115),
    (86, 180, 233),
    (230, 159, 0),
    (204, 121, 167),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (148, 103, 189),
    (23, 190, 207),
    (188, 189, 34),
    (44, 160, 44),
    (227, 119, 194),
    (255, 127, 14),
    (31, 119, 180),
    (152, 223, 138),
]


def label_colour(label: Any, colours: Mapping[str, Sequence[int]] | None = None) -> tuple:
    """RGB colour for a label: from ``colours`` if it names the label, else a hash of the label (not a
    counter), so it is the same in every call and process."""
    if colours and str(label) in colours:
        return tuple(colours[str(label)])
    if label is None:
        return PALETTE[0]
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def distinct_colours(labels: Iterable[Any]) -> dict[str, tuple[int, int, int]]:
    """label -> colour, all different while there are no more labels than palette entries; the same set
    of labels always gets the same colours (sorted order), e.g. every label of a dataset."""
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(sorted(set(map(str, labels))))}


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font (no system fonts needed); the bitmap one if FreeType is missing."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def as_rgb8(image: Any) -> np.ndarray:
    """Any image geoaug accepts -> a fresh HxWx3 uint8 RGB array (for drawing only, so scaling is fine)."""
    arr, _ = to_array(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float32) * (255.0 / dtype_max(arr.dtype)), 0, 255).round().astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.array(arr[..., :3], dtype=np.uint8, order="C")  # a copy: we draw into it


def _labels_for(table: Any, given: Sequence[Any] | None, kind: str) -> list:
    if given is not None:
        if isinstance(given, (str, bytes)) or len(given) != len(table):
            raise GeometryError(
                f"draw: labels for {kind} must be a list with one label per object ({len(table)} {kind}), got {given!r}"
            )
        return list(given)
    return list(table.fields.get("label", [None] * len(table)))


def _split_labels(labels: Any, tables: dict[str, Any]) -> dict[str, Any]:
    """``labels`` is a list (when one kind of geometry is given) or {"boxes": [...], ...}."""
    if labels is None or isinstance(labels, dict):
        return labels or {}
    counts = {k: len(t[0]) if isinstance(t, tuple) else len(t) for k, t in tables.items()}
    kinds = [k for k, n in counts.items() if n]
    if len(kinds) != 1:
        raise GeometryError(
            f"draw: a plain list of labels is ambiguous with {kinds or 'no'} geometry; "
            "pass labels={'boxes': [...], 'quads': [...], 'lines': [...]} instead"
        )
    return {kinds[0]: labels}


def draw(
    image: Any,
    boxes: Any = None,
    quads: Any = None,
    lines: Any = None,
    points: Any = None,
    labels: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    *,
    thickness: int | None = None,
    font_size: int | None = None,
    show_labels: bool | str = True,
    colours: Mapping[str, Sequence[int]] | None = None,
    **geometry: Any,
) -> Any:
    """Return ``image`` with geometry drawn on it, as the same kind (numpy array or PIL image), RGB uint8.

    boxes/quads/lines (and every other kind by its name: ``polygons=``, ``masks=``): geoaug tables (labels read
    from ``.fields["label"]``) or arrays in pixel coordinates of this image; points: an (N, 2) array or anything
    with ``.xy`` and ``.fields``. ``labels`` overrides table labels: a list when one kind is given, else
    ``{"boxes": [...], "quads": [...], ...}``. Quads mark their first point with a dot; lines mark their start
    with a dot. ``colours``: optional {label: (r, g, b)} (see ``distinct_colours``); other labels get a colour
    hashed from their text. ``show_labels``: True (a tag per object), False, or "first" (one tag per label).

    Raises:
        ImageTypeError: ``image`` is neither a numpy array nor a PIL image, or has an unsupported dtype or PIL
            mode.
        ImageError: ``image`` is empty, not HxW or HxWxC, or has a channel count other than 1, 3 or 4.
        GeometryError: ``boxes``, ``quads``, ``lines`` or ``points`` are malformed (wrong shape, not numbers,
            NaN/inf); ``labels`` for a kind are not one per object; or ``labels`` is a plain list while more
            or fewer than one kind of geometry is given.
    """
    is_pil = hasattr(image, "getbands")
    canvas = as_rgb8(image)
    h, w = canvas.shape[:2]
    t = thickness or max(1, int(round(min(w, h) / 250)))
    check_geometry_keys(geometry, "draw")
    given_geometry = {"boxes": boxes, "quads": quads, "lines": lines, "points": points, **geometry}
    tables: dict[str, Any] = {k.name: k.intake(given_geometry.get(k.name), (w, h)) for k in kinds()}
    given = _split_labels(labels, tables)
    tags = []  # (x, y, text, colour) drawn last, on top of all geometry

    def colour(lab: Any) -> tuple:
        return label_colour(lab, colours)

    for k in sorted(kinds(), key=lambda k: k.layer):
        table = tables[k.name]
        tags += k.draw(canvas, table, _labels_for(table, given.get(k.name), k.name), colour, t)

    if show_labels == "first":  # one tag per label: dense pages stay readable
        seen = set()
        tags = [tg for tg in tags if not (tg[2] in seen or seen.add(tg[2]))]  # type: ignore[func-returns-value]
    if show_labels and any(tag[2] is not None for tag in tags):
        canvas = _draw_tags(canvas, tags, font_size or max(10, min(w, h) // 40))
    return Image.fromarray(canvas) if is_pil else canvas


def _ink(colour: Sequence[int]) -> tuple:
    # black text on light tags, white on dark ones
    return (0, 0, 0) if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 140 else (255, 255, 255)


def _draw_tags(canvas: np.ndarray, tags: list, size: int) -> np.ndarray:
    img = Image.fromarray(canvas)
    d = ImageDraw.Draw(img)
    f = font(size)
    w, h = img.size
    for x, y, lab, colour in tags:
        if lab is None:
            continue
        text = str(lab)
        l, t, r, b = d.textbbox((0, 0), text, font=f)
        tw, th = r - l + 4, b - t + 2
        # above the anchor when there is room, else just inside; never off the image
        x0 = int(min(max(x, 0), max(w - tw, 0)))
        y0 = int(y - th) if y - th >= 0 else int(min(max(y, 0), max(h - th, 0)))
        d.rectangle([x0, y0, x0 + tw, y0 + th], fill=colour)
        d.text((x0 + 2 - l, y0 + 1 - t), text, fill=_ink(colour), font=f)
    out: np.ndarray = np.asarray(img).copy()
    return out
