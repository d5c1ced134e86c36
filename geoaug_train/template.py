"""The ms-swift side: a Qwen3-VL template that augments every fetch, plus epoch tracking.

Verified against ms-swift 4.6.0:
- `swift.template.templates.qwen.Qwen3VLTemplate._preprocess_inputs` loads images, then (when the
  record has objects) records `objects['width'/'height']` from the loaded images; `normalize_bbox`
  runs later during tokenization. Replacing the image (and boxes) *before* calling the parent makes
  both reflect the augmented image.
- `swift.dataset.utils.LazyLLMDataset` calls `template.encode(row)` without the row's index, and the
  batch sampler (`swift.dataloader.shard.BatchSamplerShard`) lives in the main process while
  dataloader workers may be persistent. So the record index travels in the row itself
  (`chat_template_kwargs.geoaug_index`, a column ms-swift keeps), and the epoch travels with each
  sampled index (`EpochIndex`), which is the only thing that reaches a persistent worker every fetch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

TEMPLATE_TYPE = 'geoaug_qwen3_vl'
SPEC_ENV = 'GEOAUG_TRAIN_SPEC'
# Optional audit trail: one JSON line per fetch (split, index, epoch, seed), from every worker process.
FETCH_LOG_ENV = 'GEOAUG_TRAIN_FETCH_LOG'

_fetch_epoch = 0  # set per fetch by the patched LazyLLMDataset; fetches within a process are sequential
_spec_cache: dict[str, Any] = {}


class EpochIndex(int):
    """A dataset index that remembers the epoch its sampler drew it in."""

    epoch: int

    def __new__(cls, value: int, epoch: int) -> EpochIndex:
        obj = int.__new__(cls, value)
        obj.epoch = int(epoch)
        return obj

    def __reduce__(self):  # crosses the worker index queue by pickle
        return EpochIndex, (int(self), self.epoch)


def current_epoch() -> int:
    return _fetch_epoch


def _epoch_attrs_ok(sampler_cls) -> bool:
    """Does this BatchSamplerShard keep the epoch as `curr_seed - base_seed` after `set_epoch` (ms-swift 4.6)?"""
    try:
        probe = sampler_cls(4, batch_size=1, shuffle=False, drop_last=False, data_seed=5)
        probe.set_epoch(3)
        return probe.curr_seed - probe.base_seed == 3
    except (TypeError, AttributeError, ValueError):  # a changed constructor or set_epoch, an attribute gone
        return False


def _patch_epoch_tracking() -> None:
    from swift.dataloader.shard import BatchSamplerShard
    from swift.dataset.utils import LazyLLMDataset

    from . import swift_compat

    if getattr(BatchSamplerShard, '_geoaug_patched', False):
        return
    # Correctness needs this patch (each epoch draws new augmentations): on an untested ms-swift it is kept
    # only if the sampler still keeps its epoch the way the patch reads it, else startup stops here.
    if not swift_compat.is_tested() and not _epoch_attrs_ok(BatchSamplerShard):
        raise swift_compat.unsupported(
            'swift.dataloader.shard.BatchSamplerShard no longer keeps the epoch as curr_seed - base_seed after '
            'set_epoch, which geoaug_train reads to draw new augmentations each epoch'
        )
    sampler_iter = BatchSamplerShard.__iter__
    dataset_getitem = LazyLLMDataset.__getitem__

    def __iter__(self):
        # set_epoch(e) sets curr_seed = base_seed + e (ms-swift 4.6).
        epoch = self.curr_seed - self.base_seed
        for batch in sampler_iter(self):
            yield [EpochIndex(i, epoch) for i in batch]

    def __getitem__(self, idx):
        global _fetch_epoch
        if isinstance(idx, str):
            return dataset_getitem(self, idx)
        _fetch_epoch = getattr(idx, 'epoch', 0)
        try:
            return dataset_getitem(self, int(idx))
        finally:
            _fetch_epoch = 0

    BatchSamplerShard.__iter__ = __iter__
    LazyLLMDataset.__getitem__ = __getitem__
    BatchSamplerShard._geoaug_patched = True


class _Spec:
    """The run's spec, written by `geoaug-train train` before ms-swift starts: the augmentation, and the
    record store every process opens (one record read per fetch, no copy per process)."""

    def __init__(self, path: str):
        from .samples import builder_from_spec
        from .store import RecordStore

        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
        self.store = RecordStore(raw['store'])
        self.builder = builder_from_spec(raw)

    @classmethod
    def load(cls) -> _Spec:
        path = os.environ.get(SPEC_ENV)
        if not path:
            raise RuntimeError(f'{SPEC_ENV} is not set: the {TEMPLATE_TYPE} template only runs under geoaug-train')
        if path not in _spec_cache:
            _spec_cache[path] = cls(path)
        return _spec_cache[path]


def apply_sample(inputs, sample, record) -> None:
    """Put one built Sample into ms-swift's StdTemplateInputs."""
    if len(inputs.images) != 1:
        raise RuntimeError(f'expected one image per record, got {len(inputs.images)}')
    inputs.images = [sample.image]
    if record.kind == 'geoaug':
        if [m['role'] for m in inputs.messages] != ['user', 'assistant']:
            raise RuntimeError(f'unexpected conversation shape for a geoaug record: {inputs.messages}')
        inputs.messages = [dict(m) for m in sample.messages]
    elif sample.native_objects is not None:
        inputs.objects = {
            'ref': list(sample.native_objects['ref']),
            'bbox': [list(b) for b in sample.native_objects['bbox']],
        }


