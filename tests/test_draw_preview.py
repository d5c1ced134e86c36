"""geoaug.draw and the `geoaug preview` / `geoaug ops` commands."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

import geoaug
from geoaug.cli import main
from geoaug.draw import PALETTE, distinct_colours, label_colour
from geoaug.preview import SAMPLES_DIR, caption, read_samples


# ---- draw -------------------------------------------------------------------------------------------
def test_draw_keeps_the_kind_of_image():
    arr = np.zeros((40, 60, 3), np.uint8)
    out = geoaug.draw(arr, boxes=[[5, 5, 20, 20]])
    assert isinstance(out, np.ndarray) and out.shape == (40, 60, 3) and out.dtype == np.uint8
    assert arr.max() == 0  # the input is not drawn on
    pil = geoaug.draw(Image.fromarray(arr), boxes=[[5, 5, 20, 20]])
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (60, 40)
    grey16 = geoaug.draw(np.full((40, 60), 65535, np.uint16), lines=[[[0, 0], [60, 40]]])
    assert grey16.shape == (40, 60, 3) and grey16.dtype == np.uint8 and grey16[0, 59].tolist() == [255] * 3


def test_box_edges_sit_on_the_box_pixels():
    out = geoaug.draw(np.zeros((50, 50, 3), np.uint8), boxes=[[10, 10, 30, 20]], thickness=1, show_labels=False)
    lit = out.max(axis=2) > 100
    # the outline is centred on the box edges, which lie between pixels: x=10 between columns 9 and 10
    assert np.nonzero(lit[15])[0].tolist() == [9, 10, 29, 30]
    assert np.nonzero(lit[:, 20])[0].tolist() == [9, 10, 19, 20]
    assert not out[15, 20].any() and not out[40, 40].any()


def test_colour_per_label_is_stable_and_drawn():
    assert label_colour("cat") == label_colour("cat") and label_colour("cat") in PALETTE
    out = geoaug.draw(
        np.zeros((60, 60, 3), np.uint8),
        boxes=geoaug.Boxes([[10, 10, 50, 50]], label=["cat"]),
        thickness=5,
        show_labels=False,
    )
    assert tuple(out[30, 10]) == label_colour("cat")
    given = geoaug.draw(
        np.zeros((60, 60, 3), np.uint8),
        boxes=[[10, 10, 50, 50]],
        labels=["cat"],
        thickness=5,
        show_labels=False,
        colours={"cat": (1, 2, 3)},
    )
    assert tuple(given[30, 10]) == (1, 2, 3)
    cols = distinct_colours(["b", "a", "c", "a"])
    assert cols == distinct_colours(["c", "b", "a"]) and len(set(cols.values())) == 3


def test_labels_drawn_as_text_and_first_quad_point_marked():
    img = np.zeros((120, 160, 3), np.uint8)
    quad = [[40, 40], [120, 40], [120, 100], [40, 100]]
    plain = geoaug.draw(img, quads=[quad], thickness=1)
    assert plain[41, 41].any() and not plain[98, 118].any()  # dot at the first point, none at the third
    tagged = geoaug.draw(img, quads=geoaug.Quads([quad], label=["EXIT"]), thickness=1)
    assert (tagged != plain).any(axis=2)[20:40, 35:100].sum() > 30  # a tag above the first point


def test_draw_label_errors_name_the_problem():
    with pytest.raises(geoaug.GeometryError, match="one label per object"):
        geoaug.draw(np.zeros((9, 9, 3), np.uint8), boxes=[[1, 1, 2, 2]], labels=["a", "b"])
    with pytest.raises(geoaug.GeometryError, match="ambiguous"):
        geoaug.draw(np.zeros((9, 9, 3), np.uint8), boxes=[[1, 1, 2, 2]], lines=[[[0, 0], [3, 3]]], labels=["a"])
    with pytest.raises(geoaug.GeometryError, match="points"):
        geoaug.draw(np.zeros((9, 9, 3), np.uint8), points=[1, 2, 3])


# ---- preview ----------------------------------------------------------------------------------------
def test_bundled_samples_are_small_and_valid():
    files = [p for p in SAMPLES_DIR.iterdir() if p.suffix in (".jpg", ".png", ".jsonl")]
    assert sum(p.stat().st_size for p in files) < 300_000
    samples = read_samples(SAMPLES_DIR / "samples.jsonl")
    assert len(samples) == 2
    kinds = {k for s in samples for k in ("boxes", "quads", "lines") if len(getattr(s, k))}
    assert kinds == {"boxes", "quads", "lines"}
    for s in samples:  # every object lies on its image
        h, w = s.image.shape[:2]
        pts = np.concatenate([s.boxes.xyxy.reshape(-1, 2), s.quads.points.reshape(-1, 2)] + s.lines.points)
        assert pts.min() >= 0 and (pts[:, 0] <= w).all() and (pts[:, 1] <= h).all()


def test_preview_with_no_arguments_uses_bundled_samples(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["preview", "--out", str(out), "--n", "4"]) == 0
    sheet = Image.open(out)
    assert sheet.size[0] > 300 and sheet.size[1] > 300
    assert "4 views" in capsys.readouterr().out
    assert main(["preview", "--example", "--out", str(tmp_path / "b.png"), "--n", "2", "--quiet"]) == 0


def test_preview_same_seed_same_sheet(tmp_path):
    a, b, c = (tmp_path / f"{k}.png" for k in "abc")
    for path, seed in ((a, 5), (b, 5), (c, 6)):
        main(["preview", "seed", "--out", str(path), "--n", "3", "--seed", str(seed), "--quiet"])
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert not np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(c)))


def test_preview_takes_a_training_config_and_a_plain_image(tmp_path):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "model": {"name": "x"},
                "custom": {"augmentation": {"enabled": True, "ops": [{"name": "rotate", "params": {"max_deg": 10}}]}},
            }
        )
    )
    img = tmp_path / "im.png"
    Image.fromarray(np.full((30, 40, 3), 128, np.uint8)).save(img)
    assert main(["preview", str(cfg), str(img), "--out", str(tmp_path / "o.png"), "--n", "2", "--quiet"]) == 0


@pytest.mark.parametrize(
    "obj, field",
    [
        ({"label": "EXIT", "quad": [[0, 0], [1, 0], [1, 1]]}, "objects[1].quad"),
        ({"label": "cat", "bbox": [5, 5, 1, 1]}, "objects[1].bbox"),
        ({"label": "", "bbox": [1, 1, 5, 5]}, "objects[1].label"),
        ({"label": "lane", "line": [[0, 0], ["a", 1]]}, "objects[1].line[1]"),
        ({"label": "x"}, "objects[1]: needs exactly one"),
    ],
)
def test_bad_record_names_line_and_field(tmp_path, capsys, obj, field):
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "a.png")
    good = {"image": "a.png", "objects": [{"label": "cat", "bbox": [1, 1, 5, 5]}]}
    bad = {"image": "a.png", "objects": [good["objects"][0], obj]}
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    assert main(["preview", "seed", str(data), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert f"d.jsonl:3.{field}" in err and "Traceback" not in err


def test_missing_image_and_bad_json_are_clear(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"image": "nope.jpg", "objects": []}) + "\n")
    assert main(["preview", "seed", str(data), "--out", str(tmp_path / "o.png")]) == 2
    assert "d.jsonl:1: field 'image': file not found" in capsys.readouterr().err
    data.write_text("{not json\n")
    assert main(["preview", "seed", str(data), "--out", str(tmp_path / "o.png")]) == 2
    assert "d.jsonl:1: not valid JSON" in capsys.readouterr().err


def test_caption_lists_each_drawn_parameter():
    aug = geoaug.from_config([{"name": "rotate", "params": {"max_deg": 30}}, {"name": "gaussian_noise"}])
    res = aug(np.zeros((20, 20, 3), np.uint8), seed=1)
    angle = res.replay["steps"][0]["draw"]["angle"]
    lines = caption(res)
    assert lines[0] == f"rotate angle={angle:.3g}" and lines[1].startswith("gaussian_noise std=")
    assert "seed" not in lines[1]


def test_ops_lists_the_registry(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in geoaug.available_ops())
    assert main(["ops", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hflip"]["kind"] == "geometric"
