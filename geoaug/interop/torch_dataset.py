"""A ``torch.utils.data.Dataset`` that augments each item with a seed drawn from (seed, epoch, index).

The seed depends only on what is fetched, never on which worker fetches it or in what order, so the
same (seed, epoch) gives the same bytes with 0 or 8 workers. The epoch lives in a shared-memory
tensor: ``set_epoch`` reaches workers that already exist (``persistent_workers=True``) as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from ..seeding import sample_seed
from .source_items import load_image_rgb, unpack


class AugmentedDataset(Dataset):
    """``AugmentedDataset(records_or_base_dataset, aug, seed)``.

    Items are geoaug.interop Samples (their image is loaded from ``image_root``/``image``) or mappings
    with ``image`` (array, PIL image or path) and optional ``boxes``/``quads``/``lines``/``points``/
    ``polygons``/``masks``. Each fetch returns a dict: ``image``, ``boxes``, ``quads``, ``lines`` (geoaug
    tables, fields alongside; ``points``, ``polygons``, ``masks`` too when the item has them), ``size``,
    ``matrix``, ``report``, ``replay``, ``index``, ``seed`` and the item's other keys; ``output`` (a
    callable on that dict) can turn it into tensors.

    Args:
        source: a sequence (``len`` and indexing) of items: Samples or mappings.
        aug: the pipeline (any callable taking ``image, boxes=, quads=, lines=, seed=``, and the other kinds'
            keywords when items have them).
        seed: base seed; item ``i`` of epoch ``e`` uses ``sample_seed(seed, e, i)``.
        image_root: folder that relative image paths are joined to.
        load_image: path -> image (default: RGB uint8 through PIL).
        output: applied to each fetched dict (e.g. to make tensors).

    Raises:
        ImportError: torch is not installed (this module imports it).
    """

    def __init__(
        self,
        source: Any,
        aug: Callable[..., Any],
        seed: int = 0,
        *,
        image_root: str | os.PathLike[str] | None = None,
        load_image: Callable[[Any], Any] = load_image_rgb,
        output: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.source, self.aug, self.seed = source, aug, int(seed)
        self.image_root, self.load_image, self.output = image_root, load_image, output
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch for every worker, existing ones included.

        Raises:
            ValueError: ``epoch`` is not a non-negative integer.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or int(epoch) != epoch or epoch < 0:
            raise ValueError(f"set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self._epoch.fill_(int(epoch))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Any:
        """Fetch item ``index`` augmented with ``sample_seed(seed, epoch, index)``.

        Raises:
            IndexError: as ``source[index]``.
            FormatError: an item that is neither a Sample nor a mapping with ``image``, or whose image path
                cannot be read (naming the item).
            Exception: whatever ``load_image`` raises besides OSError, and whatever ``aug`` raises
                (GeometryError for malformed geometry, ImageError or ImageTypeError for an image it cannot take).
        """
        index = int(index)
        image, geom, rest = unpack(self.source[index], f"item {index}", self.image_root, self.load_image)
        seed = sample_seed(self.seed, self.epoch, index)
        res = self.aug(image, **geom, seed=seed)
        out = {
            **rest,
            "image": res.image,
            **{k: getattr(res, k) for k in geom},
            "size": res.size,
            "matrix": res.matrix,
            "report": res.report,
            "replay": res.replay,
            "index": index,
            "seed": seed,
        }
        return self.output(out) if self.output is not None else out
