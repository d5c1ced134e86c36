"""geoaug.interop carries keypoints, polygons and masks both ways: COCO (segmentation polygons, RLE, keypoints,
rows joined by id), albumentations and torchvision (keypoints on their pixel-index frame, checked side by side
with their own flips), Hugging Face BatchTransform columns, and Sample.augment / with_result."""

import json

import numpy as np
import pytest

import geoaug
from geoaug import Boxes, Masks, Points, Polygons, Quads, rle
from geoaug.interop import (
    BatchTransform,
    FormatError,
    Sample,
    from_albumentations_keypoints,
    from_albumentations_masks,
    read_coco,
    to_albumentations_keypoints,
    to_albumentations_masks,
    write_coco,
)

W, H = 64, 48
HFLIP = geoaug.from_config([{"name": "hflip"}])
JOINTS = ["nose", "left_eye", "right_eye"]


def _mask():
    m = np.zeros((H, W), np.uint8)
    m[10:20, 30:45] = 1
    m[25:30, 5:8] = 1
    return m


def kinds_doc():
    m = _mask()
    return {
        "info": {"description": "kinds"},
        "images": [
            {"id": 1, "file_name": "a.png", "width": W, "height": H},
            {"id": 2, "file_name": "b.png", "width": W, "height": H},
        ],
        "categories": [
            {"id": 1, "name": "person", "keypoints": JOINTS, "skeleton": [[1, 2], [1, 3]]},
            {"id": 2, "name": "cat"},
        ],
        "annotations": [
            {  # two polygon parts and keypoints (one unlabelled)
                "id": 11,
                "image_id": 1,
                "category_id": 1,
                "bbox": [2, 3, 30, 20],
                "area": 100,
                "iscrowd": 0,
                "segmentation": [[2, 3, 20, 3, 20, 15], [25, 10, 32, 10, 32, 23, 25, 23]],
                "keypoints": [10, 12, 2, 8, 10, 1, 0, 0, 0],
                "num_keypoints": 2,
                "score": 0.9,
            },
            {  # a 4-point polygon: a polygon under "polygon", a quad under the older policies
                "id": 12,
                "image_id": 1,
                "category_id": 1,
                "bbox": [40, 30, 10, 8],
                "iscrowd": 0,
                "segmentation": [[40, 30, 50, 30, 50, 38, 40, 38]],
                "keypoints": [45, 33, 2, 43, 32, 2, 47, 32, 2],
                "num_keypoints": 3,
            },
            {  # uncompressed RLE, a crowd
                "id": 13,
                "image_id": 1,
                "category_id": 2,
                "bbox": [5, 10, 40, 20],
                "iscrowd": 1,
                "segmentation": rle.encode(m, compressed=False),
            },
            {"id": 14, "image_id": 1, "category_id": 2, "bbox": [1, 1, 5, 5], "iscrowd": 0},  # a box only
            {  # compressed RLE (a string, as pycocotools writes it)
                "id": 21,
                "image_id": 2,
                "category_id": 2,
                "bbox": [0, 0, 10, 10],
                "iscrowd": 0,
                "segmentation": rle.encode(m[::-1].copy()),
            },
        ],
    }


def assert_table_equal(a, b):
    assert type(a) is type(b) and len(a) == len(b), (a, b)
    if isinstance(a, Boxes):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
    elif isinstance(a, Quads):
        np.testing.assert_array_equal(a.points, b.points)
    elif isinstance(a, Polygons):
        np.testing.assert_array_equal(a.flat, b.flat)
        np.testing.assert_array_equal(a.offsets, b.offsets)
    elif isinstance(a, Masks):
        assert a.type == b.type
        np.testing.assert_array_equal(a.stack, b.stack)
    else:
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.flags, b.flags)
        assert (a.names, a.flip_pairs) == (b.names, b.flip_pairs)
    assert a.fields.keys() == b.fields.keys()
    for k in a.fields:
        assert list(a.fields[k]) == list(b.fields[k]), k