def _log_fetch(split: str, index: int, epoch: int, sample) -> None:
    path = os.environ.get(FETCH_LOG_ENV)
    if not path:
        return
    line = (
        json.dumps(
            {
                'split': split,
                'index': index,
                'epoch': epoch,
                'seed': sample.seed,
                'size': list(sample.image.size),
                'pid': os.getpid(),
            }
        )
        + '\n'
    )
    with open(path, 'a', encoding='utf-8') as f:  # one short O_APPEND write per line: safe across workers
        f.write(line)


def _make_template_cls(fast: bool = True):
    """The template class. `fast` adds the speed-only overrides of private ms-swift steps (verified on
    swift_compat.TESTED_SWIFT_VERSION); without them every step after augmentation is ms-swift's stock one."""
    from swift.template.templates.qwen import Qwen3VLTemplate

    from .swift_fastpath import ChunkedTokenizer, add_dynamic_eos, bool_tensor, int_tensor

    class GeoaugQwen3VLTemplate(Qwen3VLTemplate):
        """Qwen3-VL with geoaug applied to image and geometry on every fetch of a training record."""

        _geoaug_fast = False

        def _preprocess_inputs(self, inputs) -> None:
            kwargs = inputs.chat_template_kwargs or {}
            index = kwargs.pop('geoaug_index', None)
            split = kwargs.pop('geoaug_split', 'train')
            if index is not None:
                spec = _Spec.load()
                records = spec.store[split]
                record, where = records.record(int(index)), records.where(int(index))
                sample = spec.builder.build(record, split=split, epoch=current_epoch(), index=int(index), where=where)
                if sample.fallback:
                    print(
                        f'[geoaug-train] {where}: augmentation dropped a box of a native record; '
                        'this fetch is trained un-augmented',
                        file=sys.stderr,
                        flush=True,
                    )
                apply_sample(inputs, sample, record)
                _log_fetch(split, int(index), current_epoch(), sample)
                from .fetch_stats import record as _record_fetch_stats  # dropped/clipped per epoch, all processes

                _record_fetch_stats(split, current_epoch(), sample)
            super()._preprocess_inputs(inputs)
            if (
                self._geoaug_fast
                and index is not None
                and sample.array is not None
                and len(inputs.images) == 1
                and inputs.images[0] is sample.image
                and _at_fixed_point(sample.image, inputs, self.processor.image_processor.patch_size)
            ):
                # ms-swift needed the PIL image above; the image processor would only turn it back into
                # this array (a full copy per fetch), so hand it the array itself: identical pixel_values.
                inputs.images[0] = sample.array

    if not fast:
        return GeoaugQwen3VLTemplate

    class GeoaugQwen3VLTemplateFast(GeoaugQwen3VLTemplate):
        _geoaug_fast = True

        # The per-token steps a long answer makes expensive, each replaced by an identical faster one
        # (swift_fastpath; tests/train/test_train_fastpath.py holds them to the stock results).
        def _tokenize(self, context, **kwargs):
            if kwargs or not isinstance(context, str):
                return super()._tokenize(context, **kwargs)
            chunked = self.__dict__.get('_geoaug_chunked')
            if chunked is None or chunked.tokenizer is not self.tokenizer:  # built lazily, per tokenizer
                chunked = self._geoaug_chunked = ChunkedTokenizer(
                    self.tokenizer, lambda texts: Qwen3VLTemplate._tokenize(self, texts)
                )
            return chunked(context)

        def __getstate__(self):  # the cache (and its bound stock call) is rebuilt in each worker
            state = super().__getstate__()
            state.pop('_geoaug_chunked', None)
            return state

        @staticmethod
        def _add_dynamic_eos(input_ids, labels, loss_scale, suffix_tokens_id):
            add_dynamic_eos(input_ids, labels, loss_scale, suffix_tokens_id, stock=Qwen3VLTemplate._add_dynamic_eos)

        def create_mm_token_type_ids(self, input_ids, mm_mask=None):
            if isinstance(input_ids, list) and input_ids:
                input_ids = int_tensor(input_ids)
            if isinstance(mm_mask, list):
                mm_mask = bool_tensor(mm_mask)
            return super().create_mm_token_type_ids(input_ids, mm_mask)

        def replace_tag(self, media_type, index, inputs):
            # qwen_vl_utils.fetch_image would copy the image twice (to_rgb, then a resize to the size it
            # already has). An image geoaug already brought to a smart_resize fixed point goes straight on:
            # same pixels, same image_grid_thw, two fewer copies per fetch.
            if (
                media_type == 'image'
                and self.mode not in ('vllm', 'lmdeploy')
                and _at_fixed_point(inputs.images[index], inputs, self.processor.image_processor.patch_size)
            ):
                return ['<|vision_start|><|image_pad|><|vision_end|>']
            return super().replace_tag(media_type, index, inputs)

    GeoaugQwen3VLTemplateFast.__name__ = GeoaugQwen3VLTemplateFast.__qualname__ = 'GeoaugQwen3VLTemplate'
    return GeoaugQwen3VLTemplateFast


