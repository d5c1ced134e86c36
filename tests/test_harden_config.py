"""Config hardening.

1. YAML alias bombs: a few hundred bytes of aliases standing for 10^8-10^9 values fail fast with a short
   ConfigError, whatever their shape (lists, mappings, merge keys, op lists inside one_of/some_of, recursive
   aliases, plain deep nesting), and so do the same shapes built as shared Python references. "Fast" is measured
   deterministically: the number of function calls (Python functions and the builtins they call), counted with
   sys.setprofile and cut off at WORK_LIMIT, never wall time.
2. Every config value is checked when the pipeline is built: for every registered op and every param, and every
   pipeline-level key, wrong-typed and out-of-range values either build a pipeline that then runs on a small
   image, or raise geoaug.ConfigError (a ValueError) naming the op (with its index) and the param. Never another
   exception, never a failure left to call time.
"""

import math
import re
import sys

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import geoaug
import geoaug.config as gconfig
import geoaug.params as gparams
from geoaug.config import load_yaml_text

# Building a small pipeline from YAML costs ~10^4 calls; an unbounded bomb costs > 10^8.
WORK_LIMIT = 200_000
# Messages show a value in at most ~60 characters, whatever its size; with the op, the param and a list of the
# valid names (all known ops, for an unknown one) they stay under this.
SHORT_MESSAGE = 500


class TooMuchWork(Exception):
    pass


