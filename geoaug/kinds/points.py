"""Points: free points ``(N, 2)`` and grouped keypoints ``(N, K, 2)`` (one row per instance, K named joints),
each joint with a COCO flag (2 labelled and visible, 1 labelled but not visible, 0 not labelled).

A point is mapped by the matrix and never moved by a cut: a labelled joint that leaves the canvas loses its
label (flag 0) and keeps its mapped coordinates, so an inverse brings it back where it was
(``point_outside: flag``, the default), or, under ``point_outside: drop``, a row none of whose labelled
points stays inside is dropped and reported (a free point outside; a person all of whose labelled joints
left). Row visibility is the share of its labelled joints still inside. ``flip_pairs`` (left/right eye, ...)
swap their columns exactly when the net map of a call mirrors, as quads are re-ordered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from .. import matrix as M
from ..canvas import AA, SHIFT, cv_pts, marker, pt
from ..clip import outside_points
from ..errors import GeometryError
from ..instances import _check_finite, _numbers, _refuse_container, _Table, take_rows
from ..report import Report
from .base import Kind, Options, Tag, register, rows_of

POINT_OUTSIDE = ("flag", "drop")
FLAGS = (0, 1, 2)  # COCO's v: 0 not labelled, 1 labelled not visible, 2 labelled and visible
_XY = ("x", "y")


class Points(_Table):
    """Free points ``(N, 2)`` or grouped keypoints ``(N, K, 2)``, with per-row fields.

    ``.xy`` has the shape given; ``.flags`` (int8) one COCO flag per point, shaped like ``.xy`` without its
    last axis ((N,) or (N, K)); 2 (labelled and visible) where not given. ``names``: the K joint names of
    grouped keypoints; ``flip_pairs``: pairs of joints that swap when the image is mirrored, as names or
    as indices (stored as index pairs)."""

    kind = "points"
    names: tuple[str, ...] | None
    flip_pairs: tuple[tuple[int, int], ...]

    def __init__(
        self,
        xy: Any = None,
        *,
        names: Any = None,
        flip_pairs: Any = None,
        flags: Any = None,
        index: Any = None,
        visibility: Any = None,
        _validate: bool = True,
        **fields: Any,
    ) -> None:
        if xy is None and names is None and flip_pairs is None and flags is None:  # the empty table (every call)
            self.xy, self.flags, self.names, self.flip_pairs = np.zeros((0, 2)), np.zeros(0, np.int8), None, ()
            self._init_rows(0, fields, index, visibility, copy_lists=_validate)
            return
        if not _validate:
            self.xy = np.asarray(xy, dtype=np.float64)
            self.flags = np.asarray(flags, dtype=np.int8)
            self.names, self.flip_pairs = names, flip_pairs
            self._init_rows(len(self.xy), fields, index, visibility, copy_lists=False)
            return
        self.xy = arr = _intake_xy(xy, names)
        self.names = _intake_names(names, arr)
        self.flip_pairs = _intake_pairs(flip_pairs, self.names, arr)
        self.flags = _intake_flags(flags, arr)
        self._init_rows(len(arr), fields, index, visibility)

    # ---- views -------------------------------------------------------------------------------------
    @property
    def grouped(self) -> bool:
        """Keypoint instances ((N, K, 2)) rather than free points ((N, 2))."""
        return bool(self.xy.ndim == 3)

    @property
    def num_joints(self) -> int:
        """K: the points of one row (1 for free points)."""
        return int(self.xy.shape[1]) if self.xy.ndim == 3 else 1

    @property
    def joints(self) -> np.ndarray:
        """The points as (N, K, 2) (K = 1 for free points): a view."""
        return self.xy.reshape(len(self.xy), self.num_joints, 2)

    @property
    def joint_flags(self) -> np.ndarray:
        """The flags as (N, K): a view."""
        return self.flags.reshape(len(self.flags), self.num_joints)

    def labelled(self) -> np.ndarray:
        """Per row, how many of its points are labelled (flag > 0): COCO's ``num_keypoints``."""
        out: np.ndarray = np.count_nonzero(self.joint_flags > 0, axis=1)
        return out

    def _with(self, xy: np.ndarray, flags: np.ndarray, visibility: np.ndarray | None = None) -> Points:
        """The same rows with new points and flags (fields, index shared: nothing edits them in place)."""
        vis = self.visibility if visibility is None else visibility
        return Points(
            xy,
            flags=flags,
            names=self.names,
            flip_pairs=self.flip_pairs,
            index=self.index,
            visibility=vis,
            _validate=False,
            **self.fields,
        )

    def take(self, rows: np.ndarray, _gaps: np.ndarray | None = None) -> Points:
        """The rows ``rows`` (indices, in that order), every field, index and visibility with them."""
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        return Points(
            take_rows(self.xy, rows),
            flags=take_rows(self.flags, rows),
            names=self.names,
            flip_pairs=self.flip_pairs,
            index=t["index"],
            visibility=t["visibility"],
            _validate=False,
            **t["fields"],
        )

    def __repr__(self) -> str:
        shape = f"k={self.num_joints}, " if self.grouped else ""
        return f"Points(n={len(self)}, {shape}fields={sorted(self.fields)})"


