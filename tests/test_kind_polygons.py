"""Polygons (geoaug.kinds.polygons) and the "fit" quad_clip policy (geoaug.clip._fit_quads).

Polygons: intake errors name the row, point and field; the cut agrees with shapely's overlay (area per source
row, number of parts); kept vertices read back their source point through random fused chains; replay and
inverse; fields through splits and drops; inputs never written; tight boxes after rotation; Qwen answer rows.
Quads: "fit" reaches the IoU target on a fixed random sample, keeps corners on the canvas and counts what it
approximates."""

import json
import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from test_core_oracle import resamplings, well_inside

import geoaug
from geoaug.clip import HAIR, clip_quads
from geoaug.errors import GeometryError
from geoaug.kinds import get_kind
from geoaug.kinds.polygons import Polygons, clip_polygons, signed_areas
from geoaug.report import Report

from helpers import FILL, coordinate_image, read_back
from strategies import geometric_op

CANVAS = (60.0, 40.0)


def star(cx, cy, radii, start=0.0):
    """A simple (possibly concave) polygon: vertices at increasing angles about (cx, cy), clockwise on screen."""
    k = len(radii)
    ang = start + 2 * np.pi * np.arange(k) / k
    return np.stack([cx + np.asarray(radii) * np.cos(ang), cy + np.asarray(radii) * np.sin(ang)], axis=1)


@st.composite
def stars(draw, lo, hi, n_min=1, n_max=4, r_max=40.0):
    """Star-shaped polygons of 3-9 vertices with centres in [lo, hi] (x and y ranges)."""
    out = []
    for _ in range(draw(st.integers(n_min, n_max))):
        k = draw(st.integers(3, 9))
        radii = [draw(st.floats(1.0, r_max)) for _ in range(k)]
        cx, cy = draw(st.floats(lo[0], hi[0])), draw(st.floats(lo[1], hi[1]))
        out.append(star(cx, cy, radii, draw(st.floats(0, 2 * np.pi))))
    return out


# ---- intake ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, message",
    [
        ([[[0, 0], [1, 0]]], r"polygons\[0\] needs at least 3 points, got 2"),
        ([[[0, 0], [1, 0], [1, 1]], [[0, 0]]], r"polygons\[1\] needs at least 3 points, got 1"),
        ([[[0, 0], [1, 0], [1, float("nan")]]], r"polygons\[0\]\.point\[2\]\.y is NaN"),
        ([[[0, 0], [1, 0], [1, 1]], [[0, 0], [float("inf"), 0], [1, 1]]], r"polygons\[1\]\.point\[1\]\.x is infinite"),
        ([[[0, 0], [1, "a"], [1, 1]]], r"polygons\[0\]\.point\[1\]\.y is a string"),
        ([[[0, 0, 0], [1, 0, 0], [1, 1, 0]]], r"polygons\[0\] must have shape \(K, 2\)"),
        (np.zeros((5, 2)), r"wrap a single polygon in a list"),
        ("abc", r"polygons is a string"),
    ],
)
def test_intake_errors_name_row_point_and_field(bad, message):
    with pytest.raises(GeometryError, match=message):
        Polygons(bad)
    with pytest.raises(GeometryError, match=message):
        geoaug.Pipeline([])(np.zeros((10, 10), np.uint8), polygons=bad)


def test_intake_forms_and_fields():
    tri = [[0, 0], [4, 0], [0, 3]]
    a = Polygons([tri, np.array([[1, 1], [2, 1], [2, 2], [1, 2]])], label=["t", "s"])
    assert a.offsets.tolist() == [0, 3, 7] and a.fields["label"] == ["t", "s"]
    np.testing.assert_allclose(a.area, [6.0, 1.0])
    b = Polygons(np.zeros((2, 5, 2)) + np.arange(5)[:, None])  # N polygons of K points as one array
    assert len(b) == 2 and b.offsets.tolist() == [0, 5, 10]
    with pytest.raises(GeometryError, match="field 'label' has 1 values for 2"):
        Polygons([tri, tri], label=["x"])
    empty = get_kind("polygons").intake(None)
    assert len(empty) == 0 and isinstance(empty, Polygons) and empty.flat.shape == (0, 2)


