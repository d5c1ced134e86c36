"""The replay record, and the one check every record passes before ``replay`` or ``inverse`` uses it.

A record (``res.replay``, ``aug.plan(...)``) is JSON: ``version``, ``input_size``, ``steps`` (each
``{"op", "params", "draw"}``: the leaf ops that ran and what they drew), and what follows from them:
``output_size`` and ``matrix``, plus the forward pass's kind options (``quad_clip``, ``quad_order``, ...:
see ``geoaug.kinds``). ``check_record``
validates all of it against the ops' own specs (params by the op's declared params, draws by the bounds of
what the op can draw), so a corrupted record is a ``ReplayError`` naming the step, the op and the field,
never a KeyError deep inside, NaN geometry or an empty canvas.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .errors import ConfigError, ReplayError
from .kinds import option_specs
from .ops.base import COMBINATOR, GEOMETRIC
from .params import REQUIRED, Bool, Float, Int, Param, short
from .registry import REGISTRY, make_op

if TYPE_CHECKING:
    from .ops.base import Draw, GeometricOp, Op, Step

RECORD_VERSION = 1
# Largest canvas side a record may name or make: 2^20 px. An op param is bounded tighter (params.MAX_SIDE),
# but a plan may be made for a huge scan decoded at 1/8. A larger number is a corrupted record, refused
# before anything allocates a canvas of that size.
MAX_RECORD_SIDE = 1 << 20


# ---- what each op can draw ---------------------------------------------------------------------------
def _offsets() -> Param:
    """Perspective corner offsets: 4 [dx, dy] pairs within the op's ``scale`` bounds."""
    one = Float(0, 0.45).check

    def check(v: Any) -> list[list[float]]:
        if (
            not isinstance(v, (list, tuple))
            or len(v) != 4
            or not all(isinstance(r, (list, tuple)) and len(r) == 2 for r in v)
        ):
            raise ValueError(f"must be 4 [dx, dy] pairs, got {short(v)}")
        out: list[list[float]] = []
        for i, r in enumerate(v):
            row: list[float] = []
            for j, x in enumerate(r):
                try:
                    row.append(one(x))
                except ValueError as e:
                    raise ValueError(f"[{i}][{j}] {e}") from None
            out.append(row)
        return out

    return Param(check)


# Draw fields per op, with the bounds of the op's own param spec (rotate's max_deg <= 180 bounds its angle,
# affine's shear <= 89 its shear_x/y, ...): any draw the op could make passes, and every draw that passes
# gives a finite, invertible matrix and a canvas of at least 1x1. Checked against the bounds, not against
# the record's own params, so a hand-set draw (a fixed angle) replays. An op class may declare its own
# ``draw_spec``; it takes precedence over this table. Ops missing from both fail a test.
DRAW_SPECS: dict[str, dict[str, Param]] = {
    "hflip": {},
    "vflip": {},
    "resize": {},
    "smart_resize": {},
    "crop": {},
    "center_crop": {},
    "pad": {},
    "pad_to_multiple": {},
    "grayscale": {},
    "rot90": {"k": Int(0, 3)},
    "rotate": {"angle": Float(-180, 180)},
    "affine": {
        "scale": Float(0.01, 100),
        "angle": Float(-180, 180),
        "shear_x": Float(-89, 89),
        "shear_y": Float(-89, 89),
        "tx": Float(-1, 1),
        "ty": Float(-1, 1),
    },
    "perspective": {"offsets": _offsets()},
    "random_crop": {
        "x": Int(0, MAX_RECORD_SIDE),
        "y": Int(0, MAX_RECORD_SIDE),
        "width": Int(1, MAX_RECORD_SIDE),
        "height": Int(1, MAX_RECORD_SIDE),
        "tries": Int(1, default=None),
        "fallback": Bool(default=None),
    },
    "color_jitter": {
        "brightness": Float(0, 10, None),
        "contrast": Float(0, 10, None),
        "saturation": Float(0, 10, None),
        "hue": Float(-0.5, 0.5, None),
    },
    "gamma": {"gamma": Float(0.01, 10)},
    "gaussian_blur": {"sigma": Float(0.01, 50)},
    "gaussian_noise": {"std": Float(0, 1), "seed": Int(0, 2**63 - 1)},
    "jpeg": {"quality": Int(1, 100)},
}


def draw_spec(op_cls: type[Op]) -> dict[str, Param] | None:
    spec: dict[str, Param] | None = getattr(op_cls, "draw_spec", None)
    return spec if spec is not None else DRAW_SPECS.get(op_cls.name)


# ---- record check -----------------------------------------------------------------------------------
RECORD_KEYS = ("version", "input_size", "output_size", "matrix", "steps", "inverted")


def top_keys() -> tuple[str, ...]:
    """Every key a record may hold: its own, and each registered kind's options."""
    return RECORD_KEYS + tuple(option_specs())


STEP_KEYS = ("op", "params", "draw")


