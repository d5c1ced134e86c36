"""`geoaug-train predict`: a real subprocess on the tiny model with a LoRA adapter, and the answer -> original
image mapping checked against hand-computed pixels (those tests need only geoaug, no torch)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from geoaug_train import predict
from geoaug_train.config import ConfigError, load_config

from train_helpers import REPO, write_config

ORIGINAL = (1000, 700)  # (w, h); max_pixels 65536 makes smart_resize(32) give 288 x 192: x0.288, y0.2743
MODEL_SIZE = (288, 192)
GREY = 128


def write_image(path, fmt='PNG'):
    pixels = np.full((ORIGINAL[1], ORIGINAL[0], 3), GREY, np.uint8)
    pixels[100:300, 200:600] = np.random.default_rng(0).integers(0, 255, (200, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return str(path)


def make_config(tmp_path, model_dir):
    data = tmp_path / 'data'
    data.mkdir(exist_ok=True)
    (data / 'train.jsonl').write_text('{"image": "unused.png", "objects": []}\n')
    return write_config(
        tmp_path / 'cfg.yaml', model_dir=str(model_dir), data_dir=str(data), output_dir=str(tmp_path / 'out')
    )  # data.max_pixels: 65536


def make_lora_adapter(model_dir, out_dir):
    """A LoRA adapter made in a second by peft itself, with non-zero weights so that it changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj'], init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(out_dir)
    return out_dir


@pytest.mark.train
def test_predict_subprocess_tiny_model_with_adapter(tmp_path, tiny_model_dir):
    pytest.importorskip('peft')
    cfg = make_config(tmp_path, tiny_model_dir)
    # A JPEG decodes at a reduced scale (1/2 here): its answers must still land on the full-size original.
    images = [write_image(tmp_path / 'scene.png'), write_image(tmp_path / 'photo.jpg', 'JPEG')]
    adapter = make_lora_adapter(tiny_model_dir, str(tmp_path / 'adapter'))
    out = tmp_path / 'pred'
    args = [
        sys.executable,
        '-m',
        'geoaug_train.cli',
        'predict',
        cfg,
        '--adapter',
        adapter,
        '--out',
        str(out),
        '--max-new-tokens',
        '12',
    ]
    for image in images:
        args += ['--image', image]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f'adapter: {adapter}' in proc.stderr
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        assert f'{image}: ' in proc.stdout
        meta = json.loads((out / f'{stem}.json').read_text())
        assert meta['image'] == image and meta['adapter'] == adapter
        assert meta['image_size'] == list(ORIGINAL) and meta['model_image_size'] == list(MODEL_SIZE)
        assert isinstance(meta['answer_text'], str)
        assert set(meta['objects']) == {'boxes', 'quads', 'lines', 'points', 'polygons'}
        # The random model answers garbage: that must come out as listed problems, not as a crash.
        assert meta['problems'] or any(meta['objects'].values())
        assert all(set(p) == {'index', 'reason'} for p in meta['problems'])
        with Image.open(out / f'{stem}.png') as im:
            assert im.size == ORIGINAL


CANNED = (
    '```json\n[{"label": "car", "bbox_2d": [100, 200, 500, 800]},\n'
    ' {"label": "sign", "quad_2d": [[600, 100], [900, 100], [900, 300], [600, 300]]},\n'
    ' {"label": "lane", "line_2d": [[0, 1000], [250, 500]]},\n'
    ' {"label": "dot", "point_2d": [500, 500]},\n'
    ' {"label": "bad", "bbox_2d": [10, 20]},\n'
    ' {"label": "cut", "bbox_2d": [1, 2,'
)


def on_original(grid_xy):
    """The oracle: the model image is a resize of the whole original, so grid v maps to v / 1000 * size."""
    return np.asarray(grid_xy, float) / 1000 * np.array(ORIGINAL, float)


