"""geoaug.interop: every converter round-trips (read -> write -> read, tables <-> format), malformed input
names the file/record/object/field, and the torch/HF wrappers seed from (seed, epoch, index)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import geoaug
from geoaug import Boxes, Quads
from geoaug.interop import (
    BatchTransform,
    FormatError,
    Sample,
    from_albumentations,
    parse_yolo,
    read_coco,
    read_swift,
    read_yolo,
    to_albumentations,
    write_coco,
    write_swift,
    write_yolo,
)
from geoaug.interop.polygons import clockwise_from_top_left

W, H = 64, 48
HFLIP = geoaug.from_config([{"name": "hflip"}])


def assert_tables_equal(a, b, atol=0.0):
    assert type(a) is type(b) and len(a) == len(b)
    np.testing.assert_allclose(
        a.xyxy if isinstance(a, Boxes) else a.points, b.xyxy if isinstance(b, Boxes) else b.points, rtol=0, atol=atol
    )
    assert a.fields.keys() == b.fields.keys()
    for k in a.fields:
        assert list(a.fields[k]) == list(b.fields[k]), k


def assert_samples_equal(a, b, atol=0.0):
    assert (a.image, a.width, a.height, a.meta) == (b.image, b.width, b.height, b.meta)
    assert_tables_equal(a.boxes, b.boxes, atol)
    assert_tables_equal(a.quads, b.quads, atol)


# boxes as (x1, y1, x2, y2) on a W x H canvas, with x2 >= x1, y2 >= y1
coords = st.floats(0, 1, allow_nan=False).map(lambda v: round(v, 6))
box_st = st.tuples(coords, coords, coords, coords).map(
    lambda t: [min(t[0], t[2]) * W, min(t[1], t[3]) * H, max(t[0], t[2]) * W, max(t[1], t[3]) * H]
)
quad_st = st.lists(st.tuples(coords, coords).map(lambda p: [p[0] * W, p[1] * H]), min_size=4, max_size=4)


def test_import_pulls_in_neither_torch_nor_albumentations():
    code = (
        "import sys, geoaug, geoaug.interop; "
        "print(sorted(m for m in ('torch', 'albumentations', 'torchvision', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- COCO -------------------------------------------------------------------------------------------
def coco_doc():
    return {
        "info": {"description": "tiny"},
        "images": [
            {"id": 7, "file_name": "a.png", "width": W, "height": H, "license": 1},
            {"id": 8, "file_name": "b.png", "width": 32, "height": 32},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "text"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [1.0, 2.0, 10.0, 20.0], "area": 200.0, "iscrowd": 0},
            {
                "id": 2,
                "image_id": 7,
                "category_id": 2,
                "bbox": [4.0, 4.0, 20.0, 10.0],
                "area": 200.0,
                "iscrowd": 0,
                "segmentation": [[4.0, 4.0, 24.0, 4.0, 24.0, 14.0, 4.0, 14.0]],
                "score": 0.5,
            },
            {
                "id": 3,
                "image_id": 7,
                "category_id": 1,
                "bbox": [30.0, 5.0, 10.0, 10.0],
                "iscrowd": 0,
                "segmentation": [[30.0, 5.0, 40.0, 5.0, 40.0, 15.0, 35.0, 20.0, 30.0, 15.0]],
            },
            {
                "id": 4,
                "image_id": 8,
                "category_id": 1,
                "bbox": [0.0, 0.0, 5.0, 5.0],
                "iscrowd": 1,
                "segmentation": {"counts": "abc", "size": [32, 32]},
            },
        ],
    }


def test_coco_reads_boxes_quads_and_counts_other_polygons():
    data = read_coco(coco_doc(), polygons="box")  # the older policy (the default, "polygon": test_interop_kinds)
    a, b = data.samples
    assert (a.image, a.size, a.meta) == ("a.png", (W, H), {"id": 7, "license": 1})
    np.testing.assert_array_equal(a.boxes.xyxy, [[1, 2, 11, 22], [30, 5, 40, 15]])  # 5-point polygon -> its bbox
    assert a.boxes.fields["id"] == [1, 3] and a.boxes.fields["label"] == ["cat", "cat"]
    np.testing.assert_array_equal(a.quads.points, [[[4, 4], [24, 4], [24, 14], [4, 14]]])
    assert a.quads.fields["extra"] == [{"score": 0.5}] and a.quads.fields["category_id"] == [2]
    assert b.boxes.fields["iscrowd"] == [1]
    assert data.counts == {"polygon_as_box": 2} and a.counts == {"polygon_as_box": 1}
    assert data.info == {"info": {"description": "tiny"}}


def test_coco_polygon_policies():
    skip = read_coco(coco_doc(), polygons="skip")
    assert skip.counts == {"polygon_skipped": 2} and skip.samples[0].boxes.fields["id"] == [1]
    rect = read_coco(coco_doc(), polygons="min_area_rect").samples[0]
    assert rect.quads.fields["id"] == [2, 3]
    q = rect.quads.points[1]
    assert q.min(axis=0).tolist() == pytest.approx([30, 5]) and q.max(axis=0).tolist() == pytest.approx([40, 20])
    assert geoaug.geometry.signed_area(q[None])[0] > 0  # clockwise on screen
    with pytest.raises(FormatError, match=r"annotations\[2\] \(id 3\)\.segmentation: a polygon of 5 points"):
        read_coco(coco_doc(), polygons="error")
    with pytest.raises(FormatError, match="polygons must be one of"):
        read_coco(coco_doc(), polygons="drop")


def test_coco_write_read_round_trip_and_canonical_file_is_reproduced(tmp_path):
    data = read_coco(coco_doc(), polygons="box")
    out = write_coco(data.samples, data.categories, tmp_path / "out.json", info=data.info)
    again = read_coco(tmp_path / "out.json", polygons="box")
    for s, t in zip(data.samples, again.samples):
        assert_samples_equal(s, t)
    assert again.categories == data.categories and again.info == data.info
    # a file already in the written form comes back byte for byte equal
    assert write_coco(again.samples, again.categories, info=again.info) == out
    quad_ann = next(a for a in out["annotations"] if a["id"] == 2)
    assert quad_ann["bbox"] == [4.0, 4.0, 20.0, 10.0] and quad_ann["area"] == 200.0 and quad_ann["score"] == 0.5


@given(st.lists(st.tuples(box_st, st.sampled_from(["cat", "dog"])), max_size=5), st.lists(quad_st, max_size=3))
def test_coco_tables_round_trip(boxes, quads):
    s = Sample(
        "x.png",
        W,
        H,
        Boxes([b for b, _ in boxes] or None, label=[lab for _, lab in boxes]),
        Quads(quads or None, label=["text"] * len(quads)),
    )
    doc = write_coco([s], [{"id": i + 1, "name": n} for i, n in enumerate(["cat", "dog", "text"])])
    assert len(doc["annotations"]) == len(boxes) + len(quads)
    back = read_coco(json.loads(json.dumps(doc)), polygons="box").samples[0]
    np.testing.assert_allclose(back.boxes.xyxy, s.boxes.xyxy, atol=1e-9)
    assert back.boxes.fields["label"] == s.boxes.fields["label"]
    np.testing.assert_allclose(back.quads.points, s.quads.points, atol=1e-9)
    assert back.quads.fields["label"] == s.quads.fields["label"]
    assert back.boxes.fields["id"] + back.quads.fields["id"] == list(range(1, len(boxes) + len(quads) + 1))


def test_coco_augment_then_write_moves_boxes_and_keeps_ids():
    s = read_coco(coco_doc(), polygons="box").samples[0]
    res = s.augment(HFLIP, np.zeros((H, W, 3), np.uint8), seed=0)
    out = write_coco([s.with_result(res)])
    by_id = {a["id"]: a for a in out["annotations"]}
    assert by_id[1]["bbox"] == [W - 11.0, 2.0, 10.0, 20.0]
    assert by_id[2]["segmentation"][0][:2] == [W - 24.0, 4.0]  # hflip re-orders the quad to start top-left
    assert {c["name"] for c in out["categories"]} == {"cat", "text"}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["annotations"][0].update(bbox=[1, 2, "x", 4]),
            r"annotations\[0\] \(id 1\)\.bbox: expected a list of finite",
        ),
        (
            lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4]),
            r"annotations\[0\] \(id 1\)\.bbox: width and height",
        ),
        (
            lambda d: d["annotations"][1].update(image_id=99),
            r"annotations\[1\] \(id 2\)\.image_id: no image with id 99",
        ),
        (lambda d: d["annotations"][1].update(category_id=5), r"annotations\[1\] \(id 2\)\.category_id: 5"),
        (
            lambda d: d["annotations"][1].update(segmentation=[[1, 2, 3]]),
            r"annotations\[1\] \(id 2\)\.segmentation\[0\]: a polygon needs an even",
        ),
        (lambda d: d["images"][1].update(width=0), r"images\[1\]\.width: expected a positive integer"),
        (lambda d: d["images"][1].update(id=7), r"images\[1\]\.id: missing, duplicate or unhashable"),
        (lambda d: d.pop("annotations"), r"'annotations' must be a list"),
    ],
)
def test_coco_errors_name_file_object_and_field(tmp_path, mutate, message):
    doc = coco_doc()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="bad.json: " + message):
        read_coco(path)


def test_coco_writer_errors():
    s = Sample("a.png", W, H, Boxes([[0, 0, 1, 1], [2, 2, 3, 3]], id=[3, 3]), meta={})
    with pytest.raises(FormatError, match=r"needs a 'category_id' or 'label'"):
        write_coco([s], [])
    s.boxes.fields["category_id"] = [1, 1]
    with pytest.raises(FormatError, match=r"samples\[0\]\.boxes\[1\]\.id: annotation id 3 is used twice"):
        write_coco([s], [{"id": 1, "name": "a"}])
    with pytest.raises(FormatError, match=r"label\: 'zebra' is not among the categories"):
        write_coco([Sample("a.png", W, H, Boxes([[0, 0, 1, 1]], label=["zebra"]))], [{"id": 1, "name": "a"}])


# ---- YOLO -------------------------------------------------------------------------------------------
YOLO_TEXT = (
    "0 0.500000 0.500000 0.250000 0.500000\n"
    "1 0.100000 0.100000 0.300000 0.100000 0.300000 0.200000 0.100000 0.200000\n"
    "2 0.1 0.1 0.2 0.1 0.2 0.2 0.15 0.3 0.1 0.2\n"
)


def test_yolo_reads_boxes_obb_quads_and_counts_polygons(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(YOLO_TEXT)
    s = read_yolo(path, (W, H), names=["car", "sign", "blob"], image="a.png")
    np.testing.assert_allclose(s.boxes.xyxy, [[24, 12, 40, 36], [6.4, 4.8, 12.8, 14.4]])
    np.testing.assert_allclose(s.quads.points, [[[6.4, 4.8], [19.2, 4.8], [19.2, 9.6], [6.4, 9.6]]])
    assert s.boxes.fields == {"class_id": [0, 2], "label": ["car", "blob"]}
    assert s.quads.fields == {"class_id": [1], "label": ["sign"]}
    assert s.counts == {"polygon_as_box": 1} and s.image == "a.png"
    assert parse_yolo(YOLO_TEXT, (W, H), polygons="skip").counts == {"polygon_skipped": 1}


def test_yolo_text_round_trip_is_exact_at_six_decimals():
    text = YOLO_TEXT.splitlines()
    canonical = "\n".join([text[0], text[1]]) + "\n"
    s = parse_yolo(canonical, (W, H))
    assert write_yolo(s) == canonical
    assert_samples_equal(parse_yolo(write_yolo(s), (W, H)), s, atol=1e-9)


@given(st.lists(st.tuples(box_st, st.integers(0, 5)), max_size=5), st.lists(quad_st, max_size=3))
def test_yolo_tables_round_trip(boxes, quads):
    s = Sample(
        None,
        W,
        H,
        Boxes([b for b, _ in boxes] or None, class_id=[c for _, c in boxes]),
        Quads(quads or None, class_id=[4] * len(quads)),
    )
    back = parse_yolo(write_yolo(s, precision=None), (W, H))
    assert_tables_equal(back.boxes, s.boxes, atol=1e-9)
    assert_tables_equal(back.quads, s.quads, atol=1e-9)


def test_yolo_writes_classes_from_labels_and_names(tmp_path):
    s = Sample(None, W, H, Boxes([[0, 0, 32, 24]], label=["dog"]))
    assert write_yolo(s, tmp_path / "o.txt", names={3: "dog"}) == "3 0.250000 0.250000 0.500000 0.500000\n"
    assert (tmp_path / "o.txt").read_text().startswith("3 ")
    with pytest.raises(FormatError, match="need a 'class_id' field"):
        write_yolo(s)
    with pytest.raises(FormatError, match="label 'dog' is not in names"):
        write_yolo(s, names=["cat"])
    with pytest.raises(FormatError, match="image size is unknown"):
        write_yolo(Sample(None, None, None))


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 0.5 0.5 0.1\n", r"line 1: expected class and 4"),
        ("\n0 0.5 0.5 0.1 nan\n", r"line 2 field 5: expected a finite number, got 'nan'"),
        ("a 0.5 0.5 0.1 0.1\n", r"line 1 field 1: the class must be a non-negative integer, got 'a'"),
        ("0 0.5 0.5 -0.1 0.1\n", r"line 1: box width and height must be >= 0"),
        ("7 0.5 0.5 0.1 0.1\n", r"line 1 field 1: class 7 has no entry in names"),
    ],
)
def test_yolo_errors_name_file_line_and_field(tmp_path, text, message):
    path = tmp_path / "lbl.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match="lbl.txt " + message):
        read_yolo(path, (W, H), names=["a"])


# ---- ms-swift ---------------------------------------------------------------------------------------
def swift_record():
    return {
        "messages": [
            {"role": "user", "content": "<image>Find <ref-object> and <ref-object>"},
            {"role": "assistant", "content": "<bbox><bbox>"},
        ],
        "images": ["img.jpg"],
        "objects": {"ref": ["cat", "dog"], "bbox": [[1, 2, 11, 12], [20, 5, 30, 25]]},
    }


def test_swift_record_round_trip():
    rec = swift_record()
    s = read_swift(rec)
    np.testing.assert_array_equal(s.boxes.xyxy, [[1, 2, 11, 12], [20, 5, 30, 25]])
    assert s.boxes.fields == {"label": ["cat", "dog"]} and s.image == "img.jpg" and s.size is None
    assert write_swift(s) == {
        **rec,
        "objects": {"ref": ["cat", "dog"], "bbox": [[1.0, 2.0, 11.0, 12.0], [20.0, 5.0, 30.0, 25.0]]},
    }
    assert_samples_equal(read_swift(write_swift(s)), s)


def test_swift_norm1_boxes_use_the_image_size():
    rec = swift_record()
    rec["objects"] = {"ref": ["cat"], "bbox": [[0.25, 0.5, 0.5, 1.0]], "bbox_type": "norm1"}
    rec["messages"][1]["content"] = "<bbox>"
    rec["messages"][0]["content"] = "<image><ref-object>"
    s = read_swift(rec, (W, H))
    np.testing.assert_allclose(s.boxes.xyxy, [[16, 24, 32, 48]])
    assert write_swift(s)["objects"] == rec["objects"]
    with pytest.raises(FormatError, match=r"bbox_type: 'norm1' boxes need size"):
        read_swift(rec)


@given(st.lists(box_st, max_size=5))
def test_swift_tables_round_trip(boxes):
    s = Sample(
        "i.png",
        None,
        None,
        Boxes(boxes or None, label=[f"o{i}" for i in range(len(boxes))]),
        meta={"record": {"messages": []}, "bbox_type": "real"},
    )
    assert_samples_equal(read_swift(write_swift(s)), s)


def test_swift_refuses_stale_tags_after_augmentation_drops_a_box():
    s = read_swift(swift_record(), (W, H))
    crop = geoaug.from_config([{"name": "crop", "params": {"x": 0, "y": 0, "width": 16, "height": 16}}])
    res = s.augment(crop, np.zeros((H, W, 3), np.uint8))
    assert len(res.boxes) == 1
    with pytest.raises(FormatError, match=r"2 <bbox> tags for 1 values"):
        write_swift(s.with_result(res))
    rec = write_swift(s.with_result(res), messages=[{"role": "assistant", "content": "<ref-object><bbox>"}])
    assert rec["objects"] == {"ref": ["cat"], "bbox": [[1.0, 2.0, 11.0, 12.0]]}


@pytest.mark.parametrize(
    "objects, message",
    [
        ({"bbox": [[1, 2, 3]]}, r"rec\.objects\.bbox\[0\]: expected 4 numbers"),
        ({"bbox": [[1, 2]]}, r"rec\.objects\.bbox\[0\]: a point"),
        ({"bbox": [[5, 2, 3, 4]]}, r"rec\.objects\.bbox\[0\]: x2 \(3\) < x1 \(5\)"),
        ({"bbox": [[1, 2, 3, 4]], "bbox_type": "norm1000"}, r"rec\.objects\.bbox_type: expected one of"),
        ({"bbox": [[1, 2, 3, 4]], "image_id": [1]}, r"rec\.objects\.image_id"),
        ({"bbox": [], "polygon": []}, r"rec\.objects: unknown keys \['polygon'\]"),
    ],
)
def test_swift_errors_name_record_and_field(objects, message):
    with pytest.raises(FormatError, match=message):
        read_swift({"messages": [], "images": ["a.png"], "objects": objects}, where="rec")


# ---- albumentations box arrays (pure layout; the cross-check against albumentations needs torch) ------
@pytest.mark.parametrize("fmt", ["pascal_voc", "coco", "yolo", "albumentations"])
@given(boxes=st.lists(box_st, max_size=6))
def test_albumentations_arrays_round_trip(fmt, boxes):
    b = Boxes(boxes or None, label=list(range(len(boxes))))
    arr = to_albumentations(b, (W, H), fmt)
    assert arr.shape == (len(boxes), 4)
    assert_tables_equal(from_albumentations(arr, (W, H), fmt, **b.fields), b, atol=1e-9)


@pytest.mark.train
@pytest.mark.parametrize("fmt", ["pascal_voc", "coco", "yolo"])
def test_albumentations_hflip_agrees_with_geoaug(fmt):
    A = pytest.importorskip("albumentations")
    boxes = Boxes([[1, 2, 11, 12], [20.5, 5, 63, 47.5]], label=["a", "b"])
    img = np.zeros((H, W, 3), np.uint8)
    t = A.Compose([A.HorizontalFlip(p=1)], bbox_params=A.BboxParams(format=fmt, label_fields=["label"]))
    out = t(image=img, bboxes=to_albumentations(boxes, (W, H), fmt), **boxes.fields)
    theirs = from_albumentations(out["bboxes"], (W, H), fmt, label=list(out["label"]))
    assert_tables_equal(theirs, HFLIP(img, boxes=boxes).boxes, atol=1e-4)  # albumentations works in float32


# ---- torchvision ------------------------------------------------------------------------------------
@pytest.mark.train
def test_torchvision_round_trip_and_hflip_agree():
    pytest.importorskip("torchvision")
    from torchvision.transforms.v2 import functional as F

    from geoaug.interop import from_tv_boxes, to_tv_boxes

    boxes = Boxes([[1, 2, 11, 12], [20.5, 5, 63, 47.5]], label=["a", "b"])
    quads = Quads([[[4, 4], [24, 6], [22, 14], [3, 12]]], label=["t"])
    img = np.zeros((H, W, 3), np.uint8)
    ours = HFLIP(img, boxes=boxes, quads=quads)
    for table, flipped in ((boxes, ours.boxes), (quads, ours.quads)):
        bb = to_tv_boxes(table, (W, H), dtype=__import__("torch").float64)
        assert bb.canvas_size == (H, W) and bb.format.name == ("XYXY" if table is boxes else "XYXYXYXY")
        back, size = from_tv_boxes(bb, **table.fields)
        assert size == (W, H)
        assert_tables_equal(back, table)
        theirs, _ = from_tv_boxes(F.horizontal_flip(bb), **table.fields)
        if table is quads:  # same corners; geoaug's order is clockwise from the top-left
            theirs = Quads([clockwise_from_top_left(q) for q in theirs.points], **table.fields)
        assert_tables_equal(theirs, flipped, atol=1e-9)
    cx, _ = from_tv_boxes(F.convert_bounding_box_format(to_tv_boxes(boxes, (W, H)), new_format="CXCYWH"))
    np.testing.assert_allclose(cx.xyxy, boxes.xyxy, atol=1e-5)


# ---- torch Dataset ----------------------------------------------------------------------------------
RANDOM_AUG = geoaug.from_config(
    [{"name": "rotate", "params": {"max_deg": 30}}, {"name": "color_jitter", "params": {"brightness": 0.3}}]
)


def _image(i):
    return (np.arange(H * W * 3).reshape(H, W, 3) * (i + 3) % 251).astype(np.uint8)


@pytest.mark.train
def test_augmented_dataset_is_independent_of_workers_and_follows_set_epoch(tmp_path):
    torch = pytest.importorskip("torch")
    from PIL import Image

    from geoaug.interop import AugmentedDataset

    samples = []
    for i in range(4):
        Image.fromarray(_image(i)).save(tmp_path / f"{i}.png")
        samples.append(Sample(f"{i}.png", W, H, Boxes([[4, 4, 20 + i, 30]], label=[f"b{i}"]), meta={"id": i}))
    ds = AugmentedDataset(samples, RANDOM_AUG, seed=5, image_root=tmp_path)

    def run(workers, persistent=False, epochs=(0,)):
        dl = torch.utils.data.DataLoader(
            ds, batch_size=2, num_workers=workers, collate_fn=list, persistent_workers=persistent
        )
        out = []
        for e in epochs:
            ds.set_epoch(e)
            out.append(
                [
                    (
                        it["index"],
                        it["image"].tobytes(),
                        it["boxes"].xyxy.tobytes(),
                        it["boxes"].fields["label"],
                        it["meta"],
                    )
                    for batch in dl
                    for it in batch
                ]
            )
        return out

    solo = run(0, epochs=(0, 1))
    assert solo[0] != solo[1]  # a new epoch draws anew
    assert [r[3] for r in solo[0]] == [["b0"], ["b1"], ["b2"], ["b3"]] and solo[0][2][4] == {"id": 2}
    assert run(2, persistent=True, epochs=(0, 1)) == solo  # epoch reaches workers that already exist
    item = ds[3]
    assert item["seed"] == geoaug.sample_seed(5, 1, 3)
    assert item["image"].tobytes() == RANDOM_AUG(_image(3), boxes=samples[3].boxes, seed=item["seed"]).image.tobytes()
    with pytest.raises(FormatError, match=r"item 0: has no 'image' key"):
        AugmentedDataset([{"boxes": []}], RANDOM_AUG)[0]


# ---- Hugging Face datasets transform ----------------------------------------------------------------
def hf_batch(rows):
    return {
        "index": rows,
        "image": [_image(i) for i in rows],
        "boxes": [[[4, 4, 20, 30], [40, 10, 60, 40]] for _ in rows],
        "label": [["a", "b"] for _ in rows],
        "caption": [f"c{i}" for i in rows],
    }


def test_batch_transform_seeds_by_index_not_batch_and_filters_fields():
    t = BatchTransform(RANDOM_AUG, seed=3, fields=("label",))
    together = t(hf_batch([0, 1, 2]))
    alone = t(hf_batch([2]))
    assert together["image"][2].tobytes() == alone["image"][0].tobytes()
    assert together["boxes"][2] == alone["boxes"][0] and together["caption"] == ["c0", "c1", "c2"]
    assert together["image"][0].tobytes() != together["image"][1].tobytes()  # rows draw differently
    t.set_epoch(1)
    assert t(hf_batch([2]))["image"][0].tobytes() != alone["image"][0].tobytes()
    left_half = geoaug.from_config([{"name": "crop", "params": {"x": 0, "y": 0, "width": 32, "height": 48}}])
    crop = BatchTransform(left_half, fields=("label",), box_format="coco")
    out = crop(
        {"index": [0], "image": [_image(0)], "boxes": [[[4, 4, 16, 26], [40, 10, 20, 30]]], "label": [["a", "b"]]}
    )
    assert out["boxes"] == [[[4.0, 4.0, 16.0, 26.0]]] and out["label"] == [["a"]]
    with pytest.raises(FormatError, match=r"no column 'index' \(add it"):
        t({"image": [], "boxes": [], "label": []})
    with pytest.raises(FormatError, match=r"row 0\.boxes: expected shape \(N, 4\)"):
        t({"index": [0], "image": [_image(0)], "boxes": [[[1, 2, 3]]], "label": [["a"]]})


@pytest.mark.train
def test_examples_run(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("datasets")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    for name in ("hf_datasets_with_transform.py", "torch_dataloader.py"):
        r = subprocess.run(
            [sys.executable, f"examples/{name}"], capture_output=True, text=True, timeout=120, cwd=str(root), env=env
        )
        assert r.returncode == 0, r.stderr
        assert "ok" in r.stdout.splitlines()[-1]


@pytest.mark.train
def test_swift_accepts_written_records_unchanged():
    pytest.importorskip("swift")
    from swift.dataset.preprocessor.core import RowPreprocessor

    row = write_swift(read_swift(swift_record()))
    before = json.loads(json.dumps(row))
    RowPreprocessor._check_objects(row)  # ms-swift's own check re-orders keys and swaps reversed corners
    assert row == before
