"""The training fetch path (issue 6): plan-then-decode, the public dataset object, ms-swift's pixel limits,
and bench-data. Answers must still match the pixels when a JPEG is decoded at reduced scale."""

import json

import numpy as np
import pytest
from PIL import Image
from test_train_render import COLOR_OF, GRID_TOL, colour_box

from train_helpers import write_config


def big_jpeg_dataset(folder, n=3, size=(1280, 960)):
    """Large JPEGs of solid colour boxes: a small max_pixels makes the loader decode them at 1/4."""
    (folder / 'imgs').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), 128, np.uint8)
        objects = []
        for k, label in enumerate(['cat', 'dog', 'sign']):
            w, h = int(rng.integers(200, 380)), int(rng.integers(150, 300))
            x, y = int(rng.integers(k * 400, k * 400 + 380 - w + 20)), int(rng.integers(0, size[1] - h))
            img[y : y + h, x : x + w] = COLOR_OF[label]
            objects.append({'label': label, 'bbox': [x, y, x + w, y + h]})
        rel = f'imgs/{i}.jpg'
        Image.fromarray(img).save(folder / rel, quality=95)
        lines.append(json.dumps({'image': rel, 'objects': objects}))
    (folder / 'train.jsonl').write_text('\n'.join(lines) + '\n')
    return str(folder)


def test_reduced_jpeg_decode_keeps_answers_on_the_pixels(tmp_path, monkeypatch):
    from geoaug import io
    from geoaug_train.records import parse_jsonl
    from geoaug_train.samples import SampleBuilder

    data = big_jpeg_dataset(tmp_path / 'data')
    scales = []
    real = io.ImageSource.decode
    monkeypatch.setattr(
        io.ImageSource,
        'decode',
        lambda self, min_scale=None: scales.append(real(self, min_scale).scale) or real(self, min_scale),
    )
    ops = {'ops': [{'name': 'hflip', 'params': {'prob': 0.5}}, {'name': 'rotate', 'params': {'max_deg': 8}}]}
    builder = SampleBuilder(ops, max_pixels=65536, min_pixels=4096, seed=3, prompt='find')
    checked = 0
    for epoch in (0, 1):
        for index, record in enumerate(parse_jsonl(data + '/train.jsonl')):
            sample = builder.build(record, split='train', epoch=epoch, index=index)
            pixels = np.asarray(sample.image)
            h, w = pixels.shape[:2]
            assert w * h <= 65536 and w % 32 == 0 and h % 32 == 0
            for obj in sample.objects:
                found = colour_box(pixels, COLOR_OF[obj['label']])
                grid = [round(v / s * 1000) for v, s in zip(found, (w, h, w, h))]
                assert np.abs(np.array(obj['bbox_2d']) - grid).max() <= GRID_TOL, (obj, grid)
                checked += 1
    assert set(scales) == {0.25} and checked == 18  # every fetch decoded at 1/4, every box checked


def test_pixel_limits_follow_ms_swift_variables():
    from geoaug_train.config import ConfigError, resolve_pixel_limits

    data = {'max_pixels': None, 'min_pixels': None}
    resolve_pixel_limits(data, {})
    assert data == {'max_pixels': 1024 * 1024, 'min_pixels': 4 * 1024}
    data = {'max_pixels': None, 'min_pixels': None}
    resolve_pixel_limits(data, {'MAX_PIXELS': '1003520'})
    assert data['max_pixels'] == 1003520
    data = {'max_pixels': None, 'min_pixels': None}
    resolve_pixel_limits(data, {'IMAGE_MAX_TOKEN_NUM': '500', 'MAX_PIXELS': '1003520'})
    assert data['max_pixels'] == 500 * 1024  # ms-swift reads the token count first
    with pytest.raises(ConfigError, match=r'data.max_pixels: 2000000 exceeds the 1003520 pixels'):
        resolve_pixel_limits({'max_pixels': 2000000, 'min_pixels': 4096}, {'MAX_PIXELS': '1003520'})
    with pytest.raises(ConfigError, match=r'data.min_pixels: 4096 is below the 65536 pixels'):
        resolve_pixel_limits({'max_pixels': 1 << 20, 'min_pixels': 4096}, {'MIN_PIXELS': '65536'})


