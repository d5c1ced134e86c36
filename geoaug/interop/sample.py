"""One image's annotations as geoaug tables: the common currency every format converts to and from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import GeoaugError
from ..instances import Boxes, Lines, Quads
from ..kinds.masks import Masks
from ..kinds.points import Points
from ..kinds.polygons import Polygons

# The kinds a Sample holds besides boxes, quads and lines: passed to ``aug`` only when non-empty, so that a
# callable taking ``image, boxes=, quads=, lines=, seed=`` alone still works on samples without them.
EXTRA_KINDS = ("points", "polygons", "masks")


class FormatError(GeoaugError):
    """An annotation file or record is malformed; the message names the file/record, object and field."""


@dataclass
class Sample:
    """Annotations of one image in geoaug's pixel-edge frame.

    ``image`` is whatever the source names the image by (a COCO file_name, a path, an ms-swift image
    entry); ``width``/``height`` may be None when the source does not say (ms-swift records).
    ``meta`` keeps what the format carries besides geometry, so that writing gives it back.
    ``counts`` says what reading had to convert or leave out (e.g. ``{"polygon_as_box": 3}``).
    ``points`` (keypoints), ``polygons`` and ``masks`` (instance masks or a label map in the image's frame)
    are empty unless the source has them; they come after the older arguments, so positional calls keep
    their meaning.
    """

    image: Any
    width: int | None
    height: int | None
    boxes: Boxes = field(default_factory=Boxes)
    quads: Quads = field(default_factory=Quads)
    lines: Lines = field(default_factory=Lines)
    meta: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    points: Points = field(default_factory=Points)
    polygons: Polygons = field(default_factory=Polygons)
    masks: Masks = field(default_factory=Masks)

    @property
    def size(self) -> tuple | None:
        return None if self.width is None or self.height is None else (self.width, self.height)

    def augment(self, aug: Callable[..., Any], image: Any, seed: Any = None) -> Any:
        """Run ``aug`` on ``image`` with this sample's geometry (boxes, quads and lines always; points,
        polygons and masks when it has any); returns geoaug's Result."""
        return aug(image, boxes=self.boxes, quads=self.quads, lines=self.lines, seed=seed, **self.extra_tables())

    def extra_tables(self) -> dict[str, Any]:
        """The non-empty points, polygons and masks tables, by kind name."""
        return {k: getattr(self, k) for k in EXTRA_KINDS if len(getattr(self, k))}

    def with_result(self, res: Any) -> Sample:
        """This sample after augmentation: the result's tables (every kind) and canvas size, the same image
        name and meta. A kind the result does not have comes back empty."""
        w, h = res.size
        extra = {k: getattr(res, k, None) for k in EXTRA_KINDS}
        return Sample(
            self.image,
            int(w),
            int(h),
            res.boxes,
            res.quads,
            res.lines,
            dict(self.meta),
            dict(self.counts),
            **{k: v for k, v in extra.items() if v is not None},
        )


def require_size(sample: Sample, where: str) -> tuple:
    if sample.size is None:
        raise FormatError(
            f"{where}: the image size is unknown (width/height are None); it is needed to normalise coordinates"
        )
    return sample.size


def bump(counts: dict, key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n
