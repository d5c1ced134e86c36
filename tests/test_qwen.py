"""geoaug.qwen: parsing Qwen3-VL answers on the 0-1000 grid into pixels and back."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geoaug
from geoaug.qwen import parse_answer, to_grid

ANSWER = """Here are the objects:
```json
[
  {"bbox_2d": [100, 200, 300, 400], "label": "cat"},
  {"quad_2d": [[10, 20], [110, 20], [110, 60], [10, 60]], "label": "EXIT", "text_content": "EXIT"},
  {"line_2d": [[0, 1000], [500, 500], [1000, 0]], "label": "lane"},
  {"point_2d": [250, 750], "label": "eye"},
]
```
Let me know if you need more."""


def test_parses_fenced_answer_with_trailing_comma_into_pixels():
    a = parse_answer(ANSWER, 640, 480)
    assert a.problems == []
    np.testing.assert_allclose(a.boxes.xyxy, [[64, 96, 192, 192]])
    assert a.boxes.fields["label"] == ["cat"]
    np.testing.assert_allclose(a.quads.points[0], [[6.4, 9.6], [70.4, 9.6], [70.4, 28.8], [6.4, 28.8]])
    assert a.quads.fields == {"label": ["EXIT"], "text_content": ["EXIT"]}
    np.testing.assert_allclose(a.lines.points[0], [[0, 480], [320, 240], [640, 0]])
    np.testing.assert_allclose(a.points.xy, [[160, 360]])
    assert a.points.fields["label"] == ["eye"] and a.size == (640, 480)


@pytest.mark.parametrize(
    "item, reason",
    [
        ({"bbox_2d": [1, 2, 3], "label": "a"}, "bbox_2d needs 4 numbers, got 3"),
        ({"bbox_2d": [1, "x", 3, 4], "label": "a"}, "non-numeric coordinate 'x'"),
        ({"bbox_2d": [1, 2, 3, 1001], "label": "a"}, "outside the 0-1000 grid"),
        ({"bbox_2d": [30, 2, 3, 10], "label": "a"}, "x1 <= x2"),
        ({"quad_2d": [[0, 0], [1, 0], [1, 1]], "label": "a"}, "quad_2d needs 4 points, got 3"),
        ({"quad_2d": [[0, 0, 0], [1, 0], [1, 1], [0, 1]], "label": "a"}, "list of [x, y] pairs"),
        ({"line_2d": [[0, 0]], "label": "a"}, "at least 2 points"),
        ({"point_2d": [1, None], "label": "a"}, "non-numeric coordinate None"),
        ({"label": "a", "box": [1, 2, 3, 4]}, "no geometry key"),
        ("cat", "expected an object"),
    ],
)
def test_reports_each_bad_item_with_index_and_reason(item, reason):
    good = {"bbox_2d": [0, 0, 10, 10], "label": "ok"}
    a = parse_answer(json.dumps([good, item, good]), 100, 100)
    assert len(a.problems) == 1 and a.problems[0].index == 1 and reason in a.problems[0].reason
    assert str(a.problems[0]).startswith("item 1: ")
    assert a.boxes.fields["label"] == ["ok", "ok"]  # the rest is kept


def test_truncated_and_bare_answers():
    cut = parse_answer('[{"bbox_2d": [0, 0, 10, 10], "label": "a"}, {"bbox_2d": [5, 5', 100, 100)
    assert len(cut.boxes) == 1 and cut.problems[0].index == 1 and "not valid JSON" in cut.problems[0].reason
    unclosed = parse_answer('[{"bbox_2d": [0, 0, 10, 10], "label": "a"}', 100, 100)
    assert len(unclosed.boxes) == 1 and "before the list is closed" in unclosed.problems[0].reason
    bare = parse_answer('{"bbox_2d": [0, 0, 10, 10], "label": "a"}, {"point_2d": [1, 2], "label": "b"}', 100, 100)
    assert len(bare.boxes) == 1 and len(bare.points) == 1 and bare.problems == []
    nothing = parse_answer("I cannot see any objects.", 100, 100)
    assert len(nothing.boxes) == 0 and nothing.problems[0].index is None
    with pytest.raises(TypeError):
        parse_answer(None, 10, 10)


@settings(max_examples=200, deadline=None)
@given(w=st.integers(1, 5000), h=st.integers(1, 5000), grid=st.lists(st.integers(0, 1000), min_size=8, max_size=8))
def test_grid_to_pixels_to_grid_is_exact(w, h, grid):
    x1, x2 = sorted(grid[0:2])
    y1, y2 = sorted(grid[2:4])
    items = [
        {"bbox_2d": [x1, y1, x2, y2], "label": "b"},
        {"point_2d": grid[4:6], "label": "p"},
        {"line_2d": [grid[4:6], grid[6:8]], "label": "l"},
    ]
    a = parse_answer(json.dumps(items), w, h)
    assert to_grid(a) == [items[0], items[2], items[1]]  # boxes, quads, lines, points order


@settings(max_examples=200, deadline=None)
@given(w=st.integers(1, 5000), h=st.integers(1, 5000), fx=st.lists(st.floats(0, 1), min_size=8, max_size=8))
def test_pixels_to_grid_to_pixels_within_half_a_grid_step(w, h, fx):
    quad = np.array(fx).reshape(4, 2) * [w, h]
    back = parse_answer(json.dumps(to_grid({"quads": [quad]}, w, h)), w, h)
    err = np.abs(back.quads.points[0] - quad)
    assert (err[:, 0] <= 0.5 * w / 1000 + 1e-9).all() and (err[:, 1] <= 0.5 * h / 1000 + 1e-9).all()


def test_to_grid_clamps_and_copies_fields():
    res = geoaug.Pipeline([])(
        np.zeros((50, 100, 3), np.uint8), boxes=geoaug.Boxes([[0, 0, 100, 50]], label=["all"], score=np.array([0.5]))
    )
    out = to_grid(res)
    assert out == [{"label": "all", "bbox_2d": [0, 0, 1000, 1000], "score": 0.5}]
    assert to_grid({"points": [[-5.0, 60.0]]}, 100, 50) == [{"point_2d": [0, 1000]}]
    json.dumps(out)
    with pytest.raises(ValueError, match="width and height"):
        to_grid({"boxes": [[0, 0, 1, 1]]})


def test_record_maps_the_answer_back_to_the_original_image():
    """The model saw a smart-resized, flipped, padded image; the answer comes back to the original pixels."""
    aug = geoaug.from_config(
        [{"name": "hflip"}, {"name": "smart_resize", "params": {"factor": 32}}, {"name": "pad", "params": {"left": 32}}]
    )
    original = np.zeros((300, 500, 3), np.uint8)
    truth_box = np.array([[50.0, 60, 200, 120]])
    truth_quad = np.array([[[300.0, 100], [450, 100], [450, 150], [300, 150]]])
    res = aug(original, boxes=truth_box, quads=truth_quad, seed=0)
    answer = json.dumps(to_grid(res))  # what a perfect model would answer
    a = parse_answer(answer, *res.size, record=json.loads(json.dumps(res.replay)))
    w, h = res.size
    step = max(w / 1000, h / 1000) / res.matrix[0, 0] * 0.5 + 1e-9  # half a grid step in original pixels
    np.testing.assert_allclose(a.original.boxes.xyxy, truth_box, atol=abs(step))
    np.testing.assert_allclose(a.original.quads.points, truth_quad, atol=abs(step))
    expect = geoaug.inverse(res.replay, boxes=a.boxes, quads=a.quads)
    np.testing.assert_array_equal(a.original.boxes.xyxy, expect.boxes.xyxy)
    pts = parse_answer('[{"point_2d": [500, 500], "label": "c"}]', w, h, record=res.replay).original
    assert pts.points_inside.tolist() == [True] and pts.points.fields["label"] == ["c"]
    with pytest.raises(ValueError, match="output size"):
        parse_answer("[]", w + 1, h, record=res.replay)
