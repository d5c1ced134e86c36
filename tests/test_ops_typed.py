"""geoaug.ops.typed against the ops' own specs: every registered op has its TypedDict, with exactly the keys of
its spec, each annotated with the Python type its Param accepts, and every default fits its annotation. The
specs stay the one source of truth; this test is what keeps the TypedDicts from drifting away from them."""

import subprocess
import sys
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

import geoaug
from geoaug.ops import typed
from geoaug.ops.base import Op
from geoaug.params import REQUIRED, Param

NONE = type(None)
PAIR = {tuple[float, float], list[float]}
INT_PAIR = {tuple[int, int], list[int]}
OP_ITEM = Op | Mapping[str, Any]
# Params declared with their own check (kind "custom"): what each accepts, spelled out here.
CUSTOM = {
    ("one_of", "ops"): {list[OP_ITEM], tuple[OP_ITEM, ...]},
    ("one_of", "weights"): {list[float], tuple[float, ...], NONE},
    ("some_of", "ops"): {list[OP_ITEM], tuple[OP_ITEM, ...]},
    ("some_of", "n"): {int} | INT_PAIR,
}


def members(t: Any) -> set:
    """The alternatives of a type: a union (typing.Union or X | Y, nested too) flattened into a set."""
    if get_origin(t) in (Union, types.UnionType):
        return set().union(*(members(a) for a in get_args(t)))
    return {t}


def expected(op: str, name: str, p: Param) -> set:
    """The annotation a param's TypedDict key must have, from the Param's declared kind."""
    if p.kind == "custom":
        assert (op, name) in CUSTOM, f"{op}.{name}: a custom param; add what it accepts to CUSTOM"
        return {m for t in CUSTOM[op, name] for m in members(t)}
    if p.kind == "float":
        out = {float}
    elif p.kind == "int":
        out = {int}
    elif p.kind == "bool":
        out = {bool}
    elif p.kind == "choice":
        out = {Literal[p.options]}  # Literal[(a, b)] is Literal[a, b]
    elif p.kind == "range":
        out = set(INT_PAIR if p.integer else PAIR) | ({int if p.integer else float} if p.scalar else set())
    elif p.kind == "fill":
        out = {float, list[float], tuple[float, ...]}
    else:
        raise AssertionError(f"{op}.{name}: unknown Param kind {p.kind!r}")
    return out | ({NONE} if p.optional else set())


def fits(value: Any, t: Any) -> bool:
    """Does ``value`` (a default) have type ``t``? Enough of isinstance for the annotations used here."""
    if any(fits(value, m) for m in members(t) - {t}):
        return True
    if t is NONE:
        return value is None
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin, args = get_origin(t), get_args(t)
    if origin is Literal:
        return value in args
    if origin in (list, tuple) and isinstance(value, origin):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args))
        return all(fits(v, args[0]) for v in value)
    return origin is None and isinstance(t, type) and isinstance(value, t)


OPS = sorted(geoaug.REGISTRY)


def test_every_registered_op_has_its_typed_dict():
    assert set(typed.OP_PARAMS) == set(geoaug.REGISTRY)
    for name, cls in geoaug.REGISTRY.items():
        td = typed.OP_PARAMS[name]
        assert td.__name__ == f"{cls.__name__}Params", name
        assert getattr(typed, td.__name__) is td and td.__name__ in typed.__all__
        assert td.__total__ is False and not td.__required_keys__, f"{td.__name__}: every key optional"


@pytest.mark.parametrize("op", OPS)
def test_keys_are_the_spec_keys(op):
    assert set(get_type_hints(typed.OP_PARAMS[op])) == set(geoaug.REGISTRY[op].spec)


@pytest.mark.parametrize("op", OPS)
def test_each_annotation_is_what_its_param_accepts(op):
    hints = get_type_hints(typed.OP_PARAMS[op])
    for name, p in geoaug.REGISTRY[op].spec.items():
        assert members(hints[name]) == expected(op, name, p), f"{op}.{name}"


@pytest.mark.parametrize("op", OPS)
def test_every_default_fits_its_annotation(op):
    hints = get_type_hints(typed.OP_PARAMS[op])
    for name, p in geoaug.REGISTRY[op].spec.items():
        if p.default is not REQUIRED:
            assert fits(p.default, hints[name]), f"{op}.{name}: default {p.default!r} vs {hints[name]}"


def test_the_checks_here_see_a_wrong_annotation():
    """The comparison is strict: a missing None, a pair typed as one number, or an extra alternative fails."""
    rotate, jitter = geoaug.REGISTRY["rotate"].spec, geoaug.REGISTRY["color_jitter"].spec
    assert members(float | list[float] | tuple[float, ...]) != expected("rotate", "fill", rotate["fill"])
    assert members(float | None) != expected("color_jitter", "hue", jitter["hue"])
    assert members(int | typed.Pair) != expected("rotate", "max_deg", rotate["max_deg"])
    assert not fits([1.5, 2.0], typed.IntPair) and fits([1, 2], typed.IntPair) and not fits("a", typed.Pair)


def test_a_typed_params_dict_builds_its_op():
    """A TypedDict is a plain dict at run time: it goes wherever params go, and builds the same op."""
    params = typed.RotateParams(max_deg=30.0, fill=[255, 255, 255])
    op = geoaug.make_op("rotate", params)
    assert op.config() == geoaug.make_op("rotate", {"max_deg": 30.0, "fill": [255, 255, 255]}).config()
    aug = geoaug.Pipeline([{"name": "one_of", "params": typed.OneOfParams(ops=[{"name": "rotate", "params": params}])}])
    assert aug.ops[0].config()["params"]["ops"][0] == op.config()


SNIPPET = """
from geoaug.ops.typed import JpegParams, OneOfParams, RotateParams

ok = OneOfParams(ops=[{"name": "rotate", "params": RotateParams(max_deg=30, fill=[255, 255, 255])}], weights=[1])
bad_type = RotateParams(max_deg="30")
bad_key = RotateParams(max_degs=30)
bad_pair = JpegParams(quality=[60.5, 95])
"""


@pytest.mark.slow
def test_mypy_checks_a_config_written_with_them(tmp_path):
    """What the TypedDicts are for: mypy flags a wrong type, an unknown key and a float in an integer range."""
    pytest.importorskip("mypy")
    src = tmp_path / "snippet.py"
    src.write_text(SNIPPET)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in run.stdout.splitlines() if line.startswith(str(src)) and ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [5, 6, 7], run.stdout + run.stderr