def test_signed_area_turns_with_the_screen():
    cw = np.array([[0, 0], [2, 0], [2, 1], [0, 1]], float)  # clockwise on screen (y down)
    np.testing.assert_allclose(signed_areas(np.concatenate([cw, cw[::-1]]), np.array([0, 4, 8])), [2.0, -2.0])


# ---- clipping against shapely's overlay -----------------------------------------------------------------
def overlay(poly, w, h):
    """shapely's parts of one polygon cut by the canvas: (areas of its polygonal parts, its repaired area, None
    when only snapped). A polygon no vertex of which is beyond the canvas by more than HAIR is only snapped onto
    it, as documented."""
    poly = np.asarray(poly, float)
    if poly.min() >= -HAIR and poly[:, 0].max() <= w + HAIR and poly[:, 1].max() <= h + HAIR:
        return [shapely.Polygon(np.clip(poly, 0, [w, h])).area], None  # rounding: visibility stays 1
    fixed = shapely.make_valid(shapely.Polygon(poly), method="structure")
    inter = shapely.intersection(fixed, shapely.box(0, 0, w, h))
    parts = [g for g in shapely.get_parts(inter) if g.geom_type == "Polygon" and g.area > 0]
    return sorted(g.area for g in parts), fixed.area


@settings(max_examples=150, deadline=None)
@given(stars((-30, -30), (90, 70)))
def test_cut_agrees_with_shapely_overlay(polys):
    w, h = CANVAS
    src = Polygons(polys, label=list(range(len(polys))))
    flat_before = src.flat.copy()
    report = Report()
    out = clip_polygons(src, w, h, report)
    assert np.array_equal(src.flat, flat_before)  # a caller's table is never written
    dropped = {d["index"] for d in report.dropped}
    extra = 0
    for i, p in enumerate(polys):
        want, area0 = overlay(p, w, h)
        rows = np.flatnonzero(out.index == i)
        got = sorted(float(a) for a in out.take(rows).area)
        assert len(got) == len(want), (i, got, want)  # one row per part
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        if want:
            share = 1.0 if area0 is None else sum(want) / area0
            np.testing.assert_allclose(out.visibility[rows].sum(), share, rtol=1e-9)
            assert all(out.fields["label"][r] == i for r in rows)
            extra += len(want) - 1
        else:
            assert i in dropped
    assert report.split["polygons"] == extra
    assert out.flat.size == 0 or (out.flat.min() >= 0 and out.flat[:, 0].max() <= w and out.flat[:, 1].max() <= h)
    assert (np.diff(out.offsets) >= 3).all()
    # parts turn the way their source does
    turn = np.sign(signed_areas(src.flat, src.offsets))
    np.testing.assert_array_equal(np.sign(signed_areas(out.flat, out.offsets)), turn[out.index])


def test_a_u_shape_splits_into_two_rows_with_its_fields_and_a_lost_one_is_reported():
    w, h = CANVAS
    u = [[10, 30], [10, 60], [50, 60], [50, 30], [40, 30], [40, 50], [20, 50], [20, 30]]  # bottom cut off at y=40
    inside = [[1, 1], [5, 1], [5, 5], [1, 5]]
    gone = [[100, 100], [110, 100], [105, 110]]
    src = Polygons([inside, u, gone], label=["in", "u", "gone"], score=np.array([0.1, 0.2, 0.3]))
    report = Report()
    out = clip_polygons(src, w, h, report)
    assert out.index.tolist() == [0, 1, 1]
    assert out.fields["label"] == ["in", "u", "u"] and out.fields["score"].tolist() == [0.1, 0.2, 0.2]
    np.testing.assert_allclose(out.area, [16.0, 100.0, 100.0])
    np.testing.assert_allclose(out.visibility, [1.0, 100 / 800, 100 / 800])  # the U's area: 1200 - 400
    assert report.split["polygons"] == 1 and report.clipped["polygons"] == 1
    assert report.dropped == [{"kind": "polygons", "index": 2, "reason": "outside"}]
    np.testing.assert_array_equal(out.points[0], inside)  # untouched vertices keep every bit