def _at_fixed_point(image, inputs, patch_size: int) -> bool:
    """Would qwen_vl_utils.fetch_image leave this image's size as it is (its only remaining work a copy)?"""
    import numpy as np
    from PIL import Image
    from qwen_vl_utils import vision_process as vp

    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            return False
        h, w = image.shape[:2]
    elif isinstance(image, Image.Image) and image.mode == 'RGB':
        w, h = image.size
    else:
        return False
    kwargs = inputs.chat_template_kwargs or {}
    if 'resized_height' in kwargs or 'resized_width' in kwargs:
        return False
    factor = int(patch_size * vp.SPATIAL_MERGE_SIZE)
    lo = kwargs.get('min_pixels', vp.IMAGE_MIN_TOKEN_NUM * factor**2)
    hi = kwargs.get('max_pixels', vp.IMAGE_MAX_TOKEN_NUM * factor**2)
    return vp.smart_resize(h, w, factor=factor, min_pixels=lo, max_pixels=hi) == (h, w)


def register() -> None:
    """Register the template and the epoch tracking. The installed ms-swift version is checked here, once
    (swift_compat): the fast paths run only on the tested version."""
    from swift.template import TEMPLATE_MAPPING, register_template

    from . import swift_compat

    if TEMPLATE_TYPE in TEMPLATE_MAPPING:
        return
    _patch_epoch_tracking()
    fast = swift_compat.is_tested()
    if not fast:
        swift_compat.notice(
            'template fast paths off (stock ms-swift encoding, same result, slower); '
            'epoch tracking kept (its sampler attributes are present)'
        )
    base = TEMPLATE_MAPPING['qwen3_vl']
    register_template(
        dataclasses.replace(base, template_type=TEMPLATE_TYPE, template_cls=_make_template_cls(fast=fast))
    )
