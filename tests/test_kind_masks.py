"""The masks kind: label maps, instance masks and dense maps warped by the same fused matrix as the image.

- a label mask agrees pixel for pixel with the label read back at each output pixel's source location;
- index maps (flips, rot90, integer crops and pads) copy every mask bit for bit, for every dtype;
- a mask's fill is its own, never the image's; instance masks that leave the canvas are dropped and reported
  with their rows, and visibility is the kept share of their pixels;
- masks follow through replay and inverse, never write into or share memory with the caller's arrays;
- dense maps interpolate; drawing overlays them; COCO RLE round-trips (and matches pycocotools).
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import matrix as M
from geoaug import rle
from geoaug.draw import label_colour
from geoaug.kinds import get_kind
from geoaug.kinds.masks import OVERLAY_ALPHA
from geoaug.warp import warp

from strategies import ALL_GEOMETRIC, INDEX_OPS, geometric_op

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Output pixels whose source location lies this close to a source pixel edge may go either way under nearest
# sampling, and the oracle skips them: OpenCV 5 samples masks at the exactly mapped centre (misses measured
# below 5e-6 px), OpenCV 4's affine warps round it to 1/1024 px first.
AMBIGUOUS = 2.0**-9


def source_of_pixels(a, size):
    """Each output pixel centre mapped back into the source frame, (oh * ow, 2)."""
    ow, oh = size
    ys, xs = np.mgrid[0:oh, 0:ow]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    return M.apply_points(np.linalg.inv(a), centres)


def read_labels(labels, q, fill):
    """The label at each source location ``q`` (fill outside the frame), and which are unambiguous."""
    h, w = labels.shape[:2]
    fx, fy = q[:, 0] - np.floor(q[:, 0]), q[:, 1] - np.floor(q[:, 1])
    clear = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy)) > AMBIGUOUS
    inside = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
    exp = np.full((len(q),) + labels.shape[2:], fill, dtype=labels.dtype)
    i, j = np.floor(q[inside, 0]).astype(int), np.floor(q[inside, 1]).astype(int)
    exp[inside] = labels[j, i]
    return exp, clear


def assert_nearest(out, labels, q, fill):
    """Every output pixel holds the label at its source location ``q``; where ``q`` lies within AMBIGUOUS of
    a pixel edge (a resize by exactly 1/2 puts every centre on one), the label of a pixel touching it."""
    got = out.reshape(len(q), *labels.shape[2:])
    exp, clear = read_labels(labels, q, fill)
    np.testing.assert_array_equal(got[clear], exp[clear])
    near = np.zeros(len(q), bool)
    for dx in (-AMBIGUOUS, AMBIGUOUS):
        for dy in (-AMBIGUOUS, AMBIGUOUS):
            near |= read_labels(labels, q + [dx, dy], fill)[0] == got
    assert near.all(), f"{np.count_nonzero(~near)} pixels hold no label of any pixel touching their source"
    return clear


def random_labels(rng, h, w, dtype=np.uint8, values=(0, 1, 3, 7, 200)):
    return np.asarray(values, dtype=dtype)[rng.integers(0, len(values), (h, w))]


# =====================================================================================================
# Label maps: the fused warp agrees with the source at every output pixel
# =====================================================================================================
@SLOW
@given(data=st.data())
def test_label_mask_agrees_with_the_label_at_each_source_location(data):
    ops = [data.draw(geometric_op(ALL_GEOMETRIC)) for _ in range(data.draw(st.integers(1, 4)))]
    w, h = data.draw(st.integers(12, 70)), data.draw(st.integers(12, 70))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    labels = random_labels(rng, h, w)
    fuse = data.draw(st.booleans())
    aug = geoaug.Pipeline(ops, interpolation="nearest", fill=[9, 9, 9], fuse=fuse)
    image = np.repeat(labels[:, :, None], 3, axis=2)
    res = aug(image, masks=geoaug.Masks(labels, fill=255), seed=data.draw(st.integers(0, 999)))
    out = res.masks.data
    ow, oh = res.size
    assert out.shape == (oh, ow) and out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 1, 3, 7, 200, 255}
    # the image of the same call, warped with nearest sampling, shows the same labels (its own fill elsewhere)
    np.testing.assert_array_equal(res.image[..., 0], np.where(out == 255, 9, out))
    if fuse:  # one warp by the net matrix: every pixel holds the label at its source (or the mask's fill)
        assert_nearest(out, labels, source_of_pixels(res.matrix, res.size), 255)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.int8, np.bool_])
def test_label_values_of_every_integer_dtype_stay_exact_under_a_rotation(dtype):
    rng = np.random.default_rng(3)
    values = (0, 1) if dtype is np.bool_ else (0, 5, np.iinfo(dtype).max, np.iinfo(dtype).max - 7)
    labels = random_labels(rng, 40, 50, dtype, values)
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 30, "expand": True}}])
    res = aug(np.zeros((40, 50, 3), np.uint8), masks=geoaug.Masks(labels, fill=1), seed=4)
    out = res.masks.data
    assert out.dtype == labels.dtype and out.shape == (res.size[1], res.size[0])
    clear = assert_nearest(out, labels, source_of_pixels(res.matrix, res.size), 1)
    assert clear.mean() > 0.9  # a rotation puts few centres near a pixel edge: most checked exactly
    # every pixel, ambiguous ones included, as a uint8 map of the same labels lands (the same kernel's choice)
    codes = np.searchsorted(np.unique(labels), labels).astype(np.uint8)
    ref = aug(np.zeros((40, 50, 3), np.uint8), masks=geoaug.Masks(codes, fill=255), seed=4).masks.data
    np.testing.assert_array_equal(out, np.where(ref == 255, np.asarray(1, dtype), np.unique(labels)[ref % 255]))


# =====================================================================================================
# Index maps: bit-exact copies
# =====================================================================================================
@SLOW
@given(data=st.data())
def test_masks_through_index_maps_are_bit_exact(data):
    ops = [data.draw(geometric_op(INDEX_OPS)) for _ in range(data.draw(st.integers(1, 4)))]
    w, h = data.draw(st.integers(8, 60)), data.draw(st.integers(8, 60))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    big = np.array([0, 3, 2**40 + 1, -(2**62) + 5], np.int64)  # no float could carry these
    labels = big[rng.integers(0, 4, (h, w))]
    depth = rng.random((h, w, 2)).astype(np.float32)  # linear interpolation must not touch an index map
    inst = rng.random((5, h, w)) < 0.5
    aug = geoaug.Pipeline(ops)
    seed = data.draw(st.integers(0, 999))
    res = aug(np.zeros((h, w, 3), np.uint8), masks=geoaug.Masks(labels, fill=-7), seed=seed)
    assert M.index_map(res.matrix) is not None
    q = source_of_pixels(res.matrix, res.size)
    exp, clear = read_labels(labels, q, -7)
    assert clear.all()  # index maps land on pixel centres: nothing is ambiguous
    np.testing.assert_array_equal(res.masks.data.ravel(), exp)
    dense = aug(np.zeros((h, w, 3), np.uint8), masks=geoaug.Masks(depth, fill=[-1.0, 2.5]), seed=seed).masks
    assert dense.type == "dense" and dense.interpolation == "linear"
    np.testing.assert_array_equal(dense.data.reshape(-1, 2), _fill_or(depth, q, (-1.0, 2.5)))
    got = aug(np.zeros((h, w, 3), np.uint8), masks=inst, seed=seed)
    kept = {int(i) for i in got.masks.index}
    for k in range(5):
        plane = read_labels(inst[k], q, False)[0].reshape(res.size[1], res.size[0])
        if plane.any():
            row = int(np.flatnonzero(got.masks.index == k)[0])
            np.testing.assert_array_equal(got.masks.data[row], plane)
        else:  # nothing of it in view: dropped and reported
            assert k not in kept
            assert {"kind": "masks", "index": k, "reason": "outside"} in got.report.dropped


def _fill_or(arr, q, fill):
    """``arr`` read back at ``q`` with a per-channel fill outside."""
    h, w = arr.shape[:2]
    inside = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
    out = np.empty((len(q), arr.shape[2]), arr.dtype)
    out[:] = np.asarray(fill, arr.dtype)
    out[inside] = arr[np.floor(q[inside, 1]).astype(int), np.floor(q[inside, 0]).astype(int)]
    return out


# =====================================================================================================
# Fill, dense maps, many instances
# =====================================================================================================
def test_masks_stay_in_the_frame_of_a_scaled_image():
    """A half-size decode of a 2x frame: the masks are the frame's, and come out as a full-size call's."""
    rng = np.random.default_rng(5)
    labels = random_labels(rng, 40, 60)
    img = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 20}}, {"name": "pad_to_multiple"}])
    full = aug(img, masks=labels, seed=3)
    half = aug(img[::2, ::2], masks=labels, frame=(60, 40), seed=3)
    assert half.size == full.size
    np.testing.assert_array_equal(half.masks.data, full.masks.data)
    with pytest.raises(geoaug.GeometryError, match="frame is 60x40"):
        aug(img, masks=labels[::2, ::2], seed=3)


def test_the_mask_fill_is_its_own_not_the_images():
    aug = geoaug.Pipeline(
        [{"name": "pad", "params": {"top": 4, "left": 3, "fill": [114, 114, 114]}}],
        fill=[50, 60, 70],
    )
    labels = np.ones((20, 30), np.uint8)
    res = aug(np.full((20, 30, 3), 200, np.uint8), masks=geoaug.Masks(labels, fill=255), seed=0)
    m = res.masks.data
    assert m.shape == (24, 33) and (m[:4] == 255).all() and (m[:, :3] == 255).all() and (m[4:, 3:] == 1).all()
    assert (res.image[:4] == 114).all()  # the image got its own fill there
    # a rotation's corners: the mask's fill, never a blend of it and a label
    rot = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 40}}], fill=[50, 60, 70])
    res = rot(np.full((20, 30, 3), 200, np.uint8), masks=geoaug.Masks(labels, fill=255), seed=1)
    assert set(np.unique(res.masks.data)) == {1, 255}
    assert (res.image == 50).any(axis=2).any()


def test_dense_map_interpolates_linearly_with_its_own_fill():
    h, w = 60, 80
    ys, xs = np.mgrid[0:h, 0:w]
    ramp = (xs + 0.5 + 2 * (ys + 0.5)).astype(np.float32)  # value = x + 2y at each pixel centre
    aug = geoaug.Pipeline([{"name": "affine", "params": {"scale": [0.85, 1.3], "rotate": 25, "shear": 5}}])
    filled = 0
    for seed in range(8):
        res = aug(np.zeros((h, w, 3), np.uint8), masks=geoaug.Masks(ramp, fill=-1.0), seed=seed)
        out = res.masks.data
        assert out.dtype == np.float32 and res.masks.type == "dense"
        q = source_of_pixels(res.matrix, res.size)
        deep = (q[:, 0] > 1) & (q[:, 0] < w - 1) & (q[:, 1] > 1) & (q[:, 1] < h - 1)
        assert deep.mean() > 0.3
        # linear interpolation of a linear function is that function (up to OpenCV's 1/32-pixel weights)
        np.testing.assert_allclose(out.ravel()[deep], q[deep, 0] + 2 * q[deep, 1], atol=0.1)
        far = (q[:, 0] < -1) | (q[:, 0] > w + 1) | (q[:, 1] < -1) | (q[:, 1] > h + 1)
        assert (out.ravel()[far] == -1.0).all()
        filled += int(far.sum())
        # nearest on the same map: only source values
        near = aug(np.zeros((h, w, 3), np.uint8), masks=geoaug.Masks(ramp, interpolation="nearest"), seed=seed)
        assert set(np.unique(near.masks.data)) <= set(np.unique(ramp)) | {0.0}
    assert filled > 1000  # the fill was checked


def test_many_instances_warp_as_each_would_alone():
    """Instances travel four planes per OpenCV call: grouping must not change a pixel."""
    rng = np.random.default_rng(0)
    inst = np.zeros((9, 50, 70), np.uint8)
    for k in range(9):
        x, y = rng.integers(5, 45), rng.integers(5, 30)
        inst[k, y : y + 15, x : x + 20] = 1
    a = _rotation(23.0, 35, 25)
    t = get_kind("masks").map(geoaug.Masks(inst), a, (70, 50), {})
    for k in range(9):
        alone = warp(inst[k][:, :, None], a, (70, 50), interpolation="nearest", border=(0, 0, 0, 0))[:, :, 0]
        np.testing.assert_array_equal(t.data[k], alone)


def _rotation(deg, cx, cy):
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return M.translate(cx, cy) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ M.translate(-cx, -cy)


# =====================================================================================================
# Instance masks: drops, fields, visibility, filters
# =====================================================================================================
def _squares():
    inst = np.zeros((3, 40, 60), bool)
    inst[0, 5:15, 5:15] = True  # left: cut away by the crop below
    inst[1, 20:30, 20:40] = True  # straddles x = 30: half kept
    inst[2, 10:20, 40:50] = True  # right: kept whole
    return inst


def test_instances_dropped_and_reported_with_their_rows():
    crop = geoaug.Pipeline([{"name": "crop", "params": {"x": 30, "y": 0, "width": 30, "height": 40}}])
    masks = geoaug.Masks(_squares(), label=["a", "b", "c"], score=np.array([0.1, 0.2, 0.3]))
    res = crop(np.zeros((40, 60, 3), np.uint8), masks=masks)
    m = res.masks
    assert m.data.shape == (2, 40, 30) and m.data.dtype == bool
    assert m.fields["label"] == ["b", "c"] and m.fields["score"].tolist() == [0.2, 0.3]
    assert m.index.tolist() == [1, 2]
    assert res.report.dropped == [{"kind": "masks", "index": 0, "reason": "outside"}]
    assert res.report.clipped["masks"] == 1
    np.testing.assert_allclose(m.visibility, [0.5, 1.0])
    assert m.data[0].sum() == 100 and m.data[1].sum() == 100


def test_visibility_is_the_kept_share_through_scales_and_rotations():
    inst = _squares()
    img = np.zeros((40, 60, 3), np.uint8)
    # a rotation that keeps every mask whole: visibility stays exactly 1 (rasterisation is no cut)
    res = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 20, "expand": True}}])(img, masks=inst, seed=2)
    assert res.masks.visibility.tolist() == [1.0, 1.0, 1.0] and res.report.clipped["masks"] == 0
    # a 2x upscale then a crop at x = 60 (x = 30 in the source): half of mask 1, measured in upscaled pixels
    up = geoaug.Pipeline(
        [
            {"name": "resize", "params": {"width": 120, "height": 80}},
            {"name": "crop", "params": {"x": 60, "y": 0, "width": 60, "height": 80}},
        ],
        fuse=False,
    )
    res = up(img, masks=inst)
    np.testing.assert_allclose(res.masks.visibility, [0.5, 1.0])
    # a label map's visibility is the kept share of its area, and the map is never dropped
    lab = geoaug.Pipeline([{"name": "crop", "params": {"x": 45, "y": 0, "width": 15, "height": 40}}])
    res = lab(img, masks=np.zeros((40, 60), np.uint8))
    assert res.masks.type == "label" and len(res.masks) == 1
    np.testing.assert_allclose(res.masks.visibility, [0.25])


def test_map_visibility_is_the_kept_area_share():
    """Against shapely (affine: area scales by the determinant) and sampling (perspective)."""
    import shapely

    from geoaug.kinds.masks import _kept_share

    rng = np.random.default_rng(0)
    for _ in range(200):
        t, s = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 3)
        a = M.translate(*rng.uniform(-200, 300, 2)) @ np.array(
            [[s * np.cos(t), -s * np.sin(t), 0], [s * np.sin(t), s * np.cos(t), 0], [0, 0, 1.0]]
        )
        src, (w, h) = (int(rng.integers(10, 200)), int(rng.integers(10, 200))), rng.integers(10, 300, 2)
        inter = shapely.intersection(
            shapely.Polygon(M.apply_points(a, M.canvas_corners(*src))), shapely.box(0, 0, w, h)
        )
        assert _kept_share(a, src, w, h) == pytest.approx(inter.area / s**2 / (src[0] * src[1]), abs=1e-9)
    a = np.array([[1.1, 0.1, -20], [0.05, 0.9, -10], [1e-3, 5e-4, 1]])
    pts = rng.uniform(0, 1, (200_000, 2)) * (200, 150)
    q = M.apply_points(a, pts)
    sampled = ((q[:, 0] >= 0) & (q[:, 0] <= 180) & (q[:, 1] >= 0) & (q[:, 1] <= 140)).mean()
    assert _kept_share(a, (200, 150), 180, 140) == pytest.approx(sampled, abs=0.005)
    assert _kept_share(M.translate(500, 0), (200, 150), 180, 140) == 0.0


def test_filters_drop_instances_never_a_map():
    crop = geoaug.Pipeline(
        [{"name": "crop", "params": {"x": 30, "y": 0, "width": 30, "height": 40}}], filters={"min_visibility": 0.6}
    )
    res = crop(np.zeros((40, 60, 3), np.uint8), masks=_squares())
    assert res.masks.index.tolist() == [2]
    assert {"kind": "masks", "index": 1, "reason": "min_visibility"} in res.report.dropped
    res = crop(np.zeros((40, 60, 3), np.uint8), masks=np.zeros((40, 60), np.uint8))
    assert len(res.masks) == 1 and res.masks.visibility[0] == 0.5
    area = geoaug.Pipeline([], filters={"masks": {"min_area": 150}})
    assert area(np.zeros((40, 60, 3), np.uint8), masks=_squares()).masks.index.tolist() == [1]


def test_empty_instances_are_dropped_at_intake_and_reported():
    inst = _squares()
    inst[1] = False
    res = geoaug.Pipeline([{"name": "hflip"}])(np.zeros((40, 60, 3), np.uint8), masks=inst)
    assert res.masks.index.tolist() == [0, 2]
    assert res.report.dropped == [{"kind": "masks", "index": 1, "reason": "empty"}]


def test_object_aware_crop_keeps_an_instance_in_view():
    inst = np.zeros((1, 100, 100), np.uint8)
    inst[0, 80:90, 5:15] = 1
    aug = geoaug.Pipeline([{"name": "random_crop", "params": {"scale": [0.05, 0.1], "min_visibility": 0.9}}])
    for seed in range(10):
        res = aug(np.zeros((100, 100, 3), np.uint8), masks=inst, seed=seed)
        assert len(res.masks) == 1 and res.masks.visibility[0] >= 0.9 - 1e-9
    assert get_kind("masks").bounds(geoaug.Masks(inst), M.translate(2, 3)).tolist() == [[7, 83, 17, 93]]


# =====================================================================================================
# Replay, inverse, memory
# =====================================================================================================
def test_replay_gives_the_same_masks_and_inverse_brings_them_back():
    rng = np.random.default_rng(1)
    labels = random_labels(rng, 45, 64)
    aug = geoaug.from_config("geoaug/configs/seed.yaml")
    img = rng.integers(0, 256, (45, 64, 3), dtype=np.uint8)
    for seed in range(8):
        res = aug(img, masks=geoaug.Masks(labels, fill=255), seed=seed)
        rec = json.loads(json.dumps(res.replay))
        again = aug.replay(rec, img, masks=geoaug.Masks(labels, fill=255))
        np.testing.assert_array_equal(again.masks.data, res.masks.data)
        back = res.inverse(masks=geoaug.Masks(res.masks.data, fill=255))
        assert back.masks.data.shape == labels.shape
        exp, clear = read_labels(
            res.masks.data.astype(np.uint8), source_of_pixels(back.matrix, back.size), np.uint8(255)
        )
        np.testing.assert_array_equal(back.masks.data.ravel()[clear], exp[clear])
        # where the round trip is a pure index map (flip and pad), the input comes back bit for bit
        if M.index_map(res.matrix) is not None:
            np.testing.assert_array_equal(back.masks.data, labels)
    # instance masks through replay keep rows and drops alike
    crop = geoaug.Pipeline([{"name": "random_crop", "params": {"scale": [0.2, 0.4], "keep_objects": False}}])
    res = crop(np.zeros((40, 60, 3), np.uint8), masks=_squares(), seed=5)
    again = crop.replay(res.replay, np.zeros((40, 60, 3), np.uint8), masks=_squares())
    np.testing.assert_array_equal(again.masks.data, res.masks.data)
    assert again.masks.index.tolist() == res.masks.index.tolist() and again.report.dropped == res.report.dropped


def test_inputs_are_never_written_and_results_share_no_memory():
    inst = _squares()
    labels = np.arange(40 * 60, dtype=np.int32).reshape(40, 60)
    for arr in (inst, labels):
        arr.flags.writeable = False
    keep = (inst.copy(), labels.copy())
    for ops in ([], [{"name": "hflip"}], [{"name": "rotate", "params": {"max_deg": 10}}]):
        aug = geoaug.Pipeline(ops)
        for theirs_in in (inst, labels, geoaug.Masks(labels, fill=-1), geoaug.Masks(inst, label=["x", "y", "z"])):
            res = aug(np.zeros((40, 60, 3), np.uint8), masks=theirs_in, seed=0)
            out = res.masks
            assert out.data.flags.writeable
            for theirs in (inst, labels):
                assert not np.may_share_memory(out.stack, theirs)
            out.stack[...] = 0  # ours to write
    np.testing.assert_array_equal(inst, keep[0])
    np.testing.assert_array_equal(labels, keep[1])


def test_no_masks_costs_an_empty_table():
    res = geoaug.Pipeline([{"name": "rotate", "params": {}}])(np.zeros((20, 30, 3), np.uint8), seed=0)
    assert len(res.masks) == 0 and res.masks.stack.flags.writeable
    assert "masks" not in res.report.clipped and not res.report.dropped
    t = get_kind("masks").intake(None, (30, 20))
    assert len(t) == 0 and t.type == "instance"


def test_tta_concat_of_instance_tables():
    kind = get_kind("masks")
    a, b = geoaug.Masks(_squares()[:2]), geoaug.Masks(_squares()[2:])
    t = kind.concat([a, b], {"view": [0, 0, 1]})
    np.testing.assert_array_equal(t.data, _squares())
    assert t.fields["view"] == [0, 0, 1] and t.index.tolist() == [0, 1, 0]
    with pytest.raises(geoaug.GeometryError, match="cannot concatenate"):
        kind.concat([a, geoaug.Masks(np.zeros((40, 60), np.uint8))], {"view": [0, 0, 1]})


# =====================================================================================================
# Intake errors
# =====================================================================================================
@pytest.mark.parametrize(
    "data, kwargs, match",
    [
        (np.zeros((30, 60), np.uint8), {}, r"masks\.data is 60x30 .* frame is 60x40"),
        (np.zeros((2, 40, 61), bool), {}, "masks must have the frame's height and width"),
        (np.zeros((40, 60), np.float32), {"type": "label"}, "label map must be bool or integer"),
        (np.zeros((40, 60), np.uint8), {"interpolation": "linear"}, "interpolation of label masks is 'nearest'"),
        (np.zeros((40, 60), np.uint8), {"fill": 256}, r"fill 256 is not a value of the map's dtype uint8"),
        (np.zeros((2, 40, 60), bool), {"fill": 1}, "fill of instance masks is 0"),
        (np.zeros((40, 60, 3), np.float32), {"fill": [0, 1]}, "2 values for a map of 3 channels"),
        (np.zeros((40, 60), np.int32), {"type": "dense", "interpolation": "cubic"}, "needs a uint8, uint16"),
        (np.zeros((2, 40, 60), np.int16), {"type": "instance"}, "instance masks must be bool or uint8"),
        (np.array(["a"]), {}, "dtype <U1"),
        ("mask", {}, "is a string"),
        (np.zeros((40, 60), np.uint8), {"type": "semantic"}, "type must be one of"),
    ],
)
def test_bad_masks_are_clear_errors(data, kwargs, match):
    with pytest.raises(geoaug.GeometryError, match=match):
        geoaug.Pipeline([])(np.zeros((40, 60, 3), np.uint8), masks=geoaug.Masks(data, **kwargs) if kwargs else data)


def test_type_inference():
    assert geoaug.Masks(np.zeros((2, 4, 5), bool)).type == "instance"
    assert geoaug.Masks(np.zeros((2, 4, 5), np.uint8)).type == "instance"
    assert geoaug.Masks(np.zeros((4, 5), np.uint8)).type == "label"
    assert geoaug.Masks(np.zeros((4, 5), bool)).type == "label"
    assert geoaug.Masks(np.zeros((4, 5, 3), np.int32)).type == "label"
    assert geoaug.Masks(np.zeros((4, 5, 17), np.float32)).type == "dense"
    m = geoaug.Masks(np.zeros((4, 5), np.uint16), type="dense")
    assert m.type == "dense" and m.interpolation == "linear" and m.data.shape == (4, 5) and len(m) == 1


def test_many_channel_dense_map_warps_every_channel():
    rng = np.random.default_rng(2)
    heat = rng.random((30, 40, 9)).astype(np.float32)
    aug = geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 30}}])
    res = aug(np.zeros((30, 40, 3), np.uint8), masks=geoaug.Masks(heat, fill=list(range(9))), seed=3)
    out = res.masks.data
    assert out.shape == (30, 40, 9)
    for c in range(9):
        alone = warp(np.ascontiguousarray(heat[:, :, c : c + 1]), res.matrix, res.size, border=(c, 0, 0, 0))[:, :, 0]
        np.testing.assert_array_equal(out[:, :, c], alone)


# =====================================================================================================
# Drawing
# =====================================================================================================
def test_draw_overlays_masks_translucently():
    img = np.full((40, 60, 3), 100, np.uint8)
    inst = _squares()
    vis = geoaug.draw(img, masks=geoaug.Masks(inst, label=["a", "b", "c"]), show_labels=False)
    changed = (vis != img).any(axis=2)
    np.testing.assert_array_equal(changed, inst.any(axis=0))  # every mask pixel, nothing else
    # translucent: 40% of the label's colour over 60% of the image
    expect = np.round(100 * (1 - OVERLAY_ALPHA) + np.array(label_colour("b")) * OVERLAY_ALPHA)
    np.testing.assert_array_equal(vis[25, 35], expect)
    with_tags = geoaug.draw(img, masks=geoaug.Masks(inst, label=["a", "b", "c"]))
    assert (with_tags != vis).any()  # a tag per labelled instance
    labels = np.zeros((40, 60), np.uint8)
    labels[10:20, 10:30] = 3
    vis = geoaug.draw(img, masks=geoaug.Masks(labels, fill=0))
    changed = (vis != img).any(axis=2)
    np.testing.assert_array_equal(changed, labels != 0)  # the fill (no label) is not drawn
    expect = np.round(100 * (1 - OVERLAY_ALPHA) + np.array(label_colour(3)) * OVERLAY_ALPHA)
    np.testing.assert_array_equal(vis[15, 15], expect)
    dense = geoaug.draw(img, masks=np.linspace(0, 1, 40 * 60, dtype=np.float32).reshape(40, 60))
    assert (dense != img).any(axis=2).mean() > 0.9


def test_preview_tile_draws_masks():
    from geoaug.preview import tile

    aug = geoaug.Pipeline([{"name": "hflip"}])
    labels = np.zeros((40, 60), np.uint8)
    labels[:, :20] = 5
    res = aug(np.full((40, 60, 3), 100, np.uint8), masks=geoaug.Masks(labels))
    vis, _ = tile(res, "s", 0, 120, {})
    assert vis.shape == (80, 120, 3)
    # the flipped label band sits on the right third of the tile, drawn; the rest is the plain image
    assert (vis[:, 80:] != 100).any(axis=2).all() and (vis[:, :80] == 100).all()


# =====================================================================================================
# COCO RLE
# =====================================================================================================
masks_2d = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 2**32 - 1), st.floats(0, 1)).map(
    lambda t: (np.random.default_rng(t[2]).random((t[0], t[1])) < t[3]).astype(np.uint8)
)


@given(m=masks_2d, compressed=st.booleans())
def test_rle_round_trips(m, compressed):
    r = rle.encode(m, compressed=compressed)
    assert r["size"] == list(m.shape)
    back = rle.decode(json.loads(json.dumps(r)))
    np.testing.assert_array_equal(back, m)
    assert rle.area(r) == int(m.sum())


@given(counts=st.lists(st.integers(0, 10**7), max_size=40))
def test_rle_string_form_round_trips_any_counts(counts):
    np.testing.assert_array_equal(rle.string_to_counts(rle.counts_to_string(counts)), counts)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own use of numpy
def test_rle_matches_pycocotools():
    cm = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if rng.random() < 0.3:  # long runs: large counts and differences of both signs
            m = np.zeros((h, w), np.uint8)
            m[rng.integers(0, h) :, rng.integers(0, w) :] = 1
        ours, theirs = rle.encode(m), cm.encode(np.asfortranarray(m))
        assert ours["counts"] == theirs["counts"].decode("ascii") and ours["size"] == theirs["size"]
        np.testing.assert_array_equal(rle.decode(theirs), m)
        np.testing.assert_array_equal(cm.decode({"size": [h, w], "counts": ours["counts"].encode()}), m)


def test_masks_from_and_to_rle():
    inst = _squares().astype(np.uint8)
    rles = geoaug.Masks(inst).to_rle()
    m = geoaug.Masks.from_rle(rles, label=["a", "b", "c"])
    np.testing.assert_array_equal(m.data, inst)
    assert m.fields["label"] == ["a", "b", "c"] and m.type == "instance"
    plain = geoaug.Masks(inst).to_rle(compressed=False)
    np.testing.assert_array_equal(geoaug.Masks.from_rle(plain, 40, 60).data, inst)
    assert geoaug.Masks.from_rle([], 40, 60).data.shape == (0, 40, 60)
    with pytest.raises(geoaug.GeometryError, match="binary instance masks"):
        geoaug.Masks(np.zeros((4, 5), np.uint8)).to_rle()
    with pytest.raises(geoaug.GeometryError, match=r"from_rle\[1\]\.counts cover 5 pixels"):
        geoaug.Masks.from_rle([rles[0], {"size": [40, 60], "counts": [2, 3]}])
    with pytest.raises(geoaug.GeometryError, match=r"from_rle\[0\]\.size is 40x60 .* masks are 10x60"):
        geoaug.Masks.from_rle(rles, 10, 60)
    with pytest.raises(geoaug.GeometryError, match="no RLE character"):
        rle.decode({"size": [1, 1], "counts": "\x01"})
