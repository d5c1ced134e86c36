"""geoaug.tta.predict_tta with a perfect predictor: it finds solid colour rectangles in whatever view it
is given, so every prediction mapped back must land on the truth."""

import numpy as np
import pytest

import geoaug
from geoaug.tta import predict_tta

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
TRUTH = {"red": [20, 10, 60, 30], "green": [70, 40, 110, 90], "blue": [5, 60, 40, 95]}


def scene():
    img = np.zeros((100, 130, 3), np.uint8)
    for name, (x1, y1, x2, y2) in TRUTH.items():
        img[y1:y2, x1:x2] = COLOURS[name]
    return img


def perfect_predictor(img):
    """Boxes (pixel edges) and quads (clockwise from the top-left) of every colour's pixels."""
    boxes, quads, labels = [], [], []
    for name, c in COLOURS.items():
        near = np.abs(img.astype(int) - c).max(axis=2) < 128  # a pixel at least half covered
        ys, xs = np.nonzero(near)
        if len(xs):
            x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            boxes.append([x1, y1, x2, y2])
            quads.append([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
            labels.append(name)
    return {
        "boxes": np.array(boxes, float),
        "quads": np.array(quads, float),
        "boxes_label": labels,
        "quads_label": labels,
    }


AUG = [
    {"name": "hflip", "params": {"prob": 0.5}},
    {"name": "vflip", "params": {"prob": 0.5}},
    {"name": "rot90"},
    {"name": "resize", "params": {"longest": 210}},
    {"name": "pad", "params": {"left": 7, "top": 3}},
    {"name": "pad_to_multiple", "params": {"multiple": 32}},
]


def test_perfect_predictor_maps_back_within_a_pixel():
    out = predict_tta(perfect_predictor, scene(), AUG, n=8, seed=0)
    assert len(out.views) == 8 and len(out.boxes) == 24 and len(out.quads) == 24
    assert sorted(set(out.boxes.fields["view"])) == list(range(8))
    # the views really differ: several canvas sizes and matrices
    assert len({tuple(np.round(r.matrix, 6).ravel()) for r in out.augmented}) > 2
    for xyxy, label in zip(out.boxes.xyxy, out.boxes.fields["label"]):
        np.testing.assert_allclose(xyxy, TRUTH[label], atol=1.0)
    for pts, label in zip(out.quads.points, out.quads.fields["label"]):
        x1, y1, x2, y2 = TRUTH[label]
        # a quad's first point turns with the view (rot90 keeps the predictor's "top-left" of the view,
        # which is another corner of the original): same corners, same clockwise order, any start
        truth = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], float)
        start = int(np.argmin(np.hypot(*(truth - pts[0]).T)))
        np.testing.assert_allclose(pts, np.roll(truth, -start, axis=0), atol=1.0)
    for view in out.views:  # per view, in the original frame too
        assert view.size == (130, 100) and view.boxes.fields["label"] == ["red", "green", "blue"]


def test_rotated_views_give_boxes_around_the_truth():
    aug = [{"name": "rotate", "params": {"max_deg": 20, "expand": True}}]
    out = predict_tta(perfect_predictor, scene(), aug, n=4, seed=1)
    for pts, label in zip(out.quads.points, out.quads.fields["label"]):
        x1, y1, x2, y2 = TRUTH[label]
        # the predicted rectangle is the rotated object's enclosing box: it contains the truth
        assert pts[:, 0].min() <= x1 + 1 and pts[:, 0].max() >= x2 - 1
        assert pts[:, 1].min() <= y1 + 1 and pts[:, 1].max() >= y2 - 1


def test_prediction_forms_and_fields():
    img = scene()

    def predict(view):
        return {"boxes": [[0, 0, 10, 10], [5, 5, 20, 20]], "labels": ["a", "b"], "scores": [0.9, 0.1]}

    out = predict_tta(predict, img, geoaug.from_config([{"name": "hflip"}]), n=2, include_original=True)
    assert out.boxes.fields["view"] == [-1, -1, 0, 0, 1, 1]
    assert out.boxes.fields["score"] == [0.9, 0.1] * 3 and out.boxes.fields["label"] == ["a", "b"] * 3
    np.testing.assert_allclose(out.boxes.xyxy[:2], [[0, 0, 10, 10], [5, 5, 20, 20]])
    np.testing.assert_allclose(out.boxes.xyxy[2], [120, 0, 130, 10])  # mirrored back

    # a result-like prediction (e.g. a parsed Qwen answer) works as is
    def qwen_like(view):
        h, w = view.shape[:2]
        return geoaug.qwen.parse_answer('[{"bbox_2d": [0, 0, 500, 500], "label": "q"}]', w, h)

    out = predict_tta(qwen_like, img, [{"name": "hflip"}], n=1)
    np.testing.assert_allclose(out.boxes.xyxy, [[65, 0, 130, 50]])
    with pytest.raises(geoaug.GeometryError, match="unknown key 'bbox'"):
        predict_tta(lambda v: {"bbox": []}, img, [{"name": "hflip"}], n=1)
    with pytest.raises(geoaug.GeometryError, match="2 values for 1 boxes"):
        predict_tta(lambda v: {"boxes": [[0, 0, 1, 1]], "labels": ["a", "b"]}, img, [{"name": "hflip"}], n=1)
