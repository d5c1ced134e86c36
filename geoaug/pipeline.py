"""The pipeline: plan every op's draw, fold runs of geometric ops into one matrix, warp once per run,
move geometry through the same matrices, clip once at each canvas that really exists, filter, report."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import matrix as M
from .clip import QUAD_CLIP_POLICIES, clip_boxes, clip_lines, clip_quads, outside_points
from .errors import ConfigError, GeometryError
from .filters import apply_filters, parse_filters
from .geometry import box_corners, map_boxes, map_lines, map_quads, reorder_if_mirrored
from .image import fill_value, to_array
from .instances import Boxes, Lines, Quads, as_boxes, as_lines, as_quads
from .ops.base import GEOMETRIC, Op
from .registry import make_op, op_from_config
from .report import Report
from .seeding import make_rng
from .tone import run_stages
from .warp import INTERPOLATIONS, content_region, warp

REPLAY_VERSION = 1


class PlanContext:
    """What ops see while drawing: the current canvas and, for object-aware ops, the objects in it."""

    def __init__(self, size, boxes: Boxes, quads: Quads, lines: Lines):
        self.size = size
        self.matrix = np.eye(3)
        self._objects = (boxes, quads, lines)

    def advance(self, a, size):
        self.matrix = a @ self.matrix
        self.size = size

    def object_boxes(self) -> np.ndarray:
        """Enclosing boxes of every object in the current frame, cut to the current canvas."""
        boxes, quads, lines = self._objects
        pts = np.concatenate([box_corners(boxes.xyxy), quads.points])
        if len(pts):
            pts = M.apply_points(self.matrix, pts)
        xy = [np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)] if len(pts) else []
        for ln in lines.points:
            p = M.apply_points(self.matrix, ln)
            xy.append(np.concatenate([p.min(axis=0), p.max(axis=0)])[None])
        if not xy:
            return np.zeros((0, 4))
        b = np.concatenate(xy)
        w, h = self.size
        b[:, 0::2] = b[:, 0::2].clip(0, w)
        b[:, 1::2] = b[:, 1::2].clip(0, h)
        return b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]


@dataclass
class Result:
    image: object
    boxes: Boxes
    quads: Quads
    lines: Lines
    matrix: np.ndarray
    size: tuple                # (width, height) of the output canvas
    input_size: tuple          # (width, height) of the input image
    report: Report = field(default_factory=Report)
    replay: dict = field(default_factory=dict)
    _pipeline: object = None

    def inverse(self, boxes=None, quads=None, lines=None) -> "Result":
        """Map geometry from this result's output frame back onto the input image."""
        from .inverse import inverse as _inv
        return _inv(self.replay, boxes=boxes, quads=quads, lines=lines,
                    quad_order=getattr(self._pipeline, "quad_order", "clockwise"))


def _image_size(arr):
    return int(arr.shape[1]), int(arr.shape[0])


