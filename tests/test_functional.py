"""geoaug.functional: each builder gives the op's own map, and apply_matrix does what a one-step pipeline does."""

import numpy as np
import pytest

import geoaug
import geoaug.functional as F
from geoaug.errors import ConfigError, GeometryError

SIZE = (64, 48)


def _replayed(name, params, draw, size=SIZE):
    """The matrix and canvas a pipeline makes for one step with this draw (through a replay record)."""
    aug = geoaug.Pipeline([{"name": name, "params": params}])
    rec = aug.plan(size, seed=0)
    rec["steps"][0]["draw"] = draw
    rec.pop("matrix"), rec.pop("output_size")
    res = aug.replay(rec, np.zeros((size[1], size[0], 3), np.uint8))
    return res.matrix, res.size


@pytest.mark.parametrize(
    ("built", "name", "params", "draw"),
    [
        (lambda: F.hflip(SIZE), "hflip", {}, {}),
        (lambda: F.vflip(SIZE), "vflip", {}, {}),
        (lambda: F.rot90(SIZE, 3), "rot90", {}, {"k": 3}),
        (lambda: F.rotate(SIZE, 33.0, expand=True), "rotate", {"max_deg": 180.0, "expand": True}, {"angle": 33.0}),
        (
            lambda: F.affine(SIZE, scale=1.2, angle=-20.0, shear_x=5.0, tx=0.1),
            "affine",
            {},
            {"scale": 1.2, "angle": -20.0, "shear_x": 5.0, "shear_y": 0.0, "tx": 0.1, "ty": 0.0},
        ),
        (
            lambda: F.perspective(SIZE, [[0.1, 0.0], [0.0, 0.2], [0.05, 0.05], [0.0, 0.0]]),
            "perspective",
            {"scale": [0.0, 0.45]},
            {"offsets": [[0.1, 0.0], [0.0, 0.2], [0.05, 0.05], [0.0, 0.0]]},
        ),
        (lambda: F.resize(SIZE, 32, 20), "resize", {"width": 32, "height": 20}, {}),
        (lambda: F.crop(SIZE, 3, 4, 20, 10), "crop", {"x": 3, "y": 4, "width": 20, "height": 10}, {}),
        (lambda: F.pad(SIZE, 1, 2, 3, 4), "pad", {"left": 1, "top": 2, "right": 3, "bottom": 4}, {}),
    ],
)
def test_builders_give_the_ops_own_map(built, name, params, draw):
    a, size = built()
    b, size_b = _replayed(name, params, draw)
    np.testing.assert_array_equal(a, b)  # bit for bit: the same op computes both
    assert tuple(size) == tuple(size_b)


def test_apply_matrix_matches_a_one_step_pipeline():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    boxes = geoaug.Boxes([[5, 5, 30, 20], [50, 30, 70, 60]], label=["a", "b"])
    quads = [[[2, 2], [40, 4], [40, 14], [2, 12]]]
    lines = [np.array([[0.5, 40.0], [63.0, 1.0]])]
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 30.0, "expand": False}}])
    res = aug(img, boxes=boxes, quads=quads, lines=lines, seed=3)
    one = F.apply_matrix(img, res.matrix, res.size, boxes=boxes, quads=quads, lines=lines)
    np.testing.assert_array_equal(one.image, res.image)
    for kind in ("boxes", "quads", "lines"):
        a, b = getattr(one, kind), getattr(res, kind)
        assert len(a) == len(b)
        for x, y in zip(geoaug.kinds.get_kind(kind).coords(a), geoaug.kinds.get_kind(kind).coords(b)):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a.visibility, b.visibility)
    assert one.boxes.fields["label"] == res.boxes.fields["label"]
    assert one.report.summary() == res.report.summary()


def test_kernels_read_only_and_return_new_tables():
    xy = np.array([[10.0, 10.0, 30.0, 20.0]])
    xy.flags.writeable = False
    a, _ = F.hflip((100, 50))
    out = F.map_geometry(xy, a, kind="boxes")
    np.testing.assert_array_equal(out.xyxy, [[70.0, 10.0, 90.0, 20.0]])
    out.xyxy[:] = 0  # ours to write
    assert xy[0, 0] == 10.0
    cut, report = F.clip_geometry(geoaug.Lines([[[-10.0, 5.0], [50.0, 5.0]]]), (20, 20))
    np.testing.assert_array_equal(cut.flat, [[0.0, 5.0], [20.0, 5.0]])
    np.testing.assert_allclose(cut.visibility, [20.0 / 60.0])
    assert report.clipped["lines"] == 1


def test_warp_image_index_map_is_an_exact_copy():
    img = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    a, size = F.hflip((64, 48))
    np.testing.assert_array_equal(F.warp_image(img, a, size, interpolation="cubic"), img[:, ::-1])
    a, size = F.crop((64, 48), 3, 4, 20, 10)
    np.testing.assert_array_equal(F.warp_image(img, a, size), img[4:14, 3:23])


def test_errors_name_what_is_wrong():
    with pytest.raises(ConfigError, match="not a geometric op"):
        F.op_matrix("gamma", SIZE)
    with pytest.raises(ConfigError, match="unknown draw field 'angel'"):
        F.op_matrix("rotate", SIZE, {"angel": 3})
    with pytest.raises(ConfigError, match="draw.k"):
        F.rot90(SIZE, 7)
    with pytest.raises(GeometryError, match="positive"):
        F.hflip((0, 5))
    with pytest.raises(GeometryError, match="unknown geometry 'boxs'"):
        F.apply_matrix(None, np.eye(3), SIZE, boxs=[[0, 0, 1, 1]])
    with pytest.raises(ConfigError, match="quad_clip must be one of"):
        F.clip_geometry(geoaug.Quads(), SIZE, quad_clip="nope")
