"""geoaug.interop: every error class a public function's Raises section names is raised, by the cause it names.
(The messages naming file, object and field are checked in test_interop.py.)"""

import json

import numpy as np
import pytest

import geoaug
from geoaug import Boxes, GeometryError, ImageError, Lines, Quads
from geoaug.interop import (
    BatchTransform,
    FormatError,
    Sample,
    from_albumentations,
    from_tv_boxes,
    parse_yolo,
    read_coco,
    read_swift,
    read_yolo,
    to_albumentations,
    to_tv_boxes,
    write_coco,
    write_swift,
    write_yolo,
)
from geoaug.interop.box_formats import from_xyxy, to_xyxy

W, H = 64, 48
QUAD = [[[1, 1], [9, 1], [9, 5], [1, 5]]]


def coco(**ann):
    base = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
        "annotations": [{**base, **ann}],
        "categories": [{"id": 1, "name": "a"}],
    }


# ---- read_coco --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "expected a JSON object"),
        ({**coco(), "categories": [{"name": "x"}]}, r"categories\[0\]\.id must be an integer"),
        ({**coco(), "images": [{"id": [1], "width": W, "height": H}]}, "missing, duplicate or unhashable"),
        (coco(image_id=[1]), r"image_id: no image with id \[1\]"),
        (coco(segmentation="rle?"), "expected a list of polygons"),
    ],
)
def test_read_coco_format_errors(doc, message):
    with pytest.raises(FormatError, match=message):
        read_coco(doc)


def test_read_coco_refuses_a_file_that_is_not_utf8_json_or_not_there(tmp_path):
    bad = tmp_path / "latin1.json"
    bad.write_bytes(json.dumps(coco()).replace('"a.png"', '"\xe9.png"').encode("latin-1"))
    with pytest.raises(FormatError, match="latin1.json: not valid JSON"):
        read_coco(bad)
    with pytest.raises(OSError):
        read_coco(tmp_path / "missing.json")


def test_read_coco_policy_errors():
    five = [[1, 1, 9, 1, 9, 5, 5, 8, 1, 5]]
    with pytest.raises(FormatError, match="polygons must be one of"):
        read_coco(coco(), polygons="hull")
    with pytest.raises(FormatError, match="a polygon of 5 points is not a quad"):
        read_coco(coco(segmentation=five), polygons="error")


def test_read_coco_geometry_error_for_a_coordinate_beyond_2_53():
    with pytest.raises(GeometryError, match=r"boxes\[0\]\.x2 .* beyond"):
        read_coco(coco(bbox=[1, 2, 1e300, 4]))


