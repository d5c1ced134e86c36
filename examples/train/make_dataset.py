"""Generate a small synthetic grounding dataset (images + JSONL) for the CPU example and the tests.

Every object is a solid region of its own colour on a grey background, so its true position in any
augmented image can be recovered from the pixels alone:

    python examples/train/make_dataset.py OUT_DIR [--num 8] [--seed 0]

writes OUT_DIR/imgs/*.png, OUT_DIR/train.jsonl and OUT_DIR/val.jsonl (pixel coordinates of the originals).
"""

from __future__ import annotations

import argparse
import json
import os
import random

from PIL import Image, ImageDraw

BACKGROUND = (128, 128, 128)
# Saturated, far apart, and far from the grey background and from black padding.
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]
LABELS = ['cat', 'dog', 'sign', 'car', 'cup', 'lamp']


def make_image(rng: random.Random, width: int, height: int):
    """Two boxes, one quad (a rotated-looking text plate) and one line (a lane), each its own colour."""
    img = Image.new('RGB', (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    objects = []
    colors = list(range(len(COLORS)))
    rng.shuffle(colors)
    for k in range(2):
        w, h = rng.randint(width // 6, width // 3), rng.randint(height // 6, height // 3)
        x1 = rng.randint(k * width // 2, (k + 1) * width // 2 - w - 1)
        y1 = rng.randint(0, height // 2 - h - 1) if k == 0 else rng.randint(height // 2, height - h - 1)
        c = colors[k]
        # PIL fills pixel columns x1..x1+w-1 inclusive: in the continuous pixel frame that is [x1, x1+w].
        draw.rectangle([x1, y1, x1 + w - 1, y1 + h - 1], fill=COLORS[c])
        objects.append({'label': LABELS[c], 'bbox': [x1, y1, x1 + w, y1 + h]})
    c = colors[2]
    cx, cy = rng.randint(width // 3, 2 * width // 3), rng.randint(height // 3, 2 * height // 3)
    quad = [[cx - 20, cy - 10], [cx + 22, cy - 6], [cx + 20, cy + 10], [cx - 22, cy + 6]]
    draw.polygon([tuple(p) for p in quad], fill=COLORS[c])
    objects.append({'label': LABELS[c], 'quad': quad})
    c = colors[3]
    line = [[4, height - 6], [width // 2, height // 2 + 4], [width - 5, height // 3]]
    draw.line([tuple(p) for p in line], fill=COLORS[c], width=3)
    objects.append({'label': LABELS[c], 'line': line})
    return img, objects


def make_dataset(out_dir: str, num: int = 8, seed: int = 0, size=(160, 120), num_val: int = 2) -> dict:
    rng = random.Random(seed)
    os.makedirs(os.path.join(out_dir, 'imgs'), exist_ok=True)
    paths = {}
    for split, count in (('train', num), ('val', num_val)):
        lines = []
        for i in range(count):
            img, objects = make_image(rng, *size)
            rel = f'imgs/{split}_{i:04d}.png'
            img.save(os.path.join(out_dir, rel))
            rec = {'image': rel, 'objects': objects}
            if i % 2:
                rec['prompt'] = 'Find the coloured shapes and the lane. Answer in JSON.'
            lines.append(json.dumps(rec))
        paths[split] = os.path.join(out_dir, f'{split}.jsonl')
        with open(paths[split], 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return paths


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out_dir')
    ap.add_argument('--num', type=int, default=8)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    print(make_dataset(a.out_dir, a.num, a.seed))
