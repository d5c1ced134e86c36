"""The pipeline: plan every op's draw, fold runs of geometric ops into one matrix, warp once per run,
move geometry through the same matrices, clip once at each canvas that really exists, filter, report."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import matrix as M
from .errors import ConfigError, GeometryError, ImageError, ReplayError
from .filters import apply_filters, parse_filters
from .image import check_unit_range, fill_value, to_array
from .kinds import check_geometry_keys, default_options, detach, intake_all, kinds, move_all, option_specs
from .ops.base import GEOMETRIC, PIXEL, Op
from .params import Fill, bounded, short
from .record import RECORD_VERSION, check_record, record_op
from .registry import op_from_config
from .report import Report
from .result import Result
from .seeding import make_rng
from .tone import run_stages
from .warp import INTERPOLATIONS, Region, content_region, warp

REPLAY_VERSION = RECORD_VERSION


class PlanContext:
    """What ops see while drawing: the current canvas and, for object-aware ops, the objects in it."""

    def __init__(self, size: tuple[int, int], tables: Mapping[str, Any]) -> None:
        self.size = size
        self.matrix = np.eye(3)
        self._tables = tables

    def advance(self, a: np.ndarray, size: tuple[int, int]) -> None:
        self.matrix = a @ self.matrix
        self.size = size

    def object_boxes(self) -> np.ndarray:
        """Enclosing boxes of every object of every kind in the current frame, cut to the current canvas."""
        xy = [k.bounds(self._tables[k.name], self.matrix) for k in kinds() if len(self._tables[k.name])]
        if not xy:
            return np.zeros((0, 4))
        b = np.concatenate(xy)
        w, h = self.size
        b[:, 0::2] = b[:, 0::2].clip(0, w)
        b[:, 1::2] = b[:, 1::2].clip(0, h)
        return b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]


def _image_size(arr: np.ndarray) -> tuple[int, int]:
    return int(arr.shape[1]), int(arr.shape[0])


class Pipeline:
    """Composable, fused augmentation. ``Pipeline(ops, filters=..., fuse=True)``; call it on an image and
    its boxes, quads and lines. ``ops`` are op instances or ``{"name", "params"}`` mappings."""

    def __init__(
        self,
        ops: Sequence[Op | Mapping[str, Any]] | None = (),
        *,
        filters: Mapping[str, Any] | None = None,
        fuse: bool = True,
        fill: float | Sequence[float] = 0,
        interpolation: str = "linear",
        quad_order: str | None = None,
        quad_clip: str | None = None,
        input_outside: str = "clip",
        enabled: bool = True,
        _where: str = "",
        **options: str,
    ) -> None:
        # Every value is checked here, at build, within the config budget (see geoaug.params.bounded): nothing
        # is left to fail at call time or to be silently ignored.
        with bounded({"ops": ops, "filters": filters, "fill": fill}, _where):
            if ops is None:
                ops = []
            if not isinstance(ops, (list, tuple)):
                raise ConfigError(f"{_where}ops must be a list of ops, got {short(ops)}")
            self.ops: list[Op] = [op_from_config(o, f"{_where}ops[{i}]: ") for i, o in enumerate(ops)]
            self.filters = parse_filters(filters, _where)
        try:
            fill = Fill().check(fill)
            if fill is None:
                raise ValueError("must be a number or a list of 1, 3 or 4 numbers, got None")
        except ValueError as e:
            raise ConfigError(f"{_where}fill {e}") from None
        specs = option_specs()
        for name in options:
            if name not in specs:
                raise ConfigError(
                    f"{_where}unknown setting {short(name)}; kind options: {', '.join(specs)}"
                    " (and ops, filters, fuse, fill, interpolation, input_outside, enabled)"
                )
        named = {k: v for k, v in (("quad_order", quad_order), ("quad_clip", quad_clip)) if v is not None}
        # each kind's settings: its default unless given (quad_clip, quad_order, point_outside, ...)
        self.options: dict[str, str] = {**default_options(), **options, **named}
        for name, val, allowed in (
            ("interpolation", interpolation, tuple(INTERPOLATIONS)),
            *((k, self.options[k], specs[k][0]) for k in specs),
            ("input_outside", input_outside, ("clip", "error")),
        ):
            if not isinstance(val, str) or val not in allowed:
                raise ConfigError(f"{_where}{name} must be one of {list(allowed)}, got {short(val)}")
        for name, flag in (("fuse", fuse), ("enabled", enabled)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{_where}{name} must be true or false, got {short(flag)}")
        self.fuse, self.fill, self.interpolation = fuse, fill, interpolation
        self.input_outside = input_outside
        self.enabled = enabled

    @property
    def quad_order(self) -> str:
        """How quads are ordered after a mirroring map (the ``quad_order`` kind option)."""
        return self.options["quad_order"]

    @property
    def quad_clip(self) -> str:
        """What a quad becomes when its visible part is not a quad (the ``quad_clip`` kind option)."""
        return self.options["quad_clip"]

    def __repr__(self) -> str:
        return f"Pipeline({self.ops}, fuse={self.fuse})"

    # ---- public entry points -------------------------------------------------------------------
    def __call__(
        self,
        image: Any,
        boxes: Any = None,
        quads: Any = None,
        lines: Any = None,
        seed: Any = None,
        *,
        frame: tuple[int, int] | None = None,
        image_scale: float | None = None,
        **geometry: Any,
    ) -> Result:
        """Augment ``image`` and its geometry: ``boxes``, ``quads``, ``lines`` and every other registered kind
        by its name (``points=``, ``polygons=``, ``masks=``), each a table or what its table takes.

        ``frame=(W, H)``: the geometry is in the frame of a W x H original of which ``image`` is a scaled
        copy (e.g. a JPEG decoded at 1/2, ``image_scale=0.5``; default: the ratio of the sizes). Draws and
        result are those of the original; the scale folds into the one warp.

        The inputs are only read (read-only and memory-mapped arrays work) and the result shares no memory
        with them: its image and tables are new arrays the caller may write into, an identity pipeline's
        image included. Float images and fills follow the README's "Pixel values" convention."""
        arr, restore = to_array(image)
        size = self._frame(arr, frame)
        tables, report = self._intake(size, _given(boxes, quads, lines, geometry, "call"))
        steps = self._draw(size, tables, seed)
        return self._execute(
            arr, restore, tables, report, steps, size, image_scale, ops=self.ops if self.enabled else ()
        )

    def plan(
        self,
        size: tuple[int, int],
        boxes: Any = None,
        quads: Any = None,
        lines: Any = None,
        seed: Any = None,
        **geometry: Any,
    ) -> dict:
        """Draw every op for an image of ``size=(W, H)`` without touching pixels; returns the replay record
        (``matrix``, ``output_size``, ``steps``). Lets a loader decide how much of the image to decode
        before decoding it, then ``replay`` the plan on what it decoded."""
        size = (int(size[0]), int(size[1]))
        tables, _ = self._intake(size, _given(boxes, quads, lines, geometry, "plan"))
        steps = self._draw(size, tables, seed)
        total, out = np.eye(3), size
        for op, d in steps:
            if op.kind == GEOMETRIC:
                a, out = op.transform(d, out)
                total = a @ total
        return _record(size, out, total, steps, self)

    def replay(
        self,
        record: dict,
        image: Any,
        boxes: Any = None,
        quads: Any = None,
        lines: Any = None,
        *,
        frame: tuple[int, int] | None = None,
        image_scale: float | None = None,
        fill: float | Sequence[float] | None = None,
        interpolation: str | None = None,
        pixel_ops: bool = True,
        **geometry: Any,
    ) -> Result:
        """Re-apply exactly the draws of ``record`` (a result's ``.replay`` or a ``plan``) to another image of
        the same size (or, with ``frame``, a scaled copy of one). The record is checked first: a malformed one
        is a ``ReplayError`` naming the step, op and field.

        For a target that follows an image (its label mask, depth map, heatmap): ``fill`` replaces the fill of
        every step and of the pipeline (a number, or one per channel of the target), ``interpolation`` the
        pipeline's (``"nearest"``: every output pixel is a target pixel or the fill, label values exact), and
        ``pixel_ops=False`` leaves out the pixel steps (colour, noise, blur, jpeg): the geometry alone follows.
        """
        rec = check_record(record, "replay")
        if rec.inverted:
            raise ReplayError("replay: this record is an inverse's (inverted: true); replay the forward record")
        arr, restore = to_array(image)
        size = self._frame(arr, frame)
        if rec.input_size != size:
            raise GeometryError(f"replay: record is for an image of size {rec.input_size}, got {size}")
        run, steps = self, rec.steps
        if fill is not None or interpolation is not None:
            run = copy.copy(self)  # same pipeline, this target's fill / interpolation
        if fill is not None:
            try:
                run.fill = Fill().check(fill)
            except ValueError as e:
                raise ConfigError(f"replay: fill {e}") from None
            steps = [(_fill_cleared(i, op), d) for i, (op, d) in enumerate(steps)]
        if interpolation is not None:
            if interpolation not in INTERPOLATIONS:
                raise ConfigError(f"replay: interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
            run.interpolation = interpolation
        if not isinstance(pixel_ops, bool):
            raise ConfigError(f"replay: pixel_ops must be true or false, got {pixel_ops!r}")
        _check_fills(steps, run.fill, arr.shape[2])
        if not pixel_ops:  # left out, but kept in place: a blur between two geometric ops still splits the warp
            steps = [(op if op.kind == GEOMETRIC else _NoPixels(op), d) for op, d in steps]
        tables, report = run._intake(size, _given(boxes, quads, lines, geometry, "replay"))
        return run._execute(arr, restore, tables, report, steps, size, image_scale)

    # ---- internals -----------------------------------------------------------------------------
    @staticmethod
    def _frame(arr: np.ndarray, frame: tuple[int, int] | None) -> tuple[int, int]:
        if frame is None:
            return _image_size(arr)
        fw, fh = (int(v) for v in frame)
        if fw <= 0 or fh <= 0:
            raise GeometryError(f"frame must be a positive (width, height), got {frame!r}")
        return fw, fh

    def _draw(self, size: tuple[int, int], tables: Mapping[str, Any], seed: Any) -> list:
        steps: list = []
        if self.enabled:
            ctx = PlanContext(size, tables)
            rng = make_rng(seed)
            for op in self.ops:
                op.plan(rng, ctx, steps)
        return steps

    def _intake(self, size: tuple[int, int], given: Mapping[str, Any]) -> tuple[dict[str, Any], Report]:
        report = Report()
        w, h = size
        tables = intake_all(given, size)
        for k in kinds():
            t = tables[k.name]
            if self.input_outside == "error" and len(t):
                row = k.outside_row(t, w, h)
                if row is not None:
                    raise GeometryError(f"{k.name}[{row}] lies outside the {w}x{h} image (input_outside: error)")
            if len(t):
                tables[k.name] = k.clip(t, w, h, report, self.options, counter="input_clipped")
        return tables, report

    def _schedule(self, steps: list) -> list[tuple[Any, ...]]:
        """Order the work: each run of geometric steps becomes one warp. With fusion on, pointwise pixel steps
        inside a run ride along as ``post`` steps (with how many of the run's geometric steps precede them):
        they are applied once to the warped output, as if op by op (see _run_post)."""
        actions: list[tuple[Any, ...]] = []
        run: list = []
        post: list[tuple[int, Any]] = []

        def close() -> None:
            if run:
                actions.append(("warp", list(run), list(post)))
            run.clear(), post.clear()  # type: ignore[func-returns-value]  # a tuple of two calls, result unused

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

    def _execute(
        self,
        arr: np.ndarray,
        restore: Callable[[np.ndarray], object],
        tables: Mapping[str, Any],
        report: Report,
        steps: list,
        in_size: tuple[int, int],
        image_scale: float | None = None,
        *,
        ops: Sequence[Op] | None = None,
    ) -> Result:
        """Run ``steps`` on the caller's ``arr`` and intake ``tables``. Neither is ever written, and nothing
        that comes back shares memory with them (copies only where an output would be an input itself).
        ``ops``: the ops the steps were drawn from (a call), so what the image must satisfy does not depend
        on the draw; a replay is judged by its steps."""
        src = arr  # the caller's pixels: only read, never handed back
        unit = _image_contract(arr, self, steps, ops)
        total = np.eye(3)
        size = in_size
        # pixels of `arr` in the frame: identity unless the image is a scaled copy of the frame
        image_from_frame = (
            M.scale(arr.shape[1] / in_size[0], arr.shape[0] / in_size[1])
            if image_scale is None
            else M.scale(image_scale, image_scale)
        )
        moved = dict(tables)
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
            border = fill_value(fill, arr.shape[2], arr.dtype, unit)
            arr = warp(
                arr,
                a @ np.linalg.inv(image_from_frame),
                size,
                interpolation=self.interpolation,
                border=border,
                clip=(0.0, 1.0) if unit else None,
            )
            image_from_frame = np.eye(3)
            arr = _run_post(arr, post, canvases, a, size, border, src)
            total = a @ total
            # the mapped coordinates are fresh arrays: clipping edits them in place
            moved = move_all(moved, a, size, report, self.options)
            mapped = True
        arr = run_stages(arr, pending)
        # no geometric op ran on a scaled copy of the frame: bring its pixels to the frame (a diagonal matrix;
        # np.allclose costs ~30 us a call)
        if abs(image_from_frame[0, 0] - 1) > 1e-9 or abs(image_from_frame[1, 1] - 1) > 1e-9:
            arr = warp(
                arr,
                np.linalg.inv(image_from_frame),
                size,
                interpolation=self.interpolation,
                clip=(0.0, 1.0) if unit else None,
            )
        if np.may_share_memory(arr, src):  # nothing made a new array (an identity pipeline): hand back a copy,
            arr = np.array(arr)  # so writing into the result never reaches the caller's image
        out = {}
        for k in kinds():
            t = moved[k.name]
            if len(t):
                if not mapped:  # tables that passed the intake untouched may still be the caller's arrays
                    t = t.take(np.arange(len(t)))
                t = apply_filters(k.finish(t, total, self.options), self.filters[k.name], report)
            out[k.name] = detach(t, tables[k.name])
        report.ops = [op.name for op, _ in steps]
        record = _record(in_size, size, total, steps, self)
        return Result(restore(arr), out, total, tuple(size), in_size, report, record, self)


def _run_post(
    arr: np.ndarray,
    post: list[tuple[int, Any]],
    canvases: list[tuple[np.ndarray, tuple[int, int]]],
    a: np.ndarray,
    size: tuple[int, int],
    border: tuple,
    src: np.ndarray | None = None,
) -> np.ndarray:
    """Pointwise pixel steps that sat inside a fused run, applied to its one warped output as op by op would:
    a step after j of the run's geometric steps sees the canvas of step j carried to the output by the rest
    of the run (fill from earlier steps is image to it, as op by op), its contrast mean reads only that
    region, and pixels that later steps fill keep the exact fill colour. Cost follows the output size.
    ``src``: the caller's image. The fill is written in place, into ``arr`` only once it is an array of ours:
    a run that nets to the identity warps to ``src`` itself, and pixel steps may hand back what they got."""
    i = 0
    while i < len(post):
        j = post[i][0]
        stages: list = []
        while i < len(post) and post[i][0] == j:
            op, d = post[i][1]
            stages.extend(op.stages(d))
            i += 1
        region: Region | None = None
        if j < len(canvases):
            a_j, size_j = canvases[j]
            region = content_region(a @ np.linalg.inv(a_j), size_j, size)
        arr = run_stages(arr, stages, region)
        if region is not None:
            arr = np.array(arr) if src is not None and np.may_share_memory(arr, src) else np.ascontiguousarray(arr)
            region.fill_outside(arr, border)
    return arr


def _walk(ops: Iterable[Any]) -> Iterator[Any]:
    for op in ops:
        yield op
        yield from _walk(getattr(op, "children", ()))


def _image_contract(arr: np.ndarray, pipeline: Pipeline, steps: list, ops: Sequence[Op] | None) -> bool:
    """Check, before any pixel is touched and whatever the draw, what the image and the fills must satisfy
    (README, "Conventions"): a float image that pixel ops may read is in [0, 1], and so are its fills;
    integer fills are levels of the dtype. Returns whether pixel ops read ``arr`` as a [0, 1] float image.
    For a call (``ops`` given) the verdict on the fills depends only on the ops, the fill and the image's
    dtype and channels: it is kept, and only a float image's own range is checked again."""
    key = cache = None
    if ops is not None:
        key = (arr.dtype.char, arr.shape[2], repr(pipeline.fill), tuple(map(id, ops)))
        cache = pipeline.__dict__.setdefault("_contracts", {})
        unit: bool | None = cache.get(key)
        if unit is not None:
            if unit:
                check_unit_range(arr)
            return unit
    every = [op for op, _ in steps] + (list(_walk(ops)) if ops is not None else [])
    unit = arr.dtype == np.float32 and any(op.kind == PIXEL for op in every)
    if unit:
        check_unit_range(arr)
    geometric = [op for op in every if op.kind == GEOMETRIC]
    if geometric:
        fill_value(pipeline.fill, arr.shape[2], arr.dtype, unit)
        for f in {id(op.fill): op.fill for op in geometric if op.fill is not None}.values():
            fill_value(f, arr.shape[2], arr.dtype, unit)
    if cache is not None:
        cache[key] = unit
    return unit


def _record(
    in_size: Sequence[int], out_size: Sequence[int], total: np.ndarray, steps: list, pipeline: Pipeline | None = None
) -> dict:
    """The replay record (checked by ``geoaug.inverse.check_record`` wherever one is read back)."""
    rec = {
        "version": REPLAY_VERSION,
        "input_size": list(in_size),
        "output_size": list(out_size),
        "matrix": total.tolist(),
        "steps": [{"op": op.name, "params": _json_safe(op.cfg), "draw": _json_safe(d)} for op, d in steps],
    }
    if pipeline is not None:  # how the forward pass clipped and ordered its kinds: its inverse does the same
        rec.update(pipeline.options)
    return rec


class _NoPixels(Op):
    """A pixel step a replay leaves out (``pixel_ops=False``): no stages, but the step's place in the schedule
    (a blur or jpeg ends a fused run; a pointwise op rides along and keeps later fill exact), so a target's
    geometry and fill land exactly where the image's did. Not a pixel op: nothing reads the target's values."""

    kind = "skipped"

    def __init__(self, op: Op) -> None:  # no validation: the op it stands for was built from checked params
        self.cfg, self.prob, self.name = op.cfg, op.prob, op.name
        self.pointwise = bool(getattr(op, "pointwise", False))

    def stages(self, draw: dict) -> list:
        return []


def _fill_cleared(i: int, op: Any) -> Any:
    """A replay fill override: the step's op with its own fill cleared, so the pipeline's (overridden) one
    applies."""
    if op.kind != GEOMETRIC or "fill" not in op.spec or op.cfg.get("fill") is None:
        return op
    return record_op(i, op.name, {**op.cfg, "fill": None})


def _check_fills(steps: list, pipeline_fill: Any, channels: int) -> None:
    """Every fill a replay will paint has a value per channel of the target, or is one number: a clear error
    naming the step before any pixel is touched (a letterbox grey [114, 114, 114] onto a 1-channel mask)."""
    for i, (op, _) in enumerate(steps):
        if op.kind != GEOMETRIC:
            continue
        f = op.fill if op.fill is not None else pipeline_fill
        if isinstance(f, (list, tuple)) and len(f) != channels:
            whose = f"step {i} (op {op.name!r})" if op.fill is not None else "the pipeline's"
            raise ImageError(
                f"replay: {whose} fill {list(f)} has {len(f)} values for a target of {channels} "
                f"channel(s); give replay(..., fill=...) for this target (e.g. fill=0 for a mask)"
            )


def _given(boxes: Any, quads: Any, lines: Any, geometry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The geometry of a call by kind name, every keyword checked to name a kind."""
    given = {"boxes": boxes, "quads": quads, "lines": lines, **geometry}
    check_geometry_keys(geometry, where)
    return given


def _json_safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v