def assert_samples_equal(a, b):
    assert (a.image, a.size, a.meta) == (b.image, b.size, b.meta)
    for kind in ("boxes", "quads", "lines", "points", "polygons", "masks"):
        if kind != "lines":
            assert_table_equal(getattr(a, kind), getattr(b, kind))


# ---- COCO: reading -------------------------------------------------------------------------------------
def test_coco_reads_polygons_rle_masks_keypoints_and_boxes_by_default():
    data = read_coco(kinds_doc())
    a, b = data.samples
    assert data.counts == {} and len(a.quads) == 0
    # every annotation's bbox is a box row
    assert a.boxes.fields["id"] == [11, 12, 13, 14]
    np.testing.assert_array_equal(a.boxes.xyxy[0], [2, 3, 32, 23])
    # polygon parts: one row each, sharing the annotation's fields (id included); a 4-point one is a polygon
    assert a.polygons.fields["id"] == [11, 11, 12] and a.polygons.fields["label"] == ["person"] * 3
    assert a.polygons.fields["extra"] == [{"score": 0.9}, {"score": 0.9}, {}]
    np.testing.assert_array_equal(a.polygons.points[1], [[25, 10], [32, 10], [32, 23], [25, 23]])
    # RLE (uncompressed list, compressed string) -> an instance mask row with the annotation's fields
    assert a.masks.type == "instance" and a.masks.fields["id"] == [13] and a.masks.fields["iscrowd"] == [1]
    np.testing.assert_array_equal(a.masks.data[0], _mask())
    np.testing.assert_array_equal(b.masks.data[0], _mask()[::-1])
    # keypoints: pixel indices + 0.5, flags v, joint names from the category, left/right pairs
    p = a.points
    assert p.xy.shape == (2, 3, 2) and p.names == tuple(JOINTS) and p.flip_pairs == ((1, 2),)
    np.testing.assert_array_equal(p.xy[0], [[10.5, 12.5], [8.5, 10.5], [0.5, 0.5]])
    np.testing.assert_array_equal(p.flags, [[2, 1, 0], [2, 2, 2]])
    assert p.fields["id"] == [11, 12] and p.fields["extra"] == [{"score": 0.9}, {}]
    assert len(b.points) == 0


def test_coco_older_policies_keep_their_treatment_and_read_keypoints():
    box = read_coco(kinds_doc(), polygons="box")
    a = box.samples[0]
    assert a.boxes.fields["id"] == [11, 13, 14] and a.quads.fields["id"] == [12] and len(a.polygons) == 0
    assert len(a.masks) == 0 and box.counts == {"polygon_as_box": 3}  # two parts, and two RLE
    assert a.points.fields["id"] == [11, 12]  # keypoints are read under every policy
    assert read_coco(kinds_doc(), polygons="skip").samples[0].boxes.fields["id"] == [14]
    no_pairs = read_coco(kinds_doc(), keypoint_flip_pairs=None).samples[0].points
    assert no_pairs.flip_pairs == ()
    given = read_coco(kinds_doc(), keypoint_flip_pairs=[("left_eye", "right_eye")]).samples[0].points
    assert given.flip_pairs == ((1, 2),)