def run_counted(fn, *args, limit=WORK_LIMIT, **kwargs):
    """Call fn under a call counter; TooMuchWork once it has made more than ``limit`` calls.
    Returns (result or raised exception, calls)."""
    calls = 0

    def prof(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1
            if calls > limit:
                raise TooMuchWork(f"more than {limit} calls")

    old = sys.getprofile()
    sys.setprofile(prof)
    try:
        out = fn(*args, **kwargs)
    except TooMuchWork:
        raise
    except Exception as e:  # noqa: BLE001 (returned to the test, which checks its type)
        out = e
    finally:
        sys.setprofile(old)
    return out, calls


def assert_refused_fast(fn, *args, match=None, **kwargs):
    out, calls = run_counted(fn, *args, **kwargs)
    assert isinstance(out, geoaug.ConfigError), f"expected a ConfigError, got {out!r}"[:500]
    msg = str(out)
    assert len(msg) < SHORT_MESSAGE, msg[:500]
    if match:
        assert re.search(match, msg), msg
    return msg, calls


# ---- 1. alias bombs ------------------------------------------------------------------------------------------


def laughs(kind="list", levels=9, width=9):
    """Billion-laughs as one flow collection: level i holds ``width`` aliases of level i-1, so the collection
    stands for ~width**levels leaves in ~500 bytes."""
    parts = []
    for i in range(levels):
        items = ["lol"] * width if i == 0 else [f"*a{i - 1}"] * width
        if kind == "list":
            parts.append(f"&a{i} [{', '.join(items)}]")
        else:
            parts.append(f"a{i}: &a{i} {{" + ", ".join(f"k{j}: {x}" for j, x in enumerate(items)) + "}")
    return ("[" + ", ".join(parts) + "]") if kind == "list" else ("{" + ", ".join(parts) + "}")


def op_tree(combinator="one_of", levels=8, width=10):
    """A pipeline whose op i is a combinator of ``width`` aliases of op i-1: width**levels ops."""
    lines = ["ops:", "- &x0 {name: hflip}"]
    for i in range(1, levels + 1):
        n = ", n: 1" if combinator == "some_of" else ""
        lines.append(f"- &x{i} {{name: {combinator}, params: {{ops: [{', '.join([f'*x{i - 1}'] * width)}]{n}}}}}")
    return "\n".join(lines) + "\n"


def _bombs():
    merge = (
        "{m0: &m0 {"
        + ", ".join(f"k{j}: [lol, lol, lol, lol, lol, lol, lol, lol]" for j in range(8))
        + "}, "
        + ", ".join(
            f"m{i}: &m{i} {{<<: *m{i - 1}, " + ", ".join(f"v{j}: *m{i - 1}" for j in range(8)) + "}"
            for i in range(1, 9)
        )
        + "}"
    )
    return {
        "lists at top level": f"x: {laughs('list')}\n",
        "mappings at top level": f"x: {laughs('mapping')}\n",
        "lists as a param value": f"ops: [{{name: rotate, params: {{max_deg: {laughs('list')}}}}}]\n",
        "mappings as a param value": f"ops: [{{name: rotate, params: {{fill: {laughs('mapping')}}}}}]\n",
        "mappings as a filter": f"filters: {{boxes: {{min_area: {laughs('mapping')}}}}}\n",
        "lists as an op": f"ops: [{laughs('list')}]\n",
        "one_of op tree": op_tree("one_of"),
        "some_of op tree": op_tree("some_of"),
        "merge keys": f"x: {merge}\n",
        "under custom.augmentation": "custom:\n  augmentation:\n"
        + "".join("    " + ln + "\n" for ln in op_tree("one_of").splitlines()),
    }


BOMBS = _bombs()


@pytest.mark.parametrize("name", list(BOMBS))
def test_alias_bomb_file_fails_fast_with_a_short_message(tmp_path, name):
    text = BOMBS[name]
    assert len(text) < 1200
    p = tmp_path / "bomb.yaml"
    p.write_text(text)
    assert_refused_fast(geoaug.from_config, p, match=r"bomb\.yaml: YAML expands to more than 100,000 nodes")


@pytest.mark.parametrize(
    "text, match",
    [
        ("a: &a [*a]\n", "recursive alias"),
        ("a: &a {k: [1, *a]}\n", "recursive alias"),
        ("[" * 5000 + "]" * 5000, "nests deeper than 100 levels"),
        ("a: " + "{b: " * 3000 + "1" + "}" * 3000, "nests deeper than 100 levels"),
        # depth through aliases: each level adds one, the file itself is 2 levels deep
        (
            "".join(f"a{i}: &a{i} [{'*a' + str(i - 1) if i else 0}]\n" for i in range(150)),
            "nests deeper than 100 levels",
        ),
        ("ops: [{name: rotate, params: {max_deg: " + "1" * 5000 + "}}]\n", "invalid YAML value"),
        ("ops: [{name: rotate, params: {max_deg: 1}}]\n" + "# pad\n" * 800_000, "geoaug reads YAML configs up to"),
    ],
)
def test_recursive_deep_or_oversized_yaml_fails_fast(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    assert_refused_fast(geoaug.from_config, p, match=match)


def test_load_yaml_text_is_the_same_bounded_loader():
    assert_refused_fast(load_yaml_text, laughs(), "shared.yaml", match="shared.yaml: YAML expands")
    with pytest.raises(geoaug.ConfigError, match="unsafe or unknown YAML tag"):
        load_yaml_text("!!python/object/apply:os.system ['true']", "x")
    with pytest.raises(geoaug.ConfigError, match="invalid YAML"):
        load_yaml_text("a: [1, 2", "x")


def test_yaml_node_budget_is_exact_and_aliases_within_it_load(monkeypatch):
    """Aliases are not banned: a config may share params through anchors. What counts is the expanded size."""
    monkeypatch.setattr(gconfig, "MAX_YAML_NODES", 1000)
    # root mapping 1, key 'a' 1, a: 1 + 10, key 'b' 1, b: 1 + 10 aliases of 11 nodes each -> 125 nodes
    ok = "a: &a [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [" + ", ".join(["*a"] * 10) + "]\n"
    assert load_yaml_text(ok)["b"][9] == list(range(10))
    monkeypatch.setattr(gconfig, "MAX_YAML_NODES", 124)
    with pytest.raises(geoaug.ConfigError, match="more than 124 nodes"):
        load_yaml_text(ok)
    monkeypatch.setattr(gconfig, "MAX_YAML_NODES", 125)
    load_yaml_text(ok)


def test_real_configs_are_far_below_the_budgets(tmp_path):
    for name in ("showcase", "seed"):
        path = gconfig.Path(gconfig.__file__).parent / "configs" / f"{name}.yaml"
        out, calls = run_counted(geoaug.from_config, path)
        assert isinstance(out, geoaug.Pipeline), out
        assert calls < WORK_LIMIT / 4
    shared = (
        "fill: &grey [114, 114, 114]\n"
        "ops:\n- {name: rotate, params: {max_deg: 5, fill: *grey}}\n"
        "- {name: pad_to_multiple, params: {multiple: 32, fill: *grey}}\n"
    )
    p = tmp_path / "shared.yaml"
    p.write_text(shared)
    aug = geoaug.from_config(p)
    assert aug.ops[0].cfg["fill"] == [114.0, 114.0, 114.0]


def shared_list(levels=30):
    """2**levels leaves through shared references, 30 levels deep."""
    x = [0]
    for _ in range(levels):
        x = [x, x]
    return x


def op_tree_py(combinator="one_of", levels=8, width=10):
    op = {"name": "hflip"}
    for _ in range(levels):
        op = {"name": combinator, "params": {"ops": [op] * width, **({"n": 1} if combinator == "some_of" else {})}}
    return op


def self_referencing():
    x = {"name": "rotate", "params": {}}
    x["params"]["max_deg"] = x
    return x


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: geoaug.from_config([{"name": "rotate", "params": {"max_deg": shared_list()}}]), "config too large"),
        (
            lambda: geoaug.from_config({"ops": [], "filters": {"boxes": {"min_area": shared_list()}}}),
            "config too large",
        ),
        (lambda: geoaug.Pipeline(shared_list(20)), "config too large"),
        (lambda: geoaug.Pipeline([op_tree_py("one_of")]), "config too large"),
        (lambda: geoaug.Pipeline([op_tree_py("some_of")]), "config too large"),
        (lambda: geoaug.make_op("one_of", op_tree_py("one_of")["params"]), "config too large"),
        (lambda: geoaug.REGISTRY["some_of"](**op_tree_py("some_of")["params"]), "config too large"),
        (lambda: geoaug.make_op("rotate", {"fill": shared_list()}), "config too large"),
        (lambda: geoaug.Pipeline([self_referencing()]), "nests deeper than 64 levels"),
        (lambda: geoaug.Pipeline([op_tree_py("one_of", levels=30, width=1)]), "nests deeper than 64 levels"),
    ],
)
def test_shared_reference_bombs_fail_fast(build, match):
    """The same shapes built in Python (or by a YAML loader other than geoaug's) are bounded at build."""
    assert_refused_fast(build, match=match)