# ---- intake ------------------------------------------------------------------------------------------
def _intake_xy(xy: Any, names: Any) -> np.ndarray:
    if xy is None:
        xy = ()
    tail: tuple = (2,)
    if not isinstance(xy, np.ndarray):  # for naming a bad item in ragged input: the shape of its first row
        _refuse_container("points", xy, "(N, 2) points or (N, K, 2) keypoints")
        first = xy[0] if len(xy) else None
        if first is not None and hasattr(first, "__len__") and len(first) and hasattr(first[0], "__len__"):
            tail = (len(first), 2)
    arr = _numbers("points", xy, tail, _XY)
    if arr.size == 0 and not (arr.ndim == 3 and arr.shape[2] == 2):
        k = None if names is None or isinstance(names, (str, bytes)) or not hasattr(names, "__len__") else len(names)
        arr = np.zeros((0, 2)) if k is None else np.zeros((0, k, 2))
    if arr.ndim not in (2, 3) or arr.shape[-1] != 2:
        raise GeometryError(
            "points must have shape (N, 2) (free points) or (N, K, 2) (K keypoints per instance);"
            f" got shape {arr.shape}"
        )
    _check_finite("points", arr, _XY)
    return arr


def _intake_names(names: Any, arr: np.ndarray) -> tuple[str, ...] | None:
    if names is None:
        return None
    if arr.ndim != 3:
        raise GeometryError("points names name the joints of grouped keypoints; give xy as (N, K, 2)")
    _refuse_container("points names", names, f"a list of {arr.shape[1]} joint names")
    out = tuple(names)
    for i, n in enumerate(out):
        if not isinstance(n, str):
            raise GeometryError(f"points names[{i}] is {type(n).__name__}, expected a string")
    if len(out) != arr.shape[1]:
        raise GeometryError(f"points names has {len(out)} names for {arr.shape[1]} joints")
    if len(set(out)) != len(out):
        dup = next(n for i, n in enumerate(out) if n in out[:i])
        raise GeometryError(f"points names: {dup!r} appears twice")
    return out


def _intake_pairs(pairs: Any, names: tuple[str, ...] | None, arr: np.ndarray) -> tuple[tuple[int, int], ...]:
    if pairs is None:
        return ()
    if arr.ndim != 3:
        raise GeometryError("points flip_pairs pair the joints of grouped keypoints; give xy as (N, K, 2)")
    k = arr.shape[1]
    _refuse_container("points flip_pairs", pairs, "a list of (left, right) joint pairs")
    out: list[tuple[int, int]] = []
    seen: dict[int, int] = {}
    for p, pair in enumerate(pairs):
        where = f"points flip_pairs[{p}]"
        _refuse_container(where, pair, "a (left, right) pair of joint names or indices")
        if len(pair) != 2:
            raise GeometryError(f"{where} has {len(pair)} items, expected a (left, right) pair")
        ij = []
        for j in pair:
            if isinstance(j, str):
                if names is None or j not in names:
                    known = f"names: {', '.join(names)}" if names else "no names given"
                    raise GeometryError(f"{where}: unknown joint {j!r} ({known})")
                ij.append(names.index(j))
            elif isinstance(j, (int, np.integer)) and not isinstance(j, (bool, np.bool_)):
                if not 0 <= j < k:
                    raise GeometryError(f"{where}: joint index {int(j)} is outside 0..{k - 1}")
                ij.append(int(j))
            else:
                raise GeometryError(f"{where}: {j!r} is neither a joint name nor a joint index")
        a, b = ij
        if a == b:
            raise GeometryError(f"{where} pairs joint {a} with itself")
        for j in (a, b):
            if j in seen:
                raise GeometryError(f"{where}: joint {j} is already in flip_pairs[{seen[j]}]")
            seen[j] = p
        out.append((a, b))
    return tuple(out)


