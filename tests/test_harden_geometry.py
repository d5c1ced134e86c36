"""Hardening of geometry: degenerate quads at the border, boxes after any matrix, and intake errors.

3. Degenerate quads (a triangle written with a repeated corner, collinear and near-collinear text lines,
   slivers, tiny and huge ones) placed across the border always clip: never a GEOS exception mid-call, a
   visibility in [0, 1], and the same result, to the last bit, for a quad alone or among 1,000 others.
   Policy: a quad whose area (of its repaired shape) is at most DEGENERATE x its perimeter squared is
   measured by its outline (kept length / perimeter); coordinates beyond +-2^53 are refused at intake.
9. Output boxes are ordered (x1 <= x2, y1 <= y2) whatever the matrix, and can be fed back in.
10. Bad geometry at intake (ragged rows, strings, None, wrong nesting, unordered containers as fields)
    is a GeometryError naming the object, row, point and field: never numpy's own message.
"""

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st

import geoaug
from geoaug import matrix as M
from geoaug.clip import DEGENERATE, HAIR, _cut_quads, clip_boxes, clip_quads
from geoaug.geometry import map_boxes
from geoaug.instances import COORD_LIMIT
from geoaug.report import Report

from strategies import ALL_GEOMETRIC, geometric_op

W, H = 100, 80
IMG = np.zeros((H, W, 3), np.uint8)
NUMPY_TEXT = (
    "inhomogeneous",
    "could not convert",
    "setting an array element",
    "float() argument",
    "not iterable",
    "unsized object",
    "zero-dimensional",
)


# ---- 3. degenerate quads across the border ----------------------------------------------------------
_unit = st.floats(-1.0, 1.0, allow_nan=False)
_angle = st.floats(0.0, 2 * np.pi, allow_nan=False)


@st.composite
def border_point(draw):
    """A point on or near a side or corner of the canvas."""
    where = draw(st.sampled_from(["left", "right", "top", "bottom", "corner", "inside"]))
    x, y = draw(st.floats(0, W)), draw(st.floats(0, H))
    if where == "left":
        x = 0.0
    elif where == "right":
        x = float(W)
    elif where == "top":
        y = 0.0
    elif where == "bottom":
        y = float(H)
    elif where == "corner":
        x, y = float(draw(st.sampled_from([0, W]))), float(draw(st.sampled_from([0, H])))
    jitter = draw(st.sampled_from([0.0, 1e-9, 1e-3, 0.5, 5.0]))
    return np.array([x + jitter * draw(_unit), y + jitter * draw(_unit)])


KINDS = (
    "triangle",
    "point",
    "two_points",
    "collinear",
    "near_collinear",
    "sliver",
    "tiny",
    "huge",
    "huge_sliver",
    "fold",
    "bow_tie",
    "fat",
)


@st.composite
def degenerate_quad(draw, kinds=KINDS):
    """Degenerate and near-degenerate quads (and a few ordinary ones) around a border point."""
    kind = draw(st.sampled_from(kinds))
    c = draw(border_point())
    t = draw(_angle)
    u = np.array([np.cos(t), np.sin(t)])  # along the quad
    v = np.array([-u[1], u[0]])  # across it
    length = 10.0 ** draw(st.floats(-1, 3))
    ts = [draw(_unit) * length for _ in range(4)]
    if kind == "triangle":
        tri = [c + length * np.array([draw(_unit), draw(_unit)]) for _ in range(3)]
        k = draw(st.integers(0, 2))
        q = tri[: k + 1] + [tri[k]] + tri[k + 1 :]
    elif kind == "point":
        q = [c] * 4
    elif kind == "two_points":
        a, b = c - length * u, c + length * u
        q = draw(st.sampled_from([[a, b, a, b], [a, a, b, b], [a, b, b, a]]))
    elif kind == "collinear":
        q = [c + s * u for s in ts]
    elif kind == "near_collinear":
        eps = 10.0 ** draw(st.floats(-16, -4))
        q = [c + s * u + draw(_unit) * eps * length * v for s in ts]
    elif kind == "sliver":
        thick = length * 10.0 ** draw(st.floats(-16, -4))
        q = [
            c - length * u - thick * v,
            c + length * u - thick * v,
            c + length * u + thick * v,
            c - length * u + thick * v,
        ]
    elif kind == "tiny":
        size = 10.0 ** draw(st.floats(-12, -3))
        q = [c + size * np.array([draw(_unit), draw(_unit)]) for _ in range(4)]
    elif kind == "huge":
        big = 10.0 ** draw(st.floats(5, 15.5))
        q = [c + big * np.array([draw(_unit), draw(_unit)]) for _ in range(4)]
    elif kind == "huge_sliver":
        big = 10.0 ** draw(st.floats(5, 15.5))
        thick = 10.0 ** draw(st.floats(-6, 2))
        q = [c - big * u - thick * v, c + big * u - thick * v, c + big * u + thick * v, c - big * u + thick * v]
    elif kind == "fold":  # out and back along the same edge: no area at all
        a, b, d = c, c + length * u, c + length * (u + v)
        q = [a, b, d, b]
    elif kind == "bow_tie":
        q = [
            c - length * u - length * v,
            c + length * u + length * v,
            c + length * u - length * v,
            c - length * u + length * v,
        ]
    else:
        q = [c + length * np.array([draw(_unit), draw(_unit)]) for _ in range(4)]
    q = np.roll(np.asarray(q, dtype=np.float64), draw(st.integers(0, 3)), axis=0)
    if draw(st.booleans()):
        q = q[::-1]
    assume(np.abs(q).max() <= COORD_LIMIT)
    return q