def test_a_polygon_without_area_is_measured_by_its_outline():
    w, h = CANVAS
    flat_line = [[-20, 10], [40, 10], [10, 10]]  # collinear: no area, outline 120 long, 80 of it on the canvas
    report = Report()
    out = clip_polygons(Polygons([flat_line]), w, h, report)
    assert len(out) == 1 and report.approximated["polygons"] == 1
    np.testing.assert_allclose(out.visibility, [80 / 120])
    assert out.flat.min() >= 0


def test_a_bow_tie_crossing_an_edge_is_cut_as_its_lobes():
    w, h = CANVAS
    bow = [[-10, 0], [30, 20], [-10, 20], [30, 0]]  # top and bottom lobes of 200 each, meeting at (10, 10)
    out = clip_polygons(Polygons([bow]), w, h, Report())
    assert len(out) == 2 and out.index.tolist() == [0, 0]
    np.testing.assert_allclose(out.area, [175.0, 175.0])  # each loses the 25 beyond x = 0
    np.testing.assert_allclose(out.visibility, [175 / 400, 175 / 400])


# ---- the coordinate oracle through random fused chains --------------------------------------------------
def test_kept_vertices_read_back_their_source_point():
    checked, examples = [], []

    @settings(max_examples=60, deadline=None)
    @given(
        st.integers(32, 96),
        st.integers(32, 96),
        st.lists(geometric_op(), min_size=1, max_size=4),
        st.integers(0, 2**31),
        st.data(),
    )
    def run(w, h, ops, seed, data):
        polys = data.draw(stars((0.3 * w, 0.3 * h), (0.7 * w, 0.7 * h), r_max=0.45 * min(w, h)))
        res = geoaug.Pipeline(ops, fill=FILL)(coordinate_image(w, h), polygons=polys, seed=seed)
        inv = np.linalg.inv(res.matrix)
        ow, oh = res.size
        n = 0
        for pts, i in zip(res.polygons.points, res.polygons.index):
            src = geoaug.matrix.apply_points(inv, pts)
            for v, s in zip(pts, src):
                if min(v[0], v[1], ow - v[0], oh - v[1]) < 1e-6 or min(s[0], s[1], w - s[0], h - s[1]) < 1e-6:
                    continue  # a vertex a cut made, on a side of the output or of the input image
                # a vertex the cut kept is a source vertex, exactly mapped ...
                assert np.hypot(*(polys[i] - s).T).min() < 1e-6, (v, s)
                # ... and the pixels under it came from that point
                (rb,) = read_back(res.image, v[None])
                if rb is not None and well_inside(res, s):
                    assert np.hypot(*(np.array(rb) - s)) < 0.1 * max(1, resamplings(res)), (v, rb, s)
                    n += 1
        checked.append(n)
        examples.append(len(res.polygons))

    run()
    n = np.array(checked)
    assert len(n) >= 30 and (n > 0).mean() >= 0.4 and n.sum() >= 3 * len(n), (len(n), (n > 0).mean(), n.sum())


# ---- replay, inverse, inputs ----------------------------------------------------------------------------
UNCUT_OPS = [
    {"name": "hflip"},
    {"name": "rot90", "params": {"k": 1}},
    {"name": "affine", "params": {"scale": [0.6, 0.7], "rotate": 25}},
    {"name": "pad", "params": {"top": 3, "left": 5}},
    {"name": "perspective", "params": {"scale": [0.02, 0.04]}},
]