class Pipeline:
    """Composable, fused augmentation. ``Pipeline(ops, filters=..., fuse=True)``; call it on an image and
    its boxes, quads and lines. ``ops`` are op instances or ``{"name", "params"}`` mappings."""

    def __init__(self, ops=(), *, filters=None, fuse: bool = True, fill=0, interpolation: str = "linear",
                 quad_order: str = "clockwise", quad_clip: str = "clamp", input_outside: str = "clip",
                 enabled: bool = True, _where: str = ""):
        self.ops: list[Op] = [op_from_config(o, f"{_where}ops[{i}]: ") for i, o in enumerate(ops)]
        self.filters = parse_filters(filters, _where)
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{_where}interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
        for name, val, allowed in (("quad_order", quad_order, ("clockwise", "keep")),
                                   ("quad_clip", quad_clip, QUAD_CLIP_POLICIES),
                                   ("input_outside", input_outside, ("clip", "error"))):
            if val not in allowed:
                raise ConfigError(f"{_where}{name} must be one of {list(allowed)}, got {val!r}")
        for name, val in (("fuse", fuse), ("enabled", enabled)):
            if not isinstance(val, bool):
                raise ConfigError(f"{_where}{name} must be true or false, got {val!r}")
        self.fuse, self.fill, self.interpolation = fuse, fill, interpolation
        self.quad_order, self.quad_clip, self.input_outside = quad_order, quad_clip, input_outside
        self.enabled = enabled

    def __repr__(self):
        return f"Pipeline({self.ops}, fuse={self.fuse})"

    # ---- public entry points -------------------------------------------------------------------
    def __call__(self, image, boxes=None, quads=None, lines=None, seed=None, *, frame=None,
                 image_scale=None) -> Result:
        """Augment ``image`` and its geometry. ``frame=(W, H)``: the geometry is in the frame of a W x H
        original of which ``image`` is a scaled copy (e.g. a JPEG decoded at 1/2, ``image_scale=0.5``;
        default: the ratio of the sizes). Draws and result are those of the original; the scale folds into
        the one warp."""
        arr, restore = to_array(image)
        size = self._frame(arr, frame)
        tables, report = self._intake(size, boxes, quads, lines)
        steps = self._draw(size, tables, seed)
        return self._execute(arr, restore, tables, report, steps, size, image_scale)

    def plan(self, size, boxes=None, quads=None, lines=None, seed=None) -> dict:
        """Draw every op for an image of ``size=(W, H)`` without touching pixels; returns the replay record
        (``matrix``, ``output_size``, ``steps``). Lets a loader decide how much of the image to decode
        before decoding it, then ``replay`` the plan on what it decoded."""
        size = (int(size[0]), int(size[1]))
        tables, _ = self._intake(size, boxes, quads, lines)
        steps = self._draw(size, tables, seed)
        total, out = np.eye(3), size
        for op, d in steps:
            if op.kind == GEOMETRIC:
                a, out = op.transform(d, out)
                total = a @ total
        return _record(size, out, total, steps)

    def replay(self, record: dict, image, boxes=None, quads=None, lines=None, *, frame=None,
               image_scale=None) -> Result:
        """Re-apply exactly the draws of ``record`` (a result's ``.replay`` or a ``plan``) to another image of
        the same size (or, with ``frame``, a scaled copy of one)."""
        arr, restore = to_array(image)
        size = self._frame(arr, frame)
        if tuple(record.get("input_size", ())) != size:
            raise GeometryError(f"replay: record is for an image of size {tuple(record.get('input_size', ()))}, "
                                f"got {size}")
        steps = [(self._replay_op(i, s), s["draw"]) for i, s in enumerate(record["steps"])]
        tables, report = self._intake(size, boxes, quads, lines)
        return self._execute(arr, restore, tables, report, steps, size, image_scale)

    def _replay_op(self, i: int, step: dict) -> Op:
        """The op of a recorded step, built once per distinct (name, params): replaying a plan on every
        fetch should not re-validate the same op configs each time."""
        import json
        key = (step["op"], json.dumps(step.get("params"), sort_keys=True))
        cache = self.__dict__.setdefault("_replay_ops", {})
        if key not in cache:
            cache[key] = make_op(step["op"], step.get("params"), f"replay step {i}: ")
        return cache[key]

    # ---- internals -----------------------------------------------------------------------------
    @staticmethod
    def _frame(arr, frame):
        if frame is None:
            return _image_size(arr)
        fw, fh = (int(v) for v in frame)
        if fw <= 0 or fh <= 0:
            raise GeometryError(f"frame must be a positive (width, height), got {frame!r}")
        return fw, fh

    def _draw(self, size, tables, seed) -> list:
        steps = []
        if self.enabled:
            ctx = PlanContext(size, *tables)
            rng = make_rng(seed)
            for op in self.ops:
                op.plan(rng, ctx, steps)
        return steps

    def _intake(self, size, boxes, quads, lines):
        report = Report()
        w, h = size
        tables = [as_boxes(boxes), as_quads(quads), as_lines(lines)]
        counter = "input_clipped"
        if self.input_outside == "error":
            for t in tables:
                _raise_if_outside(t, w, h)
        tables[0] = clip_boxes(tables[0], w, h, report, counter=counter)
        tables[1] = clip_quads(tables[1], w, h, report, policy=self.quad_clip, counter=counter)
        tables[2] = clip_lines(tables[2], w, h, report, counter=counter)
        return tables, report

    def _schedule(self, steps):
        """Order the work: each run of geometric steps becomes one warp. With fusion on, pointwise pixel steps
        inside a run ride along as ``post`` steps (with how many of the run's geometric steps precede them):
        they are applied once to the warped output, as if op by op (see _run_post)."""
        actions, run, post = [], [], []

        def close():
            if run:
                actions.append(("warp", list(run), list(post)))
            run.clear(), post.clear()

        for step in steps:
            op = step[0]
            if op.kind == GEOMETRIC:
                if not self.fuse:
                    close()
                run.append(step)
            elif self.fuse and run and getattr(op, "pointwise", False):
                post.append((len(run), step))
            else:
                close()
                actions.append(("pixel", step))
        close()
        return actions

    def _execute(self, arr, restore, tables, report, steps, in_size, image_scale=None) -> Result:
        total = np.eye(3)
        size = in_size
        # pixels of `arr` in the frame: identity unless the image is a scaled copy of the frame
        image_from_frame = M.scale(arr.shape[1] / in_size[0], arr.shape[0] / in_size[1]) if image_scale is None \
            else M.scale(image_scale, image_scale)
        boxes, quads, lines = tables
        mapped = False
        pending: list = []  # pixel stages waiting to run, so adjacent tone curves fold into one pass
        for action in self._schedule(steps):
            if action[0] == "pixel":
                op, d = action[1]
                pending.extend(op.stages(d))
                continue
            _, run, post = action
            arr = run_stages(arr, pending)
            pending = []
            a, fill, canvases = np.eye(3), None, []
            for op, d in run:
                canvases.append((a, size))
                sa, size = op.transform(d, size)
                a = sa @ a
                fill = op.fill if op.fill is not None else fill
            fill = self.fill if fill is None else fill
            border = fill_value(fill, arr.shape[2], arr.dtype)
            arr = warp(arr, a @ np.linalg.inv(image_from_frame), size, interpolation=self.interpolation,
                       border=border)
            image_from_frame = np.eye(3)
            arr = _run_post(arr, post, canvases, a, size, border)
            total = a @ total
            w, h = size
            # the mapped coordinates are fresh arrays: clipping edits them in place
            boxes = clip_boxes(map_boxes(boxes, a), w, h, report, owned=True)
            quads = clip_quads(map_quads(quads, a, order="keep"), w, h, report, policy=self.quad_clip, owned=True)
            lines = clip_lines(map_lines(lines, a), w, h, report, owned=True)
            mapped = True
        arr = run_stages(arr, pending)
        # no geometric op ran on a scaled copy of the frame: bring its pixels to the frame (a diagonal matrix;
        # np.allclose costs ~30 us a call)
        if abs(image_from_frame[0, 0] - 1) > 1e-9 or abs(image_from_frame[1, 1] - 1) > 1e-9:
            arr = warp(arr, np.linalg.inv(image_from_frame), size, interpolation=self.interpolation)
        if not mapped:  # tables that passed the intake untouched may still be the caller's arrays
            boxes, quads, lines = (t.take(np.arange(len(t))) for t in (boxes, quads, lines))
        if self.quad_order == "clockwise":
            quads = reorder_if_mirrored(quads, total)
        boxes = apply_filters(boxes, self.filters["boxes"], report)
        quads = apply_filters(quads, self.filters["quads"], report)
        lines = apply_filters(lines, self.filters["lines"], report)
        report.ops = [op.name for op, _ in steps]
        record = _record(in_size, size, total, steps)
        return Result(restore(arr), boxes, quads, lines, total, tuple(size), in_size, report, record, self)


