"""One fetch of one record: load, augment (training only), resize for Qwen3-VL, render the answer.

Shared by the ms-swift template (training) and `geoaug-train render`, so what `render` writes is what
the model is trained on.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from geoaug.kinds import get_kind
from geoaug.records import KIND_OF

from .answer import KEY_OF, RAGGED, grid_object, grid_table, render_answer
from .records import Record

if TYPE_CHECKING:
    from PIL import Image

    from geoaug.pipeline import Pipeline
    from geoaug.result import Result

# Qwen3-VL: patch 16 x spatial merge 2. Resizing here (as the last geoaug op) means qwen_vl_utils'
# own smart_resize later is a no-op, so the 0-1000 grid is computed on exactly the pixels the model sees.
QWEN3_VL_FACTOR = 32
ANSWER_PLACEHOLDER = '<geoaug-answer>'
SHAPE_OF = {'bbox': (4,), 'quad': (4, 2), 'point': (2,)}  # one object's array, for the kinds of fixed size


class SampleError(RuntimeError):
    """A record failed while being fetched; the message names the record."""


def pipeline_config(aug: Any, max_pixels: int, min_pixels: int, augment: bool) -> dict[str, Any]:
    resize = {
        'name': 'smart_resize',
        'params': {'factor': QWEN3_VL_FACTOR, 'max_pixels': int(max_pixels), 'min_pixels': int(min_pixels)},
    }
    if not augment or not aug:
        return _answer_options({'ops': [resize]})
    if isinstance(aug, list):
        return _answer_options({'ops': list(aug) + [resize]})
    if not aug.get('enabled', True):
        return _answer_options({'ops': [resize]})
    cfg = copy.deepcopy(dict(aug))
    cfg.pop('enabled', None)
    ops = cfg.get('ops')
    if ops is not None and not isinstance(ops, list):  # {} / 0 / false must not quietly mean "no ops"
        from geoaug.errors import ConfigError

        raise ConfigError(f'custom.augmentation.ops: expected a list of ops, got {type(ops).__name__} {ops!r:.60}')
    cfg['ops'] = list(ops or []) + [resize]
    return _answer_options(cfg)


def _answer_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """The kind settings an answer needs. A point that augmentation moves off the image has no place in the
    answer (on the grid it would be clamped onto the edge): ``point_outside: drop`` drops it and reports it,
    so it is counted like every other dropped object. geoaug's default, ``flag``, would keep it unlabelled."""
    from geoaug.kinds import kind_names

    if 'points' not in kind_names():
        return cfg
    given = cfg.setdefault('point_outside', 'drop')
    if given != 'drop':
        from geoaug.errors import ConfigError

        raise ConfigError(
            f'custom.augmentation.point_outside: {given!r} would keep points that left the image in the answer, '
            "clamped onto its edge; geoaug_train drops them (and counts them): use 'drop' or leave it out"
        )
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
    # it), or None; and the objects per kind ('boxes', 'points', ...) that went in and that the answer holds.
    report: Any = None
    objects_in: dict[str, int] = field(default_factory=dict)
    objects_out: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        out: tuple[int, int] = self.image.size
        return out


def augment_record(
    pipeline: Pipeline, record: Record, seed: int, where: str, **geometry: Any
) -> tuple[Result, Image.Image]:
    """Plan the draws from the image header, decode only the resolution the plan needs (a JPEG page bound
    for 832x1184 decodes at 1/2), then run the plan: one fused warp lands the pixels at their final size.
    ``geometry``: tables or arrays by kind name (``boxes=``, ``points=``, ...; None: none of that kind).
    Returns (result, PIL image); coordinates stay in the original image's frame throughout."""
    from PIL import Image

    from geoaug.errors import ImageError
    from geoaug.io import ImageSource, required_scale
    from geoaug.kinds import get_kind

    # Tables built (and validated) once, for both the plan and the run.
    geometry = {name: get_kind(name).intake(v) for name, v in geometry.items() if v is not None}
    try:
        with ImageSource(record.image, record=where) as src:
            plan = pipeline.plan(src.size, seed=seed, **geometry)
            decoded = src.decode(min_scale=required_scale(plan))
    except ImageError as e:
        raise SampleError(str(e)) from e
    res = pipeline.replay(plan, decoded.image, frame=decoded.original_size, image_scale=decoded.scale, **geometry)
    return res, Image.fromarray(cast(np.ndarray, res.image))  # a replay of a decoded array: an array


def record_tables(objects: list[dict[str, Any]]) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """A geoaug record's objects as geoaug inputs: (object key -> positions of its objects in ``objects``,
    kind name -> array or list of arrays, only for the kinds present). Row r of a kind is the object at
    ``positions[key][r]``: a result's ``index`` leads back to it."""
    by_key: dict[str, list[int]] = {k: [] for k in KEY_OF}
    for pos, obj in enumerate(objects):
        by_key[next(k for k in KEY_OF if k in obj)].append(pos)
    tables: dict[str, Any] = {}
    for key, positions in by_key.items():
        if not positions:
            continue
        values = [objects[p][key] for p in positions]
        if key in RAGGED:
            tables[KIND_OF[key]] = [np.asarray(v, np.float64).reshape(-1, 2) for v in values]
        else:
            tables[KIND_OF[key]] = np.asarray(values, np.float64).reshape(len(values), *SHAPE_OF[key])
    return by_key, tables


def _rows(table: Sized | None) -> int:
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

    def _geoaug(self, pipeline: Pipeline, record: Record, seed: int, where: str) -> Sample:
        by_key, given = record_tables(record.objects)
        res, image = augment_record(pipeline, record, seed, where, **given)
        width, height = image.size
        placed = []  # (original position, piece number, grid object): keeps the user's object order
        objects_in, objects_out = {}, {}
        for key, name in KIND_OF.items():
            if name not in given:
                continue
            table = getattr(res, name)
            objects_in[name] = len(by_key[key])
            objects_out[name] = _rows(table)
            if _rows(table) == 0:
                continue
            grid = grid_table(key, get_kind(name).answer_rows(table), width, height)
            for piece, (src, coords) in enumerate(zip(np.asarray(table.index).tolist(), grid)):
                pos = by_key[key][int(src)]
                placed.append((pos, piece, {'label': record.objects[pos]['label'], KEY_OF[key]: coords}))
        objects = [o for _, _, o in sorted(placed, key=lambda t: (t[0], t[1]))]
        messages = [
            {'role': 'user', 'content': '<image>' + (record.prompt or self.prompt)},
            {'role': 'assistant', 'content': render_answer(objects)},
        ]
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

    def _native(self, pipeline: Pipeline, record: Record, seed: int, where: str) -> Sample:
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