# ---- COCO: round trips ----------------------------------------------------------------------------------
def test_coco_read_write_read_gives_the_same_tables_and_the_same_numbers(tmp_path):
    doc = kinds_doc()
    data = read_coco(doc)
    out = write_coco(data.samples, data.categories, tmp_path / "out.json", info=data.info)
    again = read_coco(tmp_path / "out.json")
    for s, t in zip(data.samples, again.samples):
        assert_samples_equal(s, t)
    assert again.categories == data.categories and again.info == data.info
    assert write_coco(again.samples, again.categories, info=again.info) == out  # the written form is stable
    src = {a["id"]: a for a in doc["annotations"]}
    for ann in out["annotations"]:
        orig = src[ann["id"]]
        assert ann["bbox"] == orig["bbox"] and ann["iscrowd"] == orig["iscrowd"]
        if "keypoints" in orig:  # the same numbers: 0.5 added on reading is taken off on writing
            assert ann["keypoints"] == orig["keypoints"] and ann["num_keypoints"] == orig["num_keypoints"]
        if isinstance(orig.get("segmentation"), list):
            assert ann["segmentation"] == orig["segmentation"]
        elif "segmentation" in orig:  # RLE comes back compressed, the same mask
            assert isinstance(ann["segmentation"]["counts"], str)
            np.testing.assert_array_equal(rle.decode(ann["segmentation"]), rle.decode(orig["segmentation"]))
        else:
            assert "segmentation" not in ann
    a11 = next(a for a in out["annotations"] if a["id"] == 11)
    assert a11["area"] == 18 * 12 / 2 + 7 * 13 and a11["score"] == 0.9  # the parts' areas summed
    assert [a["id"] for a in out["annotations"]] == [11, 12, 13, 14, 21]  # one annotation per id


def test_coco_written_rle_and_areas_agree_with_pycocotools():
    mask_util = pytest.importorskip("pycocotools.mask")
    from pycocotools.coco import COCO

    data = read_coco(kinds_doc())
    out = write_coco(data.samples, data.categories, bbox_from="segmentation")
    by_id = {a["id"]: a for a in out["annotations"]}
    for i in (13, 21):
        seg = by_id[i]["segmentation"]
        theirs = {"size": seg["size"], "counts": seg["counts"].encode()}
        np.testing.assert_array_equal(mask_util.decode(theirs), rle.decode(seg))
        assert by_id[i]["area"] == float(mask_util.area(theirs))
        assert by_id[i]["bbox"] == mask_util.toBbox(theirs).tolist()  # the mask's extent, pixel edges
    coco = COCO()
    coco.dataset = json.loads(json.dumps(out))
    coco.createIndex()
    orig = COCO()
    orig.dataset = kinds_doc()
    orig.createIndex()
    for i in (11, 12, 13, 21):  # pycocotools rasterises the written annotations as it does the source
        np.testing.assert_array_equal(coco.annToMask(coco.anns[i]), orig.annToMask(orig.anns[i]))
    polys = mask_util.frPyObjects(by_id[11]["segmentation"], H, W)
    assert by_id[11]["area"] == pytest.approx(float(mask_util.area(polys).sum()), rel=0.25)  # shoelace vs pixels


def test_coco_hflip_then_write_then_read_mirrors_every_kind_and_swaps_left_right():
    data = read_coco(kinds_doc())
    s = data.samples[0]
    res = s.augment(HFLIP, np.zeros((H, W, 3), np.uint8), seed=0)
    flipped = s.with_result(res)
    out = write_coco([flipped], data.categories)
    back = read_coco(out).samples[0]
    for kind in ("boxes", "polygons", "masks"):
        assert_table_equal(getattr(flipped, kind), getattr(back, kind))
    # points: the same flags and labelled joints; an unlabelled joint is written 0, 0, 0 (COCO's way)
    on = flipped.points.flags > 0
    np.testing.assert_array_equal(flipped.points.flags, back.points.flags)
    np.testing.assert_array_equal(flipped.points.xy[on], back.points.xy[on])
    assert back.points.xy[~on].tolist() == [[0.5, 0.5]] and flipped.points.xy[~on].tolist() == [[W - 0.5, 0.5]]
    by_id = {a["id"]: a for a in out["annotations"]}
    # keypoints in COCO's pixel indices: x -> W - 1 - x; left_eye and right_eye swap (flags with them)
    assert by_id[11]["keypoints"] == [W - 1 - 10.0, 12.0, 2, 0.0, 0.0, 0, W - 1 - 8.0, 10.0, 1]
    assert by_id[12]["keypoints"] == [W - 1 - 45.0, 33.0, 2, W - 1 - 47.0, 32.0, 2, W - 1 - 43.0, 32.0, 2]
    # polygons: x -> W - x on the pixel-edge frame, still two parts of one annotation
    assert by_id[11]["segmentation"][1] == [W - 25.0, 10.0, W - 32.0, 10.0, W - 32.0, 23.0, W - 25.0, 23.0]
    np.testing.assert_array_equal(rle.decode(by_id[13]["segmentation"]), _mask()[:, ::-1])
    assert by_id[14]["bbox"] == [W - 6.0, 1.0, 5.0, 5.0]
    # categories built from labels name the joints of the keypoints carrying them
    labelled = Sample("a.png", W, H, points=Points([[[1, 1], [2, 2], [3, 3]]], names=JOINTS, label=["person"]))
    assert write_coco([labelled])["categories"] == [{"id": 1, "name": "person", "keypoints": JOINTS}]


