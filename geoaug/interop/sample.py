"""One image's annotations as geoaug tables: the common currency every format converts to and from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import GeoaugError
from ..instances import Boxes, Lines, Quads


class FormatError(GeoaugError):
    """An annotation file or record is malformed; the message names the file/record, object and field."""


@dataclass
class Sample:
    """Annotations of one image in geoaug's pixel-edge frame.

    ``image`` is whatever the source names the image by (a COCO file_name, a path, an ms-swift image
    entry); ``width``/``height`` may be None when the source does not say (ms-swift records).
    ``meta`` keeps what the format carries besides geometry, so that writing gives it back.
    ``counts`` says what reading had to convert or leave out (e.g. ``{"polygon_as_box": 3}``).
    """

    image: Any
    width: int | None
    height: int | None
    boxes: Boxes = field(default_factory=Boxes)
    quads: Quads = field(default_factory=Quads)
    lines: Lines = field(default_factory=Lines)
    meta: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple | None:
        return None if self.width is None or self.height is None else (self.width, self.height)

    def augment(self, aug: Callable[..., Any], image: Any, seed: Any = None) -> Any:
        """Run ``aug`` on ``image`` with this sample's geometry; returns geoaug's Result."""
        return aug(image, boxes=self.boxes, quads=self.quads, lines=self.lines, seed=seed)

    def with_result(self, res: Any) -> Sample:
        """This sample after augmentation: the result's tables and canvas size, the same image name and meta."""
        w, h = res.size
        return Sample(self.image, int(w), int(h), res.boxes, res.quads, res.lines, dict(self.meta), dict(self.counts))


def require_size(sample: Sample, where: str) -> tuple:
    if sample.size is None:
        raise FormatError(
            f"{where}: the image size is unknown (width/height are None); it is needed to normalise coordinates"
        )
    return sample.size


def bump(counts: dict, key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n
