"""A batch transform for Hugging Face ``datasets``: ``ds.with_transform(BatchTransform(aug, seed))``.

``with_transform`` hands over a batch of columns and no row indices, so the row index must be a column
(``ds.add_column("index", range(len(ds)))``): the seed comes from (seed, epoch, index) and does not
depend on batch composition or workers. Needs nothing from ``datasets`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import GeometryError
from ..image import to_array
from ..instances import Boxes, Quads
from ..seeding import sample_seed
from .box_formats import from_xyxy, to_xyxy
from .sample import FormatError


class BatchTransform:
    """Augment a batch ``{column: [value per row]}``.

    ``image``: the image column (PIL images or arrays); ``boxes``: per-row lists of boxes in
    ``box_format`` (``xyxy``, ``coco`` xywh, ``yolo``, ...); ``quads``: optional per-row lists of 4 (x, y)
    points; ``fields``: columns holding one value per box (e.g. ``("label",)``), filtered with the boxes.
    Other columns pass through. Set the epoch with ``set_epoch`` before each epoch.
    """

    def __init__(
        self,
        aug: Callable[..., Any],
        seed: int = 0,
        *,
        image: str = "image",
        index: str = "index",
        boxes: str | None = "boxes",
        quads: str | None = None,
        fields: Iterable[str] = (),
        box_format: str = "xyxy",
    ) -> None:
        self.aug, self.seed, self.epoch = aug, int(seed), 0
        self.image, self.index, self.boxes, self.quads = image, index, boxes, quads
        self.fields, self.box_format = tuple(fields), box_format
        to_xyxy(np.zeros((0, 4)), box_format)  # unknown formats fail here, not on the first batch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __call__(self, batch: dict) -> dict:
        for col in (self.image, self.index, self.boxes, self.quads, *self.fields):
            if col is not None and col not in batch:
                hint = " (add it: ds.add_column('index', range(len(ds))))" if col == self.index else ""
                raise FormatError(f"BatchTransform: the batch has no column {col!r}{hint}; columns: {sorted(batch)}")
        out = {k: list(v) for k, v in batch.items()}
        for i, image in enumerate(batch[self.image]):
            where = f"row {batch[self.index][i]!r}"
            arr, _ = to_array(image, f"{where}.{self.image}")
            size = (arr.shape[1], arr.shape[0])
            fields = {f: list(batch[f][i]) for f in self.fields}
            try:
                boxes = Boxes(to_xyxy(batch[self.boxes][i], self.box_format, size, f"{where}.{self.boxes}"), **fields)
            except GeometryError as e:  # x2 < x1, NaN, field lengths: say which row
                raise FormatError(f"{where}.{self.boxes}: {e}") from None
            quads = Quads(np.asarray(batch[self.quads][i], dtype=np.float64)) if self.quads else None
            res = self.aug(
                image, boxes=boxes, quads=quads, seed=sample_seed(self.seed, self.epoch, int(batch[self.index][i]))
            )
            out[self.image][i] = res.image
            out[self.boxes][i] = from_xyxy(res.boxes.xyxy, self.box_format, res.size).tolist()
            for f in self.fields:
                out[f][i] = list(res.boxes.fields[f])
            if self.quads:
                out[self.quads][i] = res.quads.points.tolist()
        return out