def test_coco_keypoints_that_leave_the_canvas_are_written_unlabelled():
    s = read_coco(kinds_doc()).samples[0]
    crop = geoaug.from_config([{"name": "crop", "params": {"x": 9, "y": 0, "width": 40, "height": 48}}])
    out = write_coco([s.with_result(s.augment(crop, np.zeros((H, W, 3), np.uint8), seed=0))])
    a11 = next(a for a in out["annotations"] if a["id"] == 11)
    # nose (10.5 -> 1.5 in the crop) stays; left_eye (8.5 -> -0.5) left the canvas: 0, 0, 0
    assert a11["keypoints"] == [1.0, 12.0, 2, 0.0, 0.0, 0, 0.0, 0.0, 0] and a11["num_keypoints"] == 1


# ---- COCO: rows of different kinds joined by id ----------------------------------------------------------
def test_coco_rows_with_one_id_are_one_annotation():
    quad = [[[4, 4], [24, 4], [24, 14], [4, 14]]]
    s = Sample(
        "a.png",
        W,
        H,
        Boxes([[0, 0, 30, 20]], id=[5], category_id=[1], extra=[{"note": "box"}]),
        Quads(quad, id=[5], category_id=[1]),
        points=Points([[[10.5, 10.5], [1.5, 2.5]]], flags=[[2, 0]], id=[5], category_id=[1]),
    )
    (ann,) = write_coco([s], [{"id": 1, "name": "a"}])["annotations"]
    assert ann["bbox"] == [0.0, 0.0, 30.0, 20.0] and ann["segmentation"] == [[4, 4, 24, 4, 24, 14, 4, 14]]
    assert ann["area"] == 200.0 and ann["keypoints"] == [10.0, 10.0, 2, 0.0, 0.0, 0] and ann["num_keypoints"] == 1
    assert ann["note"] == "box"  # extra of the first row (boxes)
    seg_first = write_coco([s], [{"id": 1, "name": "a"}], bbox_from="segmentation")["annotations"][0]
    assert seg_first["bbox"] == [4.0, 4.0, 20.0, 10.0]
    # without a box or segmentation, the bbox encloses the labelled keypoints; rows without id get new ids
    alone = Sample("a.png", W, H, points=Points([[[10.5, 10.5], [20.5, 4.5]]] * 2, category_id=[1, 1], id=[7, None]))
    anns = write_coco([alone], [{"id": 1, "name": "a"}])["annotations"]
    assert [a["id"] for a in anns] == [7, 8] and anns[0]["bbox"] == [10.5, 4.5, 10.0, 6.0]


def test_coco_polygon_parts_without_id_join_by_index_after_a_cut():
    u = [[2, 2], [30, 2], [30, 40], [20, 40], [20, 10], [12, 10], [12, 40], [2, 40]]  # a U, open at the bottom
    s = Sample("a.png", W, H, polygons=Polygons([u], label=["u"]))
    crop = geoaug.from_config([{"name": "crop", "params": {"x": 0, "y": 20, "width": 64, "height": 28}}])
    res = s.augment(crop, np.zeros((H, W, 3), np.uint8), seed=0)
    assert len(res.polygons) == 2 and res.polygons.index.tolist() == [0, 0]  # the cut left two legs
    (ann,) = write_coco([s.with_result(res)])["annotations"]
    assert len(ann["segmentation"]) == 2 and ann["area"] == pytest.approx(2 * 10 * 20)
    assert ann["bbox"] == [2.0, 0.0, 28.0, 20.0]