# ---- write_coco -------------------------------------------------------------------------------------
def test_write_coco_errors(tmp_path):
    s = Sample("a.png", W, H, Boxes([[0, 0, 1, 1]], category_id=[1]))
    with pytest.raises(FormatError, match=r"categories\[0\]: expected a mapping with an integer 'id'"):
        write_coco([s], [{"name": "a"}])
    with pytest.raises(FormatError, match="COCO detection has no polylines"):
        write_coco([Sample("a.png", W, H, lines=Lines([[[0, 0], [1, 1]]]))], [])
    with pytest.raises(FormatError, match="COCO images need width and height"):
        write_coco([Sample("a.png", None, None)], [])
    with pytest.raises(FormatError, match=r"category_id: expected an integer, got 'a'"):
        write_coco([Sample("a.png", W, H, Boxes([[0, 0, 1, 1]], category_id=["a"]))], [])
    with pytest.raises(OSError):
        write_coco([s], [{"id": 1, "name": "a"}], tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_coco(
            [Sample("a.png", W, H, Boxes([[0, 0, 1, 1]], category_id=[1], extra=[{"k": object()}]))],
            [],
            tmp_path / "o.json",
        )


def test_write_coco_writes_array_ids_as_json_integers():
    s = Sample("a.png", W, H, Boxes([[0, 0, 1, 1], [1, 1, 2, 2]], category_id=np.array([1, 1]), id=np.array([7, 8])))
    out = json.loads(json.dumps(write_coco([s], [{"id": 1, "name": "a"}])))
    assert [a["id"] for a in out["annotations"]] == [7, 8]


# ---- read_yolo / parse_yolo -------------------------------------------------------------------------
def test_read_yolo_errors(tmp_path):
    with pytest.raises(OSError):
        read_yolo(tmp_path / "missing.txt", (W, H))
    (tmp_path / "bin.txt").write_bytes(b"0 0.5 0.5 0.1 0.1 \xff\xfe\n")
    with pytest.raises(FormatError, match="bin.txt: not UTF-8 text"):
        read_yolo(tmp_path / "bin.txt", (W, H))
    with pytest.raises(FormatError, match="polygons must be one of"):
        read_yolo(tmp_path / "missing.txt", (W, H), polygons="hull")  # checked before the file is opened


def test_parse_yolo_errors():
    with pytest.raises(FormatError, match="polygons must be one of"):
        parse_yolo("", (W, H), polygons="hull")
    with pytest.raises(FormatError, match="yolo line 1: a polygon of 5 points is not a quad"):
        parse_yolo("0 0.1 0.1 0.2 0.1 0.2 0.2 0.15 0.3 0.1 0.2\n", (W, H), polygons="error")
    with pytest.raises(FormatError, match="line 1 field 1: the class must be a non-negative integer, got '-1'"):
        parse_yolo("-1 0.5 0.5 0.1 0.1\n", (W, H))
    with pytest.raises(GeometryError, match="beyond"):
        parse_yolo("0 0.5 0.5 1e300 0.1\n", (W, H))


# ---- write_yolo -------------------------------------------------------------------------------------
def test_write_yolo_errors(tmp_path):
    with pytest.raises(FormatError, match="YOLO labels have no polylines"):
        write_yolo(Sample(None, W, H, lines=Lines([[[0, 0], [1, 1]]])))
    for bad in ("car", -1, 1.5, True):
        with pytest.raises(FormatError, match=r"boxes\[0\]\.class_id must be a non-negative integer"):
            write_yolo(Sample(None, W, H, Boxes([[0, 0, 1, 1]], class_id=[bad])))
    assert write_yolo(Sample(None, W, H, Boxes([[0, 0, 32, 24]], class_id=np.array([2.0])))).startswith("2 ")
    with pytest.raises(OSError):
        write_yolo(Sample(None, W, H, Boxes([[0, 0, 1, 1]], class_id=[0])), tmp_path / "no" / "o.txt")


# ---- read_swift / write_swift -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "record, message",
    [
        (["not", "a", "mapping"], "expected a record mapping"),
        ({"images": ["a.jpg", "b.jpg"]}, "one image per record"),
        ({"objects": {"bbox": [[0, 0, 1, 1]], "image_id": 5}}, r"image_id: every box must belong to image 0"),
        ({"objects": {"bbox": [[0, 0, 1, 1]], "ref": "cat"}}, r"objects\.ref: expected a list"),
        ({"objects": {"bbox": [[5, 0, 1, 1]]}}, r"bbox\[0\]: x2 \(1\) < x1 \(5\)"),
    ],
)
def test_read_swift_format_errors(record, message):
    with pytest.raises(FormatError, match=message):
        read_swift(record)


def test_read_swift_geometry_error_for_a_coordinate_beyond_2_53():
    with pytest.raises(GeometryError, match="beyond"):
        read_swift({"objects": {"bbox": [[0, 0, 1e300, 1]]}})


def test_write_swift_errors():
    with pytest.raises(FormatError, match="ms-swift objects hold boxes only"):
        write_swift(Sample("a.jpg", W, H, quads=Quads(QUAD)))
    norm = Sample("a.jpg", None, None, Boxes([[0, 0, 1, 1]]), meta={"bbox_type": "norm1"})
    with pytest.raises(FormatError, match="the image size is unknown"):
        write_swift(norm)
    refs = Sample("a.jpg", W, H, Boxes([[0, 0, 1, 1]], label=["cat"]))
    with pytest.raises(FormatError, match="2 <ref-object> tags for 1 values"):
        write_swift(refs, messages=[{"role": "user", "content": "<ref-object> <ref-object>"}])


# ---- albumentations ---------------------------------------------------------------------------------
def test_albumentations_errors():
    with pytest.raises(FormatError, match="albumentations format must be one of"):
        to_albumentations(Boxes([[0, 0, 1, 1]]), (W, H), "xywh")
    with pytest.raises(FormatError, match="albumentations format must be one of"):
        from_albumentations([[0, 0, 1, 1]], (W, H), "xywh")
    for bad in ([[0, 0, 1], [0, 0, 1, 1]], [[0, 0, 1, "a"]], [[0, 0, 1]]):
        with pytest.raises(FormatError, match="from_albumentations: expected"):
            from_albumentations(bad, (W, H))
    for bad, fields in (([[0, 0, np.nan, 1]], {}), ([[5, 0, 1, 1]], {}), ([[0, 0, 1, 1]], {"label": [1, 2]})):
        with pytest.raises(GeometryError):
            from_albumentations(bad, (W, H), **fields)
    kept = from_albumentations([[0, 0, 1, 1, 7]], (W, H), label=["a"])  # a label column is dropped
    assert kept.xyxy.tolist() == [[0.0, 0.0, 1.0, 1.0]] and kept.fields["label"] == ["a"]


