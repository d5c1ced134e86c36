"""Bad input gets a clear ValueError/TypeError naming the object, row and field; never an IndexError or a
cv2 crash."""

import numpy as np
import pytest

import geoaug

IMG = np.zeros((20, 30, 3), np.uint8)
AUG = geoaug.from_config([{"name": "hflip"}])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"boxes": [[0, 0, np.nan, 5]]}, r"boxes\[0\]\.x2 is NaN"),
        ({"boxes": [[0, np.inf, 3, 5]]}, r"boxes\[0\]\.y1 is infinite"),
        ({"boxes": [[0, 0, 3]]}, r"boxes must have shape \(N, 4\).*\(1, 3\)"),
        ({"boxes": [[1, 1, 2, 2], [5, 0, 3, 4]]}, r"boxes\[1\]\.x2 \(3\) < x1 \(5\)"),
        ({"boxes": [[1, 4, 2, 2]]}, r"boxes\[0\]\.y2 \(2\) < y1 \(4\)"),
        ({"quads": [[[0, 0], [1, 0], [1, 1]]]}, r"quads must have shape \(M, 4, 2\).*exactly 4 \(x, y\) points, got 3"),
        ({"quads": [[[0, 0], [1, 0], [1, np.nan], [0, 1]]]}, r"quads\[0\]\.point\[2\]\.y is NaN"),
        ({"lines": [[[0, 0], [1, 1]], [[2, 2]]]}, r"lines\[1\] needs at least 2 points, got 1"),
        ({"lines": [[[0, 0], [1, np.inf]]]}, r"lines\[0\]\.point\[1\]\.y is infinite"),
        ({"lines": [[[0, 0, 0], [1, 1, 1]]]}, r"lines\[0\] must have shape \(K, 2\)"),
    ],
)
def test_geometry_errors_name_object_row_and_field(kwargs, pattern):
    with pytest.raises(geoaug.GeometryError, match=pattern):
        AUG(IMG, **kwargs)


def test_field_length_mismatch_names_the_field():
    with pytest.raises(geoaug.GeometryError, match=r"boxes field 'label' has 1 values for 2 boxes"):
        geoaug.Boxes([[0, 0, 1, 1], [1, 1, 2, 2]], label=["a"])


@pytest.mark.parametrize(
    "image, exc, pattern",
    [
        (np.zeros((0, 5, 3), np.uint8), geoaug.ImageError, "empty"),
        (np.zeros((2, 3, 4, 5), np.uint8), geoaug.ImageError, "4 dimensions"),
        (np.zeros((5, 5, 2), np.uint8), geoaug.ImageError, "2 channels"),
        (np.zeros((5, 5, 3), np.int32), TypeError, "dtype int32 is not supported"),
        (np.zeros((5, 5, 3), np.float64), TypeError, "dtype float64"),
        ([[1, 2], [3, 4]], TypeError, "numpy array or a PIL image"),
    ],
)
def test_image_errors(image, exc, pattern):
    with pytest.raises(exc, match=pattern):
        AUG(image)


def test_unsupported_pil_mode():
    from PIL import Image

    with pytest.raises(TypeError, match="PIL mode 'P'"):
        AUG(Image.new("P", (4, 4)))


