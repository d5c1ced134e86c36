"""`geoaug-train render`: write the first N training samples as the model gets them, plus a contact sheet.

The preview draws the answer's 0-1000 coordinates back onto the augmented image, so it checks the
text the model is trained on, not geoaug's internal geometry.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List

from .answer import grid_to_pixels
from .records import check_images, parse_jsonl
from .samples import SampleBuilder

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def draw_objects(image, objects: List[Dict[str, Any]], width: int = 2):
    from PIL import ImageDraw
    image = image.copy()
    draw = ImageDraw.Draw(image)
    w, h = image.size
    for i, obj in enumerate(objects):
        color = PALETTE[i % len(PALETTE)]
        kind, pts = grid_to_pixels(obj, w, h)
        if kind == 'bbox':
            draw.rectangle([pts[0], pts[1]], outline=color, width=width)
        elif kind == 'quad':
            draw.line(pts + pts[:1], fill=color, width=width)
        else:
            draw.line(pts, fill=color, width=width)
        draw.text((pts[0][0] + 2, pts[0][1] + 1), str(obj['label']), fill=color)
    return image


def contact_sheet(images, cell: int = 256):
    from PIL import Image
    cols = max(1, math.ceil(math.sqrt(len(images))))
    rows = max(1, math.ceil(len(images) / cols))
    sheet = Image.new('RGB', (cols * cell, rows * cell), (40, 40, 40))
    for i, im in enumerate(images):
        im = im.copy()
        im.thumbnail((cell - 4, cell - 4))
        sheet.paste(im, ((i % cols) * cell + 2, (i // cols) * cell + 2))
    return sheet


def run_render(cfg: Dict[str, Any], out_dir: str, num: int, epoch: int = 0) -> List[str]:
    data = cfg['data']
    records = parse_jsonl(data['train'])
    records, skipped = check_images(data['train'], records, data['skip_bad_images'])
    builder = SampleBuilder((cfg.get('custom') or {}).get('augmentation'), max_pixels=data['max_pixels'],
                            min_pixels=data['min_pixels'], seed=cfg['training']['seed'], prompt=data['prompt'])
    os.makedirs(out_dir, exist_ok=True)
    written, drawn = [], []
    for index, record in enumerate(records[:num]):
        where = f"{data['train']}:{record.line}"
        sample = builder.build(record, split='train', epoch=epoch, index=index, where=where)
        stem = os.path.join(out_dir, f'{index:05d}')
        sample.image.save(stem + '.png')
        meta = {
            'source': where, 'image': record.image, 'index': index, 'epoch': epoch, 'seed': sample.seed,
            'image_size': list(sample.image.size), 'messages': sample.messages, 'objects': sample.objects,
            'fallback_unaugmented': sample.fallback,
        }
        with open(stem + '.json', 'w', encoding='utf-8') as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
        written.append(stem + '.png')
        drawn.append(draw_objects(sample.image, sample.objects))
    contact_sheet(drawn).save(os.path.join(out_dir, 'preview.png'))
    for msg in skipped:
        print(f'[geoaug-train] skipped: {msg}')
    return written
