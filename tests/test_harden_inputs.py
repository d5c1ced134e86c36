"""Hardening of the call boundary.

1. The caller's arrays are never written: not the image, not the geometry, not the fields of a table they
   pass in, and no output array aliases one of them (writing into any output leaves every input as it was).
   Read-only and memory-mapped inputs work. A pipeline that nets to the identity hands back a new array.
2. Float images: geometric ops take float32 images in any range (coordinates, depth, 0-255) and never
   clip them; pixel ops read float32 images as [0, 1] (1.0 = white). A pipeline that can run a pixel op
   refuses a float image outside [0, 1] with an error that names the range found: never a silent clip.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geoaug
from geoaug.errors import ImageError
from geoaug.image import dtype_max
from geoaug.instances import Boxes, Lines, Quads
from geoaug.registry import REGISTRY

from strategies import ALL_GEOMETRIC, boxes_in, geometric_op, lines_in, quads_in

W, H = 37, 29
DTYPES = [np.uint8, np.uint16, np.float32]

# A config under which each registered op does real work on a W x H image.
REAL = {
    "hflip": {},
    "vflip": {},
    "rot90": {"k": 1},
    "rotate": {"max_deg": 25, "fill": 0.25},
    "affine": {"scale": [0.8, 1.2], "translate": 0.1, "shear": 8, "rotate": 15},
    "perspective": {"scale": [0.03, 0.08]},
    "resize": {"width": 23, "height": 41},
    "smart_resize": {"factor": 8, "min_pixels": 64, "max_pixels": 600},
    "crop": {"x": 5, "y": 3, "width": 40, "height": 20},
    "center_crop": {"width": 20, "height": 35},
    "random_crop": {"scale": [0.4, 0.8]},
    "pad": {"top": 2, "bottom": 3, "left": 4, "right": 1},
    "pad_to_multiple": {"multiple": 16},
    "color_jitter": {"brightness": 0.3, "contrast": 0.3, "saturation": 0.4, "hue": 0.1},
    "gamma": {},
    "grayscale": {},
    "gaussian_blur": {},
    "gaussian_noise": {},
    "jpeg": {},
    "one_of": {
        "ops": [{"name": "rotate", "params": {"max_deg": 10}}, {"name": "color_jitter", "params": {"contrast": 0.5}}]
    },
    "some_of": {"ops": [{"name": "hflip"}, {"name": "gamma"}, {"name": "pad", "params": {"left": 3}}], "n": [1, 3]},
}

# A config under which each op changes nothing: the warp nets to the identity and the pixel stages hand back
# their input (or compute the same values). This is where outputs used to be the caller's array itself.
IDENTITY = {
    "hflip": {"prob": 0.0},
    "vflip": {"prob": 0.0},
    "rot90": {"k": 0},
    "rotate": {"max_deg": 0},
    "affine": {},
    "perspective": {"scale": [0.0, 0.0]},
    "resize": {"width": W, "height": H},
    "smart_resize": {"factor": 1, "min_pixels": 1, "max_pixels": W * H},
    "crop": {"x": 0, "y": 0, "width": W, "height": H},
    "center_crop": {"width": W, "height": H},
    "random_crop": {"width": W, "height": H},
    "pad": {},
    "pad_to_multiple": {"multiple": 1},
    "color_jitter": {"brightness": [1, 1], "contrast": [1, 1], "saturation": [1, 1], "hue": [0, 0]},
    "gamma": {"gamma": [1, 1]},
    "grayscale": {"prob": 0.0},
    "gaussian_blur": {"prob": 0.0},
    "gaussian_noise": {"std": [0, 0]},
    "jpeg": {"prob": 0.0},
    "one_of": {"ops": [{"name": "color_jitter", "params": {"hue": [0, 0]}}]},
    "some_of": {"ops": [{"name": "hflip", "params": {"prob": 0.0}}, {"name": "color_jitter"}], "n": 2},
}

PIXEL_OPS = sorted(n for n, c in REGISTRY.items() if c.kind == "pixel")
POINTWISE_IDENTITY = [  # pointwise steps that hand back the very array they were given
    {"name": "color_jitter"},
    {"name": "color_jitter", "params": {"hue": [0, 0]}},
    {"name": "color_jitter", "params": {"saturation": [0.5, 1.5]}},  # a no-op on 1 channel
    {"name": "grayscale"},  # a no-op on 1 channel
]


def test_every_registered_op_is_covered():
    assert set(REAL) == set(REGISTRY) == set(IDENTITY)


# ---- inputs, snapshots, outputs ----------------------------------------------------------------
def make_image(dtype, channels=3, w=W, h=H, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if dtype == np.float32:
        img = rng.random(shape, dtype=np.float32)
        img.reshape(-1)[:2] = (0.0, 1.0)  # both ends of the range present
        return img
    return rng.integers(0, int(dtype_max(dtype)) + 1, shape).astype(dtype)


def make_geometry(w=W, h=H, tables=True):
    """Boxes (one reaching past the left edge, so the intake clips it), quads, lines: as the caller's
    raw arrays, or as tables carrying array and list fields."""
    boxes = np.array([[2.0, 3, 12, 15], [20, 5, w - 1, h - 2], [-3, 1, 6, 9], [0, 0, w, h]])
    quads = np.array([[[5.0, 4], [15, 6], [13, 14], [4, 12]], [[20, 10], [30, 10], [30, 20], [20, 20]]])
    lines = [np.array([[1.0, 1], [10, 20], [30, 5]]), np.array([[0.5, h - 1], [w - 0.5, h - 1]])]
    if not tables:
        return {"boxes": boxes, "quads": quads, "lines": lines}
    return {
        "boxes": Boxes(
            boxes, label=["a", "b", "c", "d"], score=np.array([0.9, 0.8, 0.7, 0.6]), group=np.arange(4) * 10
        ),
        "quads": Quads(quads, label=np.array([7, 8]), text=["x", "y"]),
        "lines": Lines(lines, label=["l0", "l1"], width=np.array([1.5, 2.5])),
    }


def polygon_boxes(w=W, h=H):
    return Boxes.from_polygons(
        [np.array([[2.0, 2], [20, 4], [15, 18], [3, 12]]), np.array([[w - 10.0, 5], [w + 2.0, 9], [w - 4.0, 16]])],
        label=["p", "q"],
    )


def input_arrays(image, geom: dict) -> list:
    """Every numpy array the caller hands in (image, raw geometry, each table's arrays and array fields)."""
    out = [image] if isinstance(image, np.ndarray) else []
    for v in geom.values():
        out += (
            table_arrays(v)
            if isinstance(v, (Boxes, Quads, Lines))
            else ([v] if isinstance(v, np.ndarray) else [a for a in v if isinstance(a, np.ndarray)])
        )
    return out


def table_arrays(t) -> list:
    arrs = [t.index, t.visibility] + [v for v in t.fields.values() if isinstance(v, np.ndarray)]
    if isinstance(t, Boxes):
        arrs.append(t.xyxy)
        if t.outline is not None:
            arrs += table_arrays(t.outline)
    elif isinstance(t, Quads):
        arrs.append(t.points)
    else:
        arrs += [t.flat, t.offsets]
    return arrs


def table_lists(t) -> list:
    lists = [v for v in t.fields.values() if isinstance(v, list)]
    if isinstance(t, Boxes) and t.outline is not None:
        lists += table_lists(t.outline)
    return lists


def snapshot(image, geom: dict):
    arrays = input_arrays(image, geom)
    lists = [lst for v in geom.values() if isinstance(v, (Boxes, Quads, Lines)) for lst in table_lists(v)]
    pil = image.tobytes() if not isinstance(image, np.ndarray) else None
    return ([(a.dtype, a.shape, a.tobytes()) for a in arrays], [list(x) for x in lists], pil), arrays, lists


def assert_unchanged(image, geom, snap):
    (arrs, lists, pil), arrays_now, lists_now = snap[0], *snapshot(image, geom)[1:]
    assert len(arrays_now) == len(arrs)
    for k, (a, (dtype, shape, raw)) in enumerate(zip(arrays_now, arrs)):
        assert (a.dtype, a.shape) == (dtype, shape) and a.tobytes() == raw, f"input array {k} was written"
    for k, (lst, was) in enumerate(zip(lists_now, lists)):
        assert lst == was, f"input field list {k} was changed"
    if pil is not None:
        assert image.tobytes() == pil, "the caller's PIL image was written"


def output_arrays(res) -> list:
    arrs = [res.image] if isinstance(res.image, np.ndarray) else []
    for t in (res.boxes, res.quads, res.lines):
        arrs += table_arrays(t)
    return arrs


def scribble_outputs(res):
    """Write into every output array and list, as a user post-processing the result in place would."""
    for a in output_arrays(res):
        assert a.flags.writeable, "an output array is read-only"
        a[...] = np.array(7).astype(a.dtype)
    for t in (res.boxes, res.quads, res.lines):
        for lst in table_lists(t):
            lst[:] = ["scribbled"] * len(lst)
            lst.append("extra")


def freeze(image, geom):
    for a in input_arrays(image, geom):
        a.flags.writeable = False


def check_call(pipe, image, geom, *, seed=0, read_only=False, **kw):
    """Run ``pipe`` and check the contract: inputs bit-identical after the call and after writing into every
    output array; no output shares memory with an input. Returns the result (scribbled over) and a copy of
    its image as it came back."""
    if read_only:
        freeze(image, geom)
    snap = snapshot(image, geom)
    res = pipe(image, seed=seed, **geom, **kw)
    assert_unchanged(image, geom, snap)
    ins = input_arrays(image, geom)
    for o in output_arrays(res):
        for i in ins:
            assert not np.shares_memory(o, i), "an output array shares memory with an input"
    for t, given_table in zip(
        (res.boxes, res.quads, res.lines), (geom.get("boxes"), geom.get("quads"), geom.get("lines"))
    ):
        assert t is not given_table, "an output table is the caller's table"
    image_out = np.array(res.image) if isinstance(res.image, np.ndarray) else res.image.copy()
    scribble_outputs(res)
    assert_unchanged(image, geom, snap)
    return res, image_out


# ---- class 1: every op, every dtype, writable / read-only / memory-mapped -----------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["real", "identity"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_leaves_its_inputs_alone(name, which, dtype):
    params = (REAL if which == "real" else IDENTITY)[name]
    for channels in (1, 3, 4):
        for tables in (True, False):
            for read_only in (False, True):
                pipe = geoaug.Pipeline([{"name": name, "params": params}], fill=0)
                check_call(pipe, make_image(dtype, channels), make_geometry(tables=tables), read_only=read_only)
    pipe = geoaug.Pipeline([{"name": name, "params": params}])
    check_call(pipe, make_image(dtype, None), {"boxes": polygon_boxes()}, read_only=True)


def _sandwich(step, dx=5, dy=4, fill=0):
    """A crop at (0, 0) then a pad back to W x H: the fused warp nets to the identity, and ``step`` between
    them (pointwise) rides along as a post step whose canvas is the crop, so the strip gets the fill."""
    return [
        {"name": "crop", "params": {"x": 0, "y": 0, "width": W - dx, "height": H - dy}},
        step,
        {"name": "pad", "params": {"right": dx, "bottom": dy, "fill": fill}},
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_between_a_crop_and_a_pad_that_net_to_the_identity(name, dtype):
    for params in (REAL[name], IDENTITY[name]):
        for channels in (1, 3, 4):
            for fuse in (True, False):
                pipe = geoaug.Pipeline(_sandwich({"name": name, "params": params}), fuse=fuse)
                check_call(pipe, make_image(dtype, channels), make_geometry(), read_only=False)
                check_call(pipe, make_image(dtype, channels), make_geometry(), read_only=True)


def _random_crop_then_pad_back(step):
    """The issue's case: a random crop that lands at (0, 0), a pointwise step, a pad back to the same size."""
    cw, ch = W - 6, H - 5
    chain = [
        {"name": "random_crop", "params": {"width": cw, "height": ch, "keep_objects": False}},
        step,
        {"name": "pad", "params": {"right": W - cw, "bottom": H - ch}},
    ]
    pipe = geoaug.Pipeline(chain, fill=0)
    draws = ((s, pipe.plan((W, H), seed=s)["steps"][0]["draw"]) for s in range(1000))
    seed = next(s for s, d in draws if (d["x"], d["y"]) == (0, 0))
    return pipe, seed, (cw, ch)


@pytest.mark.parametrize("step", POINTWISE_IDENTITY, ids=lambda s: str(s.get("params", s["name"])))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_random_crop_at_origin_then_pad_back_never_burns_the_fill_into_the_input(step, dtype, channels):
    pipe, seed, (cw, ch) = _random_crop_then_pad_back(step)
    # a bright image: fill 0 written into it would show
    img = np.full((H, W) if channels is None else (H, W, channels), 0.75 * dtype_max(dtype), dtype)
    for _epoch in range(3):  # a cached dataset: the same array every epoch
        _, out = check_call(pipe, img, {}, seed=seed)
        assert out.shape == img.shape
        assert (out[ch:] == 0).all() and (out[:, cw:] == 0).all(), "the output keeps the pad's fill"
        if step == {"name": "grayscale"} and channels not in (None, 1):
            continue
        np.testing.assert_array_equal(out[:ch, :cw], img[:ch, :cw])
    frozen = img.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(pipe(frozen, seed=seed).image, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_mapped_inputs_work_and_stay_unwritten(tmp_path, dtype):
    img = make_image(dtype, 3)
    raw = make_geometry(tables=False)
    files = {}
    for key, arr in (("image", img), ("boxes", raw["boxes"]), ("quads", raw["quads"])):
        path = tmp_path / f"{key}.bin"
        arr.tofile(path)
        files[key] = (path, arr.dtype, arr.shape, path.read_bytes())
    chains = (
        [[{"name": n, "params": REAL[n]}] for n in sorted(REGISTRY)] + [_sandwich(s) for s in POINTWISE_IDENTITY] + [[]]
    )
    for mode in ("r", "r+", "c"):
        mm = {k: np.memmap(p, dtype=d, mode=mode, shape=s) for k, (p, d, s, _) in files.items()}
        for chain in chains:
            for fuse in (True, False):
                res, _ = check_call(
                    geoaug.Pipeline(chain, fuse=fuse),
                    mm["image"],
                    {"boxes": mm["boxes"], "quads": mm["quads"], "lines": raw["lines"]},
                )
                assert type(res.image) is np.ndarray  # a plain array of ours, not a view of the file
        del mm
        for p, _, _, data in files.values():
            assert p.read_bytes() == data, f"memory-mapped file {p.name} was written (mode {mode})"


def test_pil_inputs_with_an_identity_run_and_a_fill():
    from PIL import Image

    for mode, channels in (("L", None), ("RGB", 3), ("RGBA", 4)):
        pil = Image.fromarray(np.full((H, W) if channels is None else (H, W, channels), 200, np.uint8), mode)
        for step in POINTWISE_IDENTITY:
            _, out = check_call(geoaug.Pipeline(_sandwich(step)), pil, {})
            out = np.asarray(out)
            assert (out[H - 4 :] == 0).all() and (out[:, W - 5 :] == 0).all()


# ---- identity pipelines: a new array, never the caller's ---------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_an_identity_pipeline_returns_a_new_writable_array(dtype, channels):
    img = make_image(dtype, channels)
    for chain in (
        [],
        [{"name": "hflip", "params": {"prob": 0.0}}],
        [{"name": "crop", "params": IDENTITY["crop"]}],
        [{"name": n, "params": IDENTITY[n]} for n in sorted(REGISTRY)],
    ):
        for enabled in (True, False):
            check_call(geoaug.Pipeline(chain, enabled=enabled), img, make_geometry())
            res = geoaug.Pipeline(chain, enabled=enabled)(img, seed=0)
            np.testing.assert_array_equal(res.image, img)
            assert res.image.flags.writeable and res.image.dtype == img.dtype


def test_empty_tables_passed_in_are_not_handed_back():
    for fuse in (True, False):
        geom = {
            "boxes": Boxes(np.zeros((0, 4)), label=[]),
            "quads": Quads(np.zeros((0, 4, 2)), label=np.zeros(0)),
            "lines": Lines([], label=[]),
        }
        res, _ = check_call(geoaug.Pipeline([{"name": "hflip"}], fuse=fuse), make_image(np.uint8), geom)
        assert all(len(t) == 0 for t in (res.boxes, res.quads, res.lines))


def test_replay_and_frame_paths_leave_their_inputs_alone():
    pipe = geoaug.Pipeline(_sandwich({"name": "color_jitter", "params": {"hue": [0, 0]}}))
    img = make_image(np.uint8, 1)
    res, _ = check_call(pipe, img, make_geometry())
    other = make_image(np.uint8, 1, seed=1)
    snap = snapshot(other, {})
    out = pipe.replay(res.replay, other)
    assert_unchanged(other, {}, snap)
    assert not np.shares_memory(out.image, other)
    # a scaled copy of the frame: the scale folds into the warp or runs last; inputs stay put either way
    half = make_image(np.uint8, 3, w=W * 2, h=H * 2)
    for chain in ([], [{"name": "color_jitter", "params": {"hue": [0, 0]}}], _sandwich({"name": "grayscale"})):
        check_call(geoaug.Pipeline(chain), half, make_geometry(), frame=(W, H))
        check_call(geoaug.Pipeline(chain), img, make_geometry(), frame=(W, H))


# ---- class 1, random pipelines -------------------------------------------------------------------
@st.composite
def pixel_op(draw):
    name = draw(st.sampled_from(PIXEL_OPS))
    f = lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False))  # noqa: E731
    if name == "color_jitter":
        keys = draw(st.sets(st.sampled_from(["brightness", "contrast", "saturation", "hue"])))
        p = {
            k: ([0, 0] if draw(st.booleans()) else f(0, 0.5))
            if k == "hue"
            else ([1, 1] if draw(st.booleans()) else f(0, 0.6))
            for k in keys
        }
    elif name == "gamma":
        p = {"gamma": [1, 1] if draw(st.booleans()) else [f(0.5, 1), f(1, 2)]}
    elif name == "gaussian_noise":
        p = {"std": [0, f(0, 0.05)]}
    else:
        p = {}
    p["prob"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return {"name": name, "params": p}


@st.composite
def any_step(draw):
    kind = draw(st.sampled_from(["geometric", "pixel", "identity", "sandwich", "one_of"]))
    if kind == "one_of":
        return [{"name": "one_of", "params": {"ops": [draw(geometric_op(ALL_GEOMETRIC)), draw(pixel_op())]}}]
    if kind == "geometric":
        return [draw(geometric_op(ALL_GEOMETRIC))]
    if kind == "pixel":
        return [draw(pixel_op())]
    if kind == "identity":
        name = draw(
            st.sampled_from(sorted(set(IDENTITY) - {"resize", "smart_resize", "crop", "center_crop", "random_crop"}))
        )
        return [{"name": name, "params": IDENTITY[name]}]
    dx, dy = draw(st.integers(0, 8)), draw(st.integers(0, 8))
    return [
        {"name": "crop", "params": {"x": 0, "y": 0, "width": 24 - dx, "height": 24 - dy}},
        draw(st.sampled_from(POINTWISE_IDENTITY) | pixel_op()),
        {"name": "pad", "params": {"right": dx, "bottom": dy}},
    ]


@st.composite
def scene(draw):
    w, h = draw(st.integers(24, 64)), draw(st.integers(24, 64))
    steps = [s for chunk in draw(st.lists(any_step(), max_size=5)) for s in chunk]
    dtype = draw(st.sampled_from(DTYPES))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    geom = {"boxes": draw(boxes_in(w, h)), "quads": draw(quads_in(w, h)), "lines": draw(lines_in(w, h))}
    if draw(st.booleans()):
        geom = {
            "boxes": Boxes(
                geom["boxes"],
                label=[f"b{i}" for i in range(len(geom["boxes"]))],
                score=np.linspace(0, 1, len(geom["boxes"])),
            ),
            "quads": Quads(geom["quads"], label=np.arange(len(geom["quads"]))),
            "lines": Lines(geom["lines"], label=[str(i) for i in range(len(geom["lines"]))]),
        }
    opts = {"fuse": draw(st.booleans()), "interpolation": draw(st.sampled_from(["linear", "nearest", "cubic"]))}
    return w, h, steps, dtype, channels, geom, opts, draw(st.booleans()), draw(st.integers(0, 2**31))


@settings(max_examples=150)
@given(scene())
def test_random_pipelines_never_write_or_hand_back_their_inputs(sc):
    w, h, steps, dtype, channels, geom, opts, read_only, seed = sc
    img = make_image(dtype, channels, w, h, seed=seed % 7)
    check_call(geoaug.Pipeline(steps, **opts), img, geom, seed=seed, read_only=read_only)


# ---- class 2: the float contract -----------------------------------------------------------------
def float_0_255(channels=3):
    img = make_image(np.float32, channels) * 255
    img.reshape(-1)[:2] = (0.0, 255.0)
    return img


@pytest.mark.parametrize("name", PIXEL_OPS)
def test_every_pixel_op_refuses_float_images_outside_0_1(name):
    """An identity color_jitter once returned all 1.0 for a 0-255 float image. Now every pixel op, real or
    identity, and even one that this draw does not run, refuses the image, naming what it found."""
    for params in (REAL[name], IDENTITY[name], {**REAL[name], "prob": 0.0}):
        for chain in (
            [{"name": name, "params": params}],
            _sandwich({"name": name, "params": params}),
            [
                {
                    "name": "one_of",
                    "params": {"ops": [{"name": "hflip"}, {"name": name, "params": params}], "weights": [1, 0]},
                }
            ],
        ):
            for channels in (1, 3, 4):
                img = float_0_255(channels)
                img.flags.writeable = False
                with pytest.raises(ImageError, match=r"float32 values span \[0, 255\].*\[0, 1\].*/ 255"):
                    geoaug.Pipeline(chain)(img, boxes=[[1, 1, 5, 5]], seed=0)
    for bad, what in ((-0.5, r"\[-0.5, "), (1.5, r", 1.5\]"), (np.nan, "NaN"), (np.inf, "inf")):
        img = make_image(np.float32, 3)
        img[3, 4, 1] = bad
        with pytest.raises(ImageError, match=what):
            geoaug.Pipeline([{"name": name, "params": REAL[name]}])(img, seed=0)


@pytest.mark.parametrize("name", PIXEL_OPS)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_every_pixel_op_keeps_unit_float_images_in_0_1(name, channels):
    img = make_image(np.float32, channels)
    for params in (REAL[name], IDENTITY[name], {k: v for k, v in REAL[name].items() if k != "contrast"}):
        for chain in ([{"name": name, "params": params}], _sandwich({"name": name, "params": params})):
            for seed in range(3):
                out = geoaug.Pipeline(chain)(img, seed=seed).image
                assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
                assert np.isfinite(out).all()
    # identity configs compute the same values: nothing clipped, nothing rescaled
    out = geoaug.Pipeline([{"name": name, "params": IDENTITY[name]}])(img, seed=0).image
    np.testing.assert_allclose(out, img, atol=1e-6)


@pytest.mark.parametrize("name", PIXEL_OPS)
def test_values_a_hair_outside_0_1_are_rounding_noise(name):
    """A resampler's overshoot (|d| <= 1e-3) is not an error; no pixel op pushes it farther or turns it NaN."""
    img = make_image(np.float32, 3)
    img[:4, :5] = (-1e-3, 1.0 + 1e-3, 0.5)
    for params in (REAL[name], IDENTITY[name]):
        out = geoaug.Pipeline([{"name": name, "params": params}])(img, seed=0).image
        assert np.isfinite(out).all() and -1e-3 - 1e-6 <= out.min() and out.max() <= 1 + 1e-3 + 1e-6  # an ulp
    out = geoaug.Pipeline([{"name": "color_jitter", "params": IDENTITY["color_jitter"]}])(img).image
    assert out.min() >= 0.0 and out.max() <= 1.0  # tone curves clip it


def test_float_0_255_under_color_jitter_errors_and_the_scaled_image_matches_uint8():
    """The contract for a 0-255 float image with a real color_jitter: an error that says how to fix it; done
    that way (/ 255), the result is the uint8 one to within a grey level, and * 255 brings it back."""
    u8 = make_image(np.uint8, 3)
    f255 = u8.astype(np.float32)
    pipe = geoaug.Pipeline(
        [
            {
                "name": "color_jitter",
                "params": {"brightness": [1.4, 1.4], "contrast": [0.8, 0.8], "saturation": [1.3, 1.3]},
            }
        ]
    )
    snap = f255.copy()
    with pytest.raises(ImageError, match=re.escape("float32 values span [0, 255]")):
        pipe(f255)
    np.testing.assert_array_equal(f255, snap)
    got = pipe(f255 / 255)
    assert got.image.max() <= 1.0 and got.image.max() == 1.0  # brightness 1.4 saturates some pixels at white
    ref = pipe(u8).image.astype(np.float32)
    assert np.abs(got.image * 255 - ref).max() <= 1.5


@pytest.mark.parametrize("interpolation", ["nearest", "linear", "cubic", "lanczos"])
def test_geometric_ops_take_float_images_in_any_range(interpolation):
    """Coordinates, depth, 0-255: the warp and the fill never clip a float image; index maps copy it exactly."""
    for img in (float_0_255(3), float_0_255(1) - 1000.0, make_image(np.float32, 3) * 1e6):
        snap = img.copy()
        res = geoaug.Pipeline(
            [{"name": "hflip"}, {"name": "pad", "params": {"left": 3}}], fill=-7.5, interpolation=interpolation
        )(img)
        np.testing.assert_array_equal(res.image[:, 3:], img[:, ::-1])
        assert (res.image[:, :3] == -7.5).all()
        lo, hi = float(img.min()), float(img.max())
        res = geoaug.Pipeline(
            [{"name": "rotate", "params": {"max_deg": 30}}, {"name": "resize", "params": {"width": 50, "height": 20}}],
            fill=lo,
            interpolation=interpolation,
        )(img)
        assert res.image.min() < 0.0 or res.image.max() > 1.0  # nothing clipped to [0, 1]
        if interpolation in ("nearest", "linear"):  # these never leave the input's range
            assert lo <= res.image.min() and res.image.max() <= hi
        np.testing.assert_array_equal(img, snap)


def test_cubic_overshoot_stays_in_0_1_when_pixel_ops_read_the_image():
    img = np.zeros((H, W, 3), np.float32)
    img[:, ::2] = 1.0  # stripes: cubic and lanczos ring past both ends
    for interpolation in ("cubic", "lanczos"):
        chain = [{"name": "gamma", "params": {"gamma": [1, 1]}}, {"name": "rotate", "params": {"max_deg": 20}}]
        out = geoaug.Pipeline(chain, interpolation=interpolation)(img, seed=0).image
        assert out.min() >= 0.0 and out.max() <= 1.0
        out = geoaug.Pipeline(chain[1:], interpolation=interpolation)(img, seed=0).image
        assert out.min() < 0.0 or out.max() > 1.0  # geometric only: values as the resampler gives them


def test_fills_follow_the_image_range():
    u8 = make_image(np.uint8, 3)
    for fill in (256, -1, [0, 300, 0]):
        with pytest.raises(ImageError, match=r"fill .* outside .*uint8"):
            geoaug.Pipeline([{"name": "rotate", "params": {"max_deg": 10, "prob": 0.0}}], fill=fill)(u8)
    # a fractional fill is rounded the same way by the warp's border and by the exact fill of a post step
    out = geoaug.Pipeline([{"name": "pad", "params": {"left": 2}}], fill=114.6)(u8).image
    assert (out[:, :2] == 115).all()
    out = geoaug.Pipeline([{"name": "affine", "params": {"translate": [0.2, 0.2]}}], fill=114.6)(u8).image
    assert (out[:, :5] == 115).all()  # the warp's border
    out = geoaug.Pipeline(_sandwich({"name": "grayscale"}, fill=114.6))(u8[..., :1].copy()).image
    assert (out[H - 4 :] == 115).all() and (out[:, W - 5 :] == 115).all()  # a post step's exact fill
    u16 = make_image(np.uint16, 3)
    assert (geoaug.Pipeline([{"name": "pad", "params": {"top": 1}}], fill=40000)(u16).image[0] == 40000).all()
    f = make_image(np.float32, 3)
    with pytest.raises(ImageError, match=r"fill 2 .*\[0, 1\]"):
        geoaug.Pipeline([{"name": "pad", "params": {"top": 1, "fill": 2.0}}, {"name": "gamma"}])(f)
    assert (geoaug.Pipeline([{"name": "pad", "params": {"top": 1, "fill": 2.0}}])(f).image[0] == 2.0).all()