def test_config_value_budget_is_exact(monkeypatch):
    monkeypatch.setattr(gparams, "MAX_CONFIG_VALUES", 40)
    ops = [{"name": "hflip"}] * 13  # wrapper {ops, filters, fill}: 6; ops list: 13; each op: 2 -> 45
    with pytest.raises(geoaug.ConfigError, match="more than 40 values"):
        geoaug.Pipeline(ops)
    geoaug.Pipeline(ops[:11])  # 6 + 11 + 22 = 39


@pytest.mark.parametrize(
    "cfg, where",
    [
        ([{"name": "x" * 100_000}], "unknown op 'xxx"),
        ([{"name": list(range(5000))}], "op name must be a string"),
        ([{"name": "rotate", "params": {"max_deg": list(range(5000))}}], "param 'max_deg'"),
        ([{"name": "rotate", "params": {"max_deg": "9" * 100_000}}], "param 'max_deg'"),
        ([{"name": "rotate", "params": {"max_deg": 1 << 100_000}}], "param 'max_deg'"),
        ([{"name": "rotate", "params": {"y" * 100_000: 1}}], "unknown param 'yyy"),
        ([{"name": "rotate", "params": {"max_deg": [[[[[[[[["deep"] * 9] * 9] * 9] * 9]]]]]}}], "param 'max_deg'"),
        (
            [{"name": "one_of", "params": {"ops": [{"name": "hflip"}] * 3, "weights": list(range(5000))}}],
            "param 'weights' has 5000 values for 3 ops",
        ),
        ([list(range(5000))], "each op must be a mapping"),
        ({"ops": [], "filters": {"z" * 10_000: 1}}, "filters: unknown key 'zzz"),
        ({"ops": [], "fill": ["grey"] * 5000}, "config: fill must be"),
        ({"ops": [], "interpolation": "l" * 10_000}, "interpolation must be one of"),
        ({"ops": "hflip" * 10_000}, "'ops' must be a list of ops"),
        ({"q" * 10_000: 1}, "unknown key 'qqq"),
        ({"custom": {"augmentation": list(range(5000))}}, "each op must be a mapping"),
    ],
)
def test_error_messages_stay_short(cfg, where):
    msg, _ = assert_refused_fast(geoaug.from_config, cfg)
    assert where in msg


# ---- 2. every config value checked at build --------------------------------------------------------------------

ROT = {"name": "rotate", "params": {"max_deg": 10}}
TWO = [{"name": "hflip"}, {"name": "vflip"}]
nan, inf = math.nan, math.inf


