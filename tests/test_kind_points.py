"""The points kind: free points (N, 2) and grouped keypoints (N, K, 2) with COCO flags, flip pairs, the
``point_outside`` policy, replay, inverse, Qwen ``point_2d`` answers and drawing."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_core_oracle import resamplings, well_inside

import geoaug
from geoaug import Points
from geoaug.draw import label_colour
from geoaug.errors import ConfigError, GeometryError
from geoaug.geometry import cross
from geoaug.kinds import get_kind
from geoaug.matrix import apply_points
from geoaug.qwen import parse_answer, to_grid

from helpers import FILL, coordinate_image, read_back
from strategies import ALL_GEOMETRIC, INDEX_OPS, geometric_op

NAMES = ["nose", "l_eye", "r_eye", "l_ear", "r_ear"]
PAIRS = [("l_eye", "r_eye"), ("l_ear", "r_ear")]
PERM = [0, 2, 1, 4, 3]  # joint j of a mirrored result is source joint PERM[j]


def faces(n=2, w=60, h=50):
    """Faces looking at the camera: the person's left eye and ear on the image's right."""
    out = []
    for i in range(n):
        cx, cy = 15 + 25 * i, 20 + 3 * i
        out.append([[cx, cy], [cx + 4, cy - 3], [cx - 4, cy - 3], [cx + 8, cy - 1], [cx - 8, cy - 1]])
    return np.array(out, float)


# ---- intake ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"xy": [1, 2, 3]}, r"points must have shape \(N, 2\) .* got shape \(3,\)"),
        ({"xy": [[1, 2], [3]]}, r"points\[1\] has 1 value, expected 2 numbers \(x, y\)"),
        ({"xy": [[1, "a"]]}, r"points\[0\]\.y is a string"),
        ({"xy": [[1, None]]}, r"points\[0\]\.y is None"),
        ({"xy": [[0, 0], [np.nan, 1]]}, r"points\[1\]\.x is NaN"),
        ({"xy": np.array([[[0, 0], [1, 1]], [[0, 0], [1, np.inf]]])}, r"points\[1\]\.point\[1\]\.y is infinite"),
        ({"xy": [[[0, 0], [1, 1]], [[0, 0]]]}, r"points\[1\] has 1 point, expected 2 \(x, y\) points"),
        ({"xy": {"a": 1}}, r"points is a dict"),
        ({"xy": "12"}, r"points is a string"),
        ({"xy": [[0, 0]], "flags": [3]}, r"points\[0\]\.flag is 3, expected 0, 1 or 2"),
        ({"xy": [[[0, 0], [1, 1]]], "flags": [[2, -1]]}, r"points\[0\]\.point\[1\]\.flag is -1"),
        ({"xy": [[[0, 0], [1, 1]]], "flags": [2, 2]}, r"flags must have shape \(1, 2\)"),
        ({"xy": [[0, 0]], "flags": np.array([True])}, r"not booleans"),
        ({"xy": [[0, 0]], "names": ["a"]}, r"names name the joints of grouped keypoints"),
        ({"xy": [[[0, 0], [1, 1]]], "names": ["a"]}, r"names has 1 names for 2 joints"),
        ({"xy": [[[0, 0], [1, 1]]], "names": ["a", "a"]}, r"'a' appears twice"),
        ({"xy": [[[0, 0], [1, 1]]], "names": ["a", 1]}, r"names\[1\] is int"),
        ({"xy": [[0, 0]], "flip_pairs": [(0, 1)]}, r"flip_pairs pair the joints of grouped keypoints"),
        ({"xy": [[[0, 0], [1, 1]]], "flip_pairs": [("a", "b")]}, r"flip_pairs\[0\]: unknown joint 'a'"),
        ({"xy": [[[0, 0], [1, 1]]], "flip_pairs": [(0, 2)]}, r"joint index 2 is outside 0\.\.1"),
        ({"xy": [[[0, 0], [1, 1]]], "flip_pairs": [(1, 1)]}, r"pairs joint 1 with itself"),
        ({"xy": [[[0, 0], [1, 1], [2, 2]]], "flip_pairs": [(0, 1), (2, 1)]}, r"joint 1 is already in flip_pairs"),
        ({"xy": [[[0, 0], [1, 1]]], "flip_pairs": [(0, 1, 1)]}, r"has 3 items, expected a \(left, right\) pair"),
        ({"xy": [[[0, 0], [1, 1]]], "flip_pairs": [(0, 1.0)]}, r"neither a joint name nor a joint index"),
        ({"xy": [[0, 0], [1, 1]], "label": ["a"]}, r"points field 'label' has 1 values for 2 points"),
    ],
)
def test_bad_input_is_named_by_row_point_and_field(kwargs, message):
    kw = dict(kwargs)
    with pytest.raises(GeometryError, match=message):
        Points(kw.pop("xy"), **kw)


def test_a_call_names_the_bad_points_too():
    with pytest.raises(GeometryError, match=r"points\[0\]\.x is NaN"):
        geoaug.Pipeline([])(np.zeros((8, 8, 3), np.uint8), points=[[np.nan, 1]])
    with pytest.raises(GeometryError, match="unknown geometry 'point'"):
        geoaug.Pipeline([])(np.zeros((8, 8, 3), np.uint8), point=[[1, 1]])


def test_shapes_flags_and_names_as_given():
    free = Points([[1, 2], [3, 4]])
    assert free.xy.shape == (2, 2) and free.flags.shape == (2,) and free.flags.dtype == np.int8
    assert not free.grouped and free.num_joints == 1 and free.flags.tolist() == [2, 2] and free.names is None
    kp = Points(faces(), names=NAMES, flip_pairs=[("l_eye", "r_eye"), (4, 3)], flags=[[2, 2, 1, 0, 2]] * 2)
    assert kp.xy.shape == (2, 5, 2) and kp.flags.shape == (2, 5) and kp.grouped and kp.num_joints == 5
    assert kp.flip_pairs == ((1, 2), (4, 3)) and kp.names == tuple(NAMES)
    assert kp.labelled().tolist() == [4, 4]
    assert Points([]).xy.shape == (0, 2) and Points().xy.shape == (0, 2)
    assert Points([], names=NAMES).xy.shape == (0, 5, 2)  # an empty table of keypoints keeps its K
    assert Points(np.zeros((0, 3, 2))).num_joints == 3
    assert Points([[1, 2]], flags=[1.0]).flags.tolist() == [1]  # any numbers 0, 1, 2
    assert len(Points([(1, 2)] * 3, label=["a"] * 3).fields["label"]) == 3


# ---- the coordinate oracle -----------------------------------------------------------------------------
@st.composite
def point_scene(draw, op_names=ALL_GEOMETRIC, max_ops=4):
    w, h = draw(st.integers(24, 96)), draw(st.integers(24, 96))
    ops = draw(st.lists(geometric_op(op_names), min_size=1, max_size=max_ops))
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    xy = draw(
        st.lists(st.tuples(st.floats(0.2 * w, 0.8 * w), st.floats(0.2 * h, 0.8 * h)), min_size=n * k, max_size=n * k)
    )
    grouped = draw(st.booleans())
    pts = np.array(xy, float).reshape((n, k, 2) if grouped else (n * k, 2))
    return w, h, ops, pts, draw(st.integers(0, 2**31))


def test_every_kept_point_reads_back_its_source():
    """Coordinate image + points through random chains, fused and op by op: every labelled output point
    reads back the source point it came from (0.1 px per interpolating warp); with one fused warp, the flag
    is 0 exactly where the net map takes the source point off the canvas, and the point is the net map's."""
    checked = []

    @given(point_scene(), st.booleans())
    def reads_back(sc, fuse):
        w, h, ops, pts, seed = sc
        aug = geoaug.Pipeline(ops, fill=FILL, fuse=fuse)
        res = aug(coordinate_image(w, h), points=Points(pts, label=list(range(len(pts)))), seed=seed)
        out = res.points
        assert len(out) == len(pts) and out.xy.shape == pts.shape  # "flag" keeps every row
        src = pts.reshape(len(pts), -1, 2)[out.index]
        if fuse:
            mapped = apply_points(res.matrix, src)
            np.testing.assert_allclose(out.joints, mapped, atol=2e-3)  # snapped within HAIR at most
            w2, h2 = res.size
            inside = (mapped[..., 0] >= -1e-3) & (mapped[..., 0] <= w2 + 1e-3)
            inside &= (mapped[..., 1] >= -1e-3) & (mapped[..., 1] <= h2 + 1e-3)
            assert ((out.joint_flags == 2) == inside).all()
            np.testing.assert_allclose(out.visibility, inside.mean(axis=1))
        n = 0
        tol = 0.1 * max(1, resamplings(res))
        for row, (p_out, f_out, p_src) in enumerate(zip(out.joints, out.joint_flags, src)):
            assert out.fields["label"][row] == out.index[row]
            for p, f, s in zip(p_out, f_out, p_src):
                if f == 0:
                    continue
                (rb,) = read_back(res.image, p[None])
                if rb is not None and well_inside(res, s):
                    assert np.hypot(*(np.array(rb) - s)) < tol, (p, rb, s)
                    n += 1
        checked.append(n)

    reads_back()
    n = np.array(checked)
    assert len(n) >= 10 and (n > 0).mean() >= 0.4 and n.sum() >= 2 * len(n), (len(n), (n > 0).mean(), n.sum())


