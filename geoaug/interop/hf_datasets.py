"""A batch transform for Hugging Face ``datasets``: ``ds.with_transform(BatchTransform(aug, seed))``.

``with_transform`` hands over a batch of columns and no row indices, so the row index must be a column
(``ds.add_column("index", range(len(ds)))``): the seed comes from (seed, epoch, index) and does not
depend on batch composition or workers. Needs nothing from ``datasets`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import GeometryError
from ..image import to_array
from ..instances import Boxes, Quads
from ..kinds.masks import Masks
from ..kinds.points import Points
from ..kinds.polygons import Polygons
from ..seeding import sample_seed
from .box_formats import from_xyxy, to_xyxy
from .sample import FormatError

_KINDS = ("boxes", "quads", "points", "polygons", "masks")


class BatchTransform:
    """Augment a batch ``{column: [value per row]}``.

    ``image``: the image column (PIL images or arrays); ``boxes``: per-row lists of boxes in
    ``box_format`` (``xyxy``, ``coco`` xywh, ``yolo``, ...); ``quads``: optional per-row lists of 4 (x, y)
    points; ``points``: optional per-row points, (N, 2) free points or (N, K, 2) keypoints, with their COCO
    flags in the ``point_flags`` column (written back: a point the augmentation put off the canvas gets 0);
    ``polygons``: optional per-row lists of (K, 2) outlines (a polygon a cut splits comes back as several,
    with its fields repeated); ``masks``: optional per-row (N, H, W) instance masks, or a label or dense map
    (``mask_type``; None infers as ``geoaug.Masks``), written back as arrays. Points, polygons and masks are
    on geoaug's pixel-edge frame (pixel ``(i, j)`` centred on ``(i + .5, j + .5)``). ``fields``: columns
    holding one value per box (e.g. ``("label",)``), filtered with the boxes; or a mapping from a kind
    (``boxes``, ``quads``, ``points``, ``polygons``, ``masks``) to its columns. Other columns pass through.
    Set the epoch with ``set_epoch`` before each epoch.

    Args:
        aug: the pipeline (any callable taking ``image, boxes=, quads=, seed=`` and the keywords of the other
            kinds given, and returning a Result).
        seed: base seed; row ``i`` of epoch ``e`` uses ``sample_seed(seed, e, i)``.
        image: the image column.
        index: the row index column (the seed depends on it).
        boxes: the boxes column, or None.
        quads: the quads column, or None.
        points: the points column, or None.
        point_flags: the points' flags column, or None (every point labelled and visible, and not written).
        polygons: the polygons column, or None.
        masks: the masks column, or None.
        mask_type: ``"instance"``, ``"label"``, ``"dense"`` or None (inferred).
        fields: columns holding one value per box, or per row of a kind ({kind: columns}).
        box_format: the layout of the boxes column (a key of ``BOX_FORMATS``).

    Raises:
        FormatError: an unknown ``box_format``, a ``fields`` mapping naming no kind, or ``point_flags``
            without ``points`` (at construction). Calling raises as ``__call__`` says.
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
        points: str | None = None,
        point_flags: str | None = None,
        polygons: str | None = None,
        masks: str | None = None,
        mask_type: str | None = None,
        fields: Iterable[str] | Mapping[str, Iterable[str]] = (),
        box_format: str = "xyxy",
    ) -> None:
        self.aug, self.seed, self.epoch = aug, int(seed), 0
        self.image, self.index, self.boxes, self.quads = image, index, boxes, quads
        self.points, self.point_flags, self.polygons, self.masks = points, point_flags, polygons, masks
        self.mask_type, self.box_format = mask_type, box_format
        if isinstance(fields, Mapping):
            unknown = sorted(set(fields) - set(_KINDS))
            if unknown:
                raise FormatError(f"BatchTransform: fields names no kind {unknown}; kinds: {list(_KINDS)}")
            self.kind_fields = {k: tuple(fields.get(k, ())) for k in _KINDS}
        else:
            self.kind_fields = {k: () for k in _KINDS}
            self.kind_fields["boxes"] = tuple(fields)
        self.fields = self.kind_fields["boxes"]
        if point_flags is not None and points is None:
            raise FormatError("BatchTransform: point_flags names the flags of a points column; give points too")
        to_xyxy(np.zeros((0, 4)), box_format)  # unknown formats fail here, not on the first batch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __call__(self, batch: dict) -> dict:
        """Augment every row of ``batch``; returns a new batch with the image, the geometry columns and their
        fields replaced.

        Raises:
            FormatError: a column missing from the batch; a row's boxes not (N, 4) numbers in ``box_format``,
                or malformed (NaN, reversed, a field without one value per box); a row's quads, points (or
                flags), polygons or masks malformed. The message names the row by its index and the column.
            ImageError: a row's image is empty or has an unsupported shape.
            ImageTypeError: a row's image is of a type or dtype geoaug does not take.
            Exception: whatever ``aug`` raises.
        """
        cols = (self.image, self.index, self.boxes, self.quads, self.points, self.point_flags, self.polygons)
        for col in (*cols, self.masks, *(f for fs in self.kind_fields.values() for f in fs)):
            if col is not None and col not in batch:
                hint = " (add it: ds.add_column('index', range(len(ds))))" if col == self.index else ""
                raise FormatError(f"BatchTransform: the batch has no column {col!r}{hint}; columns: {sorted(batch)}")
        out = {k: list(v) for k, v in batch.items()}
        for i, image in enumerate(batch[self.image]):
            where = f"row {batch[self.index][i]!r}"
            arr, _ = to_array(image, f"{where}.{self.image}")
            size = (arr.shape[1], arr.shape[0])
            tables = self._tables(batch, i, where, size)
            res = self.aug(image, **tables, seed=sample_seed(self.seed, self.epoch, int(batch[self.index][i])))
            out[self.image][i] = res.image
            for kind in tables:
                t = getattr(res, kind)
                for f in self.kind_fields[kind]:
                    out[f][i] = list(t.fields[f])
            if self.boxes:
                out[self.boxes][i] = from_xyxy(res.boxes.xyxy, self.box_format, res.size).tolist()
            if self.quads:
                out[self.quads][i] = res.quads.points.tolist()
            if self.points:
                out[self.points][i] = res.points.xy.tolist()
                if self.point_flags:
                    out[self.point_flags][i] = res.points.flags.tolist()
            if self.polygons:
                out[self.polygons][i] = [p.tolist() for p in res.polygons.points]
            if self.masks:
                out[self.masks][i] = res.masks.data
        return out

    def _tables(self, batch: dict, i: int, where: str, size: tuple[int, int]) -> dict[str, Any]:
        """Row ``i``'s tables, by kind (boxes and quads always, as before; the others when their column is
        given)."""

        def fields(kind: str) -> dict[str, Any]:
            return {f: list(batch[f][i]) for f in self.kind_fields[kind]}

        tables: dict[str, Any] = {}
        col = self.boxes
        try:
            raw = batch[col][i] if col else []
            tables["boxes"] = Boxes(to_xyxy(raw, self.box_format, size, f"{where}.{col}"), **fields("boxes"))
            col = self.quads
            tables["quads"] = Quads(batch[col][i], **fields("quads")) if col else None
            col = self.points
            if col:
                flags = batch[self.point_flags][i] if self.point_flags else None
                tables["points"] = Points(_or_none(batch[col][i]), flags=_or_none(flags), **fields("points"))
            col = self.polygons
            if col:
                tables["polygons"] = Polygons(batch[col][i], **fields("polygons"))
            col = self.masks
            if col:
                tables["masks"] = Masks(_or_none(batch[col][i]), type=self.mask_type, **fields("masks"))
        except GeometryError as e:  # wrong shape, NaN, x2 < x1, field lengths: say which row and column
            raise FormatError(f"{where}.{col}: {e}") from None
        return tables


def _or_none(v: Any) -> Any:
    """An empty row (``[]``) as None: no rows of that kind (its shape cannot be read from nothing)."""
    return None if v is None or (not isinstance(v, np.ndarray) and len(v) == 0) else v
