"""The one clipping routine: cut every kind of object to a canvas [0, W] x [0, H].

Boxes are clipped; quads are intersected with the canvas and stay quads while that is exact (else the
``quad_clip`` policy applies); lines are intersected and may split into several pieces. Visibility is
multiplied by the kept fraction (area for boxes and quads, length for lines). Objects with nothing left
are dropped and reported. Only objects that actually cross an edge pay for exact geometry.
"""
from __future__ import annotations

import numpy as np
import shapely

from .geometry import signed_area
from .instances import Boxes, Lines, Quads
from .report import Report

# Points this close outside the canvas are rounding noise (float maps, -1e-6 from an annotation tool):
# snapped to the edge silently rather than counted as clipped.
HAIR = 1e-3

QUAD_CLIP_POLICIES = ("clamp", "drop")


def clip_boxes(boxes: Boxes, w: float, h: float, report: Report, *, counter: str = "clipped") -> Boxes:
    if len(boxes) == 0:
        return boxes
    b = boxes.xyxy
    c = np.empty_like(b)
    np.clip(b[:, 0::2], 0.0, w, out=c[:, 0::2])
    np.clip(b[:, 1::2], 0.0, h, out=c[:, 1::2])
    moved = np.abs(c - b).max(axis=1) > HAIR
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    carea = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
    keep_frac = np.where(area > 0, carea / np.where(area > 0, area, 1.0), 1.0)
    # A box with no area left (or a degenerate one that ended up off-canvas) is gone.
    outside = (b[:, 0] > w) | (b[:, 2] < 0) | (b[:, 1] > h) | (b[:, 3] < 0) | ((area > 0) & (carea <= 0))
    getattr(report, counter)["boxes"] += int((moved & ~outside).sum())
    keep = np.nonzero(~outside)[0]
    report.drop("boxes", boxes.index[outside], "outside")
    out = Boxes(c, index=boxes.index, visibility=boxes.visibility * keep_frac, _validate=False, **boxes.fields)
    return out if len(keep) == len(b) else out.take(keep)


def _inside(pts: np.ndarray, w: float, h: float) -> np.ndarray:
    """Per row: are all points within the canvas up to HAIR."""
    x, y = pts[..., 0], pts[..., 1]
    ok = (x >= -HAIR) & (x <= w + HAIR) & (y >= -HAIR) & (y <= h + HAIR)
    return ok.reshape(ok.shape[0], -1).all(axis=1) if ok.ndim > 1 else ok


def clip_quads(quads: Quads, w: float, h: float, report: Report, *, policy: str = "clamp",
               counter: str = "clipped") -> Quads:
    if len(quads) == 0:
        return quads
    pts = quads.points
    inside = _inside(pts, w, h)
    if inside.all():
        _snap(pts, w, h)
        return quads
    pts = pts.copy()
    vis = quads.visibility.copy()
    keep = np.ones(len(quads), dtype=bool)
    canvas = shapely.box(0.0, 0.0, w, h)
    rows = np.nonzero(~inside)[0]
    polys = shapely.make_valid(shapely.polygons(pts[rows]))
    inter = shapely.intersection(polys, canvas)
    area0 = np.abs(signed_area(pts[rows]))
    for r, geom, a0 in zip(rows, inter, area0):
        kept = float(shapely.area(geom))
        if a0 > 0 and kept <= 0 or (a0 == 0 and not _touches(pts[r], w, h)):
            keep[r] = False
            report.drop("quads", [quads.index[r]], "outside")
            continue
        getattr(report, counter)["quads"] += 1
        vis[r] *= kept / a0 if a0 > 0 else 1.0
        exact = _as_quad(geom, pts[r], w, h)
        if exact is not None:
            pts[r] = exact
        elif policy == "drop":
            keep[r] = False
            report.drop("quads", [quads.index[r]], "not_a_quad_after_clip")
        else:
            report.approximated["quads"] += 1
            pts[r] = _clamp(pts[r], w, h)
    _snap(pts, w, h)
    out = Quads(pts, index=quads.index, visibility=vis, _validate=False, **quads.fields)
    return out if keep.all() else out.take(np.nonzero(keep)[0])