def test_coco_write_errors_for_the_new_kinds():
    cats = [{"id": 1, "name": "a", "keypoints": ["x", "y"]}]
    quad = [[[0, 0], [4, 0], [4, 4], [0, 4]]]
    two_segs = Sample("a.png", W, H, quads=Quads(quad, id=[3], category_id=[1]))
    two_segs.polygons = Polygons(quad, id=[3], category_id=[1])
    with pytest.raises(FormatError, match=r"samples\[0\]\.polygons\[0\]\.id: annotation id 3 is used twice"):
        write_coco([two_segs], cats)
    clash = Sample("a.png", W, H, Boxes([[0, 0, 1, 1]], id=[3], category_id=[1]))
    clash.polygons = Polygons(quad, id=[3], category_id=[2])
    with pytest.raises(FormatError, match=r"samples\[0\]\.polygons\[0\]\.category_id: 2, but samples\[0\]\.boxes"):
        write_coco([clash], cats + [{"id": 2, "name": "b"}])
    label_map = Sample("a.png", W, H, masks=Masks(np.zeros((H, W), np.int32), type="label"))
    with pytest.raises(FormatError, match=r"samples\[0\]\.masks: a label map has no COCO annotation form"):
        write_coco([label_map], cats)
    small = Sample("a.png", W, H, masks=Masks(np.ones((1, 4, 4), np.uint8), category_id=[1]))
    with pytest.raises(FormatError, match=r"samples\[0\]\.masks: the masks are 4x4, the image 64x48"):
        write_coco([small], cats)
    named = Sample("a.png", W, H, points=Points([[[1, 1], [2, 2]]], names=["y", "x"], category_id=[1]))
    with pytest.raises(FormatError, match=r"samples\[0\]\.points\[0\]: joints \['y', 'x'\] are not category 1"):
        write_coco([named], cats)
    with pytest.raises(FormatError, match="bbox_from must be one of"):
        write_coco([], cats, bbox_from="mask")


def _with(doc, i, **ann):
    doc["annotations"][i].update(ann)
    return doc


@pytest.mark.parametrize(
    "doc, message",
    [
        (
            _with(kinds_doc(), 1, keypoints=[1, 2, 2, 3, 4, 2, 5, 6, 2, 7, 8, 2]),
            r"annotations\[1\] \(id 12\)\.keypoints: 4 keypoints, but category 1 names 3 joints",
        ),
        (
            _with(kinds_doc(), 0, keypoints=[1, 2, 2, 3, 4, 3, 5, 6, 2]),
            r"annotations\[0\] \(id 11\)\.keypoints\[5\]: keypoint 1's flag v is 3",
        ),
        (_with(kinds_doc(), 0, keypoints=[1, 2, 2, 3]), r"\(id 11\)\.keypoints: expected \[x, y, v\] per keypoint"),
        (_with(kinds_doc(), 0, keypoints=[1, "a", 2]), r"\(id 11\)\.keypoints: expected a list of finite numbers"),
        (
            _with(kinds_doc(), 2, segmentation={"size": [10, 10], "counts": [100]}),
            r"annotations\[2\] \(id 13\)\.segmentation\.size is 10x10 .* but the masks are 48x64",
        ),
        (
            _with(kinds_doc(), 4, segmentation={"size": [H, W], "counts": "abc"}),
            r"annotations\[4\] \(id 21\)\.segmentation\.counts: the string ends inside a count",
        ),
        (
            {**kinds_doc(), "categories": [{"id": 1, "name": "p", "keypoints": "nose"}, {"id": 2, "name": "c"}]},
            r"categories\[0\]\.keypoints must be a list of distinct joint names",
        ),
    ],
)
def test_coco_read_errors_name_the_annotation_and_field(doc, message):
    with pytest.raises(FormatError, match=message):
        read_coco(doc)


