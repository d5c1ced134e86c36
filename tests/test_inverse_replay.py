"""Inverse and replay, property-tested: forward then inverse gives the input geometry back (1e-6 px) for
every object nothing clipped, for every geometric op and random chains; replay records survive JSON and
reproduce geometry and pixels; geoaug.inverse(record) is res.inverse."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug

TOL = 1e-6
EDGE = 1e-2  # objects this close to an output edge may have been snapped (HAIR) and are not compared

sizes = st.tuples(st.integers(24, 120), st.integers(24, 120))
frac = st.floats(0.0, 1.0)

OPS = {
    "hflip": st.just({}),
    "vflip": st.just({}),
    "rot90": st.fixed_dictionaries({"k": st.one_of(st.none(), st.integers(0, 3))}),
    "rotate": st.fixed_dictionaries({"max_deg": st.floats(0, 180), "expand": st.booleans()}),
    "affine": st.fixed_dictionaries(
        {
            "scale": st.tuples(st.floats(0.5, 1.0), st.floats(1.0, 1.5)).map(list),
            "rotate": st.floats(0, 180),
            "shear": st.floats(0, 30),
            "translate": st.floats(0, 0.1),
        }
    ),
    "perspective": st.tuples(st.floats(0, 0.2), st.floats(0.2, 0.4)).map(lambda r: {"scale": list(r)}),
    "resize": st.one_of(
        st.fixed_dictionaries({"width": st.integers(8, 300), "height": st.integers(8, 300)}),
        st.fixed_dictionaries({"longest": st.integers(8, 300)}),
        st.fixed_dictionaries({"shortest": st.integers(8, 300)}),
    ),
    "smart_resize": st.fixed_dictionaries(
        {
            "factor": st.sampled_from([14, 28, 32]),
            "min_pixels": st.integers(256, 20000),
            "max_pixels": st.integers(20000, 200000),
        }
    ),
    "crop": st.fixed_dictionaries(
        {
            "x": st.integers(0, 12),
            "y": st.integers(0, 12),
            "width": st.integers(30, 160),
            "height": st.integers(30, 160),
        }
    ),
    "center_crop": st.fixed_dictionaries({"width": st.integers(8, 140), "height": st.integers(8, 140)}),
    "random_crop": st.one_of(
        st.fixed_dictionaries({"scale": st.tuples(st.floats(0.3, 1.0), st.just(1.0)).map(list)}),
        st.fixed_dictionaries({"width": st.integers(8, 140), "height": st.integers(8, 140)}),
    ),
    "pad": st.fixed_dictionaries({k: st.integers(0, 40) for k in ("top", "bottom", "left", "right")}),
    "pad_to_multiple": st.fixed_dictionaries({"multiple": st.integers(1, 64)}),
}
GEOMETRIC_OPS = sorted(OPS)


def op_config(name):
    return OPS[name].map(lambda p, name=name: {"name": name, "params": p})


@st.composite
def scene(draw, max_objects=4):
    """An image size and objects strictly inside it (1 px margin): boxes, canonical quads (clockwise from
    the top-left, tilted under 40 degrees so the start is unambiguous), polylines."""
    w, h = draw(sizes)

    def pt():
        return [draw(st.floats(1, w - 1)), draw(st.floats(1, h - 1))]

    boxes = []
    for _ in range(draw(st.integers(0, max_objects))):
        (x1, y1), (x2, y2) = pt(), pt()
        boxes.append([min(x1, x2), min(y1, y2), max(x1, x2) + 1e-3, max(y1, y2) + 1e-3])
    boxes = np.clip(np.reshape(boxes, (-1, 4)), 1, [w - 1, h - 1, w - 1, h - 1])
    quads = []
    for _ in range(draw(st.integers(0, max_objects))):
        cx, cy = pt()
        rw, rh = draw(st.floats(0.5, w / 3)), draw(st.floats(0.5, h / 3))
        t = math.radians(draw(st.floats(-40, 40)))
        c, s = math.cos(t), math.sin(t)
        corners = np.array([[-rw, -rh], [rw, -rh], [rw, rh], [-rw, rh]]) @ np.array([[c, s], [-s, c]])
        q = corners + [cx, cy]
        if q.min() >= 1 and q[:, 0].max() <= w - 1 and q[:, 1].max() <= h - 1:
            quads.append(q)
    lines = [np.array([pt() for _ in range(draw(st.integers(2, 5)))]) for _ in range(draw(st.integers(0, max_objects)))]
    lines = [ln for ln in lines if np.hypot(*np.diff(ln, axis=0).T).min() > 1e-3]
    return (w, h), boxes, np.reshape(quads, (-1, 4, 2)), lines


def _axis_aligned(a):
    """Does A map axis-aligned boxes to axis-aligned boxes exactly (flips, rot90, scales, shifts)?"""
    lin = a[:2, :2]
    return geoaug.matrix.is_affine(a) and all((np.abs(r) > 1e-12).sum() == 1 for r in lin)


def _untouched(table, pts_of, size):
    """Rows nothing clipped: full visibility and clear of the output edges."""
    w, h = size
    rows = []
    for r in range(len(table)):
        p = pts_of(table, r)
        if (
            table.visibility[r] == 1.0
            and p[:, 0].min() > EDGE
            and p[:, 1].min() > EDGE
            and p[:, 0].max() < w - EDGE
            and p[:, 1].max() < h - EDGE
        ):
            rows.append(r)
    return rows


def check_round_trip(aug, sc, seed):
    (w, h), boxes, quads, lines = sc
    img = np.zeros((h, w, 3), np.uint8)
    res = aug(img, boxes=boxes, quads=quads, lines=lines, seed=seed)
    back = res.inverse(boxes=res.boxes, quads=res.quads, lines=res.lines)
    compared = 0
    for r in _untouched(res.quads, lambda t, r: t.points[r], res.size):
        np.testing.assert_allclose(back.quads.points[r], quads[res.quads.index[r]], atol=TOL, rtol=0)
        compared += 1
    for r in _untouched(res.lines, lambda t, r: t.points[r], res.size):
        np.testing.assert_allclose(back.lines.points[r], lines[res.lines.index[r]], atol=TOL, rtol=0)
        compared += 1
    if _axis_aligned(res.matrix):
        for r in _untouched(res.boxes, lambda t, r: t.xyxy[r].reshape(2, 2), res.size):
            np.testing.assert_allclose(back.boxes.xyxy[r], boxes[res.boxes.index[r]], atol=TOL, rtol=0)
            compared += 1
    return res, compared


# Of the 40 examples per op, at least this many compare an object. Measured over 5 runs, the share of examples
# comparing something: flips 72-90%, rot90 67-87%, pad_to_multiple 67-85%, pad 60-92%, resize and smart_resize
# 57-85%, perspective 47-75%, rotate 42-65%, crop 35-60%, center_crop 30-50%, random_crop 27-62%, affine 25-37%
# (a scaled, sheared, turned scene is often cut by the canvas, and the scene may be empty).
MIN_COMPARED = {
    **dict.fromkeys(["hflip", "vflip"], 14),
    **dict.fromkeys(["rot90", "pad_to_multiple"], 12),
    **dict.fromkeys(["pad", "resize", "smart_resize"], 10),
    "perspective": 8,
    "rotate": 6,
    "crop": 5,
    **dict.fromkeys(["center_crop", "random_crop", "affine"], 3),
}


@pytest.mark.parametrize("name", GEOMETRIC_OPS)
def test_forward_then_inverse_is_identity(name):
    compared = []  # objects compared per example: a scene may be empty, or everything clipped

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def round_trip(data):
        aug = geoaug.Pipeline([data.draw(op_config(name))])
        sc = data.draw(scene())
        compared.append(check_round_trip(aug, sc, data.draw(st.integers(0, 2**32)))[1])

    round_trip()
    n = np.array(compared)
    assert len(n) >= 10 and (n > 0).sum() >= MIN_COMPARED[name], (len(n), (n > 0).sum(), n.sum())


def test_random_chains_round_trip():
    compared = []

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def round_trip(data):
        names = data.draw(st.lists(st.sampled_from(GEOMETRIC_OPS), min_size=2, max_size=5))
        fuse = data.draw(st.booleans())
        aug = geoaug.Pipeline([data.draw(op_config(n)) for n in names], fuse=fuse)
        compared.append(check_round_trip(aug, data.draw(scene()), data.draw(st.integers(0, 2**32)))[1])

    round_trip()
    # Measured: 25-36% of the 80 chains compare an object (2 to 5 ops: most scenes get cut somewhere).
    n = np.array(compared)
    assert len(n) >= 10 and (n > 0).sum() >= 8, (len(n), (n > 0).sum(), n.sum())


def test_round_trip_compares_something():
    """Guard against a vacuous property: an exact op on interior objects must compare every object."""
    sc = (
        (100, 80),
        np.array([[10.0, 10, 30, 40]]),
        np.array([[[20.0, 20], [50, 20], [50, 30], [20, 30]]]),
        [np.array([[5.0, 5], [60, 70]])],
    )
    for name, params in (("rotate", {"max_deg": 5}), ("hflip", {}), ("perspective", {})):
        res, compared = check_round_trip(geoaug.Pipeline([{"name": name, "params": params}]), sc, 3)
        assert compared == (3 if name == "hflip" else 2), name


def test_quad_order_after_two_mirrors_does_not_depend_on_fusion():
    """DESIGN: where no intermediate canvas crops, fuse true and false must agree. hflip+vflip is a 180
    degree turn: the order is judged on the net map, so both give what rot90 k=2 gives, and the inverse
    returns the input."""
    q = [[[1.0, 1], [3, 1], [3, 3], [1, 3]]]
    img = np.zeros((24, 24, 3), np.uint8)
    ops = [{"name": "hflip"}, {"name": "vflip"}]
    fused = geoaug.Pipeline(ops, fuse=True)(img, quads=q)
    unfused = geoaug.Pipeline(ops, fuse=False)(img, quads=q)
    np.testing.assert_array_equal(fused.quads.points, unfused.quads.points)
    turned = geoaug.Pipeline([{"name": "rot90", "params": {"k": 2}}])(img, quads=q)
    np.testing.assert_array_equal(fused.quads.points, turned.quads.points)
    np.testing.assert_array_equal(unfused.inverse(quads=unfused.quads).quads.points, q)


# ---- replay -----------------------------------------------------------------------------------------
REPLAY_OPS = [
    {"name": "hflip", "params": {"prob": 0.5}},
    {
        "name": "one_of",
        "params": {
            "ops": [
                {"name": "rotate", "params": {"max_deg": 30, "expand": True}},
                {"name": "perspective"},
                {"name": "affine", "params": {"shear": 10}},
            ]
        },
    },
    {"name": "random_crop", "params": {"scale": [0.5, 1.0], "prob": 0.7}},
    {"name": "color_jitter", "params": {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1}},
    {"name": "gaussian_noise", "params": {"prob": 0.5}},
    {"name": "jpeg", "params": {"prob": 0.5}},
    {"name": "pad_to_multiple", "params": {"multiple": 32}},
]


def _same_tables(a, b):
    np.testing.assert_array_equal(a.boxes.xyxy, b.boxes.xyxy)
    np.testing.assert_array_equal(a.quads.points, b.quads.points)
    assert len(a.lines) == len(b.lines)
    for p, q in zip(a.lines.points, b.lines.points):
        np.testing.assert_array_equal(p, q)
    for kind in ("boxes", "quads", "lines"):
        ta, tb = getattr(a, kind), getattr(b, kind)
        np.testing.assert_array_equal(ta.index, tb.index)
        np.testing.assert_array_equal(ta.visibility, tb.visibility)
        assert ta.fields == tb.fields


@settings(max_examples=40, deadline=None)
@given(sc=scene(), seed=st.integers(0, 2**63 - 1), other_seed=st.integers(0, 2**32))
def test_replay_from_json_reproduces_geometry_and_pixels(sc, seed, other_seed):
    (w, h), boxes, quads, lines = sc
    rng = np.random.default_rng(other_seed)
    img, other = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))
    aug = geoaug.Pipeline(REPLAY_OPS)
    labelled = geoaug.Boxes(boxes, label=[f"b{i}" for i in range(len(boxes))])
    res = aug(img, boxes=labelled, quads=quads, lines=lines, seed=seed)
    record = json.loads(json.dumps(res.replay))
    assert record == res.replay
    again = aug.replay(record, img, boxes=labelled, quads=quads, lines=lines)
    _same_tables(res, again)
    np.testing.assert_array_equal(res.image, again.image)
    assert again.size == res.size
    np.testing.assert_array_equal(again.matrix, res.matrix)
    on_other = aug.replay(record, other, boxes=labelled, quads=quads, lines=lines)
    _same_tables(res, on_other)
    assert on_other.image.shape == res.image.shape
    # a different pipeline object replays the record the same way: the record is self-contained
    fresh = geoaug.Pipeline([]).replay(record, img, boxes=labelled, quads=quads, lines=lines)
    _same_tables(res, fresh)
    np.testing.assert_array_equal(res.image, fresh.image)


@settings(max_examples=40, deadline=None)
@given(sc=scene(), seed=st.integers(0, 2**32))
def test_inverse_from_record_equals_result_inverse(sc, seed):
    (w, h), boxes, quads, lines = sc
    aug = geoaug.Pipeline(REPLAY_OPS)
    res = aug(np.zeros((h, w, 3), np.uint8), boxes=boxes, quads=quads, lines=lines, seed=seed)
    a = res.inverse(boxes=res.boxes, quads=res.quads, lines=res.lines)
    b = geoaug.inverse(json.loads(json.dumps(res.replay)), boxes=res.boxes, quads=res.quads, lines=res.lines)
    _same_tables(a, b)
    assert a.size == b.size == (w, h)
    json.dumps(b.replay)  # the inverse's record is JSON-safe too


def test_replay_refuses_another_size():
    aug = geoaug.Pipeline([{"name": "hflip"}])
    res = aug(np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(geoaug.GeometryError, match="size"):
        aug.replay(res.replay, np.zeros((21, 30, 3), np.uint8))
