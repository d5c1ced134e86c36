"""The kind protocol's own contract: every registered kind must pass these, through its module alone.

A new kind adds a sample builder to SAMPLES (a test fails until it does)."""

import copy

import numpy as np
import pytest

import geoaug
from geoaug import matrix as M
from geoaug.kinds import get_kind, kind_names
from geoaug.kinds.base import parts
from geoaug.report import Report

W, H = 64, 48


def _boxes():
    return geoaug.Boxes([[4.0, 5.0, 20.0, 30.0], [30.0, 10.0, 50.0, 20.0], [40.0, 30.0, 60.0, 44.0]], label=list("abc"))


def _quads():
    q = [
        [[4, 4], [24, 6], [22, 16], [3, 14]],
        [[30, 20], [50, 20], [50, 30], [30, 30]],
        [[10, 30], [20, 30], [20, 40], [10, 40]],
    ]
    return geoaug.Quads(np.array(q, dtype=float), label=list("abc"))


def _lines():
    pts = [
        np.array([[2.0, 2.0], [30.0, 10.0], [40.0, 40.0]]),
        np.array([[50.0, 5.0], [60.0, 40.0]]),
        np.array([[5.0, 40.0], [20.0, 44.0]]),
    ]
    return geoaug.Lines(pts, label=list("abc"))


SAMPLES = {"boxes": _boxes, "quads": _quads, "lines": _lines}


def _optional_samples():
    """Builders for the kinds that live in their own modules (added as they register)."""
    if "points" in kind_names():
        SAMPLES["points"] = lambda: geoaug.Points(np.array([[5.0, 6.0], [30.0, 20.0], [60.0, 40.0]]), label=list("abc"))
    if "polygons" in kind_names():
        SAMPLES["polygons"] = lambda: geoaug.Polygons(
            [
                np.array([[4.0, 4.0], [20.0, 4.0], [24.0, 14.0], [10.0, 20.0], [3.0, 12.0]]),
                np.array([[30.0, 20.0], [50.0, 22.0], [40.0, 40.0]]),
                np.array([[50.0, 5.0], [60.0, 5.0], [60.0, 15.0], [50.0, 15.0]]),
            ],
            label=list("abc"),
        )
    if "masks" in kind_names():

        def masks():
            m = np.zeros((3, H, W), dtype=np.uint8)
            m[0, 5:20, 4:20] = 1
            m[1, 10:20, 30:50] = 1
            m[2, 30:44, 40:60] = 1
            return geoaug.Masks(m, label=list("abc"))

        SAMPLES["masks"] = masks


_optional_samples()
KINDS = kind_names()


def _op(name):
    return {"name": name, "params": {}}


def _coords(kind, t):
    return [np.asarray(c) for c in get_kind(kind).coords(t)]


def _same(kind, a, b, tol=1e-9):
    assert len(a) == len(b)
    for x, y in zip(_coords(kind, a), _coords(kind, b)):
        assert x.shape == y.shape
        np.testing.assert_allclose(x.astype(float), y.astype(float), atol=tol, rtol=0)


def test_every_registered_kind_has_a_sample():
    assert set(KINDS) == set(SAMPLES), "add a sample builder for every registered kind"
    assert KINDS[:3] == ("boxes", "quads", "lines")


@pytest.mark.parametrize("kind", KINDS)
def test_intake(kind):
    k = get_kind(kind)
    empty = k.intake(None, (W, H))
    assert len(empty) == 0 and isinstance(empty, k.table)
    t = SAMPLES[kind]()
    assert k.intake(t, (W, H)) is t  # a table passes through (and is never written)


@pytest.mark.parametrize("kind", KINDS)
def test_identity_and_round_trip_maps(kind):
    k, t = get_kind(kind), SAMPLES[kind]()
    report = Report()
    same = k.clip(k.map(t, np.eye(3), (W, H), {}), W, H, report, {}, owned=True)
    _same(kind, same, t)
    np.testing.assert_array_equal(same.visibility, 1.0)
    assert not report.dropped and not sum(report.clipped.values())
    there = k.map(t, M.translate(5, 3), (W + 5, H + 3), {})
    back = k.map(there, M.translate(-5, -3), (W, H), {})
    _same(kind, back, t)