def test_coco_keypoint_annotations_of_one_image_must_share_a_layout():
    doc = kinds_doc()
    doc["categories"][1]["keypoints"] = ["a", "b", "c"]
    doc["annotations"][3]["keypoints"] = [1, 1, 2, 2, 2, 2, 3, 3, 2]  # the cat: 3 joints under other names
    with pytest.raises(FormatError, match=r"annotations\[3\] \(id 14\)\.keypoints: 3 keypoints named .*'a'.* but "):
        read_coco(doc)
    with pytest.raises(FormatError, match=r"images\[0\]: keypoints: points flip_pairs\[0\]: unknown joint 'knee'"):
        read_coco(kinds_doc(), keypoint_flip_pairs=[("knee", "nose")])
    with pytest.raises(FormatError, match=r"polygons must be one of \['polygon', 'box'"):
        read_coco(kinds_doc(), polygons="polygons")


# ---- Sample -----------------------------------------------------------------------------------------
def test_sample_keeps_positional_order_and_passes_only_the_kinds_it_has():
    s = Sample("a.png", W, H, Boxes([[0, 0, 1, 1]]), None, None, {"id": 1}, {"n": 1})
    assert s.meta == {"id": 1} and s.counts == {"n": 1} and len(s.points) == len(s.polygons) == len(s.masks) == 0
    seen = {}

    def aug(image, **kw):
        seen.update(kw)

    s.augment(aug, None, seed=3)
    assert sorted(seen) == ["boxes", "lines", "quads", "seed"]  # a callable without the new keywords still works
    s.masks = Masks(np.ones((1, H, W), np.uint8))
    s.augment(aug, None)
    assert "masks" in seen and "points" not in seen


# ---- albumentations ---------------------------------------------------------------------------------
def test_albumentations_keypoints_and_masks_match_its_hflip_side_by_side():
    A = pytest.importorskip("albumentations")
    pts = Points([[[0.5, 0.5], [10.5, 20.5], [63.5, 47.5]], [[30.0, 5.25], [2.5, 40.5], [50.5, 1.5]]], label=["a", "b"])
    masks = Masks(np.stack([_mask(), _mask()[::-1]]), label=["m", "n"])
    img = (np.arange(H * W * 3).reshape(H, W, 3) % 251).astype(np.uint8)
    kp = to_albumentations_keypoints(pts)
    np.testing.assert_array_equal(kp[1], [10.0, 20.0])  # pixel (10, 20)'s centre: its index
    t = A.Compose([A.HorizontalFlip(p=1)], keypoint_params=A.KeypointParams(format="xy", remove_invisible=False))
    out = t(image=img, keypoints=kp, masks=to_albumentations_masks(masks))
    theirs = from_albumentations_keypoints(out["keypoints"], (W, H), num_joints=3, **pts.fields)
    ours = HFLIP(img, points=pts, masks=masks)
    np.testing.assert_array_equal(out["image"], ours.image)
    np.testing.assert_allclose(theirs.xy, ours.points.xy, atol=1e-5)  # albumentations works in float32
    assert theirs.fields == ours.points.fields and theirs.flags.tolist() == ours.points.flags.tolist()
    back = from_albumentations_masks(out["masks"], **masks.fields)
    np.testing.assert_array_equal(back.stack, ours.masks.stack)
    assert back.fields == ours.masks.fields
    # a label map travels as mask=
    labels = Masks(np.where(_mask() > 0, 7, 0).astype(np.uint8), type="label")
    out = A.HorizontalFlip(p=1)(image=img, mask=to_albumentations_masks(labels))
    np.testing.assert_array_equal(
        from_albumentations_masks(out["mask"], type="label").data, HFLIP(img, masks=labels).masks.data
    )


