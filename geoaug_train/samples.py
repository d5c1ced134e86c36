"""One fetch of one record: load, augment (training only), resize for Qwen3-VL, render the answer.

Shared by the ms-swift template (training) and `geoaug-train render`, so what `render` writes is what
the model is trained on.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .answer import KEY_OF, grid_object, grid_table, render_answer
from .records import Record

# Qwen3-VL: patch 16 x spatial merge 2. Resizing here (as the last geoaug op) means qwen_vl_utils'
# own smart_resize later is a no-op, so the 0-1000 grid is computed on exactly the pixels the model sees.
QWEN3_VL_FACTOR = 32
ANSWER_PLACEHOLDER = '<geoaug-answer>'


class SampleError(RuntimeError):
    """A record failed while being fetched; the message names the record."""


def pipeline_config(aug: Any, max_pixels: int, min_pixels: int, augment: bool) -> dict[str, Any]:
    resize = {
        'name': 'smart_resize',
        'params': {'factor': QWEN3_VL_FACTOR, 'max_pixels': int(max_pixels), 'min_pixels': int(min_pixels)},
    }
    if not augment or not aug:
        return {'ops': [resize]}
    if isinstance(aug, list):
        return {'ops': list(aug) + [resize]}
    if not aug.get('enabled', True):
        return {'ops': [resize]}
    cfg = copy.deepcopy(dict(aug))
    cfg.pop('enabled', None)
    ops = cfg.get('ops')
    if ops is not None and not isinstance(ops, list):  # {} / 0 / false must not quietly mean "no ops"
        from geoaug.errors import ConfigError

        raise ConfigError(f'custom.augmentation.ops: expected a list of ops, got {type(ops).__name__} {ops!r:.60}')
    cfg['ops'] = list(ops or []) + [resize]
    return cfg


@dataclass
class Sample:
    image: Any  # PIL.Image, augmented and resized
    seed: int | None
    objects: list[dict[str, Any]] = field(default_factory=list)  # answer objects on the 0-1000 grid
    messages: list[dict[str, str]] = field(default_factory=list)  # geoaug records: the full conversation
    native_objects: dict[str, Any] | None = None  # native records: augmented {'ref', 'bbox'} in pixels
    fallback: bool = False  # native record whose augmentation dropped a box: trained un-augmented
    array: Any = None  # the same pixels as an HxWx3 uint8 array (what the image processor converts to)
    # What augmentation did to the geometry (geoaug_train.fetch_stats sums it per epoch): the geoaug Report of
    # the run that produced the image (for a native fallback: of the augmented attempt, whose drops forced
    # it), or None; and the objects per kind ('boxes'/'quads'/'lines') that went in and that the answer holds.
    report: Any = None
    objects_in: dict[str, int] = field(default_factory=dict)
    objects_out: dict[str, int] = field(default_factory=dict)

    @property
    def size(self):
        return self.image.size


def augment_record(pipeline, record: Record, seed: int, where: str, **geometry):
    """Plan the draws from the image header, decode only the resolution the plan needs (a JPEG page bound
    for 832x1184 decodes at 1/2), then run the plan: one fused warp lands the pixels at their final size.
    Returns (result, PIL image); coordinates stay in the original image's frame throughout."""
    from PIL import Image

    from geoaug.errors import ImageError
    from geoaug.instances import as_boxes, as_lines, as_quads
    from geoaug.io import ImageSource, required_scale

    # Tables built (and validated) once, for both the plan and the run.
    geometry = {k: conv(geometry.get(k)) for k, conv in (('boxes', as_boxes), ('quads', as_quads), ('lines', as_lines))}
    try:
        with ImageSource(record.image, record=where) as src:
            plan = pipeline.plan(src.size, seed=seed, **geometry)
            decoded = src.decode(min_scale=required_scale(plan))
    except ImageError as e:
        raise SampleError(str(e)) from e
    res = pipeline.replay(plan, decoded.image, frame=decoded.original_size, image_scale=decoded.scale, **geometry)
    return res, Image.fromarray(res.image)


def _rows(table) -> int:
    return 0 if table is None else len(table)