def _crowd(rng, n=1000):
    """Ordinary quads: rotated rectangles, most inside, some across the border."""
    c = rng.uniform([-10, -10], [W + 10, H + 10], (n, 1, 2))
    s = rng.uniform(1, 20, (n, 1, 2)) * [[[-1, -1], [1, -1], [1, 1], [-1, 1]]]
    t = rng.uniform(0, np.pi, n)
    r = np.stack([np.cos(t), -np.sin(t), np.sin(t), np.cos(t)], axis=1).reshape(n, 2, 2)
    return s @ r.transpose(0, 2, 1) + c


def _by_source(res):
    """Per source index: (points, visibility) kept, or the drop reason."""
    out = {int(i): (p, v) for i, p, v in zip(res.quads.index, res.quads.points, res.quads.visibility)}
    for d in res.report.dropped:
        if d["kind"] == "quads":
            out[d["index"]] = d["reason"]
    return out


PIPELINES = {
    "intake only": [],
    "affine": [{"name": "affine", "params": {"rotate": 20, "scale": [0.9, 1.2], "translate": 0.05}}],
    "perspective": [{"name": "perspective", "params": {"scale": [0.02, 0.08]}}],
}


@pytest.mark.parametrize("policy", ["clamp", "drop"])
@pytest.mark.parametrize("ops", list(PIPELINES))
@given(quads=st.lists(degenerate_quad(), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_degenerate_quads_clip_alone_and_in_a_crowd_alike(ops, policy, quads, seed):
    aug = geoaug.Pipeline(PIPELINES[ops], quad_clip=policy)
    rng = np.random.default_rng(seed)
    crowd = _crowd(rng)
    at = np.sort(rng.choice(len(crowd) + len(quads), len(quads), replace=False))
    mixed = np.insert(crowd, at - np.arange(len(quads)), np.asarray(quads), axis=0)
    assert (mixed[at] == np.asarray(quads)).all()
    together = _by_source(aug(IMG, quads=mixed, seed=seed))
    for q, i in zip(quads, at):
        res = aug(IMG, quads=[q], seed=seed)
        assert ((res.quads.visibility >= 0) & (res.quads.visibility <= 1)).all(), (q.tolist(), res.quads.visibility)
        alone = _by_source(res)
        assert len(alone) == 1, q.tolist()  # kept once or dropped once, never lost or split
        a, b = alone[0], together[int(i)]
        if isinstance(a, str) or isinstance(b, str):
            assert a == b, (q.tolist(), a, b)
        else:
            np.testing.assert_array_equal(a[0], b[0], err_msg=str(q.tolist()))
            assert a[1] == b[1], (q.tolist(), a[1], b[1])


@given(st.lists(degenerate_quad(), min_size=1, max_size=30))
def test_degenerate_quads_cut_directly_never_raise_and_stay_in_0_1(quads):
    pts = np.asarray(quads)
    for policy in ("clamp", "drop"):
        report = Report()
        out = clip_quads(geoaug.Quads(pts), W, H, report, policy=policy)
        assert ((out.visibility >= 0) & (out.visibility <= 1)).all()
        assert np.isfinite(out.points).all()
        assert (out.points >= 0).all() and (out.points[..., 0] <= W).all() and (out.points[..., 1] <= H).all()
        assert sorted(out.index.tolist() + [d["index"] for d in report.dropped]) == list(range(len(pts)))


@given(degenerate_quad(kinds=("collinear", "near_collinear", "sliver", "two_points", "fold", "huge_sliver")))
def test_a_quad_without_area_is_measured_by_its_outline(q):
    # kept length of its 4 edges over its perimeter, each edge against the overlay
    edges = np.roll(q, -1, axis=0) - q
    perimeter = np.hypot(edges[:, 0], edges[:, 1]).sum()
    kept_area, _, _, area0 = _cut_quads(q[None], W, H)
    assume(area0[0] <= DEGENERATE * perimeter**2 and perimeter > 0)
    assume((q < -HAIR).any() or (q[:, 0] > W + HAIR).any() or (q[:, 1] > H + HAIR).any())  # cut, not snapped
    canvas = shapely.box(0, 0, W, H)
    want = sum(shapely.intersection(shapely.linestrings([a, b]), canvas).length for a, b in zip(q, np.roll(q, -1, 0)))
    report = Report()
    out = clip_quads(geoaug.Quads([q]), W, H, report)
    if len(out):
        assert out.visibility[0] == pytest.approx(want / perimeter, rel=1e-6, abs=1e-9)
    else:
        assert want <= 1e-6 * perimeter and report.dropped[0]["reason"] == "outside"


def test_boxes_from_degenerate_polygons_clip_alone_and_in_a_crowd_alike():
    compared = []  # per example: boxes kept alone and in the crowd, compared coordinate for coordinate

    @given(quads=st.lists(degenerate_quad(), min_size=1, max_size=6), seed=st.integers(0, 2**16))
    def alike(quads, seed):
        # boxes that keep their polygon cut it with the same policy: outline-measured when it has no area
        aug = geoaug.Pipeline(PIPELINES["affine"])
        compared.append(0)
        crowd = list(_crowd(np.random.default_rng(seed), 200))
        together = aug(IMG, boxes=geoaug.Boxes.from_polygons(crowd[:100] + list(quads) + crowd[100:]), seed=seed)
        assert _ordered(together.boxes.xyxy)
        assert ((together.boxes.visibility >= 0) & (together.boxes.visibility <= 1)).all()
        for j, q in enumerate(quads):
            res = aug(IMG, boxes=geoaug.Boxes.from_polygons([q]), seed=seed)
            assert ((res.boxes.visibility >= 0) & (res.boxes.visibility <= 1)).all(), q.tolist()
            assert _ordered(res.boxes.xyxy)
            mine = np.flatnonzero(together.boxes.index == 100 + j)
            assert len(mine) == len(res.boxes), q.tolist()
            if len(mine):
                np.testing.assert_array_equal(together.boxes.xyxy[mine[0]], res.boxes.xyxy[0])
                assert together.boxes.visibility[mine[0]] == res.boxes.visibility[0]
                compared[-1] += 1

    alike()
    # Measured: 43-70% of examples keep a degenerate polygon's box to compare (61% over CI's 200).
    n = np.array(compared)
    assert len(n) >= 10 and (n > 0).mean() >= 0.2, (len(n), (n > 0).mean(), n.sum())


@pytest.mark.parametrize(
    "quad",
    [
        # near-collinear, numerically convex: GEOS's rectangle clipper raised "Invalid number of points in
        # LinearRing found 3"
        [
            [-80.07290124886163, 36.665656997655574],
            [44.32917491446997, 52.07146039575266],
            [-48.51959604791353, 40.573180340334666],
            [-142.61602274859317, 28.92039209980036],
        ],
        # a sliver whose kept "area" came out as 1.0625 of the whole
        [
            [40.85840832362254, 17.13760420572543],
            [61.98143083715089, 8.44925222342995],
            [86.31661454133, -1.5603305169338526],
            [58.79148976675992, 9.761343369694016],
        ],
        # near-collinear text line: its share differed alone and among 1,000 others
        [[-10, 10], [50, 10 + 1e-9], [120, 10], [40, 10 - 1e-9]],
        [[-10, 10], [50, 10], [50, 10], [20, 60]],  # a triangle with a repeated corner
        [[-10, 10], [50, 10], [80, 10], [120, 10]],  # collinear
        [[-10, 10], [50, 60], [-10, 10], [50, 60]],  # two points
        [[-10, 10], [50, 10], [50, 40], [50, 10]],  # out and back: no area
        [[-1e15, 10], [1e15, 10], [1e15, 20], [-1e15, 20]],  # huge
    ],
)
def test_degenerate_quads_found_by_fuzzing(quad):
    q = np.asarray(quad, dtype=float)
    crowd = _crowd(np.random.default_rng(0))
    for policy in ("clamp", "drop"):
        alone = clip_quads(geoaug.Quads(q[None]), W, H, Report(), policy=policy)
        among = clip_quads(
            geoaug.Quads(np.concatenate([crowd[:500], q[None], crowd[500:]])), W, H, Report(), policy=policy
        )
        assert ((alone.visibility >= 0) & (alone.visibility <= 1)).all()
        mine = np.flatnonzero(among.index == 500)
        assert len(mine) == len(alone)
        if len(alone):
            assert among.visibility[mine[0]] == alone.visibility[0]
            np.testing.assert_array_equal(among.points[mine[0]], alone.points[0])


def test_a_text_line_written_as_a_quad_keeps_its_visible_length():
    # a zero-height line 120 long, 20 of it left of the canvas: kept, 5/6 visible, on the canvas
    report = Report()
    out = clip_quads(geoaug.Quads([[[-20, 10], [100, 10], [100, 10], [-20, 10]]]), W, H, report)
    assert len(out) == 1 and out.visibility[0] == pytest.approx(100 / 120)
    assert out.points.min() >= 0 and report.approximated["quads"] == 1
    dropped = Report()
    assert (
        len(clip_quads(geoaug.Quads([[[-20, 10], [100, 10], [100, 10], [-20, 10]]]), W, H, dropped, policy="drop")) == 0
    )
    assert dropped.dropped[0]["reason"] == "not_a_quad_after_clip"


@given(st.integers(0, 5), st.integers(0, 3), st.integers(0, 1), st.floats(16.0, 308.0), st.booleans())
def test_coordinates_beyond_2_53_are_refused_at_intake_naming_the_row(row, point, axis, exp, negative):
    quads = _crowd(np.random.default_rng(row), 6)
    quads[row, point, axis] = (-1 if negative else 1) * 10.0**exp
    assume(abs(quads[row, point, axis]) > COORD_LIMIT)
    want = rf"quads\[{row}\]\.point\[{point}\]\.{'xy'[axis]} \(.*\) is beyond \+-2\^53"
    with pytest.raises(geoaug.GeometryError, match=want):
        geoaug.Pipeline([])(IMG, quads=quads)
    boxes = np.tile([[1.0, 2, 3, 4]], (6, 1))
    boxes[row, 2 + axis] = 10.0**exp
    with pytest.raises(geoaug.GeometryError, match=rf"boxes\[{row}\]\.[xy]2 \(.*\) is beyond"):
        geoaug.Boxes(boxes)
    lines = [np.array([[1.0, 1], [2, 2], [3, 3]]) for _ in range(6)]
    lines[row][point % 3, axis] = 10.0**exp
    with pytest.raises(geoaug.GeometryError, match=rf"lines\[{row}\]\.point\[{point % 3}\]\.[xy] \(.*\) is beyond"):
        geoaug.Lines(lines)
    geoaug.Boxes([[0, 0, COORD_LIMIT, COORD_LIMIT]])  # the limit itself is a coordinate


# ---- 9. boxes are ordered after any matrix --------------------------------------------------------
@st.composite
def any_matrix(draw):
    """Rotations, flips, shears, tiny and large scales, translations; sometimes a mild perspective."""
    sx = 10.0 ** draw(st.floats(-12, 3)) * draw(st.sampled_from([1, -1]))
    sy = (sx if draw(st.booleans()) else 10.0 ** draw(st.floats(-12, 3))) * draw(st.sampled_from([1, -1]))
    a = M.rotate_about(draw(st.floats(-360, 360)), draw(st.floats(0, W)), draw(st.floats(0, H)))
    a = M.translate(draw(st.floats(-200, 200)), draw(st.floats(-200, 200))) @ M.scale(sx, sy) @ a
    if draw(st.booleans()):
        shear = np.eye(3)
        shear[0, 1], shear[1, 0] = draw(st.floats(-2, 2)), draw(st.floats(-2, 2))
        a = shear @ a
    if draw(st.booleans()):  # projective terms small enough that w stays positive over the boxes
        a = a.copy()
        a[2, 0], a[2, 1] = draw(st.floats(-1e-3, 1e-3)), draw(st.floats(-1e-3, 1e-3))
    return a


@st.composite
def thin_boxes(draw):
    """Point-like boxes, boxes thin in one or both directions (by an ulp, 1e-12 or nothing), a few wider."""
    out = []
    for _ in range(draw(st.integers(1, 40))):
        x, y = draw(st.floats(-50, 150)), draw(st.floats(-50, 150))
        dx, dy = (draw(st.sampled_from([0.0, 1e-12, 1e-6, "ulp", 3.0])) for _ in range(2))
        x2 = np.nextafter(x, np.inf) if dx == "ulp" else x + dx
        y2 = np.nextafter(y, np.inf) if dy == "ulp" else y + dy
        out.append([x, y, x2, y2])
    return np.array(out)


def _ordered(xyxy):
    return (xyxy[:, 2] >= xyxy[:, 0]).all() and (xyxy[:, 3] >= xyxy[:, 1]).all()


@given(any_matrix(), thin_boxes())
def test_boxes_come_out_ordered_whatever_the_matrix_and_feed_back_in(a, xyxy):
    boxes = geoaug.Boxes(xyxy, label=list(range(len(xyxy))))
    mapped = map_boxes(boxes, a)
    assert _ordered(mapped.xyxy), mapped.xyxy
    clipped = clip_boxes(mapped, W, H, Report())
    assert _ordered(clipped.xyxy)
    geoaug.Boxes(mapped.xyxy)  # refused before when an ulp inverted
    geoaug.Boxes(clipped.xyxy)


def test_point_boxes_stay_ordered_under_the_matrices_that_inverted_them():
    # every one of these random affines inverted some point-like box by an ulp before
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = np.eye(3)
        a[:2, :2], a[:2, 2] = rng.normal(size=(2, 2)), rng.normal(size=2) * 100
        p = rng.uniform(0, 1000, size=(50, 2))
        out = map_boxes(geoaug.Boxes(np.concatenate([p, p], axis=1)), a).xyxy
        assert _ordered(out)
        geoaug.Boxes(out)


@given(
    st.lists(geometric_op(ALL_GEOMETRIC), min_size=1, max_size=4), thin_boxes(), st.integers(0, 2**16), st.booleans()
)
def test_pipeline_output_boxes_are_ordered_and_re_feedable(ops, xyxy, seed, fuse):
    xyxy = np.clip(xyxy, 0, [W, H, W, H])
    aug = geoaug.Pipeline(ops, fuse=fuse)
    res = aug(IMG, boxes=xyxy, seed=seed)
    assert _ordered(res.boxes.xyxy)
    again = aug(res.image, boxes=res.boxes.xyxy, seed=seed)  # its own output, fed back in
    assert _ordered(again.boxes.xyxy)
    back = res.inverse(boxes=res.boxes)
    assert _ordered(back.boxes.xyxy)


# ---- 10. intake errors name the object, row, point and field ----------------------------------------
class Opaque:
    pass


BAD = [
    ({"boxes": [[0, 0, 1, 1], [0, 0, 1]]}, r"^boxes\[1\] has 3 values, expected 4 numbers \(x1, y1, x2, y2\)"),
    ({"boxes": [[0, 0, 1, 1], [0, 0, 1, 1, 5]]}, r"^boxes\[1\] has 5 values"),
    ({"boxes": [[0, 0, "a", 1]]}, r"^boxes\[0\]\.x2 is a string \('a'\), expected a number"),
    ({"boxes": [[0, 0, "1", 1]]}, r"^boxes\[0\]\.x2 is a string \('1'\)"),
    ({"boxes": [[0, None, 1, 1]]}, r"^boxes\[0\]\.y1 is None, expected a number"),
    ({"boxes": [[0, 0, 1, 1], None]}, r"^boxes\[1\] is None, expected 4 numbers"),
    ({"boxes": [[0, 0, 1, 1], "0 0 1 1"]}, r"^boxes\[1\] is a string"),
    ({"boxes": [[0, 0, 1, 1], {"x1": 0}]}, r"^boxes\[1\] is a dict, not a sequence in the objects' order"),
    ({"boxes": [[0, 0, 1, 1], [0, [0], 1, 1]]}, r"^boxes\[1\]\.y1 is a list, expected a number"),
    ({"boxes": [[0, 0, 1, Opaque()]]}, r"^boxes\[0\]\.y2 is an Opaque, expected a number"),
    ({"boxes": [[0, 0, 1j, 1]]}, r"^boxes\[0\]\.x2 is a complex"),
    ({"boxes": [[0, 0, 1, b"1"]]}, r"^boxes\[0\]\.y2 is a string"),
    ({"boxes": {(0, 0, 1, 1)}}, r"^boxes is a set, not a sequence in the objects' order"),
    ({"boxes": "0 0 1 1"}, r"^boxes is a string"),
    ({"boxes": 5}, r"^boxes is an int"),
    ({"boxes": (r for r in [[0, 0, 1, 1]])}, r"^boxes is a generator"),
    ({"boxes": np.array([["0", "0", "1", "x"]])}, r"^boxes\[0\]\.x1 is a string"),
    (
        {"quads": [[[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 0], [1, 0], [1, 1]]]},
        r"^quads\[1\] has 3 points, expected 4 \(x, y\) points",
    ),
    (
        {"quads": [[[0, 0], [1, 0, 3], [1, 1], [0, 1]], [[0, 0], [1, 0], [1, 1], [0, 1]]]},
        r"^quads\[0\]\.point\[1\] has 3 values, expected 2 numbers \(x, y\)",
    ),
    ({"quads": [[[0, 0], [1, "x"], [1, 1], [0, 1]]]}, r"^quads\[0\]\.point\[1\]\.y is a string"),
    (
        {"quads": [[[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 0], [1, None], [1, 1], [0, 1]]]},
        r"^quads\[1\]\.point\[1\]\.y is None",
    ),
    ({"quads": [[[0, 0], [1, 0], [1, 1], None]]}, r"^quads\[0\]\.point\[3\] is None"),
    (
        {"quads": [[[0, 0], [1, 0], [1, 1], [0, 1]], [0, 0, 1, 0, 1, 1, 0, 1]]},
        r"^quads\[1\] has 8 points, expected 4 \(x, y\) points",
    ),
    ({"lines": [[[0, 0], [1]]]}, r"^lines\[0\]\.point\[1\] has 1 value, expected 2 numbers \(x, y\)"),
    ({"lines": [[[0, 0], [1, 1]], [[0, 0], [1, "x"]]]}, r"^lines\[1\]\.point\[1\]\.y is a string"),
    ({"lines": [[[0, 0], [1, None]]]}, r"^lines\[0\]\.point\[1\]\.y is None"),
    ({"lines": [[[0, 0], [1, 1]], None]}, r"^lines\[1\] is None"),
    ({"lines": [[[0, 0], [1, 1]], [[0, 0]]]}, r"^lines\[1\] needs at least 2 points, got 1"),
    ({"lines": [[[0, 0], [1, 1]], [[0, 0], [1, 1], [2]]]}, r"^lines\[1\]\.point\[2\] has 1 value"),
    ({"lines": 5}, r"^lines is an int"),
    ({"lines": "ab"}, r"^lines is a string"),
    ({"lines": {((0, 0), (1, 1))}}, r"^lines is a set, not a sequence in the objects' order"),
]


@pytest.mark.parametrize("kwargs, pattern", BAD)
def test_bad_geometry_is_a_geometry_error_naming_row_and_field(kwargs, pattern):
    with pytest.raises(geoaug.GeometryError, match=pattern) as err:
        geoaug.Pipeline([{"name": "hflip"}])(IMG, **kwargs)
    assert not any(t in str(err.value) for t in NUMPY_TEXT), str(err.value)


def test_polygons_are_named_as_polygons():
    with pytest.raises(geoaug.GeometryError, match=r"^polygons\[1\]\.point\[1\]\.y is a string"):
        geoaug.Boxes.from_polygons([[[0, 0], [1, 0], [1, 1]], [[0, 0], [1, "q"], [1, 1]]])
    with pytest.raises(geoaug.GeometryError, match=r"^polygons\[0\]\.point\[2\] has 1 value"):
        geoaug.Boxes.from_polygons([[[0, 0], [1, 0], [1]]])


def test_numbers_of_any_real_type_are_still_read():
    b = geoaug.Boxes([[Decimal(0), Fraction(1, 2), np.float32(1), np.int64(2)], [True, 0, 1, 1.5]])
    np.testing.assert_array_equal(b.xyxy, [[0, 0.5, 1, 2], [1, 0, 1, 1.5]])
    q = geoaug.Quads(np.array([[[0, 0], [1, 0], [1, 1], [0, 1]]], dtype=object))
    assert q.points.dtype == np.float64
    ln = geoaug.Lines(iter([[(0, 0), (1, 1)], np.array([[2, 2], [3, 3]], dtype=np.int32)]))
    assert len(ln) == 2 and ln.flat.dtype == np.float64


JUNK = ["x", "1.5", b"1", None, {"a": 1}, [1.0], Opaque(), 1j, {1.0}]


@st.composite
def corrupted(draw, kind):
    """A valid table of ``kind`` with one row broken: a value replaced by junk, a row too short or too long,
    or the row itself replaced. Returns (rows, broken row)."""
    n = draw(st.integers(2, 8))
    shape = {"boxes": (4,), "quads": (4, 2), "lines": (3, 2)}[kind]
    rows = np.arange(n * np.prod(shape), dtype=float).reshape((n,) + shape).tolist()
    r = draw(st.integers(0, n - 1))
    how = draw(st.sampled_from(["value", "short", "long", "row"]))
    junk = draw(st.sampled_from(JUNK))
    if how == "value":
        i = draw(st.integers(0, shape[0] - 1))
        if len(shape) == 2:
            rows[r][i][draw(st.integers(0, 1))] = junk
        else:
            rows[r][i] = junk
    elif how == "short":
        rows[r] = rows[r][:1] if kind == "lines" else rows[r][:-1]
    elif how == "long":
        rows[r] = rows[r] + [rows[r][0]]
        if kind == "lines":  # a longer line is fine: break one of its points instead
            rows[r][-1] = rows[r][-1] + [0.0]
    else:
        rows[r] = junk
    return rows, r


@pytest.mark.parametrize("kind", ["boxes", "quads", "lines"])
@given(data=st.data())
def test_any_broken_row_is_named(kind, data):
    rows, r = data.draw(corrupted(kind))
    with pytest.raises(geoaug.GeometryError) as err:
        geoaug.Pipeline([])(IMG, **{kind: rows})
    msg = str(err.value)
    assert msg.startswith(f"{kind}[{r}]"), msg
    assert not any(t in msg for t in NUMPY_TEXT), msg


def _gen():
    yield "a"
    yield "b"


FIELD_CONTAINERS = {
    "set": lambda: {"a", "b"},
    "frozenset": lambda: frozenset({"a", "b"}),
    "dict": lambda: {"a": 1, "b": 2},
    "dict_keys": lambda: {"a": 1, "b": 2}.keys(),
    "dict_values": lambda: {"a": 1, "b": 2}.values(),
    "dict_items": lambda: {"a": 1, "b": 2}.items(),
    "generator": _gen,
    "list_iterator": lambda: iter(["a", "b"]),
    "0-d array": lambda: np.array(3),
    "None": lambda: None,
    "string": lambda: "ab",
    "int": lambda: 2,
}
TABLES = {
    "boxes": lambda **f: geoaug.Boxes([[0, 0, 1, 1], [0, 0, 2, 2]], **f),
    "quads": lambda **f: geoaug.Quads(np.zeros((2, 4, 2)), **f),
    "lines": lambda **f: geoaug.Lines([[[0, 0], [1, 1]], [[0, 0], [2, 2]]], **f),
}


@pytest.mark.parametrize("container", list(FIELD_CONTAINERS))
@pytest.mark.parametrize("kind", list(TABLES))
def test_a_field_must_be_an_ordered_sequence(kind, container):
    with pytest.raises(geoaug.GeometryError, match=rf"^{kind} field 'label' is ") as err:
        TABLES[kind](label=FIELD_CONTAINERS[container]())
    assert "one value per object (2)" in str(err.value)
    assert not any(t in str(err.value) for t in NUMPY_TEXT)


@pytest.mark.parametrize("values", [["a", "b"], ("a", "b"), range(2), np.array(["a", "b"])])
@pytest.mark.parametrize("kind", list(TABLES))
def test_ordered_fields_are_taken(kind, values):
    t = TABLES[kind](label=values)
    assert list(t.fields["label"]) == list(values)


def test_every_intake_error_is_a_geoaug_value_error():
    for kwargs, _ in BAD:
        with pytest.raises(geoaug.GeoaugError):
            geoaug.Pipeline([])(IMG, **kwargs)
    assert issubclass(geoaug.GeometryError, ValueError)