# ---- box_formats ------------------------------------------------------------------------------------
def test_box_format_errors():
    with pytest.raises(FormatError, match="box format 'ltrb' is not one of"):
        to_xyxy([[0, 0, 1, 1]], "ltrb")
    with pytest.raises(FormatError, match="box format 'ltrb' is not one of"):
        from_xyxy([[0, 0, 1, 1]], "ltrb")
    with pytest.raises(FormatError, match="needs the image size"):
        to_xyxy([[0.5, 0.5, 0.1, 0.1]], "yolo")
    with pytest.raises(FormatError, match="needs the image size"):
        from_xyxy([[0, 0, 1, 1]], "yolo")
    with pytest.raises(FormatError, match=r"expected shape \(N, 4\)"):
        to_xyxy([[0, 0, 1]], "xyxy")
    with pytest.raises(FormatError, match="expected an .N, 4. array of numbers"):
        to_xyxy([[0, 0, 1, "a"]], "xyxy")
    with pytest.raises(FormatError, match=r"expected \(N, 4\) boxes, got 3 numbers"):
        from_xyxy([0, 0, 1], "coco")


# ---- torchvision ------------------------------------------------------------------------------------
def test_torchvision_errors():
    pytest.importorskip("torchvision")
    import torch
    from torchvision import tv_tensors

    with pytest.raises(FormatError, match="expected geoaug Boxes or Quads"):
        to_tv_boxes(Lines([[[0, 0], [1, 1]]]), (W, H))
    with pytest.raises(FormatError, match="expected torchvision BoundingBoxes, got ndarray"):
        from_tv_boxes(np.zeros((1, 4)))
    one = tv_tensors.BoundingBoxes(torch.tensor([1.0, 2, 3, 4]), format="XYXY", canvas_size=(H, W))
    assert from_tv_boxes(one)[0].xyxy.tolist() == [[1.0, 2.0, 3.0, 4.0]]  # torchvision holds one box as (1, 4)
    reversed_box = tv_tensors.BoundingBoxes(torch.tensor([[5.0, 0, 1, 1]]), format="XYXY", canvas_size=(H, W))
    with pytest.raises(GeometryError):
        from_tv_boxes(reversed_box)


# ---- BatchTransform ---------------------------------------------------------------------------------
def test_batch_transform_errors():
    aug = geoaug.Pipeline([{"name": "hflip"}])
    with pytest.raises(FormatError, match="box format 'ltrb'"):
        BatchTransform(aug, box_format="ltrb")
    img = np.zeros((H, W, 3), np.uint8)
    t = BatchTransform(aug, quads="quads")
    with pytest.raises(FormatError, match=r"row 4\.quads: "):
        t({"image": [img], "index": [4], "boxes": [[]], "quads": [[[[0, 0], [1, 0], [1, np.nan], [0, 1]]]]})
    with pytest.raises(FormatError, match=r"row 4\.boxes: "):
        t({"image": [img], "index": [4], "boxes": [[[5, 0, 1, 1]]], "quads": [QUAD]})
    with pytest.raises(ImageError):
        t({"image": [np.zeros((0, 0, 3), np.uint8)], "index": [4], "boxes": [[]], "quads": [[]]})


# ---- AugmentedDataset -------------------------------------------------------------------------------
def test_augmented_dataset_errors(tmp_path):
    pytest.importorskip("torch")
    from geoaug.interop import AugmentedDataset

    img = np.zeros((H, W, 3), np.uint8)
    ds = AugmentedDataset([{"image": img}, 7, {"image": str(tmp_path / "missing.png")}], geoaug.Pipeline([]))
    for bad in (-1, 1.5, "1", None, True):
        with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
            ds.set_epoch(bad)
    with pytest.raises(FormatError, match="item 1: expected a geoaug.interop.Sample or a mapping"):
        ds[1]
    with pytest.raises(FormatError, match=r"item 2\.image: cannot read"):
        ds[2]
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(GeometryError):
        AugmentedDataset([{"image": img, "boxes": [[5, 0, 1, 1]]}], geoaug.Pipeline([]))[0]