@dataclass
class CheckedRecord:
    """A record that passed ``check_record``: sizes as int tuples, steps as (op instance, draw) pairs,
    ``matrix`` the record's (None when a replay record leaves it out), ``forward`` the map the steps make
    from the forward input to the forward output."""

    input_size: tuple[int, int]  # (width, height)
    output_size: tuple[int, int]
    matrix: np.ndarray | None
    steps: list[Step]
    options: dict[str, str]  # each kind option: the record's value, or its default
    inverted: bool
    forward: np.ndarray


# One op instance per distinct (name, params), shared by every replay: replaying a plan on every fetch
# should not re-validate the same op config each time. Bounded: cleared when full.
_OPS: dict[tuple[str, str], Op] = {}
_OPS_MAX = 512


def record_op(i: int, name: str, params: dict[str, Any], where: str = "replay") -> Op:
    try:
        key = (name, json.dumps(params, sort_keys=True))
    except (TypeError, ValueError):
        key = None
    op = _OPS.get(key) if key is not None else None
    if op is None:
        try:
            op = make_op(name, _given(REGISTRY[name], params), f"{where} step {i}: ")
        except ConfigError as e:
            raise ReplayError(str(e)) from None
        if key is not None:
            if len(_OPS) >= _OPS_MAX:
                _OPS.clear()
            _OPS[key] = op
    return op


def _given(cls: type[Op], params: dict[str, Any]) -> dict[str, Any]:
    """A record's params less those at their spec's default. A record stores an op's whole config (defaults
    filled in), and an op may refuse a param given where it does not apply (random_crop's ``ratio`` next to
    width/height) even at its default value: the op is rebuilt as if from the config the user wrote."""
    spec = getattr(cls, "spec", {})

    def at_default(k: str, v: Any) -> bool:
        p = spec.get(k)
        return (
            p is not None
            and p.default is not REQUIRED
            and isinstance(v, bool) == isinstance(p.default, bool)
            and _equal(v, p.default)
        )

    return {k: v for k, v in params.items() if not at_default(k, v)}


def _equal(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an exotic value is simply not the default
        return False


def check_record(record: Any, use: str = "replay") -> CheckedRecord:
    """Validate a record before ``use`` ("replay" or "inverse") touches it; raise ReplayError naming the step,
    op and field. Required: ``version``, ``input_size``, ``steps``; ``output_size`` and ``matrix`` follow
    from the steps and are required by ``inverse`` only (a hand-written replay record may leave them out);
    where present they must agree with what the steps make."""
    where = use
    if not isinstance(record, dict):
        raise ReplayError(f"{where}: record must be a mapping, got {type(record).__name__}")
    keys = top_keys()
    unknown = [k for k in record if k not in keys]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), keys, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ReplayError(f"{where}: record has unknown key {short(k)}.{hint} Keys: {', '.join(keys)}")
    needed = ("version", "input_size", "steps") + (("output_size", "matrix") if use == "inverse" else ())
    for k in needed:
        if k not in record:
            raise ReplayError(f"{where}: record is missing {k!r}")
    version = record["version"]
    if isinstance(version, bool) or not isinstance(version, (int, float)) or version != RECORD_VERSION:
        raise ReplayError(
            f"{where}: record.version {short(version)} is not one this geoaug reads (version {RECORD_VERSION})"
        )
    inverted = record.get("inverted", False)
    if not isinstance(inverted, bool):
        raise ReplayError(f"{where}: record.inverted must be true or false, got {short(inverted)}")
    options = {
        name: _choice(where, name, record.get(name, default), allowed)
        for name, (allowed, default) in option_specs().items()
    }
    in_size = _size(where, "input_size", record["input_size"])
    out_size = _size(where, "output_size", record["output_size"]) if "output_size" in record else None
    matrix = _matrix(where, record["matrix"]) if "matrix" in record else None

    steps_in = record["steps"]
    if not isinstance(steps_in, list):
        raise ReplayError(f"{where}: record.steps must be a list, got {type(steps_in).__name__}")
    steps = [_step(where, i, s) for i, s in enumerate(steps_in)]

    # what the steps make from the forward input: the record's input, or an inverted record's output
    start = out_size if inverted else in_size
    if start is None:
        raise ReplayError(f"{where}: an inverted record needs 'output_size'")
    forward, size = np.eye(3), start
    for i, (op, d) in enumerate(steps):
        if op.kind == GEOMETRIC:
            a, size = cast("GeometricOp", op).transform(d, size)  # kind GEOMETRIC: a GeometricOp
            forward = a @ forward
            if max(size) > MAX_RECORD_SIDE:
                raise ReplayError(
                    f"{where} step {i} (op {op.name!r}): makes a {size[0]}x{size[1]} canvas, "
                    f"beyond {MAX_RECORD_SIDE} px a side (params or draw corrupted?)"
                )
    end, end_key = (in_size, "input_size") if inverted else (out_size, "output_size")
    if end is not None and tuple(size) != end:
        raise ReplayError(f"{where}: record.{end_key} {list(end)} is not the size its steps make {list(size)}")
    if matrix is not None:
        expect = np.linalg.inv(forward) if inverted else forward
        if not (np.abs(matrix - expect) <= 1e-9 * (1.0 + np.abs(expect))).all():
            raise ReplayError(
                f"{where}: record.matrix does not match the matrix its steps make (a draw or the "
                f"matrix edited?): {short(np.round(matrix, 6).tolist())} vs "
                f"{short(np.round(expect, 6).tolist())}"
            )
    return CheckedRecord(
        in_size,
        out_size if out_size is not None else (size[0], size[1]),
        matrix,
        steps,
        options,
        inverted,
        forward,
    )