@pytest.mark.parametrize(
    "cfg, pattern",
    [
        ({"ops": [ROT], "fill": "grey"}, r"^config: fill must be a number or a list of 1, 3 or 4 numbers.*got 'grey'"),
        ({"ops": [ROT], "fill": nan}, r"^config: fill must be finite.*got nan"),
        ({"ops": [ROT], "fill": [1, 2]}, r"^config: fill must be .* got 2 values"),
        ({"ops": [ROT], "fill": None}, r"^config: fill must be"),
        ({"ops": [ROT], "fill": True}, r"^config: fill must be"),
        (
            {"ops": [], "filters": {"min_visibility": nan}},
            r"filters\.min_visibility must be a number in \[0, 1\], got nan",
        ),
        ({"ops": [], "filters": {"min_visibility": 1.5}}, r"filters\.min_visibility must be a number in \[0, 1\]"),
        ({"ops": [], "filters": {"min_visibility": -0.1}}, r"filters\.min_visibility must be a number in \[0, 1\]"),
        (
            {"ops": [], "filters": {"boxes": {"min_area": nan}}},
            r"filters\.boxes\.min_area must be a finite non-negative",
        ),
        (
            {"ops": [], "filters": {"lines": {"min_size": inf}}},
            r"filters\.lines\.min_size must be a finite non-negative",
        ),
        (
            {"ops": [], "filters": {"quads": {"min_visibility": "0.5"}}},
            r"filters\.quads\.min_visibility must be a number",
        ),
        ({"ops": [], "filters": 0}, r"filters must be a mapping \(or null\), got 0"),
        ({"ops": [], "filters": False}, r"filters must be a mapping \(or null\), got False"),
        ({"ops": [], "filters": []}, r"filters must be a mapping"),
        (
            [{"name": "one_of", "params": {"ops": TWO, "weights": [nan, 1]}}],
            r"ops\[0\]: op 'one_of': param 'weights' must be a list of finite non-negative numbers, got \[nan, 1\]",
        ),
        ([{"name": "one_of", "params": {"ops": TWO, "weights": [inf, 1]}}], r"ops\[0\]: op 'one_of': param 'weights'"),
        ([{"name": "one_of", "params": {"ops": TWO, "weights": [-1, 2]}}], r"ops\[0\]: op 'one_of': param 'weights'"),
        (
            [{"name": "one_of", "params": {"ops": TWO, "weights": [0, 0]}}],
            r"param 'weights' must have a positive, finite sum",
        ),
        (
            [{"name": "one_of", "params": {"ops": TWO, "weights": [1e308, 1e308]}}],
            r"param 'weights' must have a positive, finite",
        ),
        (
            [{"name": "one_of", "params": {"ops": TWO, "weights": [1]}}],
            r"ops\[0\]: op 'one_of': param 'weights' has 1 values for 2 ops",
        ),
        ([{"name": "one_of", "params": {"ops": TWO, "weights": [1, 2, 3]}}], r"param 'weights' has 3 values for 2 ops"),
        ([{"name": "one_of", "params": {"ops": TWO, "weights": 1}}], r"param 'weights' must be a list"),
        ([{"name": "some_of", "params": {"ops": TWO, "n": [True, True]}}], r"ops\[0\]: op 'some_of': param 'n'"),
        ([{"name": "some_of", "params": {"ops": TWO, "n": 3}}], r"param 'n' goes up to 3 but there are only 2 ops"),
        (
            [{"name": "smart_resize", "params": {"min_pixels": 100_000, "max_pixels": 50_000}}],
            r"ops\[0\]: op 'smart_resize': param 'min_pixels' \(100000\) exceeds 'max_pixels' \(50000\)",
        ),
        (
            [{"name": "smart_resize", "params": {"factor": 32, "min_pixels": 100, "max_pixels": 1000}}],
            r"op 'smart_resize': param 'max_pixels' \(1000\) is below one factor x factor block",
        ),
        ({"ops": {}}, r"^config: 'ops' must be a list of ops, got \{\}"),
        ({"ops": 0}, r"^config: 'ops' must be a list of ops, got 0"),
        ({"ops": False}, r"^config: 'ops' must be a list of ops, got False"),
        ({"ops": "hflip"}, r"^config: 'ops' must be a list of ops, got 'hflip'"),
        ([{"name": "rotate", "params": 0}], r"ops\[0\]: op 'rotate': params must be a mapping, got int"),
        ([{"name": "rotate", "params": False}], r"ops\[0\]: op 'rotate': params must be a mapping, got bool"),
        (
            [{"name": "rotate", "params": [["max_deg", 3]]}],
            r"ops\[0\]: op 'rotate': params must be a mapping, got list",
        ),
        ([{"name": "rotate", "params": {"_where": 3}}], r"ops\[0\]: op 'rotate': unknown param '_where'"),
        ([{"name": "rotate", "params": {1: 3}}], r"ops\[0\]: op 'rotate': unknown param 1"),
        (
            [{"name": "random_crop", "params": {"width": 9, "height": 9, "ratio": [1, 2]}}],
            r"op 'random_crop': param 'ratio' applies only with 'scale'",
        ),
        (
            [{"name": "random_crop", "params": {"scale": [0.5, 1], "keep_objects": False, "min_visibility": 0.9}}],
            r"op 'random_crop': param 'min_visibility' applies only with keep_objects true",
        ),
        ([{"name": "pad", "params": {"top": 10**12}}], r"op 'pad': param 'top' must be in \[0, 65536\]"),
        ([{"name": "rotate", "params": {"max_deg": 10**400}}], r"op 'rotate': param 'max_deg' must be finite"),
        ([ROT, {"name": "rot90", "params": {"k": "1"}}], r"ops\[1\]: op 'rot90': param 'k' must be an integer or null"),
        ({"ops": [], "interpolation": ["linear"]}, r"interpolation must be one of .*got \['linear'\]"),
        ({"ops": [], "quad_clip": {"clamp": 1}}, r"quad_clip must be one of"),
    ],
)
def test_issue_values_are_refused_at_build(cfg, pattern):
    with pytest.raises(geoaug.ConfigError, match=pattern):
        geoaug.from_config(cfg)