def _touches(p, w, h) -> bool:
    return bool(_inside(p[None], w, h)[0])


def _as_quad(geom, original: np.ndarray, w: float, h: float):
    """The clipped polygon as 4 points in the original's rotational order, or None when it is not a quad."""
    if geom.geom_type != "Polygon" or len(geom.interiors):
        return None
    ring = np.asarray(shapely.simplify(geom, 0.0).exterior.coords)[:-1]
    if len(ring) != 4:
        return None
    if (signed_area(ring) > 0) != (signed_area(original) > 0):
        ring = ring[::-1]
    # Start where the original's first point now lies (the clipped first corner) to keep its role.
    first = _clamp(original[0], w, h)
    start = int(np.argmin(np.hypot(*(ring - first).T)))
    return np.roll(ring, -start, axis=0)


def _clamp(p: np.ndarray, w: float, h: float) -> np.ndarray:
    out = p.copy()
    np.clip(out[..., 0], 0.0, w, out=out[..., 0])
    np.clip(out[..., 1], 0.0, h, out=out[..., 1])
    return out


def _snap(pts: np.ndarray, w: float, h: float) -> None:
    np.clip(pts[..., 0], 0.0, w, out=pts[..., 0])
    np.clip(pts[..., 1], 0.0, h, out=pts[..., 1])


def clip_lines(lines: Lines, w: float, h: float, report: Report, *, counter: str = "clipped") -> Lines:
    if len(lines) == 0:
        return lines
    o = lines.offsets
    ok_pt = _inside(lines.flat, w, h)
    # a line is inside when all its points are: reduce per row over the flat array
    bad_cum = np.concatenate([[0], np.cumsum(~ok_pt)])
    inside = (bad_cum[o[1:]] - bad_cum[o[:-1]]) == 0
    if inside.all():
        flat = lines.flat.copy()
        _snap(flat, w, h)
        return Lines.from_flat(flat, o, index=lines.index, visibility=lines.visibility, **lines.fields)

    pieces, piece_rows, piece_vis = [], [], []
    canvas = shapely.box(0.0, 0.0, w, h)
    lengths = lines.lengths()
    pts = lines.points
    for r in range(len(lines)):
        if inside[r]:
            p = pts[r].copy()
            _snap(p, w, h)
            pieces.append(p)
            piece_rows.append(r)
            piece_vis.append(lines.visibility[r])
            continue
        parts = _line_pieces(pts[r], canvas)
        if not parts:
            report.drop("lines", [lines.index[r]], "outside")
            continue
        getattr(report, counter)["lines"] += 1
        report.split["lines"] += len(parts) - 1
        for part in parts:
            _snap(part, w, h)
            seg = np.hypot(*np.diff(part, axis=0).T).sum()
            pieces.append(part)
            piece_rows.append(r)
            piece_vis.append(lines.visibility[r] * (seg / lengths[r] if lengths[r] > 0 else 1.0))
    rows = np.asarray(piece_rows, dtype=np.int64)
    fields = {k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in lines.fields.items()}
    return Lines(pieces, index=lines.index[rows], visibility=np.asarray(piece_vis), _validate=False, **fields)


def _line_pieces(p: np.ndarray, canvas) -> list:
    """Visible pieces of one polyline, in the line's own direction and order."""
    line = shapely.linestrings(p)
    if shapely.length(line) == 0:
        return []
    inter = shapely.intersection(line, canvas)
    parts = [g for g in shapely.get_parts(inter) if g.geom_type == "LineString" and g.length > 0]
    if isinstance(parts, np.ndarray):
        parts = list(parts)
    out = []
    for g in parts:
        c = np.asarray(g.coords)
        s, e = shapely.line_locate_point(line, shapely.points(c[[0, -1]]))
        out.append((min(s, e), c if s <= e else c[::-1]))
    out.sort(key=lambda t: t[0])
    return [c for _, c in out]
