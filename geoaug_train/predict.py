"""`geoaug-train predict`: run a checkpoint (+ LoRA adapter) on images, write pixel geometry and a drawing.

The image reaches the model exactly as a validation image reaches it in training: the config's plain
(non-augmented) pipeline, i.e. only the final smart_resize. That pipeline's replay record carries the answer's
0-1000 grid back to the original image, so nothing here knows how the resize was computed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .answer import FLAT
from .config import ConfigError, adapt_to_device
from .records import Record
from .samples import QWEN3_VL_FACTOR, SampleBuilder, augment_record

if TYPE_CHECKING:
    from PIL import Image

    from geoaug.qwen import Answer
    from geoaug.result import Result

# kind name -> the object key of the JSON written (that of a training record: geoaug.records.KIND_OF)
GEOMETRY_KEYS = {'boxes': 'bbox', 'quads': 'quad', 'lines': 'line', 'points': 'point', 'polygons': 'polygon'}


def _say(msg: str) -> None:
    print(f'[geoaug-train] {msg}', file=sys.stderr, flush=True)


def resolve_adapter(cfg: dict[str, Any], given: str | None) -> tuple[str | None, str]:
    """(adapter directory or None, a note saying which and why)."""
    from .train import latest_checkpoint

    if given:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.isdir(path):
            raise ConfigError(f'--adapter: not a directory: {given}')
        return path, f'adapter: {path}'
    latest = latest_checkpoint(cfg['training']['output_dir'])
    if latest:
        return latest, f'adapter: {latest} (latest checkpoint in training.output_dir)'
    return None, (
        f"no checkpoint-N in training.output_dir ({cfg['training']['output_dir']}): predicting with the base model only"
    )


def plain_builder(cfg: dict[str, Any]) -> SampleBuilder:
    data = cfg['data']
    return SampleBuilder(
        None,
        max_pixels=data['max_pixels'],
        min_pixels=data['min_pixels'],
        seed=cfg['training']['seed'],
        prompt=data['prompt'],
    )


def model_input(builder: SampleBuilder, path: str) -> tuple[Result, Image.Image]:
    """(geoaug Result of the plain pipeline, PIL image the model sees); `res.replay` maps answers back."""
    record = Record(line=0, image=os.path.abspath(path), kind='geoaug')
    return augment_record(builder.plain_pipeline, record, seed=0, where=f'--image {path}')


def _json_value(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _rows(table: Any, kind: str, coords: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    labels = table.fields.get('label', [None] * len(coords))
    for r, geom in enumerate(coords):
        row = {'label': _json_value(labels[r]), GEOMETRY_KEYS[kind]: np.round(np.asarray(geom, np.float64), 2).tolist()}
        row.update({n: _json_value(v[r]) for n, v in table.fields.items() if n != 'label'})
        if hasattr(table, 'visibility'):  # below 1: the answer reached outside the image and was clipped
            row['visibility'] = round(float(table.visibility[r]), 4)
        rows.append(row)
    return rows


def map_answer(text: str, width: int, height: int, replay: dict[str, Any]) -> tuple[Answer, dict[str, Any]]:
    """Answer text on the 0-1000 grid of the `width x height` model image -> (parsed Answer, JSON-ready dict
    with `problems` and `objects` in pixels of the original image)."""
    from geoaug.qwen import parse_answer

    ans = parse_answer(text, width, height, record=replay)
    from geoaug.kinds import get_kind, kind_names

    orig = ans.original
    objects = {}
    for kind, key in GEOMETRY_KEYS.items():
        if kind not in kind_names():
            continue
        table = getattr(orig, kind)
        rows = get_kind(kind).answer_rows(table)  # (K, 2) pixel points per row; bbox and point written flat
        objects[kind] = _rows(table, kind, [np.ravel(r) if key in FLAT else r for r in rows])
    problems = [{'index': p.index, 'reason': p.reason} for p in ans.problems]
    # The report indexes rows of one kind's table, not answer items: named in the reason, not as `index`.
    problems += [
        {'index': None, 'reason': f"{d['kind']} row {d['index']} dropped on the original image: {d['reason']}"}
        for d in orig.report.dropped
    ]
    return ans, {'problems': problems, 'objects': objects}


def annotate(path: str, original: Result) -> Any:
    """The original image (the same frame the replay record maps to) with the mapped geometry drawn on it."""
    from PIL import Image

    import geoaug
    from geoaug.io import to_rgb8

    with Image.open(path) as im:
        image = Image.fromarray(to_rgb8(im))
    tables = {kind: getattr(original, kind) for kind in GEOMETRY_KEYS if hasattr(original, kind)}
    return geoaug.draw(image, **{kind: t for kind, t in tables.items() if len(t)})


class Predictor:
    """A loaded checkpoint (+ adapter) and its processor; `answer(image, prompt)` is greedy and deterministic."""

    def __init__(self, cfg: dict[str, Any], adapter: str | None):
        import torch
        from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

        cuda = torch.cuda.is_available()
        for note in adapt_to_device(cfg, cuda):
            _say(note)
        model_path = cfg['model']['path']
        # A full fine-tune saves whole weights in checkpoint-N instead of an adapter.
        full = adapter and not os.path.isfile(os.path.join(adapter, 'adapter_config.json'))
        if full and not os.path.isfile(os.path.join(adapter, 'config.json')):  # type: ignore[arg-type]  # full implies an adapter path
            raise ConfigError(
                f'--adapter: {adapter} holds neither a LoRA adapter (adapter_config.json) '
                'nor full weights (config.json)'
            )
        if full:
            _say(f'{adapter} holds full weights (a full fine-tune): loading the model from there')
        self.processor = AutoProcessor.from_pretrained(model_path)
        ip = self.processor.image_processor
        if ip.patch_size * ip.merge_size != QWEN3_VL_FACTOR:
            raise ConfigError(
                f'model.path: patch {ip.patch_size} x merge {ip.merge_size} is not the factor '
                f'{QWEN3_VL_FACTOR} geoaug resizes to; is this a Qwen3-VL checkpoint?'
            )
        kwargs = {'dtype': cfg['model']['torch_dtype']}
        if cfg['model']['attn_impl']:
            kwargs['attn_implementation'] = cfg['model']['attn_impl']
        model: Any = Qwen3VLForConditionalGeneration.from_pretrained(adapter if full else model_path, **kwargs)
        if adapter and not full:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        self.device = 'cuda' if cuda else 'cpu'
        self.model = model.to(self.device).eval()

    def answer(self, image: Image.Image, prompt: str, max_new_tokens: int) -> str:
        import torch

        messages = [{'role': 'user', 'content': [{'type': 'image', 'image': image}, {'type': 'text', 'text': prompt}]}]
        # do_resize=False as in ms-swift's Qwen3-VL template: geoaug's smart_resize already gave the final size.
        inputs = self.processor.apply_chat_template(
            messages,
            tokenize=True,
            add_generation_prompt=True,
            return_dict=True,
            return_tensors='pt',
            processor_kwargs={'images_kwargs': {'do_resize': False}},
        ).to(self.device)
        grid = inputs['image_grid_thw'][0].tolist()
        patch = self.processor.image_processor.patch_size
        if grid[1:] != [image.size[1] // patch, image.size[0] // patch]:
            raise RuntimeError(f'the processor changed the image size: grid {grid} for {image.size}')
        torch.manual_seed(0)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new_tokens = out[0, inputs['input_ids'].shape[1] :]
        text: str = self.processor.decode(new_tokens, skip_special_tokens=True)
        return text


def output_stems(images: list[str]) -> list[str]:
    stems = [os.path.splitext(os.path.basename(p))[0] for p in images]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ConfigError(f'--image: several images named {dupes}; their outputs would overwrite each other')
    return stems


def run_predict(
    cfg: dict[str, Any],
    images: list[str],
    *,
    adapter: str | None = None,
    prompt: str | None = None,
    out_dir: str | None = None,
    max_new_tokens: int = 512,
) -> list[str]:
    """Writes <out>/<stem>.json and <stem>.png per image; returns the JSON paths."""
    if max_new_tokens < 1:
        raise ConfigError('--max-new-tokens: must be >= 1')
    for path in images:  # before the model load: a typo should cost a second
        if not os.path.isfile(path):
            raise ConfigError(f'--image: file not found: {path}')
    stems = output_stems(images)
    prompt = prompt or cfg['data']['prompt']
    out_dir = os.path.abspath(out_dir or os.path.join(cfg['training']['output_dir'], 'predict'))
    adapter, note = resolve_adapter(cfg, adapter)
    _say(note)
    builder = plain_builder(cfg)
    inputs = [model_input(builder, p) for p in images]
    predictor = Predictor(cfg, adapter)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path, stem, (res, image) in zip(images, stems, inputs):
        text = predictor.answer(image, prompt, max_new_tokens)
        ans, mapped = map_answer(text, *image.size, res.replay)
        meta = {
            'image': os.path.abspath(path),
            'image_size': list(res.input_size),
            'model_image_size': list(image.size),
            'model': cfg['model']['path'],
            'adapter': adapter,
            'prompt': prompt,
            'answer_text': text,
            **mapped,
        }
        json_path = os.path.join(out_dir, stem + '.json')
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
        annotate(path, ans.original).save(os.path.join(out_dir, stem + '.png'))
        counts = ', '.join(f'{len(v)} {k}' for k, v in mapped['objects'].items() if v) or 'no objects'
        print(f'{path}: {counts}, {len(mapped["problems"])} problem(s) -> {json_path}', flush=True)
        written.append(json_path)
    return written
