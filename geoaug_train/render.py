"""`geoaug-train render`: write the first N training samples as the model gets them, plus a contact sheet.

The preview draws the answer's 0-1000 coordinates back onto the augmented image, so it checks the
text the model is trained on, not geoaug's internal geometry.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .answer import render_answer
from .fetch_stats import FetchStats, format_summary
from .prepare import open_store
from .samples import SampleBuilder

if TYPE_CHECKING:
    from PIL import Image


def draw_objects(image: Image.Image, objects: list[dict[str, Any]]) -> Any:
    """Draw the answer as the model reads it: its 0-1000 text parsed back onto the image."""
    import geoaug
    from geoaug.qwen import parse_answer

    ans = parse_answer(render_answer(objects), *image.size)
    return geoaug.draw(image, **{kind: t for kind, t in ans.tables.items() if len(t)})


def contact_sheet(images: Sequence[Image.Image], cell: int = 256) -> Image.Image:
    from PIL import Image

    cols = max(1, math.ceil(math.sqrt(len(images))))
    rows = max(1, math.ceil(len(images) / cols))
    sheet = Image.new('RGB', (cols * cell, rows * cell), (40, 40, 40))
    for i, im in enumerate(images):
        im = im.copy()
        im.thumbnail((cell - 4, cell - 4))
        sheet.paste(im, ((i % cols) * cell + 2, (i // cols) * cell + 2))
    return sheet


def run_render(cfg: dict[str, Any], out_dir: str, num: int, epoch: int = 0) -> list[str]:
    data = cfg['data']
    records = open_store(cfg)['train']
    builder = SampleBuilder(
        (cfg.get('custom') or {}).get('augmentation'),
        max_pixels=data['max_pixels'],
        min_pixels=data['min_pixels'],
        seed=cfg['training']['seed'],
        prompt=data['prompt'],
    )
    os.makedirs(out_dir, exist_ok=True)
    written, drawn = [], []
    stats = FetchStats()  # in memory: what augmentation dropped and clipped in what was rendered
    for index in range(min(num, len(records))):
        record, where = records.record(index), records.where(index)
        sample = builder.build(record, split='train', epoch=epoch, index=index, where=where)
        stats.record('train', epoch, sample)
        stem = os.path.join(out_dir, f'{index:05d}')
        sample.image.save(stem + '.png')
        meta = {
            'source': where,
            'image': record.image,
            'index': index,
            'epoch': epoch,
            'seed': sample.seed,
            'image_size': list(sample.image.size),
            'messages': sample.messages,
            'objects': sample.objects,
            'fallback_unaugmented': sample.fallback,
        }
        with open(stem + '.json', 'w', encoding='utf-8') as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
        written.append(stem + '.png')
        drawn.append(draw_objects(sample.image, sample.objects))
    contact_sheet(drawn).save(os.path.join(out_dir, 'preview.png'))
    for line in format_summary(stats.merged()).splitlines():
        print(f'[geoaug-train] rendered: {line}')
    return written
