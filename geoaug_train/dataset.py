"""The training data path as a public object: exactly what ms-swift's trainer iterates.

`build_dataset(config)` goes through the same steps as `geoaug-train train`: it validates the config,
prepares the run (spec + ms-swift rows), parses ms-swift's own `sft` arguments, builds the template with
them, loads the rows with ms-swift's dataset loader and wraps them in ms-swift's `LazyLLMDataset`. Each
item is what the model receives (input_ids, labels, pixel_values, image_grid_thw, ...), augmented afresh
on every fetch with the seed (training.seed, epoch, index); `collate` makes a batch of items with ms-swift's
own collator, padded or (training.packing) flattened into one padding-free sequence.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .template import SPEC_ENV, TEMPLATE_TYPE, EpochIndex


def _swift_args(cfg: dict[str, Any], prepared: dict[str, Any], template: str) -> Any:
    from swift.arguments import SftArguments
    from swift.utils import parse_args

    from .swift_args import sft_args

    argv = sft_args(cfg, prepared)
    argv[argv.index('--template') + 1] = template
    args, rest = parse_args(SftArguments, argv)
    if rest:
        raise RuntimeError(f'ms-swift did not take these arguments: {rest}')
    return args


class TrainingDataset:
    """A map-style dataset (``len``, ``ds[i]``) of encoded samples; ``set_epoch`` picks the draws."""

    def __init__(
        self, lazy: Any, template: Any, split: str, records: int, processor: Any, model_dir: str | None = None
    ) -> None:
        self._lazy, self.template, self.split, self.processor = lazy, template, split, processor
        self.epoch = 0
        self._len = records
        self._model_dir = model_dir

    @property
    def padding_free(self) -> bool:
        """Does the trainer flatten each batch into one sequence (training.packing with augmentation on)?"""
        return bool(self.template.padding_free)

    def collate(self, items: list[dict[str, Any]], *, padding_free: bool | None = None) -> dict[str, Any]:
        """The batch the model receives for ``items``: ms-swift's own collator (``template.data_collator``).

        Padded to the longest item, or with ``padding_free`` (default: as the trainer will, see
        `padding_free`) concatenated into one sequence of batch size 1: position_ids restart at every item
        (Qwen3-VL's 3-D mrope rows, plus ``text_position_ids``) and ``cu_seq_lens_q``/``_k`` mark the item
        boundaries that flash attention keeps apart. The items are not modified.
        """
        template = self.template
        if template.model is None and template.dummy_model is None and self._model_dir:
            # The mrope position ids come from the model's get_rope_index; outside the trainer the template has
            # no model, so it gets the weightless one ms-swift itself builds for that (on the meta device).
            import torch
            from swift.model import get_model_processor

            with torch.device('meta'):
                template.dummy_model = get_model_processor(
                    self._model_dir, model_type='qwen3_vl', return_dummy_model=True, download_model=False
                )[0]
        before = template.padding_free
        if padding_free is not None:
            template.padding_free = bool(padding_free)
        try:
            batch: dict[str, Any] = template.data_collator([dict(item) for item in items])
            return batch
        finally:
            template.padding_free = before

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self._len:
            raise IndexError(f'index {index} out of range for {self._len} {self.split} records')
        item: dict[str, Any] = self._lazy[EpochIndex(int(index), self.epoch)]
        return item

    @property
    def rows(self) -> Any:
        """ms-swift's rows (messages, images, chat_template_kwargs) behind the items."""
        return self._lazy.dataset


def build_dataset(
    config: str | dict[str, Any], split: str = 'train', *, overrides: list[str] | None = None, plain: bool = False
) -> TrainingDataset:
    """The dataset the trainer iterates for ``split`` ('train' or 'val'); validation is never augmented.

    ``plain=True`` builds ms-swift's own path on the same records instead: the stock ``qwen3_vl`` template
    loading the image files itself (decode, qwen_vl_utils resize, image processor), with the answers
    rendered once from the un-augmented geometry. It is the baseline ``bench-data`` compares against.
    """
    import torch
    from swift.dataset.utils import LazyLLMDataset

    from . import template as template_mod
    from .config import adapt_packing, adapt_to_device, load_config
    from .prepare import prepare_run

    cfg = load_config(config, overrides) if isinstance(config, (str, os.PathLike)) else config
    if split not in ('train', 'val') or (split == 'val' and not cfg['data']['val']):
        raise ValueError(f"split must be 'train' or 'val' (with data.val set), got {split!r}")
    cuda = torch.cuda.is_available()
    adapt_to_device(cfg, cuda)
    adapt_packing(cfg, cuda)
    prepared = prepare_run(cfg)
    os.environ[SPEC_ENV] = prepared['spec']
    template_mod.register()
    args = _swift_args(cfg, prepared, 'qwen3_vl' if plain else TEMPLATE_TYPE)
    processor = args.get_model_processor(load_model=False)[1]
    template = args.get_template(processor)
    template.set_mode('train')
    train, val = args.load_dataset()
    rows = train if split == 'train' else val
    if plain:
        rows = rows.map(_plain_row(prepared['spec'], split), load_from_cache_file=False)
    lazy = LazyLLMDataset(rows, template.encode, strict=True, random_state=args.data_seed)
    return TrainingDataset(lazy, template, split, len(rows), processor, model_dir=cfg['model']['path'])


def _plain_row(spec_path: str, split: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turn a geoaug row into a stock ms-swift row: the image path stays, the answer is rendered once from
    the original geometry on the size qwen_vl_utils will produce (what a user without geoaug trains on)."""
    import json

    from PIL import Image

    from .answer import grid_objects, render_answer
    from .store import RecordStore

    with open(spec_path, encoding='utf-8') as f:
        spec = json.load(f)
    records = RecordStore(spec['store'])[split]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(row['chat_template_kwargs'])
        index = kwargs.pop('geoaug_index')
        kwargs.pop('geoaug_split', None)
        rec = records.record(index)
        w, h = records.image_size(index)
        if not w:  # data.check_images: off
            with Image.open(rec.image) as im:
                w, h = im.size

        # every kind of object (bbox, quad, line, point, polygon) in the record's order, on the one grid rule
        answer = render_answer(grid_objects(rec.objects, w, h))
        row['messages'] = [
            {'role': 'user', 'content': '<image>' + (rec.prompt or spec['prompt'])},
            {'role': 'assistant', 'content': answer},
        ]
        row['chat_template_kwargs'] = kwargs or None
        return row

    return convert