def test_values_that_mean_nothing_or_defaults_still_build():
    """The strictness above does not refuse what is meaningful: null params/ops/filters, a one-value fill list,
    numpy scalars, integral floats for integers."""
    geoaug.from_config({"ops": None, "filters": None})
    geoaug.from_config({"ops": [{"name": "hflip", "params": None}], "filters": {}})
    aug = geoaug.from_config(
        {"ops": [{"name": "pad", "params": {"top": np.int64(2), "left": 3.0, "fill": [7]}}], "fill": np.float32(5)}
    )
    assert aug.ops[0].cfg["top"] == 2 and aug.ops[0].cfg["fill"] == 7.0 and aug.fill == 5.0
    aug = geoaug.from_config([{"name": "one_of", "params": {"ops": TWO, "weights": [np.float64(1), 0]}}])
    assert all(aug(np.zeros((4, 5, 3), np.uint8), seed=s).report.ops == ["hflip"] for s in range(5))


# Values a config may hold by mistake: NaN, inf, negative, huge, strings, bools, null, lists of wrong length,
# mappings, numpy scalars and arrays, and long ones (the message must stay short).
SPECIAL = [
    nan,
    inf,
    -inf,
    -1,
    -0.5,
    -1e-300,
    0,
    0.0,
    1,
    2,
    3,
    4,
    0.5,
    1.5,
    100,
    4096,
    65_536,
    65_537,
    10**6,
    10**30,
    10**400,
    -(10**400),
    1e308,
    -1e308,
    5e-324,
    2**63,
    True,
    False,
    None,
    "",
    "1",
    "0.5",
    "nan",
    "abc",
    "hflip",
    "x" * 3000,
    list(range(3000)),
    b"x",
    np.float64(nan),
    np.int64(3),
    np.float32(2.5),
    np.bool_(True),
    np.array([1.0, 2.0]),
    [],
    [1],
    [1, 2, 3],
    [0.5, 0.25],
    [[1, 2]],
    {"a": 1},
    {},
]
SCALARS = st.one_of(st.sampled_from(SPECIAL), st.floats(), st.integers(), st.text(max_size=6))
VALUES = st.recursive(
    SCALARS,
    lambda c: st.one_of(st.lists(c, max_size=5), st.tuples(c, c), st.dictionaries(st.text(max_size=5), c, max_size=3)),
    max_leaves=8,
)

# Params every op needs, per op (and per param, where one param excludes another).
BASE = {
    "crop": {"x": 2, "y": 3, "width": 12, "height": 10},
    "center_crop": {"width": 12, "height": 10},
    "resize": {"width": 24, "height": 16},
    "random_crop": {"scale": [0.5, 1.0]},
    "one_of": {"ops": [{"name": "hflip"}, {"name": "rotate"}]},
    "some_of": {"ops": [{"name": "hflip"}, {"name": "vflip"}]},
}


