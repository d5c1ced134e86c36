"""A grounding dataset whose answers have mixed lengths, for measuring packed against padded training.

Each record holds boxes and text-line quads; the number of objects is drawn so that the rendered answers
spread log-uniformly over roughly --min-tokens to --max-tokens (answer characters: one token each with the
tiny model's byte-level tokenizer, ~0.6 with Qwen3's, which keeps digits apart but merges the rest):

    python benchmarks/packing_data.py OUT_DIR [--num 64] [--seed 0] [--min-tokens 64] [--max-tokens 2048]

writes OUT_DIR/imgs/*.png, OUT_DIR/train.jsonl and OUT_DIR/val.jsonl (pixel coordinates of the originals) and
prints the answer-length spread it aimed at. `geoaug-train bench-data` on it reports the padding fraction.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random

from PIL import Image, ImageDraw

CHARS_PER_BOX = 52  # {"label": "sign", "bbox_2d": [123, 456, 789, 901]}, with the list's ", "
CHARS_PER_QUAD = 80  # {"label": "word", "quad_2d": [[123, 456], [789, 901], [234, 567], [890, 123]]}
LABELS = ['cat', 'dog', 'sign', 'car', 'word', 'line']


def _objects(rng: random.Random, count: int, width: int, height: int):
    objs = []
    for k in range(count):
        if k % 2:  # a text line: a thin, slightly tilted quad
            w, h = rng.uniform(width / 8, width / 3), rng.uniform(6, 14)
            cx, cy = rng.uniform(w / 2 + 2, width - w / 2 - 2), rng.uniform(h + 2, height - h - 2)
            a = math.radians(rng.uniform(-8, 8))
            c, s = math.cos(a), math.sin(a)
            quad = [
                [round(cx + dx * c - dy * s, 1), round(cy + dx * s + dy * c, 1)]
                for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))
            ]
            objs.append({'label': 'line', 'quad': quad})
        else:
            w, h = rng.uniform(8, width / 4), rng.uniform(8, height / 4)
            x1, y1 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            objs.append({'label': rng.choice(LABELS[:4]), 'bbox': [round(x1), round(y1), round(x1 + w), round(y1 + h)]})
    return objs


def make_dataset(
    out_dir: str,
    num: int = 64,
    seed: int = 0,
    min_tokens: int = 64,
    max_tokens: int = 2048,
    size=(320, 240),
    num_val: int = 2,
) -> dict:
    rng = random.Random(seed)
    os.makedirs(os.path.join(out_dir, 'imgs'), exist_ok=True)
    per_object = (CHARS_PER_BOX + CHARS_PER_QUAD) / 2
    paths, aimed = {}, []
    for split, count in (('train', num), ('val', num_val)):
        lines = []
        for i in range(count):
            target = math.exp(rng.uniform(math.log(min_tokens), math.log(max_tokens)))
            objs = _objects(rng, max(1, round(target / per_object)), *size)
            img = Image.new('RGB', size, (128, 128, 128))
            draw = ImageDraw.Draw(img)
            for o in objs:
                color = tuple(rng.randrange(256) for _ in range(3))
                if 'bbox' in o:
                    draw.rectangle(o['bbox'], outline=color, width=2)
                else:
                    draw.polygon([tuple(p) for p in o['quad']], fill=color)
            rel = f'imgs/{split}_{i:04d}.png'
            img.save(os.path.join(out_dir, rel))
            lines.append(json.dumps({'image': rel, 'objects': objs}))
            aimed.append(len(objs) * per_object)
        paths[split] = os.path.join(out_dir, f'{split}.jsonl')
        with open(paths[split], 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
    aimed.sort()
    paths['answer_chars'] = {'min': round(aimed[0]), 'median': round(aimed[len(aimed) // 2]), 'max': round(aimed[-1])}
    return paths


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out_dir')
    ap.add_argument('--num', type=int, default=64)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--min-tokens', type=int, default=64)
    ap.add_argument('--max-tokens', type=int, default=2048)
    a = ap.parse_args()
    print(make_dataset(a.out_dir, a.num, a.seed, a.min_tokens, a.max_tokens))