def _intake_flags(flags: Any, arr: np.ndarray) -> np.ndarray:
    shape = arr.shape[:-1]
    if flags is None:
        return np.full(shape, 2, dtype=np.int8)
    _refuse_container("points flags", flags, f"an array of shape {shape}: one COCO flag per point")
    try:
        f = np.asarray(flags)
    except (ValueError, TypeError):  # ragged
        f = np.asarray(flags, dtype=object)
    if f.dtype == bool:
        raise GeometryError(
            "points flags are COCO's 0, 1, 2 (not labelled, labelled not visible, visible), not booleans"
        )
    if f.dtype.kind not in "iuf" and f.shape == shape:
        f = np.array([v if isinstance(v, (int, float, np.number)) else np.nan for v in f.ravel()]).reshape(shape)
    if f.shape != shape:
        raise GeometryError(f"points flags must have shape {shape} (one per point); got shape {f.shape}")
    bad = ~np.isin(f, FLAGS)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"points[{pos[0]}]" + (f".point[{pos[1]}]" if len(pos) > 1 else "")
        raise GeometryError(
            f"{where}.flag is {f[pos]:g}, expected 0, 1 or 2 (COCO: not labelled, not visible, visible)"
        )
    return f.astype(np.int8)


# ---- the kind ----------------------------------------------------------------------------------------
@register
class PointKind(Kind):
    name = "points"
    order = 3
    table = Points
    filters = ("min_visibility", "min_keypoints")
    options = {"point_outside": (POINT_OUTSIDE, "flag")}
    # One point_2d item per labelled point; a keypoint instance answers one item per labelled joint, with
    # ``joint`` (its name, else its index) and ``instance`` (its row) next to the row's fields (answer_table).
    answer_key = "point_2d"
    answer_points = 1

    def intake(self, x: Any, size: tuple[int, int] | None = None) -> Points:
        if x is None:
            return Points()
        if isinstance(x, Points):
            return x
        if hasattr(x, "xy") and not isinstance(x, np.ndarray):  # anything with .xy (and .fields): draw's input
            t = Points(x.xy)
            t._init_rows(len(t), dict(getattr(x, "fields", None) or {}), None, None)
            return t
        return Points(x)

    def map(self, t: Points, a: np.ndarray, size: tuple[int, int], opts: Options) -> Points:
        if not len(t):
            return t
        return t._with(M.apply_points(a, t.xy), t.flags)

    def clip(
        self,
        t: Points,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Points:
        if not len(t):
            return t
        flat = t.xy.reshape(-1, 2)
        if flat.min() >= 0 and flat[:, 0].max() <= w and flat[:, 1].max() <= h:
            return t
        out = outside_points(flat, w, h)  # beyond the canvas by more than rounding
        near = ~out & ((flat < 0).any(axis=1) | (flat[:, 0] > w) | (flat[:, 1] > h))
        lost = out.reshape(t.joint_flags.shape) & (t.joint_flags > 0)
        if not near.any() and not lost.any():
            return t
        xy = t.xy if owned else t.xy.copy()
        if near.any():  # rounding noise: snapped onto the edge
            pts = xy.reshape(-1, 2)
            pts[near] = np.clip(pts[near], 0, (w, h))
        if not lost.any():
            return t._with(xy, t.flags)
        before = t.labelled()
        after = before - np.count_nonzero(lost, axis=1)
        flags = np.where(lost.reshape(t.flags.shape), np.int8(0), t.flags)
        vis = t.visibility * np.divide(after, before, out=np.ones(len(t)), where=before > 0)
        cut = lost.any(axis=1)
        res = t._with(xy, flags, vis)
        gone = (after == 0) & cut if opts.get("point_outside", "flag") == "drop" else np.zeros(len(t), bool)
        getattr(report, counter)["points"] += int(np.count_nonzero(cut & ~gone))
        if not gone.any():
            return res
        rows = np.flatnonzero(gone)
        report.drop("points", t.index[rows], "outside")
        return res.without(rows)

    def finish(self, t: Points, net: np.ndarray, opts: Options) -> Points:
        if not len(t) or not t.flip_pairs or np.linalg.det(net) >= 0:
            return t
        perm = np.arange(t.num_joints)
        for a, b in t.flip_pairs:
            perm[a], perm[b] = b, a
        return t._with(t.xy[:, perm], t.flags[:, perm])

    def outside_row(self, t: Points, w: float, h: float) -> int | None:
        bad = outside_points(t.xy.reshape(-1, 2), w, h) & (t.flags.reshape(-1) > 0)
        return int(np.argmax(bad)) // t.num_joints if bad.any() else None

    def bounds(self, t: Points, a: np.ndarray) -> np.ndarray:
        """The labelled points of each row, each a pixel wide (a lone point has a footprint to keep in view);
        a row with none labelled: an empty box."""
        if not len(t):
            return np.zeros((0, 4))
        p = M.apply_points(a, t.joints)
        lab = (t.joint_flags > 0)[..., None]
        lo = np.where(lab, p, np.inf).min(axis=1) - 0.5
        hi = np.where(lab, p, -np.inf).max(axis=1) + 0.5
        out = np.concatenate([lo, hi], axis=1)
        out[~lab[:, :, 0].any(axis=1)] = 0.0
        return out

    def measures(self, t: Points) -> dict[str, Callable[[], np.ndarray]]:
        return {"min_visibility": lambda: t.visibility, "min_keypoints": t.labelled}

    def coords(self, t: Points) -> list[np.ndarray]:
        return [t.xy, t.flags]

    def own_coords(self, t: Points, own: Callable[[Any], Any], given: Points) -> None:
        t.xy, t.flags = own(t.xy), own(t.flags)

    def concat(self, tables: Sequence[Points], fields: dict[str, Any]) -> Points:
        full = [t for t in tables if len(t)]
        if not full:
            return Points(**rows_of(tables), **fields)
        first = full[0]
        for t in full[1:]:
            if (t.xy.shape[1:], t.names, t.flip_pairs) != (first.xy.shape[1:], first.names, first.flip_pairs):
                raise GeometryError(
                    "points: cannot merge tables of different point layouts "
                    f"({t!r} with names {t.names} and {first!r} with names {first.names})"
                )
        return Points(
            np.concatenate([t.xy for t in full]),
            flags=np.concatenate([t.flags for t in full]),
            names=first.names,
            flip_pairs=first.flip_pairs,
            _validate=False,
            **rows_of(tables),
            **fields,
        )

    def draw(
        self, canvas: np.ndarray, t: Points, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        """A cross on each labelled and visible point, a ring on each labelled but hidden one (flag 1),
        nothing on an unlabelled one; the tag on the row's first labelled point."""
        tags: list[Tag] = []
        for pts, flags, lab in zip(t.joints, t.joint_flags, labels):
            c = colour(lab)
            for p, f in zip(pts, flags):
                if f == 2:
                    marker(canvas, p, c, thickness)
                elif f == 1:
                    r = (thickness + 2) << SHIFT
                    cv2.circle(canvas, pt(cv_pts(p)), r, c, thickness=thickness, lineType=AA, shift=SHIFT)
            on = np.flatnonzero(flags > 0)
            if len(on):
                tags.append((pts[on[0]][0], pts[on[0]][1], lab, c))
        return tags

    def answer_table(self, t: Points) -> Points:
        """The points of the Qwen answer form: one free point per labelled point, in row order. A keypoint
        instance's joints carry the row's fields plus ``joint`` (its name, else its index) and ``instance``
        (its row in ``t``); unlabelled points (flag 0: never labelled, or gone off the canvas) give none."""
        lab = t.joint_flags > 0
        rows, cols = np.nonzero(lab)
        xy = t.joints[rows, cols]
        fields = {n: [v[r] for r in rows.tolist()] for n, v in t.fields.items()}
        if t.grouped:
            for extra in ("joint", "instance"):
                if extra in fields:
                    raise GeometryError(f"points: a field named {extra!r} would clash with the answer's own key")
            fields["joint"] = [t.names[c] for c in cols.tolist()] if t.names else cols.tolist()
            fields["instance"] = rows.tolist()
        out = Points(xy.reshape(-1, 2), _validate=False, flags=np.full(len(xy), 2, np.int8))
        out.fields = fields
        return out

    def answer_rows(self, t: Points) -> list[np.ndarray]:
        return list(t.joints)

    def from_answer_rows(self, rows: list[np.ndarray]) -> Points:
        return Points(np.reshape(rows, (-1, 2)))