# ---- flip pairs ----------------------------------------------------------------------------------------
def handedness(joints):
    """Per instance, the turn from (nose -> left eye) to (nose -> right eye): a rotation keeps its sign, a
    mirror flips it, and swapping the eyes flips it back."""
    return np.sign(cross(joints[:, 1] - joints[:, 0], joints[:, 2] - joints[:, 0]))


MIRRORS = [
    ([{"name": "hflip"}], 1),
    ([{"name": "vflip"}], 1),
    ([{"name": "hflip"}, {"name": "vflip"}], 2),
    ([{"name": "hflip"}, {"name": "hflip"}], 2),
    ([{"name": "hflip"}, {"name": "rot90", "params": {"k": 1}}, {"name": "vflip"}], 2),
    ([{"name": "hflip"}, {"name": "vflip"}, {"name": "hflip"}], 3),
    ([{"name": "vflip"}, {"name": "rot90", "params": {"k": 3}}, {"name": "hflip"}, {"name": "vflip"}], 3),
    ([{"name": "rot90", "params": {"k": 1}}, {"name": "affine", "params": {"rotate": 20}}, {"name": "hflip"}], 1),
]


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("ops, mirrors", MIRRORS)
def test_flip_pairs_swap_exactly_when_the_net_map_mirrors(ops, mirrors, fuse):
    src = faces()
    kp = Points(src, names=NAMES, flip_pairs=PAIRS, flags=[[2, 2, 1, 2, 0], [2, 1, 2, 2, 2]])
    res = geoaug.Pipeline(ops, fuse=fuse)(np.zeros((50, 60, 3), np.uint8), points=kp, seed=3)
    assert (np.linalg.det(res.matrix) < 0) == (mirrors % 2 == 1)
    perm = PERM if mirrors % 2 else list(range(5))
    np.testing.assert_allclose(res.points.joints, apply_points(res.matrix, src[:, perm]), atol=1e-9)
    np.testing.assert_array_equal(res.points.flags, kp.flags[:, perm])  # flags travel with their joint
    assert (handedness(res.points.joints) == handedness(src)).all()
    # the names stay in place: column j is still joint NAMES[j]
    assert res.points.names == tuple(NAMES) and res.points.flip_pairs == kp.flip_pairs
    back = res.inverse(points=res.points)
    np.testing.assert_allclose(back.points.joints, src, atol=1e-9)
    np.testing.assert_array_equal(back.points.flags, kp.flags)