def steps_json(steps: list[Step]) -> list[dict[str, Any]]:
    """Checked (op, draw) steps as a record's JSON list (params with their defaults, as a forward record)."""
    out: list[dict[str, Any]] = json.loads(
        json.dumps([{"op": op.name, "params": op.cfg, "draw": d} for op, d in steps])
    )
    return out


def _step(where: str, i: int, s: object) -> Step:
    if not isinstance(s, dict):
        raise ReplayError(f"{where} step {i}: must be a mapping with 'op', 'params' and 'draw', got {short(s)}")
    name = s.get("op")
    label = _Label(where, i, name)
    for k in s:
        if k not in STEP_KEYS:
            raise ReplayError(f"{label}: unknown key {short(k)}; a step has {', '.join(STEP_KEYS)}")
    for k in STEP_KEYS:
        if k not in s:
            raise ReplayError(f"{label}: missing {k!r}")
    if not isinstance(name, str) or name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1) if isinstance(name, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ReplayError(f"{where} step {i}: unknown op {short(name)}.{hint}")
    cls = REGISTRY[name]
    if cls.kind == COMBINATOR:
        raise ReplayError(f"{label}: a combinator never appears in a record (its chosen ops do)")
    params, draw = s["params"], s["draw"]
    if not isinstance(params, dict):
        raise ReplayError(f"{label}: params must be a mapping, got {short(params)}")
    if not isinstance(draw, dict):
        raise ReplayError(f"{label}: draw must be a mapping, got {short(draw)}")
    spec = draw_spec(cls)
    if spec is None:
        raise ReplayError(f"{label}: op has no declared draw fields; its records cannot be checked")
    op = record_op(i, name, params, where)
    return op, _check_draw(label, spec, draw)


class _Label:
    """``replay step 3 (op 'rotate')``, built only when an error needs it (a replay per fetch checks its
    record, and almost never fails)."""

    def __init__(self, where: str, i: int, name: object) -> None:
        self.where, self.i, self.name = where, i, name

    def __str__(self) -> str:
        return f"{self.where} step {self.i} (op {short(self.name)})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _check_draw(label: _Label, spec: dict[str, Param], draw: dict[str, Any]) -> Draw:
    for k in draw:
        if k not in spec:
            valid = ", ".join(sorted(spec)) or "none"
            raise ReplayError(f"{label}: unknown draw field {short(k)} (draw fields: {valid})")
    out: Draw = {}
    for k, p in spec.items():
        if k not in draw:
            if p.default is REQUIRED:
                raise ReplayError(f"{label}: draw is missing {k!r}")
            continue
        try:
            out[k] = p.check(draw[k])
        except ValueError as e:
            msg = str(e)
            raise ReplayError(f"{label}: draw.{k}{'' if msg.startswith('[') else ' '}{msg}") from None
    return out


def _choice(where: str, name: str, v: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(v, str) or v not in allowed:
        raise ReplayError(f"{where}: record.{name} must be one of {list(allowed)}, got {short(v)}")
    return v


def _size(where: str, name: str, v: object) -> tuple[int, int]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ReplayError(f"{where}: record.{name} must be [width, height], got {short(v)}")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, float) and math.isfinite(x) and x.is_integer():
            x = int(x)
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 1 <= x <= MAX_RECORD_SIDE:
            raise ReplayError(
                f"{where}: record.{name}[{i}] ({'width' if i == 0 else 'height'}) must be an "
                f"integer in [1, {MAX_RECORD_SIDE}], got {short(x)}"
            )
        out.append(int(x))
    return out[0], out[1]


def _matrix(where: str, v: object) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ReplayError(f"{where}: record.matrix must be 3x3 numbers, got {short(v)}") from None
    if a.shape != (3, 3):
        raise ReplayError(f"{where}: record.matrix must be 3x3, got shape {a.shape}")
    if not np.isfinite(a).all():
        r, c = (int(x) for x in np.argwhere(~np.isfinite(a))[0])
        raise ReplayError(f"{where}: record.matrix[{r}][{c}] is {a[r, c]}")
    top = np.abs(a).max()
    det = np.linalg.det(a / top) if top > 0 else 0.0  # scale-free: a matrix of huge entries is not singular
    if not abs(det) > 1e-12:
        raise ReplayError(f"{where}: record.matrix is singular: it cannot be inverted")
    return a