def test_albumentations_keypoints_round_trip_and_errors():
    pts = Points([[[1.5, 2.5], [3.0, 4.0]]], names=["l", "r"], flip_pairs=[("l", "r")], flags=[[2, 1]], id=[4])
    back = from_albumentations_keypoints(
        to_albumentations_keypoints(pts), names=pts.names, flip_pairs=pts.flip_pairs, flags=pts.flags, **pts.fields
    )
    assert_table_equal(back, pts)
    free = from_albumentations_keypoints([[-3.0, 1.0, 0.7], [5.0, 5.0, 0.1]], (W, H))  # extra columns dropped
    assert free.xy.tolist() == [[-2.5, 1.5], [5.5, 5.5]] and free.flags.tolist() == [0, 2]  # outside: flag 0
    with pytest.raises(FormatError, match="3 points are not rows of 2 joints"):
        from_albumentations_keypoints(np.zeros((3, 2)), num_joints=2)
    with pytest.raises(FormatError, match=r"expected an \(M, 2\) array of numbers"):
        from_albumentations_keypoints([[1.0]])
    with pytest.raises(FormatError, match="from_albumentations_keypoints: points field 'id' has 2 values"):
        from_albumentations_keypoints([[1.0, 1.0]], id=[1, 2])
    with pytest.raises(FormatError, match="expected geoaug Points"):
        to_albumentations_keypoints(Boxes())
    with pytest.raises(FormatError, match="from_albumentations_masks: masks.data: instance masks must be bool"):
        from_albumentations_masks([np.zeros((4, 4), np.int32)])
    assert len(from_albumentations_masks([])) == 0


# ---- torchvision ------------------------------------------------------------------------------------
@pytest.mark.train
def test_torchvision_keypoints_and_masks_match_its_hflip_side_by_side():
    pytest.importorskip("torchvision")
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as F

    from geoaug.interop import from_tv_keypoints, from_tv_mask, to_tv_keypoints, to_tv_mask

    pts = Points([[[0.5, 0.5], [10.5, 20.5], [63.5, 47.5]], [[30.0, 5.25], [2.5, 40.5], [50.5, 1.5]]], label=["a", "b"])
    img = np.zeros((H, W, 3), np.uint8)
    ours = HFLIP(img, points=pts)
    kp = to_tv_keypoints(pts, (W, H), dtype=torch.float64)
    assert kp.canvas_size == (H, W) and kp.shape == (2, 3, 2) and kp[0, 1].tolist() == [10.0, 20.0]
    back, size = from_tv_keypoints(kp, **pts.fields)
    assert size == (W, H)
    assert_table_equal(back, pts)
    theirs, _ = from_tv_keypoints(F.horizontal_flip(kp), **pts.fields)
    np.testing.assert_allclose(theirs.xy, ours.points.xy, atol=1e-12)
    free, _ = from_tv_keypoints(tv_tensors.KeyPoints([[-3.0, 1.0], [5.0, 5.0]], canvas_size=(H, W)))
    assert free.flags.tolist() == [0, 2]  # beyond the canvas: flag 0, as geoaug's point_outside: flag

    inst = Masks(np.stack([_mask(), _mask()[::-1]]), label=["m", "n"])
    labels = Masks(np.where(_mask() > 0, 7, 0).astype(np.int64), type="label", fill=255)
    dense = Masks(np.dstack([_mask(), 1 - _mask()]).astype(np.float32), type="dense")
    for m in (inst, labels, dense):
        tv = to_tv_mask(m)
        assert isinstance(tv, tv_tensors.Mask)
        kw = {"type": m.type, "fill": m.fill if m.type != "dense" else 0, **m.fields}
        assert_table_equal(from_tv_mask(tv, **kw), m)
        flipped = from_tv_mask(F.horizontal_flip(tv), **kw)
        np.testing.assert_array_equal(flipped.stack, HFLIP(img, masks=m).masks.stack)
    assert tuple(to_tv_mask(dense).shape) == (2, H, W)  # channels first
    with pytest.raises(FormatError, match="expected torchvision KeyPoints"):
        from_tv_keypoints(np.zeros((1, 2)))
    with pytest.raises(FormatError, match=r"shape \(N, 2\) or \(N, K, 2\)"):
        from_tv_keypoints(tv_tensors.KeyPoints(torch.zeros(1, 2, 2, 2), canvas_size=(H, W)))
    with pytest.raises(FormatError, match="expected torchvision Mask, got ndarray"):
        from_tv_mask(np.zeros((1, 4, 4)))
    with pytest.raises(FormatError, match="expected geoaug Masks"):
        to_tv_mask(pts)
    with pytest.raises(FormatError, match="from_tv_mask: masks.data: instance masks must be bool or uint8"):
        from_tv_mask(tv_tensors.Mask(torch.zeros(1, 4, 4, dtype=torch.int32)))