def test_inverse_gives_the_input_back_and_replay_reproduces():
    w, h = 80, 60
    polys = [star(40, 30, [12, 6, 14, 8, 10]), star(30, 25, [5, 9, 7])]
    aug = geoaug.Pipeline(UNCUT_OPS)
    img = np.zeros((h, w, 3), np.uint8)
    res = aug(img, polygons=Polygons(polys, label=["a", "b"]), seed=4)
    assert len(res.polygons) == 2 and (res.polygons.visibility == 1).all()
    assert not np.allclose(res.polygons.points[0], polys[0])  # it moved
    back = res.inverse(polygons=res.polygons)
    for p, q in zip(back.polygons.points, polys):
        np.testing.assert_allclose(p, q, atol=1e-6, rtol=0)
    assert back.polygons.fields["label"] == ["a", "b"]
    np.testing.assert_allclose(
        geoaug.inverse(json.loads(json.dumps(res.replay)), polygons=res.polygons).polygons.flat, back.polygons.flat
    )
    again = aug.replay(json.loads(json.dumps(res.replay)), img, polygons=polys)
    np.testing.assert_array_equal(again.polygons.flat, res.polygons.flat)
    np.testing.assert_array_equal(again.image, res.image)


def test_a_cut_polygon_comes_back_cut_to_the_input_image():
    w, h = 80, 60
    big = [[5, 5], [75, 5], [75, 55], [5, 55]]
    res = geoaug.Pipeline([{"name": "affine", "params": {"scale": [1.5, 1.5], "rotate": 30}}])(
        np.zeros((h, w), np.uint8), polygons=[big], seed=0
    )
    assert res.report.clipped["polygons"] == 1 and res.polygons.visibility[0] < 1
    back = res.inverse(polygons=res.polygons)
    # the visible part, mapped back: within the original (it was cut from it), as large as it was visible
    inter = shapely.Polygon(back.polygons.points[0]).intersection(shapely.Polygon(big))
    np.testing.assert_allclose(inter.area, shapely.Polygon(back.polygons.points[0]).area, rtol=1e-9)
    np.testing.assert_allclose(back.polygons.area[0], res.polygons.visibility[0] * 70 * 50, rtol=1e-6)


def test_inputs_are_never_written_and_results_share_nothing():
    w, h = 50, 40
    polys = [star(-5, 20, [20, 15, 25, 10]), star(25, 20, [10, 12, 8])]
    arrs = [np.array(p) for p in polys]
    for a in arrs:
        a.flags.writeable = False
    table = Polygons(arrs, label=["x", "y"])
    before = (table.flat.copy(), table.offsets.copy(), list(table.fields["label"]))
    res = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 20}}])(np.zeros((h, w), np.uint8), polygons=table)
    assert res.report.clipped["polygons"] >= 1
    np.testing.assert_array_equal(table.flat, before[0])
    np.testing.assert_array_equal(table.offsets, before[1])
    assert table.fields["label"] == before[2]
    for x in (res.polygons.flat, res.polygons.offsets):
        assert x.flags.writeable
        assert not np.may_share_memory(x, table.flat) and not np.may_share_memory(x, table.offsets)
    ident = geoaug.Pipeline([])(np.zeros((h, w), np.uint8), polygons=[polys[1]])
    ident.polygons.flat[:] = 0  # the caller may write what comes back ...
    assert np.abs(polys[1]).min() > 0  # ... without reaching their input


def test_filters_min_area_min_size_min_visibility():
    w, h = 100, 100
    thin = [[10, 10], [90, 10], [90, 12], [10, 12]]  # area 160, thickness 2
    square = [[20, 20], [60, 20], [60, 60], [20, 60]]  # area 1600, thickness 40
    cut = [[-30, 70], [10, 70], [10, 90], [-30, 90]]  # 1/4 visible
    img = np.zeros((h, w), np.uint8)
    run = lambda f: geoaug.Pipeline([], filters=f)(img, polygons=[thin, square, cut])  # noqa: E731
    assert run({"polygons": {"min_area": 200}}).polygons.index.tolist() == [1, 2]  # cut: 200 left
    assert run({"polygons": {"min_size": 5}}).polygons.index.tolist() == [1, 2]
    res = run({"min_visibility": 0.5})
    assert res.polygons.index.tolist() == [0, 1]
    assert res.report.dropped == [{"kind": "polygons", "index": 2, "reason": "min_visibility"}]


