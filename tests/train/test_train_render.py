"""`geoaug-train render` as a real subprocess: the rendered 0-1000 answers must match where each object's
colour actually landed in the augmented pixels. Needs only geoaug (no train extra)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from train_helpers import REPO, load_example_module, write_config

MD = load_example_module('make_dataset')
COLOR_OF = dict(zip(MD.LABELS, MD.COLORS))
GRID_TOL = 10 + 1  # ~1% of the grid plus rounding


def colour_box(pixels: np.ndarray, colour, pad_px: float = 0.0):
    """Bounding box of the pixels closer to `colour` than to anything else, as pixel edges."""
    dist = np.abs(pixels.astype(int) - np.array(colour)).sum(-1)
    ys, xs = np.nonzero(dist < 200)  # saturated colours vs grey/black fill: blends past halfway are excluded
    if len(xs) == 0:
        return None
    return [xs.min() - pad_px, ys.min() - pad_px, xs.max() + 1 + pad_px, ys.max() + 1 + pad_px]


def points_box(points):
    pts = np.array(points, float)
    return [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]


def render(tmp_path, dataset_dir, epoch, augmentation, name='render'):
    (tmp_path / 'model').mkdir(exist_ok=True)
    cfg = write_config(
        tmp_path / 'cfg.yaml',
        model_dir=str(tmp_path / 'model'),
        data_dir=dataset_dir,
        output_dir=str(tmp_path / 'out'),
        custom={'augmentation': augmentation},
    )
    out = tmp_path / f'{name}-{epoch}'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'geoaug_train.cli',
            'render',
            cfg,
            '--out',
            str(out),
            '--num',
            '6',
            '--epoch',
            str(epoch),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return out


AUGMENT = {
    'enabled': True,
    'ops': [
        {'name': 'hflip', 'params': {'prob': 0.5}},
        {'name': 'affine', 'params': {'scale': [0.8, 1.2], 'translate': [0.1, 0.1], 'rotate': 15.0, 'prob': 0.9}},
        {'name': 'pad_to_multiple', 'params': {'multiple': 32}},
    ],
}


@pytest.mark.parametrize('epoch', [0, 1])
def test_rendered_answers_match_augmented_pixels(tmp_path, dataset_dir, epoch):
    out = render(tmp_path, dataset_dir, epoch, AUGMENT)
    assert (out / 'preview.png').is_file()
    checked = 0
    for i in range(6):
        meta = json.loads((out / f'{i:05d}.json').read_text())
        pixels = np.asarray(Image.open(out / f'{i:05d}.png').convert('RGB'))
        height, width = pixels.shape[:2]
        assert meta['image_size'] == [width, height]
        assert width % 32 == 0 and height % 32 == 0  # Qwen3-VL's factor: the model sees exactly these pixels
        answer = json.loads(meta['messages'][-1]['content'])
        assert answer == meta['objects']
        for obj in answer:
            colour = COLOR_OF[obj['label']]
            if 'bbox_2d' in obj:
                rendered, pad = obj['bbox_2d'], 0.0
            elif 'quad_2d' in obj:
                rendered, pad = points_box(obj['quad_2d']), 0.0
            else:  # the lane is drawn 3 px wide around its centre line
                rendered, pad = points_box(obj['line_2d']), 1.5
            actual = colour_box(pixels, colour)
            assert actual is not None, f'sample {i}: {obj["label"]} is in the answer but not in the image'
            actual = [actual[0] + pad, actual[1] + pad, actual[2] - pad, actual[3] - pad]
            expected = [
                actual[0] / width * 1000,
                actual[1] / height * 1000,
                actual[2] / width * 1000,
                actual[3] / height * 1000,
            ]
            tol = GRID_TOL + (2 * pad / min(width, height) * 1000)
            assert np.allclose(rendered, expected, atol=tol), (i, obj, expected)
            checked += 1
    assert checked >= 12


def test_render_augments_and_epochs_differ(tmp_path, dataset_dir):
    plain = render(tmp_path, dataset_dir, 0, {'enabled': False, 'ops': AUGMENT['ops']}, name='plain')
    e0 = render(tmp_path, dataset_dir, 0, AUGMENT)
    e0_again = render(tmp_path, dataset_dir, 0, AUGMENT, name='again')
    e1 = render(tmp_path, dataset_dir, 1, AUGMENT)

    def answers(d):
        return [json.loads((d / f'{i:05d}.json').read_text())['objects'] for i in range(6)]

    assert answers(e0) == answers(e0_again)  # deterministic in (seed, epoch, index)
    assert (e0 / '00000.png').read_bytes() == (e0_again / '00000.png').read_bytes()
    assert answers(e0) != answers(plain)
    assert answers(e0) != answers(e1)