def _run_post(arr, post, canvases, a, size, border):
    """Pointwise pixel steps that sat inside a fused run, applied to its one warped output as op by op would:
    a step after j of the run's geometric steps sees the canvas of step j carried to the output by the rest
    of the run (fill from earlier steps is image to it, as op by op), its contrast mean reads only that
    region, and pixels that later steps fill keep the exact fill colour. Cost follows the output size."""
    i = 0
    while i < len(post):
        j = post[i][0]
        stages = []
        while i < len(post) and post[i][0] == j:
            op, d = post[i][1]
            stages.extend(op.stages(d))
            i += 1
        region = None
        if j < len(canvases):
            a_j, size_j = canvases[j]
            region = content_region(a @ np.linalg.inv(a_j), size_j, size)
        arr = run_stages(arr, stages, region)
        if region is not None:
            arr = np.ascontiguousarray(arr)
            region.fill_outside(arr, border)
    return arr


def _record(in_size, out_size, total, steps) -> dict:
    return {
        "version": REPLAY_VERSION,
        "input_size": list(in_size),
        "output_size": list(out_size),
        "matrix": total.tolist(),
        "steps": [{"op": op.name, "params": _json_safe(op.cfg), "draw": _json_safe(d)} for op, d in steps],
    }


def _raise_if_outside(t, w, h):
    if isinstance(t, Boxes):
        pts, what, per_row = t.xyxy.reshape(-1, 2), "boxes", 2
    elif isinstance(t, Quads):
        pts, what, per_row = t.points.reshape(-1, 2), "quads", 4
    else:
        pts, what, per_row = t.flat, "lines", None
    bad = outside_points(pts, w, h)
    if bad.any():
        k = int(np.argmax(bad))
        r = k // per_row if per_row else int(np.searchsorted(t.offsets, k, side="right") - 1)
        raise GeometryError(f"{what}[{r}] lies outside the {w}x{h} image (input_outside: error)")


def _json_safe(v):
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v