# ---- Hugging Face datasets transform ---------------------------------------------------------------
def test_batch_transform_carries_points_polygons_and_masks_with_their_fields():
    img = np.zeros((H, W, 3), np.uint8)
    m = np.stack([_mask(), np.zeros((H, W), np.uint8)])
    m[1, 0:4, 60:64] = 1
    batch = {
        "index": [0],
        "image": [img],
        "boxes": [[[1, 1, 5, 5]]],
        "kps": [[[[10.5, 20.5], [60.5, 5.5]]]],
        "kp_flags": [[[2, 1]]],
        "polys": [[[[2, 2], [30, 2], [30, 40], [20, 40], [20, 10], [12, 10], [12, 40], [2, 40]]]],
        "poly_label": [["u"]],
        "masks": [m],
        "mask_label": [["a", "corner"]],
    }
    left_half = geoaug.from_config([{"name": "crop", "params": {"x": 0, "y": 0, "width": 32, "height": 48}}])
    t = BatchTransform(
        left_half,
        points="kps",
        point_flags="kp_flags",
        polygons="polys",
        masks="masks",
        fields={"polygons": ("poly_label",), "masks": ("mask_label",)},
    )
    out = t(batch)
    ref = left_half(
        img,
        boxes=Boxes([[1, 1, 5, 5]]),
        points=Points(batch["kps"][0], flags=batch["kp_flags"][0]),
        polygons=Polygons(batch["polys"][0]),
        masks=Masks(m),
    )
    assert out["kps"] == [ref.points.xy.tolist()] and out["kp_flags"] == [[[2, 0]]]  # the second point left
    assert out["polys"] == [[p.tolist() for p in ref.polygons.points]]
    assert out["mask_label"] == [["a"]]  # the corner mask is outside the left half: dropped with its label
    np.testing.assert_array_equal(out["masks"][0], ref.masks.data)
    assert out["masks"][0].shape == (1, H, 32) and out["boxes"] == [[[1.0, 1.0, 5.0, 5.0]]]
    empty = t(
        {**batch, "kps": [[]], "kp_flags": [[]], "polys": [[]], "poly_label": [[]], "masks": [[]], "mask_label": [[]]}
    )
    assert empty["kps"] == [[]] and empty["polys"] == [[]] and empty["mask_label"] == [[]]


def test_batch_transform_errors_name_the_row_and_column():
    aug = geoaug.Pipeline([{"name": "hflip"}])
    img = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(FormatError, match="fields names no kind"):
        BatchTransform(aug, fields={"keypoints": ("x",)})
    with pytest.raises(FormatError, match="point_flags .* give points too"):
        BatchTransform(aug, point_flags="f")
    t = BatchTransform(aug, points="kps", polygons="polys")
    row = {"image": [img], "index": [4], "boxes": [[]], "kps": [[[1, 1]]], "polys": [[[[0, 0], [1, 0]]]]}
    with pytest.raises(FormatError, match=r"row 4\.polys: polygons\[0\] needs at least 3 points"):
        t(row)
    with pytest.raises(FormatError, match=r"row 4\.kps: points\[0\]\.point\[1\]\.y is NaN"):
        t({**row, "kps": [[[[1, 1], [2, np.nan]]]]})
    with pytest.raises(FormatError, match=r"no column 'masks'"):
        BatchTransform(aug, masks="masks")(row)