@pytest.mark.train
def test_build_dataset_items_are_what_the_model_gets(tmp_path, tiny_model_dir, dataset_dir):
    pytest.importorskip('swift')
    import torch

    from geoaug_train.dataset import build_dataset

    cfg = write_config(
        tmp_path / 'cfg.yaml',
        model_dir=tiny_model_dir,
        data_dir=dataset_dir,
        output_dir=str(tmp_path / 'out'),
        data={
            'train': dataset_dir + '/train.jsonl',
            'val': dataset_dir + '/val.jsonl',
            'max_pixels': 65536,
            'dataloader_num_workers': 0,
        },
    )
    ds = build_dataset(cfg)
    plain = build_dataset(cfg, plain=True)
    assert len(ds) == 6 and len(plain) == 6
    items = [ds[i] for i in range(len(ds))]
    for item in items:
        grid = item['image_grid_thw'][0]
        image_tokens = int((torch.as_tensor(item['input_ids']) == 151655).sum())
        assert image_tokens == int(grid.prod()) // 4
    # the same augmented image through ms-swift's stock template gives the same grid (same tokens)
    from geoaug_train.records import parse_jsonl
    from geoaug_train.samples import SampleBuilder

    spec = json.loads((tmp_path / 'out' / 'geoaug' / 'spec.json').read_text())
    builder = SampleBuilder(
        spec['augmentation'],
        max_pixels=spec['max_pixels'],
        min_pixels=spec['min_pixels'],
        seed=spec['seed'],
        prompt='find',
    )
    index = ds.rows[0]['chat_template_kwargs']['geoaug_index']  # ms-swift may shuffle rows; seeds follow records
    record = parse_jsonl(dataset_dir + '/train.jsonl')[index]
    sample = builder.build(record, split='train', epoch=0, index=index)
    stock = plain.template.encode(
        {
            'messages': [{'role': 'user', 'content': '<image>find'}, {'role': 'assistant', 'content': 'ok'}],
            'images': [sample.image],
        }
    )
    assert torch.equal(stock['image_grid_thw'], items[0]['image_grid_thw'])
    assert torch.allclose(stock['pixel_values'], items[0]['pixel_values'])
    # a new epoch draws anew; validation is never augmented
    ds.set_epoch(1)
    assert any(
        not torch.equal(ds[i]['pixel_values'], items[i]['pixel_values'])
        for i in range(len(ds))
        if ds[i]['pixel_values'].shape == items[i]['pixel_values'].shape
    )
    val = build_dataset(cfg, 'val')
    v0 = val[0]['pixel_values']
    val.set_epoch(5)
    assert torch.equal(val[0]['pixel_values'], v0)


@pytest.mark.train
def test_bench_data_reports_both_paths_and_the_target(tmp_path, tiny_model_dir, dataset_dir):
    pytest.importorskip('swift')
    from geoaug_train.bench_data import format_report, run_bench
    from geoaug_train.config import load_config

    cfg = load_config(
        write_config(
            tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir, output_dir=str(tmp_path / 'out')
        )
    )
    rep = run_bench(cfg, num=3, rounds=1, target_steps_per_s=1000.0, json_out=str(tmp_path / 'b.json'))
    assert set(rep['median_ms']) == {'geoaug', 'ms-swift plain'} and rep['records'] == 3
    assert rep['target']['needed_samples_per_s'] == 1000.0 and rep['target']['keeps_up'] is False
    assert json.loads((tmp_path / 'b.json').read_text())['ratio_geoaug_over_plain'] == rep['ratio_geoaug_over_plain']
    assert 'does NOT keep up' in format_report(rep)
