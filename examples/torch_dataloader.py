"""geoaug in a torch DataLoader: COCO annotations in, torchvision tensors out, the same draws with any
number of workers (each item is seeded from (seed, epoch, index)).

    python examples/torch_dataloader.py
"""

import tempfile

import numpy as np
import torch
from PIL import Image

import geoaug
from geoaug.interop import AugmentedDataset, read_coco, to_tv_boxes

AUG = geoaug.from_config(
    {
        "ops": [
            {"name": "hflip", "params": {"prob": 0.5}},
            {"name": "rotate", "params": {"max_deg": 15}},
            {"name": "color_jitter", "params": {"brightness": 0.2}},
        ],
        "filters": {"boxes": {"min_visibility": 0.3}},
    }
)


def to_tensors(item):
    """One augmented item -> (image tensor CxHxW, target dict) in torchvision's detection layout."""
    image = torch.from_numpy(np.ascontiguousarray(item["image"])).permute(2, 0, 1)
    target = {
        "boxes": to_tv_boxes(item["boxes"], item["size"]),
        "labels": torch.as_tensor(item["boxes"].fields["category_id"], dtype=torch.int64),
        "image_id": item["meta"]["id"],
    }
    return image, target


def make_toy_coco(root):
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(f"{root}/{i}.png")
        images.append({"id": i, "file_name": f"{i}.png", "width": 64, "height": 48})
        anns.append({"id": 10 + i, "image_id": i, "category_id": 1 + i % 2, "bbox": [8, 6, 20 + i, 24]})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}


def main():
    with tempfile.TemporaryDirectory() as root:
        coco = read_coco(make_toy_coco(root))
        ds = AugmentedDataset(coco.samples, AUG, seed=0, image_root=root, output=to_tensors)
        runs = []
        for workers in (0, 2):
            dl = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=lambda b: tuple(zip(*b)))
            for epoch in range(2):
                ds.set_epoch(epoch)  # new draws each epoch; reaches persistent workers too
                for _images, targets in dl:
                    runs.append((workers, epoch, [t["boxes"].tolist() for t in targets]))
        same = [r[1:] for r in runs if r[0] == 0] == [r[1:] for r in runs if r[0] == 2]
        print("first batch boxes:", runs[0][2])
        print("ok: 0 and 2 workers give the same boxes" if same else "MISMATCH between worker counts")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
