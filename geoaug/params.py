"""Declared op parameters: each op lists its params once; validation and error messages come from here.

Also the bounds on a config as a whole (``check_config_size``, ``bounded``): configs are shared and loaded from
less trusted places, and a few hundred bytes of YAML aliases can stand for 10^9 values. Every walk over a config
is paid for by the budget below before anything else looks at it, and every value an error message shows goes
through ``short``, which never builds the full repr of a big or deeply shared value."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, Literal

from .errors import ConfigError

REQUIRED = object()

# A pipeline config may hold at most this many values (mapping keys, items, scalars), counting a value shared
# by reference (a YAML alias) each time it occurs: about 1,000 ops with their params. Typical configs hold 50-500.
MAX_CONFIG_VALUES = 10_000
# ... nested at most this deep (each level of combinators costs 3: op mapping, params mapping, ops list).
MAX_CONFIG_DEPTH = 64
# Largest side, offset or pad in pixels an op param may name (canvases are built from these).
MAX_SIDE = 65_536
# Error messages show at most this many characters of a value, and this many items per level (a box's 4
# numbers and a quad's 4 points in full).
SHORT = 60
SHORT_ITEMS = 8
# A fill is used as an OpenCV border value of the image's own dtype; float32 is the widest.
_FLOAT32_MAX = 3.4028234663852886e38


def short(v: object, limit: int = SHORT) -> str:
    """``repr(v)`` cut to about ``limit`` characters, built from at most a few items per level: never the full
    repr of a long string, a huge integer, or a big or shared (aliased) structure."""
    s = _short(v, 2, limit)
    return s if len(s) <= limit else s[: max(limit - 3, 1)] + "..."


def _short(v: Any, level: int, limit: int) -> str:
    if v is None or isinstance(v, (bool, float)):
        return repr(v)
    if isinstance(v, int):
        if -(10**30) < v < 10**30:
            return repr(v)
        return f"<{'-' if v < 0 else ''}integer of ~{int(v.bit_length() * 0.30103) + 1} digits>"
    if isinstance(v, (str, bytes)):
        return repr(v[:limit]) + ("..." if len(v) > limit else "")
    if isinstance(v, (list, tuple, dict)):
        o, c = ("{", "}") if isinstance(v, dict) else ("[", "]") if isinstance(v, list) else ("(", ")")
        if not v:
            return o + c
        if level <= 0:
            return f"{o}...{c}"
        items = islice(v.items(), SHORT_ITEMS) if isinstance(v, dict) else islice(v, SHORT_ITEMS)
        parts = (
            [f"{_short(k, 0, 20)}: {_short(x, level - 1, 20)}" for k, x in items]
            if isinstance(v, dict)
            else [_short(x, level - 1, 20) for x in items]
        )
        if len(v) > SHORT_ITEMS:
            parts.append(f"... ({len(v)} items)")
        return o + ", ".join(parts) + ("," if c == ")" and len(v) == 1 else "") + c
    try:  # numbers (numpy scalars too), arrays by their shape, anything else by its type
        shape = getattr(v, "shape", None)
        if isinstance(v, numbers.Number) or shape == ():
            return repr(v)[:limit]
        return f"<{type(v).__name__} of shape {tuple(shape)}>" if isinstance(shape, tuple) else f"<{type(v).__name__}>"
    except Exception:  # noqa: BLE001 (a repr that fails must not replace the error being reported)
        return f"<{type(v).__name__}>"


def check_config_size(cfg: object, where: str = "") -> None:
    """Refuse a config that holds more than MAX_CONFIG_VALUES values or nests deeper than MAX_CONFIG_DEPTH,
    counting shared references (YAML aliases) once per occurrence, i.e. as big as the config really is to
    everything that walks it. The walk itself stops at the budget, so a 10^9-value alias bomb costs as much as
    a 10^4-value config. A reference cycle nests without end and is refused for its depth. The error names the
    path where the budget ran out (``ops[1] (op 'rotate').params.max_deg[0]...``)."""
    stack: list[tuple[Any, int, Any]] = [(cfg, 1, None)]  # (value, depth, trail: nested (parent, key, value))
    n = 0
    while stack:
        v, depth, trail = stack.pop()
        if isinstance(v, (list, tuple, dict, set, frozenset)):
            if depth > MAX_CONFIG_DEPTH:
                raise ConfigError(
                    f"{where}config nests deeper than {MAX_CONFIG_DEPTH} levels{_at(cfg, trail)} (a "
                    f"recursive YAML alias or reference?); geoaug refuses it"
                )
            n += len(v) * (2 if isinstance(v, dict) else 1)
            if n > MAX_CONFIG_VALUES:
                raise ConfigError(
                    f"{where}config too large{_at(cfg, trail)}: more than {MAX_CONFIG_VALUES:,} values "
                    f"once YAML aliases and shared references are expanded; geoaug refuses it"
                )
            if isinstance(v, dict):
                stack.extend((k, depth + 1, trail) for k in v if isinstance(k, (tuple, frozenset)))
                stack.extend((x, depth + 1, (trail, k, x)) for k, x in v.items())
            elif isinstance(v, (list, tuple)):
                stack.extend((x, depth + 1, (trail, i, x)) for i, x in enumerate(v))
            else:
                stack.extend((x, depth + 1, trail) for x in v)


def _at(root: object, trail: Any, limit: int = 100) -> str:
    """' at ops[1] (op 'rotate').params.max_deg[0]': where a config walk stopped, ops named."""
    steps = []
    while trail is not None:
        trail, key, value = trail
        steps.append((key, value))
    text = _op_label(root).strip()[1:-1]  # "op 'rotate'" for an op's own config
    for key, value in reversed(steps):
        text += (
            f"[{key}]"
            if isinstance(key, int)
            else f".{key}"
            if text and isinstance(key, str)
            else key
            if isinstance(key, str)
            else f"[{short(key, 20)}]"
        )
        text += _op_label(value)
        if len(text) > limit:
            return f" at {text[: limit - 3]}..."
    return f" at {text}" if text else ""


def _op_label(v: object) -> str:
    name = v.get("name") if isinstance(v, dict) else None
    return f" (op {short(name, 30)})" if isinstance(name, str) else ""


_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("geoaug_config_checked", default=False)


@contextlib.contextmanager
def bounded(cfg: object, where: str = "") -> Iterator[None]:
    """Run a build under the config budget: ``cfg`` is checked once by the outermost build (a pipeline, an op
    made by name, a combinator); the builds nested in it (a combinator's children) do not walk it again."""
    if _CHECKED.get():
        yield
        return
    check_config_size(cfg, where)
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


# What a param's value is, for tools that describe params (geoaug.ops.typed and its test): the constructor
# below that made it, or "custom" for a param built from its own check.
ParamKind = Literal["float", "int", "bool", "choice", "range", "fill", "custom"]


class Param:
    """One declared param. ``check`` takes a given value and returns it normalised, or raises ValueError
    with the reason; ``default`` is the value when not given, or REQUIRED. ``kind`` and the fields after it
    only describe the accepted values (they never change what ``check`` does): ``optional``, null is
    accepted; ``options``, a choice's values; ``scalar``, a range also takes one number; ``integer``, a
    range of integers."""

    def __init__(
        self,
        check: Callable[[Any], Any],
        default: Any = REQUIRED,
        doc: str = "",
        *,
        kind: ParamKind = "custom",
        optional: bool = False,
        options: tuple[Any, ...] = (),
        scalar: bool = False,
        integer: bool = False,
    ) -> None:
        self.check, self.default, self.doc = check, default, doc
        self.kind, self.optional, self.options, self.scalar, self.integer = kind, optional, options, scalar, integer


def _is_real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and type(v).__name__ != "bool_"


def _num(v: Any, what: str) -> Any:
    """A finite real number (int, float, numpy scalar; never a bool), as given."""
    if not _is_real(v):
        raise ValueError(f"must be {what}, got {short(v)}")
    try:
        finite = math.isfinite(float(v))
    except (OverflowError, ValueError):
        finite = False
    if not finite:
        raise ValueError(f"must be finite ({what}), got {short(v)}")
    return v


def Float(lo: float = -math.inf, hi: float = math.inf, default: Any = REQUIRED, doc: str = "") -> Param:
    def check(v: Any) -> float:
        f = float(_num(v, "a number"))
        if not lo <= f <= hi:
            raise ValueError(f"must be in [{lo:g}, {hi:g}], got {f:g}")
        return f

    return Param(check, default, doc, kind="float")


def Int(
    lo: float = -math.inf, hi: float = math.inf, default: Any = REQUIRED, doc: str = "", optional: bool = False
) -> Param:
    def check(v: Any) -> int | None:
        if v is None and optional:
            return None
        if isinstance(v, float) and v.is_integer() or isinstance(v, numbers.Integral) and _is_real(v):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be an integer{' or null' if optional else ''}, got {short(v)}")
        if not lo <= v <= hi:
            raise ValueError(f"must be in [{lo:g}, {hi:g}], got {short(v)}")
        return v

    return Param(check, default, doc, kind="int", optional=optional)


def Bool(default: Any = REQUIRED, doc: str = "") -> Param:
    def check(v: Any) -> bool:
        if not isinstance(v, bool):
            raise ValueError(f"must be true or false, got {short(v)}")
        return v

    return Param(check, default, doc, kind="bool")


def Choice(options: Iterable[Any], default: Any = REQUIRED, doc: str = "") -> Param:
    allowed = tuple(options)

    def check(v: Any) -> Any:
        if not any(type(v) is type(o) and v == o for o in allowed):
            raise ValueError(f"must be one of {list(allowed)}, got {short(v)}")
        return v

    return Param(check, default, doc, kind="choice", options=allowed)


def Range(
    lo: float = -math.inf,
    hi: float = math.inf,
    default: Any = REQUIRED,
    doc: str = "",
    from_scalar: Callable[[float], list[float]] | None = None,
    integer: bool = False,
    optional: bool = False,
) -> Param:
    """A [low, high] pair sampled uniformly. ``from_scalar`` turns a single number into a pair."""

    def check(v: Any) -> list[float] | list[int] | None:
        if v is None and optional:
            return None
        if from_scalar is not None and _is_real(v):
            v = from_scalar(float(_num(v, "a number")))
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            what = "a number or a [low, high] pair" if from_scalar is not None else "a [low, high] pair"
            raise ValueError(f"must be {what}{' or null' if optional else ''}, got {short(v)}")
        a, b = (float(_num(x, "a pair of numbers")) for x in v)
        if integer:
            if not (a.is_integer() and b.is_integer()):
                raise ValueError(f"must be integers, got {short(v)}")
            a, b = int(a), int(b)
        if a > b:
            raise ValueError(f"low must not exceed high, got [{a:g}, {b:g}]")
        if a < lo or b > hi:
            raise ValueError(f"must lie within [{lo:g}, {hi:g}], got [{a:g}, {b:g}]")
        return [a, b]

    return Param(check, default, doc, kind="range", optional=optional, scalar=from_scalar is not None, integer=integer)


FILL_WHAT = "a number or a list of 1, 3 or 4 numbers (grey, RGB, RGBA)"


def Fill(default: Any = 0, doc: str = "border fill: a number or one per channel") -> Param:
    """A border fill. Its range depends on the image (a uint8 level, a uint16 one, any float), so that is
    checked when the image is known; what no supported image could take is refused here: NaN or inf, a
    value beyond float32, anything but a number, and lists of other lengths than 1, 3 or 4 (geoaug images
    have 1, 3 or 4 channels). A one-value list is that number, for any channel count."""

    def one(x: Any) -> float:
        f = float(_num(x, FILL_WHAT))
        if abs(f) > _FLOAT32_MAX:
            raise ValueError(f"must be within float32 range, got {f:g}")
        return f

    def check(v: Any) -> float | list[float] | None:
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            if len(v) not in (1, 3, 4):
                raise ValueError(f"must be {FILL_WHAT}, got {len(v)} values")
            vals = [one(x) for x in v]
            return vals[0] if len(vals) == 1 else vals
        return one(v)

    return Param(check, default, doc, kind="fill", optional=True)


def Prob(default: float = 1.0) -> Param:
    return Float(0.0, 1.0, default, "probability that the op runs")


def validate(op_name: str, spec: Mapping[str, Param], given: object, where: str = "") -> dict[str, Any]:
    """Check given params against the spec; return them with defaults filled in."""
    label = f"{where}op {op_name!r}" if where else f"op {op_name!r}"
    if not isinstance(given, dict):
        raise ConfigError(f"{label}: params must be a mapping, got {type(given).__name__}")
    unknown = [k for k in given if not isinstance(k, str) or k not in spec]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(k[:100], list(spec), n=1) if isinstance(k, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{label}: unknown param {short(k)}.{hint} Valid params: {', '.join(sorted(spec))}")
    out: dict[str, Any] = {}
    for name, p in spec.items():
        if name in given:
            try:
                out[name] = p.check(given[name])
            except ValueError as e:
                raise ConfigError(f"{label}: param {name!r} {e}") from None
        elif p.default is REQUIRED:
            raise ConfigError(f"{label}: missing required param {name!r}. Valid params: {', '.join(sorted(spec))}")
        else:
            out[name] = p.default
    return out