def test_without_flip_pairs_a_mirror_moves_every_joint_in_place():
    src = faces()
    res = geoaug.Pipeline([{"name": "hflip"}])(np.zeros((50, 60, 3), np.uint8), points=Points(src, names=NAMES))
    np.testing.assert_allclose(res.points.joints, apply_points(res.matrix, src))
    assert (handedness(res.points.joints) == -handedness(src)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(geometric_op(INDEX_OPS + ("rotate", "affine")), min_size=1, max_size=6), st.booleans())
def test_handedness_survives_any_chain(ops, fuse):
    src = faces(1, 60, 60) + [15, 10]  # well inside, so that no crop takes all of it
    kp = Points(src, names=NAMES, flip_pairs=PAIRS)
    res = geoaug.Pipeline(ops, fuse=fuse)(np.zeros((60, 60), np.uint8), points=kp, seed=0)
    perm = PERM if np.linalg.det(res.matrix) < 0 else list(range(5))
    np.testing.assert_allclose(res.points.joints, apply_points(res.matrix, src[:, perm]), atol=1e-6)
    assert (handedness(res.points.joints) == handedness(src)).all()


# ---- point_outside: flag or drop ---------------------------------------------------------------------------
CROP = [{"name": "crop", "params": {"x": 0, "y": 0, "width": 30, "height": 50}}]