def test_to_boxes_are_tight_after_rotation():
    w, h = 120, 120
    diamond = [[60, 30], [90, 60], [60, 90], [30, 60]]
    p = Polygons([diamond], label=["d"])
    boxes = p.to_boxes()
    np.testing.assert_allclose(boxes.xyxy, [[30, 30, 90, 90]])
    assert boxes.fields["label"] == ["d"]
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 45}}])
    res = aug(np.zeros((h, w), np.uint8), boxes=boxes, polygons=p, seed=0)
    plain = aug(np.zeros((h, w), np.uint8), boxes=boxes.xyxy, seed=0).boxes
    turned = res.polygons.points[0]
    xyxy = res.boxes.xyxy[0]
    np.testing.assert_allclose(xyxy, [*turned.min(0), *turned.max(0)], atol=1e-9)  # tight on the polygon
    # a box without its polygon encloses the turned box: larger by the turn
    angle = math.degrees(math.atan2(res.matrix[1, 0], res.matrix[0, 0]))
    assert 5 < abs(angle) and plain.xyxy[0, 2] - plain.xyxy[0, 0] > (xyxy[2] - xyxy[0]) * 1.05


def test_qwen_answer_rows_round_trip():
    kind = get_kind("polygons")
    assert kind.answer_key == "polygon_2d" and kind.answer_points is None and kind.answer_min == 3
    polys = [np.array([[1.0, 2.0], [5.0, 2.0], [3.0, 7.0]]), np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]])]
    rows = kind.answer_rows(Polygons(polys))
    assert [r.tolist() for r in rows] == [p.tolist() for p in polys]
    back = kind.from_answer_rows(rows)
    assert isinstance(back, Polygons) and back.offsets.tolist() == [0, 3, 7]
    with pytest.raises(GeometryError, match="at least 3 points"):
        kind.from_answer_rows([np.array([[0.0, 0.0], [1.0, 1.0]])])


def test_draw_outlines_polygons():
    img = np.zeros((40, 40, 3), np.uint8)
    out = geoaug.draw(img, polygons=Polygons([[[5, 5], [35, 5], [20, 35]]], label=["tri"]))
    assert out[5, 20].any() and not out[20, 20].any()  # on the top edge, not inside


# ---- quads: the "fit" policy -----------------------------------------------------------------------------
def cut_convex_quads(n, seed, w=100.0, h=100.0):
    """Random convex quads that a w x h canvas cuts into something other than a quad, >= 30% visible."""
    rng = np.random.default_rng(seed)
    out = []
    canvas = shapely.box(0, 0, w, h)
    while len(out) < n:
        ang = np.sort(rng.uniform(0, 2 * np.pi, (4 * n, 4)), axis=1)
        rad = rng.uniform(5, 60, (4 * n, 4)) * rng.uniform(0.5, 1.0, (4 * n, 1))
        q = rng.uniform(-20, 120, (4 * n, 1, 2)) + np.stack([np.cos(ang), np.sin(ang)], -1) * rad[..., None]
        e = np.roll(q, -1, axis=1) - q
        f = np.roll(e, -1, axis=1)
        q = q[(e[..., 0] * f[..., 1] - e[..., 1] * f[..., 0] > 0).all(axis=1)]
        seen = shapely.intersection(shapely.polygons(q), canvas)
        vis = shapely.area(seen) / shapely.area(shapely.polygons(q))
        corners = shapely.get_num_coordinates(shapely.simplify(seen, 0.0)) - 1
        out.extend(q[(vis >= 0.3) & (vis < 1) & (corners != 4)])
    return np.array(out[:n])


def iou_with_visible(quads, originals, w=100.0, h=100.0):
    truth = shapely.intersection(shapely.polygons(originals), shapely.box(0, 0, w, h))
    got = shapely.make_valid(shapely.polygons(quads))
    return shapely.area(shapely.intersection(got, truth)) / shapely.area(shapely.union(got, truth))


