"""Convert, don't re-invent: COCO, YOLO and ms-swift annotations, albumentations and torchvision boxes,
keypoints and masks, a torch Dataset and a Hugging Face ``datasets`` transform, all around geoaug's tables.

    from geoaug.interop import read_coco, write_coco
    data = read_coco("instances.json")  # one Sample per image: boxes, polygons, masks, points, fields
    res = data.samples[0].augment(aug, image, seed=geoaug.sample_seed(0, epoch, 0))
    write_coco([data.samples[0].with_result(res)], data.categories, "augmented.json")

Importing this package imports neither torch nor albumentations; ``AugmentedDataset`` loads torch when
first used.
"""

from .albumentations import (
    from_albumentations,
    from_albumentations_keypoints,
    from_albumentations_masks,
    to_albumentations,
    to_albumentations_keypoints,
    to_albumentations_masks,
)
from .box_formats import FORMATS as BOX_FORMATS
from .coco import CocoData, read_coco, write_coco
from .hf_datasets import BatchTransform
from .polygons import POLYGON_POLICIES
from .sample import FormatError, Sample
from .swift import read_swift, write_swift
from .torchvision import from_tv_boxes, from_tv_keypoints, from_tv_mask, to_tv_boxes, to_tv_keypoints, to_tv_mask
from .yolo import parse_yolo, read_yolo, write_yolo


def __getattr__(name: str) -> type:
    if name == "AugmentedDataset":  # needs torch: loaded on first use only
        from .torch_dataset import AugmentedDataset

        return AugmentedDataset
    raise AttributeError(f"module 'geoaug.interop' has no attribute {name!r}")


__all__ = [
    "Sample",
    "FormatError",
    "CocoData",
    "read_coco",
    "write_coco",
    "read_yolo",
    "parse_yolo",
    "write_yolo",
    "read_swift",
    "write_swift",
    "to_albumentations",
    "from_albumentations",
    "to_albumentations_keypoints",
    "from_albumentations_keypoints",
    "to_albumentations_masks",
    "from_albumentations_masks",
    "to_tv_boxes",
    "from_tv_boxes",
    "to_tv_keypoints",
    "from_tv_keypoints",
    "to_tv_mask",
    "from_tv_mask",
    "BatchTransform",
    "AugmentedDataset",
    "BOX_FORMATS",
    "POLYGON_POLICIES",
]