def base_params(op, param):
    if op == "resize" and param in ("longest", "shortest"):
        return {}
    if op == "random_crop" and param in ("width", "height"):
        return {"width": 12, "height": 10}
    return dict(BASE.get(op, {}))


PAIRS = [(op, p) for op in sorted(geoaug.REGISTRY) for p in geoaug.REGISTRY[op].spec]
W, H = 30, 20
BOXES = [[2, 2, 12, 10], [18, 5, 28, 18]]
QUADS = [[[3, 3], [12, 4], [11, 12], [2, 11]]]
LINES = [[[1, 1], [15, 9], [28, 18]]]


def run_small(aug, fill=None):
    """Run ``aug`` on a small image. A fill's range depends on the image (uint8 levels, uint16, any float32) and
    its length on the channel count, checked when the image is known: a fill is run on a float32 image of as many
    channels as it has values. A valid but huge canvas (a 65536-pixel pad) is planned (every draw, every matrix)
    but not rendered: memory, not a config error."""
    channels = len(fill) if isinstance(fill, list) else 3
    dtype = np.float32 if fill is not None else np.uint8
    img = (np.random.default_rng(0).random((H, W, channels)) * (1 if dtype == np.float32 else 255)).astype(dtype)
    for seed in (0, 1):
        rec = aug.plan((W, H), boxes=BOXES, quads=QUADS, lines=LINES, seed=seed)
        ow, oh = rec["output_size"]
        if ow * oh > 2_000_000:
            continue
        res = aug(img, boxes=BOXES, quads=QUADS, lines=LINES, seed=seed)
        assert res.image.shape[:2] == (oh, ow)


def assert_names(msg, *names):
    assert len(msg) < SHORT_MESSAGE, msg
    for n in names:
        assert re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", msg), (n, msg)


@pytest.mark.parametrize("op", sorted(geoaug.REGISTRY))
def test_base_params_build_and_run(op):
    run_small(geoaug.Pipeline([{"name": op, "params": base_params(op, "prob")}]))


@pytest.mark.parametrize("op, param", PAIRS)
@given(data=st.data())
def test_every_op_param_is_checked_at_build(op, param, data):
    value = data.draw(VALUES, label=f"{op}.{param}")
    params = base_params(op, param)
    params[param] = value
    try:
        aug = geoaug.Pipeline([ROT, {"name": op, "params": params}])
    except geoaug.ConfigError as e:
        assert isinstance(e, ValueError)
        assert_names(str(e), "ops[1]", op, param)
        event("refused at build")
        return
    event("built and ran")
    run_small(aug, fill=aug.ops[1].cfg.get(param) if param == "fill" else None)


PIPELINE_VALUES = (
    "fill",
    "filters",
    "interpolation",
    "quad_order",
    "quad_clip",
    "input_outside",
    "fuse",
    "enabled",
    "ops",
)


@pytest.mark.parametrize("key", PIPELINE_VALUES)
@given(data=st.data())
def test_every_pipeline_value_is_checked_at_build(key, data):
    value = data.draw(VALUES, label=key)
    # with a pixel op, a float image must be in [0, 1] and so must its fill: a fill is tried with geometry only
    ops = [ROT] if key == "fill" else [ROT, {"name": "color_jitter", "params": {"brightness": 0.2}}]
    try:
        aug = geoaug.from_config({"ops": ops, key: value})
    except geoaug.ConfigError as e:
        assert_names(str(e), key)
        event("refused at build")
        return
    event("built and ran")
    run_small(aug, fill=aug.fill if key == "fill" else None)


@pytest.mark.parametrize("kind", [None, "boxes", "quads", "lines"])
@pytest.mark.parametrize("rule", ["min_visibility", "min_area", "min_size"])
@given(data=st.data())
def test_every_filter_threshold_is_checked_at_build(kind, rule, data):
    value = data.draw(VALUES, label=rule)
    filters = {rule: value} if kind is None else {kind: {rule: value}}
    try:
        aug = geoaug.Pipeline([ROT], filters=filters)
    except geoaug.ConfigError as e:
        assert_names(str(e), f"filters.{rule}" if kind is None else f"filters.{kind}")
        event("refused at build")
        return
    event("built and ran")
    run_small(aug)
