"""Pipeline semantics: determinism, clipping, instance-table alignment, quad order, config shapes."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import geoaug

from strategies import boxes_in, geometric_op, lines_in, quads_in

SEED_CFG = {
    "custom": {
        "augmentation": {
            "enabled": True,
            "ops": [
                {"name": "hflip", "params": {"prob": 0.3}},
                {"name": "rotate", "params": {"max_deg": 15.0, "prob": 0.3}},
                {"name": "color_jitter", "params": {"brightness": [0.85, 1.15], "prob": 0.3}},
                {"name": "pad_to_multiple", "params": {"multiple": 32}},
            ],
        }
    }
}


def noise_image(w=125, h=94, c=3, seed=0):
    return (np.random.default_rng(seed).random((h, w, c)) * 255).astype(np.uint8)


def test_seed_config_shapes_all_accepted(tmp_path):
    import yaml

    p = tmp_path / "train.yaml"
    p.write_text(yaml.safe_dump({"model": {"path": "x"}, **SEED_CFG}))
    block = SEED_CFG["custom"]["augmentation"]
    for cfg in (SEED_CFG, p, block, block["ops"]):
        aug = geoaug.from_config(cfg)
        assert [o.name for o in aug.ops] == ["hflip", "rotate", "color_jitter", "pad_to_multiple"]
    assert geoaug.from_config({"enabled": False, "ops": block["ops"]})(noise_image(), seed=0).image.shape == (
        94,
        125,
        3,
    )


def test_same_seed_same_bytes_and_worker_independent_seeds():
    aug = geoaug.from_config(SEED_CFG)
    img = noise_image()
    boxes = [[10, 10, 50, 40], [100, 80, 125, 94]]
    a, b = aug(img, boxes=boxes, seed=123), aug(img, boxes=boxes, seed=123)
    assert a.image.tobytes() == b.image.tobytes() and np.array_equal(a.boxes.xyxy, b.boxes.xyxy)
    seeds = {geoaug.sample_seed(7, e, i) for e in range(3) for i in range(200)}
    assert len(seeds) == 600
    assert geoaug.sample_seed(7, 1, 5) == geoaug.sample_seed(7, 1, 5)
    outs = {aug(img, seed=s).image.tobytes() for s in range(20)}
    assert len(outs) > 3  # the draws actually vary


def test_all_output_geometry_inside_canvas_and_fields_aligned():
    kept = []  # per example: rows that came out (and were checked): a scene may be empty or all dropped

    @given(st.integers(24, 80), st.integers(24, 80), st.data())
    def inside_and_aligned(w, h, data):
        ops = data.draw(st.lists(geometric_op(), min_size=1, max_size=4))
        boxes = data.draw(boxes_in(w, h))
        quads = data.draw(quads_in(w, h))
        lines = data.draw(lines_in(w, h))
        # push some objects across the edges
        shift = data.draw(st.floats(-0.5, 0.5)) * w
        boxes = boxes + [shift, 0, shift, 0]
        quads = quads + [shift, 0]
        lines = [ln + [shift, 0] for ln in lines]
        b = geoaug.Boxes(
            np.clip(boxes, [-w, 0, -w, 0], [2 * w, h, 2 * w, h]) if len(boxes) else boxes,
            label=[f"b{i}" for i in range(len(boxes))],
            score=np.arange(len(boxes), dtype=float),
        )
        q = geoaug.Quads(quads, text=[f"q{i}" for i in range(len(quads))])
        ln = geoaug.Lines(lines, label=[f"l{i}" for i in range(len(lines))])
        aug = geoaug.Pipeline(ops, filters={"min_visibility": data.draw(st.sampled_from([0.0, 0.3]))})
        res = aug(np.zeros((h, w, 3), np.uint8), boxes=b, quads=q, lines=ln, seed=data.draw(st.integers(0, 99)))
        W, H = res.size
        kept.append(len(res.boxes) + len(res.quads) + len(res.lines))
        for pts in (
            res.boxes.xyxy.reshape(-1, 2),
            res.quads.points.reshape(-1, 2),
            np.concatenate(res.lines.points) if len(res.lines) else np.zeros((0, 2)),
        ):
            assert (pts >= 0).all() and (pts[:, 0] <= W).all() and (pts[:, 1] <= H).all()
        # every row's fields are those of the input row it came from
        assert res.boxes.fields["label"] == [f"b{i}" for i in res.boxes.index]
        assert np.array_equal(res.boxes.fields["score"], res.boxes.index.astype(float))
        assert res.quads.fields["text"] == [f"q{i}" for i in res.quads.index]
        assert res.lines.fields["label"] == [f"l{i}" for i in res.lines.index]
        assert ((res.boxes.visibility >= 0) & (res.boxes.visibility <= 1 + 1e-9)).all()
        # nothing vanishes unreported: every input row is in the output or in the drop list
        for kind, n, table in (
            ("boxes", len(boxes), res.boxes),
            ("quads", len(quads), res.quads),
            ("lines", len(lines), res.lines),
        ):
            dropped = {d["index"] for d in res.report.dropped if d["kind"] == kind}
            assert set(table.index.tolist()) | dropped == set(range(n))

    inside_and_aligned()
    # Measured: 43-57% of examples keep a row (70% over CI's 200); the rest are empty scenes or all dropped.
    n = np.array(kept)
    assert len(n) >= 10 and (n > 0).mean() >= 0.2, (len(n), (n > 0).mean(), n.sum())


def test_line_split_keeps_direction_order_and_fields():
    aug = geoaug.Pipeline([{"name": "crop", "params": {"x": 0, "y": 0, "width": 100, "height": 50}}])
    zig = [np.array([[10.0, 10], [90, 10], [90, 80], [50, 80], [50, 20], [20, 20]])]
    res = aug(np.zeros((100, 100), np.uint8), lines=geoaug.Lines(zig, label=["lane"]))
    assert len(res.lines) == 2 and res.report.split["lines"] == 1 and res.report.clipped["lines"] == 1
    first, second = res.lines.points
    assert np.allclose(first[0], [10, 10]) and np.allclose(first[-1], [90, 50])
    assert np.allclose(second[0], [50, 50]) and np.allclose(second[-1], [20, 20])
    assert res.lines.fields["label"] == ["lane", "lane"] and res.lines.index.tolist() == [0, 0]
    total = 80 + 70 + 40 + 60 + 30
    assert res.lines.visibility.sum() == pytest.approx((80 + 40 + 30 + 30) / total)


def test_quad_clipped_to_a_quad_stays_exact_else_policy():
    crop = geoaug.Pipeline([{"name": "crop", "params": {"x": 0, "y": 0, "width": 50, "height": 100}}])
    q = np.array([[[40.0, 10], [60, 10], [60, 30], [40, 30]]])
    res = crop(np.zeros((100, 100), np.uint8), quads=q)
    assert np.allclose(res.quads.points[0], [[40, 10], [50, 10], [50, 30], [40, 30]])
    assert res.quads.visibility[0] == pytest.approx(0.5) and res.report.approximated["quads"] == 0
    diamond = np.array([[[50.0, 10], [60, 20], [50, 30], [40, 20]]])  # cut along its axis: a triangle
    res = crop(np.zeros((100, 100), np.uint8), quads=diamond)
    assert res.report.approximated["quads"] == 1  # not a quad: the clamp policy applies, and is counted
    assert np.allclose(res.quads.points[0], [[50, 10], [50, 20], [50, 30], [40, 20]])
    assert res.quads.visibility[0] == pytest.approx(0.5)
    cut_corner = [{"name": "crop", "params": {"x": 0, "y": 0, "width": 55, "height": 100}}]  # a pentagon
    res = geoaug.Pipeline(cut_corner, quad_clip="drop")(np.zeros((100, 100), np.uint8), quads=diamond)
    assert len(res.quads) == 0 and res.report.dropped[0]["reason"] == "not_a_quad_after_clip"


def test_mirrored_quads_stay_clockwise_from_top_left():
    q = np.array([[[10.0, 10], [40, 12], [38, 30], [8, 28]]])  # TL, TR, BR, BL
    img = np.zeros((50, 60), np.uint8)
    for op in ("hflip", "vflip"):
        out = geoaug.Pipeline([{"name": op}])(img, quads=q).quads.points[0]
        from geoaug.geometry import signed_area

        assert signed_area(out) > 0  # clockwise on screen
        assert np.argmin(out.sum(axis=1)) == 0  # first point is the top-left one
    raw = geoaug.Pipeline([{"name": "hflip"}], quad_order="keep")(img, quads=q).quads.points[0]
    assert np.allclose(raw[0], [50, 10])


def test_filters_drop_with_labels_and_report_reason():
    aug = geoaug.Pipeline(
        [{"name": "crop", "params": {"x": 0, "y": 0, "width": 50, "height": 50}}],
        filters={"boxes": {"min_visibility": 0.5, "min_area": 10}},
    )
    b = geoaug.Boxes([[0, 0, 10, 10], [40, 0, 60, 10], [45, 45, 100, 100], [1, 1, 3, 3]], label=list("abcd"))
    res = aug(np.zeros((100, 100), np.uint8), boxes=b)
    assert res.boxes.fields["label"] == ["a", "b"]
    reasons = {(d["index"], d["reason"]) for d in res.report.dropped}
    assert reasons == {(2, "min_visibility"), (3, "min_area")}
    assert "dropped" in res.report.summary()


def test_random_crop_never_cuts_away_every_object():
    aug = geoaug.Pipeline([{"name": "random_crop", "params": {"width": 20, "height": 20, "min_visibility": 0.9}}])
    img = np.zeros((200, 200), np.uint8)
    for s in range(30):
        res = aug(img, boxes=[[150, 150, 160, 160]], seed=s)
        assert len(res.boxes) == 1 and res.boxes.visibility[0] >= 0.9


def test_combinators_and_replay_json():
    aug = geoaug.from_config(
        [
            {"name": "one_of", "params": {"ops": [{"name": "hflip"}, {"name": "vflip"}], "weights": [1, 3]}},
            {
                "name": "some_of",
                "params": {"ops": [{"name": "rotate"}, {"name": "gamma"}, {"name": "grayscale"}], "n": [1, 2]},
            },
        ]
    )
    img = noise_image()
    seen = set()
    for s in range(40):
        res = aug(img, boxes=[[1, 2, 30, 40]], seed=s)
        seen.add(tuple(res.report.ops))
        rec = json.loads(json.dumps(res.replay))
        again = aug.replay(rec, img, boxes=[[1, 2, 30, 40]])
        assert again.image.tobytes() == res.image.tobytes()
        assert np.array_equal(again.boxes.xyxy, res.boxes.xyxy)
    assert any(o[0] == "hflip" for o in seen) and any(o[0] == "vflip" for o in seen)
    assert all(2 <= len(o) <= 3 for o in seen)


def test_smart_resize_matches_qwen_rule():
    from geoaug.ops import qwen_smart_resize

    assert qwen_smart_resize(3508, 2480, 32, 4096, 1003520) == (1184, 832)
    assert qwen_smart_resize(940, 1250, 32, 4096, 16777216) == (928, 1248)
    res = geoaug.from_config([{"name": "smart_resize", "params": {"max_pixels": 1003520}}])(
        np.zeros((3508, 2480, 3), np.uint8), boxes=[[0, 0, 2480, 3508]]
    )
    assert res.size == (832, 1184) and np.allclose(res.boxes.xyxy, [[0, 0, 832, 1184]])


def test_boxes_from_polygons_stay_tight_under_rotation_and_clip_by_the_polygon():
    """DESIGN: boxes map by their corners, unless they came from richer geometry; then the box is
    re-derived from that geometry (tight after a rotation) and clipping cuts the polygon."""
    img = np.zeros((100, 100), np.uint8)
    diamond = [[[50.0, 20], [80, 50], [50, 80], [20, 50]]]
    boxes = geoaug.Boxes.from_polygons(diamond, label=["d"])
    assert boxes.xyxy.tolist() == [[20, 20, 80, 80]]
    rot = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 45}}])
    res = rot(img, boxes=boxes, seed=0)
    angle = np.deg2rad(res.replay["steps"][0]["draw"]["angle"])
    half = 30 * max(abs(np.cos(angle)), abs(np.sin(angle)))  # the rotated diamond's extent
    np.testing.assert_allclose(res.boxes.xyxy, [[50 - half, 50 - half, 50 + half, 50 + half]], atol=1e-9)
    plain = rot(img, boxes=boxes.xyxy, seed=0).boxes.xyxy  # the same box without its polygon encloses more
    assert (plain[0, 2] - plain[0, 0]) > (res.boxes.xyxy[0, 2] - res.boxes.xyxy[0, 0]) + 10
    np.testing.assert_allclose(res.inverse(boxes=res.boxes).boxes.xyxy, [[20, 20, 80, 80]], atol=1e-9)
    cut = geoaug.Pipeline([{"name": "crop", "params": {"x": 0, "y": 0, "width": 50, "height": 100}}])(img, boxes=boxes)
    assert cut.boxes.xyxy.tolist() == [[20, 20, 50, 80]] and cut.boxes.visibility[0] == pytest.approx(0.5)
    assert cut.boxes.fields["label"] == ["d"] and cut.report.clipped["boxes"] == 1
    gone = geoaug.Pipeline([{"name": "crop", "params": {"x": 0, "y": 0, "width": 20, "height": 20}}])(img, boxes=boxes)
    assert len(gone.boxes) == 0 and gone.report.dropped[0]["reason"] == "outside"  # only the bounds touched it
    with pytest.raises(geoaug.GeometryError, match=r"polygons\[0\] needs at least 3 points"):
        geoaug.Boxes.from_polygons([[[0, 0], [1, 1]]])


_all_but_a_few = st.sets(st.integers(0, 39), max_size=3).map(lambda gone: [i for i in range(40) if i not in gone])


@given(
    _all_but_a_few | st.lists(st.integers(0, 39), max_size=60).map(sorted) | st.lists(st.integers(0, 39), max_size=60)
)
def test_take_gives_the_same_rows_for_list_and_array_fields(rows):
    # list fields are gathered by runs of consecutive rows, arrays by np.take: both are rows[k] for every k
    names = [f"obj{i}" for i in range(40)]
    boxes = geoaug.Boxes(np.arange(160.0).reshape(40, 4) * [1, 1, 2, 2], name=names, code=np.arange(40))
    got = boxes.take(np.asarray(rows, dtype=np.int64))
    assert got.fields["name"] == [names[r] for r in rows]
    assert got.fields["code"].tolist() == rows and got.index.tolist() == rows


@given(st.lists(st.integers(2, 6), min_size=0, max_size=8), st.data())
def test_lines_from_arrays_lists_and_take_agree(sizes, data):
    rng = np.random.default_rng(len(sizes))
    arrays = [rng.uniform(0, 50, (k, 2)) for k in sizes]
    as_arrays = geoaug.Lines(arrays)
    as_lists = geoaug.Lines([a.tolist() for a in arrays])
    assert np.array_equal(as_arrays.flat, as_lists.flat) and np.array_equal(as_arrays.offsets, as_lists.offsets)
    rows = data.draw(st.lists(st.integers(0, max(len(sizes) - 1, 0)), max_size=10)) if sizes else []
    taken = as_arrays.take(rows)
    assert len(taken) == len(rows)
    for p, r in zip(taken.points, rows):
        assert np.array_equal(p, arrays[r])


def test_lines_of_equal_length_as_one_array():
    pts = np.random.default_rng(2).uniform(0, 90, (7, 4, 2))
    as_array, as_list = geoaug.Lines(pts, label=list("abcdefg")), geoaug.Lines(list(pts), label=list("abcdefg"))
    assert np.array_equal(as_array.flat, as_list.flat) and np.array_equal(as_array.offsets, as_list.offsets)
    res = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 20}}])(noise_image(100, 100), lines=pts, seed=3)
    ref = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 20}}])(
        noise_image(100, 100), lines=list(pts), seed=3
    )
    assert all(np.array_equal(a, b) for a, b in zip(res.lines.points, ref.lines.points))
    with pytest.raises(geoaug.GeometryError, match=r"lines\[0\] needs at least 2 points"):
        geoaug.Lines(np.zeros((3, 1, 2)))