@pytest.mark.parametrize(
    "cfg, pattern",
    [
        ([{"name": "hfilp"}], r"unknown op 'hfilp'. Did you mean 'hflip'"),
        ([{"name": "roate", "params": {}}], r"Did you mean 'rotate'"),
        (
            [{"name": "rotate", "params": {"max_degree": 3}}],
            r"unknown param 'max_degree'. Did you mean 'max_deg'.*Valid params: expand, fill, max_deg, prob",
        ),
        (
            [{"name": "hflip", "params": {"prob": 1.5}}],
            r"ops\[0\]: op 'hflip': param 'prob' must be in \[0, 1\], got 1.5",
        ),
        ([{"name": "color_jitter", "params": {"brightness": [1.2, 0.8]}}], r"low must not exceed high"),
        ([{"name": "pad_to_multiple", "params": {"multiple": 0}}], r"'multiple' must be in"),
        ([{"name": "pad_to_multiple", "params": {"multiple": 2.5}}], r"must be an integer"),
        ([{"name": "rotate", "prob": 0.5}], r"unknown key 'prob' in op 'rotate'"),
        ([{"params": {}}], r"missing 'name'"),
        ([{"name": "resize", "params": {"width": 10}}], r"give width and height together"),
        ([{"name": "one_of", "params": {"ops": [{"name": "hflipp"}]}}], r"one_of.ops\[0\]: unknown op 'hflipp'"),
        ({"ops": [], "filter": {}}, r"unknown key 'filter'. Did you mean 'filters'"),
        ({"ops": [], "filters": {"boxes": {"min_visiblity": 0.3}}}, r"unknown filter 'min_visiblity'"),
        ({"ops": [], "fuse": "yes"}, r"fuse must be true or false"),
        ("does/not/exist.yaml", r"config file not found"),
    ],
)
def test_config_errors(cfg, pattern):
    with pytest.raises(geoaug.ConfigError, match=pattern):
        geoaug.from_config(cfg)


def test_unsafe_yaml_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f"ops: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(geoaug.ConfigError, match="unsafe or unknown YAML tag"):
        geoaug.from_config(p)
    assert not marker.exists()


def test_hair_outside_is_clipped_gross_outside_is_counted_or_refused():
    res = AUG(IMG, boxes=[[-1e-6, 0, 10, 20.000001]])
    assert res.boxes.xyxy.min() >= 0 and res.boxes.xyxy[:, 3].max() <= 20
    assert sum(res.report.input_clipped.values()) == 0
    res = AUG(IMG, boxes=[[-5, 0, 10, 10]])
    assert res.report.input_clipped["boxes"] == 1
    assert res.boxes.visibility[0] == pytest.approx(10 / 15)
    strict = geoaug.Pipeline([{"name": "hflip"}], input_outside="error")
    with pytest.raises(geoaug.GeometryError, match=r"boxes\[0\] lies outside the 30x20 image"):
        strict(IMG, boxes=[[-5, 0, 10, 10]])


def test_hair_outside_quads_and_lines_are_snapped_next_to_crossing_ones():
    from geoaug.clip import clip_lines, clip_quads
    from geoaug.report import Report

    quads = np.array(
        [
            [[-1e-6, 1], [5, 1], [5, 4], [-1e-6, 4]],  # hair beyond x = 0
            [[-5.0, 1], [5, 1], [5, 4], [-5, 4]],  # crossing
            [[2.0, 2], [6, 2], [6, 20.0000001], [2, 20.0000001]],
        ]
    )  # hair beyond y = h
    r = Report()
    out = clip_quads(geoaug.Quads(quads), 30, 20, r)
    assert r.clipped["quads"] == 1 and out.points.min() >= 0 and out.points[..., 1].max() <= 20
    np.testing.assert_array_equal(out.points[0], [[0, 1], [5, 1], [5, 4], [0, 4]])
    np.testing.assert_array_equal(out.points[1], [[0, 1], [5, 1], [5, 4], [0, 4]])
    assert out.visibility.tolist() == [1.0, 0.5, 1.0]
    lines = [np.array([[-1e-6, 1], [5, 5]]), np.array([[-5.0, 1], [5, 1]]), np.array([[1.0, 1], [2, 2]])]
    r = Report()
    out = clip_lines(geoaug.Lines(lines), 30, 20, r)
    assert r.clipped["lines"] == 1
    np.testing.assert_array_equal(out.points[0], [[0, 1], [5, 5]])
    np.testing.assert_array_equal(out.points[1], [[0, 1], [5, 1]])
    assert out.visibility.tolist() == [1.0, 0.5, 1.0]
    assert lines[0][0, 0] == -1e-6 and quads[0, 0, 0] == -1e-6  # the caller's arrays are left alone