# Kinds whose default keeps rows that leave the canvas (keypoints keep a flag): the option that drops them.
DROPPING = {"points": {"point_outside": "drop"}}


@pytest.mark.parametrize("kind", KINDS)
def test_rows_outside_are_dropped_and_reported(kind):
    k, t = get_kind(kind), SAMPLES[kind]()
    report = Report()
    opts = DROPPING.get(kind, {})
    gone = k.clip(k.map(t, M.translate(500, 500), (W, H), opts), W, H, report, opts, owned=True)
    assert len(gone) == 0
    assert sorted(d["index"] for d in report.dropped if d["kind"] == kind) == [0, 1, 2]


@pytest.mark.parametrize("kind", KINDS)
def test_rows_carry_fields(kind):
    t = SAMPLES[kind]()
    sub = t.take(np.array([2, 0]))
    assert sub.fields["label"] == ["c", "a"]
    np.testing.assert_array_equal(sub.index, [2, 0])
    assert t.without(np.array([1])).fields["label"] == ["a", "c"]
    both = get_kind(kind).concat([t, sub], {"label": t.fields["label"] + sub.fields["label"]})
    assert len(both) == 5 and both.fields["label"] == list("abcca")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fuse", [True, False])
def test_pipeline_two_mirrors_give_back_the_input_without_touching_it(kind, fuse):
    t = SAMPLES[kind]()
    before = copy.deepcopy(t)
    for arr in _coords(kind, t):
        arr.flags.writeable = False  # read-only inputs work
    img = np.zeros((H, W, 3), np.uint8)
    aug = geoaug.Pipeline([_op("hflip"), _op("vflip"), _op("hflip"), _op("vflip")], fuse=fuse)
    res = aug(img, seed=0, **{kind: t})
    out = res.tables[kind]
    _same(kind, out, before)
    assert out.fields["label"] == list("abc")
    _same(kind, t, before, tol=0)  # the input is untouched
    theirs = [x for x in parts(t) if isinstance(x, np.ndarray)]
    for x in parts(out):
        if isinstance(x, np.ndarray):
            assert x.flags.writeable and not any(np.may_share_memory(x, y) for y in theirs)


@pytest.mark.parametrize("kind", KINDS)
def test_replay_and_inverse(kind):
    t = SAMPLES[kind]()
    img = np.zeros((H, W, 3), np.uint8)
    aug = geoaug.Pipeline([{"name": "affine", "params": {"scale": [0.8, 0.9], "rotate": 20}}, _op("hflip")])
    res = aug(img, seed=5, **{kind: t})
    again = aug.replay(res.replay, img, **{kind: t})
    _same(kind, again.tables[kind], res.tables[kind], tol=0)
    back = res.inverse(**{kind: res.tables[kind]})
    assert len(back.tables[kind]) == len(res.tables[kind])
    np.testing.assert_array_equal(back.tables[kind].index, res.tables[kind].index)


@pytest.mark.parametrize("kind", KINDS)
def test_filters_and_draw(kind):
    t = SAMPLES[kind]()
    aug = geoaug.Pipeline([_op("hflip")], filters={kind: {"min_visibility": 0.5}})
    res = aug(np.zeros((H, W, 3), np.uint8), seed=0, **{kind: t})
    assert len(res.tables[kind]) == 3
    canvas = geoaug.draw(np.zeros((H, W, 3), np.uint8), **{kind: t})
    assert canvas.any()  # something was drawn


def test_unknown_geometry_keyword_is_refused():
    with pytest.raises(geoaug.GeometryError, match="Did you mean 'boxes'"):
        geoaug.Pipeline([])(np.zeros((4, 4, 3), np.uint8), boxs=[[0, 0, 1, 1]])