def test_flag_keeps_points_outside_with_flag_0_and_their_mapped_coordinates():
    pts = Points([[5, 5], [40, 5], [29.9995, 6]], label=["in", "out", "edge"], score=np.array([0.1, 0.2, 0.3]))
    res = geoaug.Pipeline(CROP)(np.zeros((50, 60, 3), np.uint8), points=pts)
    out = res.points
    assert out.fields["label"] == ["in", "out", "edge"] and out.flags.tolist() == [2, 0, 2]
    np.testing.assert_allclose(out.xy, [[5, 5], [40, 5], [29.9995, 6]])  # within rounding: not cut, not moved
    assert out.visibility.tolist() == [1, 0, 1] and res.report.clipped["points"] == 1 and not res.report.dropped
    back = res.inverse(points=out)
    np.testing.assert_allclose(back.points.xy, pts.xy)  # the inverse brings the point back ...
    assert back.points.flags.tolist() == [2, 0, 2]  # ... but it stays unlabelled: it was lost on the way


def test_drop_drops_free_points_and_instances_with_no_labelled_joint_left():
    pts = Points([[5, 5], [40, 5], [29, 6]], label=["in", "out", "edge"], score=np.array([0.1, 0.2, 0.3]))
    res = geoaug.Pipeline(CROP, point_outside="drop")(np.zeros((50, 60, 3), np.uint8), points=pts)
    assert res.points.fields["label"] == ["in", "edge"] and res.points.fields["score"].tolist() == [0.1, 0.3]
    assert res.points.index.tolist() == [0, 2] and res.points.flags.tolist() == [2, 2]
    assert res.report.dropped == [{"kind": "points", "index": 1, "reason": "outside"}]
    kp = np.array(
        [
            [[5, 5], [35, 5], [40, 5]],  # partly out: kept, one joint of three left
            [[31, 5], [35, 5], [40, 5]],  # all out: dropped under "drop"
            [[5, 5], [35, 5], [40, 5]],  # its one labelled joint inside unlabelled, the rest out: dropped
            [[35, 5], [36, 5], [37, 5]],  # never labelled: nothing to judge, kept
        ],
        float,
    )
    flags = [[2, 1, 2], [2, 2, 2], [0, 2, 2], [0, 0, 0]]
    kp_in = Points(kp, flags=flags, person=["a", "b", "c", "d"])
    flag = geoaug.Pipeline(CROP)(np.zeros((50, 60, 3), np.uint8), points=kp_in)
    assert flag.points.fields["person"] == ["a", "b", "c", "d"] and not flag.report.dropped
    assert flag.points.flags.tolist() == [[2, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(flag.points.visibility, [1 / 3, 0, 0, 1])
    assert flag.report.clipped["points"] == 3
    drop = geoaug.Pipeline(CROP, point_outside="drop")(np.zeros((50, 60, 3), np.uint8), points=kp_in)
    assert drop.points.fields["person"] == ["a", "d"] and drop.points.index.tolist() == [0, 3]
    assert [(d["index"], d["reason"]) for d in drop.report.dropped] == [(1, "outside"), (2, "outside")]
    assert drop.report.clipped["points"] == 1
    np.testing.assert_array_equal(drop.points.xy, kp[[0, 3]])


def test_filters_and_config_keys():
    kp = Points(faces() + [[[0, 0]] * 5, [[-12, 0]] * 5], names=NAMES, flags=[[2, 2, 2, 2, 2], [2, 0, 0, 1, 0]])
    aug = geoaug.from_config(
        {"ops": CROP, "point_outside": "drop", "filters": {"points": {"min_visibility": 0.5, "min_keypoints": 3}}}
    )
    res = aug(np.zeros((50, 60, 3), np.uint8), points=kp)
    # face 0 keeps 5 of 5; face 1 keeps its nose (x 28), not its ear (x 36): visibility .5, 1 keypoint < 3
    assert res.points.index.tolist() == [0] and res.replay["point_outside"] == "drop"
    assert [(d["index"], d["reason"]) for d in res.report.dropped] == [(1, "min_keypoints")]
    shared = geoaug.Pipeline(CROP, filters={"min_visibility": 0.6})(np.zeros((50, 60, 3), np.uint8), points=kp)
    assert [(d["kind"], d["reason"]) for d in shared.report.dropped] == [("points", "min_visibility")]
    with pytest.raises(ConfigError, match=r"point_outside must be one of \['flag', 'drop'\]"):
        geoaug.from_config({"ops": CROP, "point_outside": "keep"})
    with pytest.raises(ConfigError, match="unknown filter 'min_area'"):
        geoaug.Pipeline(CROP, filters={"points": {"min_area": 1}})


def test_input_outside_the_image():
    img = np.zeros((20, 20, 3), np.uint8)
    pts = Points([[5, 5], [25, 5], [-9, 4]], flags=[2, 2, 0])
    with pytest.raises(GeometryError, match=r"points\[1\] lies outside the 20x20 image"):
        geoaug.Pipeline([], input_outside="error")(img, points=pts)
    ok = geoaug.Pipeline([], input_outside="error")(img, points=Points([[5, 5], [-9, 4]], flags=[2, 0]))
    assert ok.points.flags.tolist() == [2, 0]  # an unlabelled point may lie anywhere
    res = geoaug.Pipeline([])(img, points=pts)
    assert res.points.flags.tolist() == [2, 0, 0] and res.report.input_clipped["points"] == 1
    drop = geoaug.Pipeline([], point_outside="drop")(img, points=pts)
    assert drop.points.index.tolist() == [0, 2]
    assert drop.report.dropped == [{"kind": "points", "index": 1, "reason": "outside"}]


# ---- replay, inverse, inputs ----------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(point_scene(), st.sampled_from(["flag", "drop"]))
def test_replay_and_inverse_round_trip(sc, policy):
    w, h, ops, pts, seed = sc
    aug = geoaug.Pipeline(ops, point_outside=policy)
    img = np.zeros((h, w, 3), np.uint8)
    table = Points(pts, label=[f"p{i}" for i in range(len(pts))])
    res = aug(img, points=table, seed=seed)
    rec = json.loads(json.dumps(res.replay))
    again = aug.replay(rec, img, points=table)
    np.testing.assert_array_equal(again.points.xy, res.points.xy)
    np.testing.assert_array_equal(again.points.flags, res.points.flags)
    assert again.points.index.tolist() == res.points.index.tolist()
    back = geoaug.inverse(rec, points=res.points)
    src = pts[back.points.index]
    lab = back.points.flags > 0
    # every point still labelled comes back onto its source (points are never moved by a cut)
    np.testing.assert_allclose(back.points.xy[lab], src[lab], atol=1e-6 * max(w, h))
    assert back.points.fields["label"] == [f"p{i}" for i in back.points.index]
    if policy == "drop":  # every row kept still has a labelled point
        assert (back.points.labelled() > 0).all()


def test_inverse_takes_the_policy_from_the_record_or_a_keyword():
    aug = geoaug.Pipeline([{"name": "pad", "params": {"left": 10}}], point_outside="drop")
    res = aug(np.zeros((20, 20, 3), np.uint8), points=[[3, 3]])
    pred = Points([[5, 5], [15, 5]])  # in the padded output: the first lies in the padding
    assert res.inverse(points=pred).points.index.tolist() == [1]
    assert geoaug.inverse(res.replay, points=pred).points.index.tolist() == [1]
    kept = geoaug.inverse(res.replay, points=pred, point_outside="flag").points
    assert kept.flags.tolist() == [0, 2] and kept.xy.tolist() == [[-5, 5], [5, 5]]


def test_inputs_are_never_written_and_results_are_the_callers():
    xy = faces()
    xy.flags.writeable = False
    flags = np.array([[2, 1, 2, 0, 2], [2, 2, 2, 2, 2]], np.int8)
    flags.flags.writeable = False
    score = np.array([0.5, 0.7])
    score.flags.writeable = False
    table = Points(xy, names=NAMES, flip_pairs=PAIRS, flags=flags, score=score, label=["a", "b"])
    saved = (xy.copy(), flags.copy())
    for ops in ([], [{"name": "hflip"}], CROP, [{"name": "rotate", "params": {"max_deg": 30}}]):
        for mine_in in (table, xy):
            res = geoaug.Pipeline(ops, point_outside="drop")(np.zeros((50, 60, 3), np.uint8), points=mine_in, seed=1)
            out = res.points
            for mine in (out.xy, out.flags, out.index, out.visibility):
                assert mine.flags.writeable and not any(np.shares_memory(mine, x) for x in (xy, flags, score))
            out.xy[...] = -1
            out.flags[...] = 0
            if "score" in out.fields:
                out.fields["score"][...] = 0
                out.fields["label"].append("x")
        np.testing.assert_array_equal(xy, saved[0])
        np.testing.assert_array_equal(flags, saved[1])
        assert score.tolist() == [0.5, 0.7] and table.fields["label"] == ["a", "b"]


def test_concat_merges_layouts_that_agree():
    kind = get_kind("points")
    a = Points(faces(1), names=NAMES, flip_pairs=PAIRS)
    b = Points(faces(2), names=NAMES, flip_pairs=PAIRS, index=[4, 5], visibility=[0.5, 1])
    both = kind.concat([a, Points([], names=NAMES), b], {"view": [0, 1, 1]})
    assert both.xy.shape == (3, 5, 2) and both.names == tuple(NAMES) and both.index.tolist() == [0, 4, 5]
    assert both.visibility.tolist() == [1, 0.5, 1] and both.fields["view"] == [0, 1, 1]
    with pytest.raises(GeometryError, match="different point layouts"):
        kind.concat([a, Points(faces(1))], {})
    assert len(kind.concat([], {})) == 0


def test_object_aware_crops_keep_points_in_view():
    """random_crop's keep-objects mode sees every labelled point as a pixel-sized object."""
    kind = get_kind("points")
    t = Points([[[4, 5], [10, 20]], [[0, 0], [1, 1]]], flags=[[2, 2], [0, 0]])
    np.testing.assert_allclose(kind.bounds(t, np.eye(3)), [[3.5, 4.5, 10.5, 20.5], [0, 0, 0, 0]])


# ---- Qwen answers --------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(w=st.integers(1, 4000), h=st.integers(1, 4000), fx=st.lists(st.floats(0, 1), min_size=6, max_size=6))
def test_point_2d_render_and_parse_within_half_a_grid_step(w, h, fx):
    xy = np.array(fx).reshape(3, 2) * [w, h]
    items = to_grid({"points": Points(xy, label=["a", "b", "c"])}, w, h)
    assert [list(it) for it in items] == [["label", "point_2d"]] * 3
    back = parse_answer(json.dumps(items), w, h)
    assert back.problems == [] and back.points.fields["label"] == ["a", "b", "c"]
    err = np.abs(back.points.xy - xy)
    assert (err[:, 0] <= 0.5 * w / 1000 + 1e-9).all() and (err[:, 1] <= 0.5 * h / 1000 + 1e-9).all()


def test_keypoints_answer_one_item_per_labelled_joint():
    kp = Points(faces(), names=NAMES, flags=[[2, 2, 1, 0, 2], [0, 0, 0, 0, 2]], label=["p", "q"])
    items = to_grid({"points": kp}, 60, 50)
    assert [(it["label"], it["joint"], it["instance"]) for it in items] == [
        ("p", "nose", 0),
        ("p", "l_eye", 0),
        ("p", "r_eye", 0),
        ("p", "r_ear", 0),
        ("q", "r_ear", 1),
    ]
    assert items[0]["point_2d"] == [250, 400]  # nose of face 0 at (15, 20) of 60 x 50
    back = parse_answer(json.dumps(items), 60, 50)
    assert back.points.fields["joint"] == [it["joint"] for it in items] and not back.points.grouped
    unnamed = to_grid({"points": Points(faces(1))}, 60, 50)
    assert [it["joint"] for it in unnamed] == [0, 1, 2, 3, 4]
    with pytest.raises(GeometryError, match="'joint' would clash"):
        to_grid({"points": Points(faces(1), joint=["x"])}, 60, 50)


def test_points_gone_off_the_canvas_are_not_answered():
    res = geoaug.Pipeline(CROP)(np.zeros((50, 60, 3), np.uint8), points=Points([[5, 5], [40, 5]], label=["a", "b"]))
    assert [it["label"] for it in to_grid(res)] == ["a"]


def test_answer_maps_back_through_the_record():
    aug = geoaug.Pipeline([{"name": "hflip"}, {"name": "pad", "params": {"left": 20}}])
    res = aug(np.zeros((50, 60, 3), np.uint8), points=Points([[10, 10], [50, 40]], label=["a", "b"]))
    text = json.dumps(to_grid(res) + [{"point_2d": [50, 500], "label": "pad"}])
    ans = parse_answer(text, *res.size, record=res.replay)
    orig = ans.original
    step = 0.5 * max(res.size) / 1000 + 1e-9
    np.testing.assert_allclose(orig.points.xy[:2], [[10, 10], [50, 40]], atol=step)
    assert orig.points.fields["label"] == ["a", "b", "pad"] and orig.points_inside.tolist() == [True, True, False]


# ---- drawing ------------------------------------------------------------------------------------------------
def test_draw_marks_labelled_points_only():
    img = np.zeros((60, 80, 3), np.uint8)
    kp = Points([[[20.5, 20.5], [60.5, 40.5], [40.5, 10.5]]], flags=[[2, 1, 0]], label=["p"])
    out = geoaug.draw(img, points=kp, thickness=3, show_labels=False)
    lit = out.max(axis=2) > 0
    assert lit[20, 20] and lit[20, 14:27].sum() >= 5  # a cross on the visible joint
    assert lit[35:47, 54:67].any() and not lit[40, 60]  # a ring, hollow, around the hidden one
    assert not lit[5:16, 35:46].any()  # nothing on the unlabelled one
    assert tuple(out[20, 20]) == label_colour("p")
    plain = geoaug.draw(img, points=np.array([[10.5, 10.5]]), thickness=1, show_labels=False)
    assert plain.max(axis=2)[10, 10] > 0 and plain.max(axis=2)[40, 40] == 0

    class Legacy:  # anything with .xy and .fields (what geoaug.qwen.Points used to be)
        xy = np.array([[30.5, 30.5]])
        fields = {"label": ["x"]}

    legacy = geoaug.draw(img, points=Legacy(), thickness=3, show_labels=False)
    assert tuple(legacy[30, 30]) == label_colour("x")