def test_answer_maps_back_to_original_pixels(tmp_path):
    cfg = load_config(make_config(tmp_path, tmp_path))
    res, image = predict.model_input(predict.plain_builder(cfg), write_image(tmp_path / 'scene.png'))
    assert image.size == MODEL_SIZE and tuple(res.input_size) == ORIGINAL
    _, mapped = predict.map_answer(CANNED, *image.size, res.replay)
    objects = mapped['objects']
    (box,), (quad,), (line,), (point,) = objects['boxes'], objects['quads'], objects['lines'], objects['points']
    assert box['label'] == 'car' and quad['label'] == 'sign' and line['label'] == 'lane' and point['label'] == 'dot'
    np.testing.assert_allclose(np.reshape(box['bbox'], (2, 2)), on_original([[100, 200], [500, 800]]), atol=1)
    np.testing.assert_allclose(quad['quad'], on_original([[600, 100], [900, 100], [900, 300], [600, 300]]), atol=1)
    np.testing.assert_allclose(line['line'], on_original([[0, 1000], [250, 500]]), atol=1)
    np.testing.assert_allclose(point['point'], on_original([500, 500]), atol=1)
    reasons = [(p['index'], p['reason']) for p in mapped['problems']]
    assert (4, 'bbox_2d needs 4 numbers, got 2') in reasons
    assert any(i == 5 and r.startswith('not valid JSON') for i, r in reasons), reasons  # the answer cut mid-item
    json.dumps(mapped)  # JSON-safe as written


def test_run_predict_writes_json_and_drawing_on_the_original(tmp_path, monkeypatch):
    """The whole run with the model step replaced by a canned answer: the drawing is made on the original."""
    cfg = load_config(make_config(tmp_path, tmp_path))
    image = write_image(tmp_path / 'scene.png')
    seen = {}

    class CannedPredictor:
        def __init__(self, cfg, adapter):
            seen['adapter'] = adapter

        def answer(self, model_image, prompt, max_new_tokens):
            seen['size'], seen['prompt'] = model_image.size, prompt
            return '[{"label": "car", "bbox_2d": [100, 200, 500, 800]}]'

    monkeypatch.setattr(predict, 'Predictor', CannedPredictor)
    (written,) = predict.run_predict(cfg, [image], prompt='find cars')
    assert written == os.path.join(cfg['training']['output_dir'], 'predict', 'scene.json')
    assert seen == {'adapter': None, 'size': MODEL_SIZE, 'prompt': 'find cars'}
    meta = json.loads(open(written).read())
    assert meta['problems'] == [] and meta['objects']['boxes'][0]['label'] == 'car'
    drawn = np.asarray(Image.open(written[:-5] + '.png').convert('RGB')).astype(int)
    assert drawn.shape == (ORIGINAL[1], ORIGINAL[0], 3)
    coloured = np.abs(drawn - GREY).sum(-1) > 60
    # the box's left edge x=100 runs through grey at rows 400..560 (y 140..560 on the original)
    assert coloured[400:540, 98:103].any(axis=1).all()
    assert not coloured[400:540, 110:190].any()


def test_default_adapter_is_the_latest_checkpoint(tmp_path):
    cfg = load_config(make_config(tmp_path, tmp_path))
    out = cfg['training']['output_dir']
    adapter, note = predict.resolve_adapter(cfg, None)
    assert adapter is None and 'base model only' in note
    for step in (2, 10, 9):
        os.makedirs(os.path.join(out, f'checkpoint-{step}'))
    adapter, note = predict.resolve_adapter(cfg, None)
    assert adapter == os.path.join(out, 'checkpoint-10') and 'latest checkpoint' in note
    with pytest.raises(ConfigError, match='--adapter: not a directory'):
        predict.resolve_adapter(cfg, str(tmp_path / 'nope'))


def test_predict_rejects_bad_input_before_loading_a_model(tmp_path):
    cfg = load_config(make_config(tmp_path, tmp_path))
    image = write_image(tmp_path / 'scene.png')
    with pytest.raises(ConfigError, match='--image: file not found'):
        predict.run_predict(cfg, [image, str(tmp_path / 'missing.png')])
    (tmp_path / 'sub').mkdir()
    other = write_image(tmp_path / 'sub' / 'scene.png')
    with pytest.raises(ConfigError, match=r"several images named \['scene'\]"):
        predict.run_predict(cfg, [image, other])
    with pytest.raises(ConfigError, match='--max-new-tokens'):
        predict.run_predict(cfg, [image], max_new_tokens=0)