def test_fit_reaches_the_iou_target_where_clamp_does_not():
    q = cut_convex_quads(1500, seed=7)
    score = {}
    for policy in ("clamp", "fit"):
        report = Report()
        out = clip_quads(geoaug.Quads(q), 100.0, 100.0, report, policy=policy)
        assert len(out) == len(q) and report.approximated["quads"] == len(q)
        assert out.points.min() >= 0 and out.points.max() <= 100.0  # corners on the canvas
        score[policy] = iou_with_visible(out.points, q)
    # measured (benchmarks/quad_fit.py, 4,000 quads): clamp 0.83 / 0.57, fit 0.98 / 0.89
    assert np.median(score["fit"]) >= 0.95 and np.quantile(score["fit"], 0.1) >= 0.8
    assert np.median(score["clamp"]) < 0.9 and np.quantile(score["clamp"], 0.1) < 0.7


def test_fit_keeps_corner_roles():
    # a text line whose right end leaves the canvas past its bottom-right corner: the cut is a pentagon
    q = np.array([[[10.0, 10.0], [110.0, 40.0], [105.0, 60.0], [5.0, 30.0]]])
    report = Report()
    out = clip_quads(geoaug.Quads(q), 100.0, 50.0, report, policy="fit").points[0]
    assert report.approximated["quads"] == 1
    np.testing.assert_allclose(out[0], q[0, 0])  # the first corner is still the top-left one
    assert geoaug.geometry.signed_area(out[None])[0] > 0  # still clockwise
    assert out[:, 0].max() <= 100.0 and out[:, 1].max() <= 50.0
    clamped = clip_quads(geoaug.Quads(q), 100.0, 50.0, Report(), policy="clamp").points
    assert iou_with_visible(out[None], q, 100.0, 50.0)[0] > iou_with_visible(clamped, q, 100.0, 50.0)[0] + 0.05


def test_fit_of_a_triangle_and_of_a_concave_quad():
    w, h = 100.0, 100.0
    tri = np.array([[[50.0, 90.0], [80.0, 120.0], [50.0, 150.0], [20.0, 120.0]]])  # a diamond's top: a triangle
    concave = np.array([[[-20.0, 10.0], [60.0, 30.0], [-20.0, 50.0], [10.0, 30.0]]])  # an arrowhead cut at x = 0
    for q in (tri, concave):
        report = Report()
        out = clip_quads(geoaug.Quads(q), w, h, report, policy="fit")
        assert report.approximated["quads"] == 1 and len(out) == 1
        assert out.points.min() >= 0 and out.points.max() <= 100.0
        hull = shapely.convex_hull(shapely.make_valid(shapely.Polygon(q[0])).intersection(shapely.box(0, 0, w, h)))
        got = shapely.Polygon(out.points[0])
        assert got.intersection(hull).area / got.union(hull).area >= 0.9


def test_fit_is_the_default_and_clamp_stays_an_option():
    assert geoaug.Pipeline([]).quad_clip == "fit"
    q = np.array([[[-20.0, -10.0], [40.0, -10.0], [40.0, 30.0], [-20.0, 30.0]]], float)
    q = q @ np.array([[np.cos(0.3), np.sin(0.3)], [-np.sin(0.3), np.cos(0.3)]])
    img = np.zeros((50, 50), np.uint8)
    fit = geoaug.Pipeline([])(img, quads=q)
    clamp = geoaug.Pipeline([], quad_clip="clamp")(img, quads=q)
    assert fit.report.approximated["quads"] == 1 == clamp.report.approximated["quads"]
    assert fit.replay["quad_clip"] == "fit" and clamp.replay["quad_clip"] == "clamp"
    assert not np.allclose(fit.quads.points, clamp.quads.points)
    s_fit, s_clamp = iou_with_visible(fit.quads.points, q, 50, 50), iou_with_visible(clamp.quads.points, q, 50, 50)
    assert s_fit[0] > s_clamp[0]
