"""geoaug with Hugging Face ``datasets``: augment on access with ``Dataset.with_transform``.

``with_transform`` passes a batch of columns without row indices, so the row index is added as a column
and each row is seeded from (seed, epoch, index): the same rows give the same pixels however they are
batched. Needs ``pip install datasets``; the transform itself (geoaug.interop.BatchTransform) does not.

    python examples/hf_datasets_with_transform.py
"""

import numpy as np
from PIL import Image

import geoaug
from geoaug.interop import BatchTransform

AUG = geoaug.from_config(
    [
        {"name": "hflip", "params": {"prob": 0.5}},
        {"name": "random_crop", "params": {"scale": [0.6, 1.0]}},
        {"name": "resize", "params": {"longest": 64}},
    ]
)


def toy_rows(n=4):
    rng = np.random.default_rng(0)
    return {
        "image": [Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)) for _ in range(n)],
        # x1, y1, x2, y2 pixel edges; COCO-style [x, y, w, h] columns: box_format="coco"
        "boxes": [[[10, 10, 40, 30], [50, 20, 75, 55]] for _ in range(n)],
        "label": [["cat", "dog"] for _ in range(n)],
    }


def main():
    import datasets  # imported here so that the transform above stays importable without it

    ds = datasets.Dataset.from_dict(toy_rows())
    ds = ds.add_column("index", list(range(len(ds))))
    transform = BatchTransform(AUG, seed=0, image="image", boxes="boxes", fields=("label",), box_format="xyxy")
    aug_ds = ds.with_transform(transform)
    for epoch in range(2):
        transform.set_epoch(epoch)  # with a DataLoader, set it before the workers start each epoch
        row = aug_ds[1]
        print(
            f"epoch {epoch}: image {row['image'].size}, boxes {np.round(row['boxes'], 1).tolist()}, "
            f"labels {row['label']}"
        )
    batch = aug_ds[0:3]
    same = np.array_equal(np.asarray(batch["image"][1]), np.asarray(aug_ds[1]["image"]))
    print("ok: row 1 is the same alone and in a batch" if same else "MISMATCH between batchings")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
