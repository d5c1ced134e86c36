"""YOLO label text <-> geoaug samples.

A line ``class cx cy w h`` (normalised by image width/height) is a box; ``class x1 y1 ... x4 y4``
(YOLO-OBB, normalised) is a quad, points kept in file order; a longer YOLO-seg polygon follows the
``polygons`` policy and is counted. The class travels as the ``class_id`` field (and ``label`` when
``names`` is given).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..instances import Boxes, Quads
from .box_formats import enclosing_xyxy, from_xyxy, to_xyxy
from .polygons import check_policy, place_polygon
from .sample import FormatError, Sample, require_size


def read_yolo(
    path: str | os.PathLike[str],
    size: tuple[int, int],
    *,
    names: Any = None,
    image: Any = None,
    polygons: str = "box",
) -> Sample:
    """Read one YOLO label file for an image of ``size = (width, height)``.

    Args:
        path: the label file; errors name it.
        size: the image's (width, height) in pixels.
        names: optional class names (a list or {id: name}) to fill the ``label`` field.
        image: what to store as ``Sample.image``.
        polygons: policy for polygons with more than 4 points (see ``POLYGON_POLICIES``).

    Returns:
        A Sample, as ``parse_yolo``.

    Raises:
        FormatError: as ``parse_yolo``; a file that is not UTF-8 text.
        GeometryError: as ``parse_yolo``.
        OSError: the file cannot be opened.
    """
    check_policy(polygons)
    with open(path, encoding="utf-8") as f:
        try:
            text = f.read()
        except UnicodeDecodeError as e:
            raise FormatError(f"{os.fspath(path)}: not UTF-8 text ({e})") from None
    return parse_yolo(text, size, names=names, image=image, polygons=polygons, where=os.fspath(path))


def parse_yolo(
    text: str,
    size: tuple[int, int],
    *,
    names: Any = None,
    image: Any = None,
    polygons: str = "box",
    where: str = "yolo",
) -> Sample:
    """Parse the text of one YOLO label file (``class cx cy w h`` boxes, or ``class x1 y1 ... x4 y4``
    YOLO-OBB quads, normalised to [0, 1]) for an image of ``size = (width, height)``.

    Args:
        text: the file's contents. size: the image's (width, height) in pixels. names: optional class names
            (a list or {id: name}) to fill the ``label`` field. image: what to store as ``Sample.image``.
        polygons: policy for polygons with more than 4 points (see ``POLYGON_POLICIES``). where: the name used
            in error messages.

    Returns:
        A Sample with boxes (``class_id`` field, and ``label`` when names are given) and quads.

    Raises:
        FormatError: an unknown ``polygons`` policy; a malformed line, naming it and the field (a class that
            is not a non-negative integer, a value that is not a finite number, a count of numbers that is
            neither 4, 8 nor an even count >= 6, a negative box size); a class id without an entry in
            ``names``; a polygon of more than 4 points under ``polygons="error"``.
        GeometryError: a coordinate geoaug refuses (beyond +-2^53 once scaled to pixels), naming the row.
    """
    check_policy(polygons)
    w, h = size
    scale = np.array([w, h], dtype=np.float64)
    rows: dict[str, list] = {"boxes": [], "quads": []}
    counts: dict = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        toks = raw.split()
        if not toks:
            continue
        lw = f"{where} line {n}"
        cls = _class_id(toks[0], lw)
        vals = []
        for k, t in enumerate(toks[1:], start=1):
            try:
                v = float(t)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise FormatError(f"{lw} field {k + 1}: expected a finite number, got {t!r}")
            vals.append(v)
        row = {"class_id": cls, "label": _name(names, cls, lw)}
        if len(vals) == 4:
            if vals[2] < 0 or vals[3] < 0:
                raise FormatError(f"{lw}: box width and height must be >= 0, got {vals[2]:g}, {vals[3]:g}")
            rows["boxes"].append((to_xyxy([vals], "yolo", size, lw)[0], row))
        elif len(vals) == 8:
            rows["quads"].append((np.asarray(vals).reshape(4, 2) * scale, row))
        elif len(vals) >= 6 and len(vals) % 2 == 0:
            pts = np.asarray(vals).reshape(-1, 2) * scale
            placed = place_polygon(pts, enclosing_xyxy(pts[None])[0], polygons, counts, lw)
            if placed is not None:
                rows["boxes" if placed[0] == "box" else "quads"].append((placed[1], row))
        else:
            raise FormatError(
                f"{lw}: expected class and 4 (cx cy w h), 8 (OBB x1 y1 ... x4 y4) or an even "
                f"count >= 6 (polygon) of numbers, got {len(vals)}"
            )
    tables: dict[str, Any] = {}
    for key, cls_ in (("boxes", Boxes), ("quads", Quads)):
        r = rows[key]
        fields: dict[str, Any] = {"class_id": [x["class_id"] for _, x in r]}
        if names is not None:
            fields["label"] = [x["label"] for _, x in r]
        tables[key] = cls_(np.array([g for g, _ in r]) if r else None, **fields)
    return Sample(image, int(w), int(h), tables["boxes"], tables["quads"], counts=counts)


def _class_id(tok: str, where: str) -> int:
    try:
        cls = int(tok)
    except ValueError:
        raise FormatError(f"{where} field 1: the class must be a non-negative integer, got {tok!r}") from None
    if cls < 0:
        raise FormatError(f"{where} field 1: the class must be a non-negative integer, got {tok!r}")
    return cls


def _name(names: Any, cls: int, where: str) -> Any:
    if names is None:
        return None
    try:
        return names[cls]
    except (IndexError, KeyError):
        raise FormatError(f"{where} field 1: class {cls} has no entry in names") from None


def write_yolo(
    sample: Sample, path: str | os.PathLike[str] | None = None, *, names: Any = None, precision: int | None = 6
) -> str:
    """A sample as YOLO text: boxes first, then quads as OBB lines. Classes come from the ``class_id``
    field, else from ``label`` through ``names`` (a list or a dict id -> name). ``precision=None`` writes
    the shortest exact repr of each number instead of a fixed number of decimals.

    Args:
        sample: the Sample to write (boxes and quads; its size must be known).
        path: where to write the text; None only returns it.
        names: class names (a list, or a dict id -> name) to turn ``label`` into class ids.
        precision: decimals per number, or None for the shortest exact repr.

    Returns:
        The label text, one line per object.

    Raises:
        FormatError: a sample without a known size or holding lines; a ``class_id`` that is not a
            non-negative integer; a table without ``class_id`` and without ``label`` plus ``names``; a
            label that is not in ``names``.
        OSError: ``path`` cannot be written.
    """
    size = require_size(sample, "write_yolo")
    if len(sample.lines):
        raise FormatError(f"write_yolo: the sample has {len(sample.lines)} lines; YOLO labels have no polylines")
    fmt = repr if precision is None else (lambda v: f"{v:.{precision}f}")
    out = []
    w, h = size
    cols: list[tuple[Boxes | Quads, np.ndarray]] = [
        (sample.boxes, from_xyxy(sample.boxes.xyxy, "yolo", size)),
        (sample.quads, (sample.quads.points / np.array([w, h], dtype=np.float64)).reshape(-1, 8)),
    ]
    for table, vals in cols:
        classes = _classes(table, names)
        for cls, v in zip(classes, vals):
            out.append(" ".join([str(cls)] + [fmt(float(x)) for x in v]))
    text = "\n".join(out) + ("\n" if out else "")
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def _classes(table: Boxes | Quads, names: Any) -> list[int]:
    if "class_id" in table.fields:
        out = []
        for r, c in enumerate(table.fields["class_id"]):
            whole = isinstance(c, (int, float, np.integer, np.floating)) and math.isfinite(c) and float(c).is_integer()
            if not whole or isinstance(c, bool) or c < 0:
                raise FormatError(f"write_yolo: {table.kind}[{r}].class_id must be a non-negative integer, got {c!r}")
            out.append(int(c))
        return out
    if len(table) == 0:
        return []
    if "label" not in table.fields or names is None:
        raise FormatError(f"write_yolo: {table.kind} need a 'class_id' field, or a 'label' field and names=")
    index = {v: k for k, v in (names.items() if isinstance(names, dict) else enumerate(names))}
    missing = [lab for lab in table.fields["label"] if lab not in index]
    if missing:
        raise FormatError(f"write_yolo: {table.kind} label {missing[0]!r} is not in names")
    return [index[lab] for lab in table.fields["label"]]