class SampleBuilder:
    """Turns (record, split, epoch, index) into a Sample; deterministic in those four."""

    def __init__(self, augmentation: Any, *, max_pixels: int, min_pixels: int, seed: int, prompt: str):
        import geoaug

        self.seed = int(seed)
        self.prompt = prompt
        self.train_pipeline = geoaug.from_config(pipeline_config(augmentation, max_pixels, min_pixels, True))
        # Validation and the native-record fallback only get the resize, never augmentation.
        self.plain_pipeline = geoaug.from_config(pipeline_config(None, max_pixels, min_pixels, False))
        self.fallbacks = 0

    def build(self, record: Record, *, split: str, epoch: int, index: int, where: str = '') -> Sample:
        import geoaug

        where = where or f'record at line {record.line}'
        augment = split == 'train'
        seed = geoaug.sample_seed(self.seed, int(epoch), int(index)) if augment else 0
        pipeline = self.train_pipeline if augment else self.plain_pipeline
        try:
            if record.kind == 'native':
                return self._native(pipeline, record, seed, where)
            return self._geoaug(pipeline, record, seed, where)
        except SampleError:
            raise
        except Exception as e:
            raise SampleError(f'{where} ({record.image}): augmentation failed: {type(e).__name__}: {e}') from e

    def _geoaug(self, pipeline, record: Record, seed: int, where: str) -> Sample:
        by_kind: dict[str, list[int]] = {'bbox': [], 'quad': [], 'line': []}
        for pos, obj in enumerate(record.objects):
            by_kind[next(k for k in by_kind if k in obj)].append(pos)
        boxes = np.array([record.objects[p]['bbox'] for p in by_kind['bbox']], np.float64).reshape(-1, 4)
        quads = np.array([record.objects[p]['quad'] for p in by_kind['quad']], np.float64).reshape(-1, 4, 2)
        lines = [np.array(record.objects[p]['line'], np.float64) for p in by_kind['line']]
        res, image = augment_record(
            pipeline,
            record,
            seed,
            where,
            boxes=boxes if len(boxes) else None,
            quads=quads if len(quads) else None,
            lines=lines if lines else None,
        )
        width, height = image.size
        placed = []  # (original position, piece number, grid object): keeps the user's object order
        tables: tuple[tuple[str, Any, Callable[[Any], Any]], ...] = (
            ('bbox', getattr(res, 'boxes', None), lambda t: t.xyxy),
            ('quad', getattr(res, 'quads', None), lambda t: t.points),
            ('line', getattr(res, 'lines', None), lambda t: t.points),
        )
        for kind, table, geometry in tables:
            if _rows(table) == 0:
                continue
            grid = grid_table(kind, geometry(table), width, height)
            for piece, (src, coords) in enumerate(zip(np.asarray(table.index).tolist(), grid)):
                pos = by_kind[kind][int(src)]
                placed.append((pos, piece, {'label': record.objects[pos]['label'], KEY_OF[kind]: coords}))
        objects = [o for _, _, o in sorted(placed, key=lambda t: (t[0], t[1]))]
        messages = [
            {'role': 'user', 'content': '<image>' + (record.prompt or self.prompt)},
            {'role': 'assistant', 'content': render_answer(objects)},
        ]
        objects_in = {'boxes': len(boxes), 'quads': len(quads), 'lines': len(lines)}
        objects_out = {name: _rows(table) for name, (_, table, _) in zip(('boxes', 'quads', 'lines'), tables)}
        return Sample(
            image=image,
            seed=seed,
            objects=objects,
            messages=messages,
            array=res.image,
            report=res.report,
            objects_in=objects_in,
            objects_out=objects_out,
        )

    def _native(self, pipeline, record: Record, seed: int, where: str) -> Sample:
        native = record.native_objects
        if not native or not native['bbox']:
            res, image = augment_record(pipeline, record, seed, where)
            return Sample(
                image=image,
                seed=seed,
                messages=copy.deepcopy(record.messages),  # type: ignore[arg-type]  # a native record always carries messages
                native_objects=native,
                report=res.report,
            )
        boxes = np.array(native['bbox'], np.float64).reshape(-1, 4)
        res, image = augment_record(pipeline, record, seed, where, boxes=boxes)
        report = res.report  # a fallback's drops are reported as what augmentation did (and counted as such)
        fallback = False
        if len(res.boxes) != len(boxes):
            # Native messages refer to objects by position (<ref-object>, <bbox> tags), so a dropped box
            # cannot simply leave the answer: this fetch falls back to the un-augmented sample (counted).
            res, image = augment_record(self.plain_pipeline, record, 0, where, boxes=boxes)
            fallback = True
            self.fallbacks += 1
        order = np.argsort(np.asarray(res.boxes.index))
        bbox = np.asarray(res.boxes.xyxy, np.float64)[order].tolist()
        width, height = image.size
        objects = [grid_object(ref, 'bbox', b, width, height) for ref, b in zip(native.get('ref') or [], bbox)]
        return Sample(
            image=image,
            seed=seed,
            messages=copy.deepcopy(record.messages),  # type: ignore[arg-type]  # a native record always carries messages
            native_objects={'ref': list(native.get('ref') or []), 'bbox': bbox},
            objects=objects,
            fallback=fallback,
            report=report,
            objects_in={'boxes': len(boxes)},
            objects_out={'boxes': len(bbox)},
        )


def builder_from_spec(spec: Mapping[str, Any]) -> SampleBuilder:
    return SampleBuilder(
        spec['augmentation'],
        max_pixels=spec['max_pixels'],
        min_pixels=spec['min_pixels'],
        seed=spec['seed'],
        prompt=spec['prompt'],
    )
