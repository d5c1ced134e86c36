"""The ms-swift template in-process: what it trains on is what `render` shows, per (seed, epoch, index)."""

import json
import os

import pytest

from train_helpers import write_config

pytestmark = pytest.mark.train


@pytest.fixture(scope='module')
def swift_setup(tmp_path_factory, tiny_model_dir, dataset_dir):
    pytest.importorskip('swift')
    from geoaug_train.config import adapt_to_device, load_config
    from geoaug_train.prepare import prepare_run
    from geoaug_train.template import SPEC_ENV, TEMPLATE_TYPE, register

    tmp = tmp_path_factory.mktemp('template')
    cfg = load_config(
        write_config(
            tmp / 'cfg.yaml',
            model_dir=tiny_model_dir,
            data_dir=dataset_dir,
            output_dir=str(tmp / 'out'),
            custom={
                'augmentation': {
                    'ops': [
                        {'name': 'hflip', 'params': {'prob': 0.5}},
                        {'name': 'affine', 'params': {'scale': [0.7, 1.3], 'rotate': 20.0}},
                    ]
                }
            },
        ),
        [f"data.val={os.path.join(dataset_dir, 'val.jsonl')}"],
    )
    adapt_to_device(cfg, cuda_available=False)
    prepared = prepare_run(cfg)
    os.environ[SPEC_ENV] = prepared['spec']
    register()
    from swift import get_processor, get_template

    processor = get_processor(tiny_model_dir, model_type='qwen3_vl', download_model=False)
    template = get_template(processor, template_type=TEMPLATE_TYPE, max_length=4096)
    template.set_mode('train')
    return cfg, prepared, template


def _answer(template, encoded):
    labels = [t for t in encoded['labels'] if t != -100]
    text = template.tokenizer.decode(labels)
    return json.loads(text.split('<|im_end|>')[0])


def test_training_fetch_equals_render_and_changes_with_epoch(swift_setup):
    from datasets import Dataset
    from swift.dataloader.shard import BatchSamplerShard
    from swift.dataset.utils import LazyLLMDataset

    from geoaug_train.samples import SampleBuilder
    from geoaug_train.template import EpochIndex

    cfg, prepared, template = swift_setup
    rows = [json.loads(line) for line in open(prepared['train'])]
    dataset = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
    spec = json.load(open(prepared['spec']))
    builder = SampleBuilder(
        spec['augmentation'],
        max_pixels=spec['max_pixels'],
        min_pixels=spec['min_pixels'],
        seed=spec['seed'],
        prompt=spec['prompt'],
    )
    per_epoch = {}
    for epoch in (0, 1):
        per_epoch[epoch] = []
        for index in range(len(rows)):
            encoded = dataset[EpochIndex(index, epoch)]
            record = prepared['store']['train'].record(index)
            expected = builder.build(record, split='train', epoch=epoch, index=index)
            assert _answer(template, encoded) == expected.objects
            # The pixels the processor saw are the augmented image's: grid (t, h/16, w/16).
            w, h = expected.image.size
            assert encoded['image_grid_thw'].tolist() == [[1, h // 16, w // 16]]
            per_epoch[epoch].append(expected.objects)
    assert per_epoch[0] != per_epoch[1]

    # The patched sampler stamps every index with the epoch set on it.
    sampler = BatchSamplerShard(len(rows), batch_size=2, shuffle=True, drop_last=False, data_seed=1)
    sampler.set_epoch(3)
    batches = list(sampler)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(rows)))
    assert {i.epoch for b in batches for i in b} == {3}


def test_validation_rows_are_not_augmented(swift_setup):
    from datasets import Dataset
    from swift.dataset.utils import LazyLLMDataset

    from geoaug_train.samples import SampleBuilder
    from geoaug_train.template import EpochIndex

    cfg, prepared, template = swift_setup
    rows = [json.loads(line) for line in open(prepared['val'])]
    assert rows and all(r['chat_template_kwargs']['geoaug_split'] == 'val' for r in rows)
    dataset = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
    spec = json.load(open(prepared['spec']))
    plain = SampleBuilder(
        None, max_pixels=spec['max_pixels'], min_pixels=spec['min_pixels'], seed=0, prompt=spec['prompt']
    )
    for index in range(len(rows)):
        record = prepared['store']['val'].record(index)
        expected = plain.build(record, split='val', epoch=0, index=index).objects
        for epoch in (0, 5):
            assert _answer(template, dataset[EpochIndex(index, epoch)]) == expected


def test_image_broken_after_the_check_fails_naming_the_record(tmp_path, swift_setup, tiny_model_dir, make_dataset):
    """ms-swift would replace a failing sample by a random other one; with strict it must raise, naming it."""
    from datasets import Dataset
    from swift.dataset.utils import LazyLLMDataset

    from geoaug_train.config import load_config
    from geoaug_train.prepare import prepare_run
    from geoaug_train.template import SPEC_ENV, EpochIndex

    _, _, template = swift_setup
    data = tmp_path / 'data'
    make_dataset(str(data), num=3, seed=2)
    cfg = load_config(
        write_config(
            tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=str(data), output_dir=str(tmp_path / 'out')
        )
    )
    prepared = prepare_run(cfg)
    (data / 'imgs' / 'train_0002.png').write_bytes(b'truncated')
    rows = [json.loads(line) for line in open(prepared['train'])]
    previous = os.environ[SPEC_ENV]
    os.environ[SPEC_ENV] = prepared['spec']
    try:
        dataset = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
        dataset[EpochIndex(0, 0)]
        with pytest.raises(Exception, match=r'train\.jsonl:3: cannot read image .*train_0002\.png'):
            dataset[EpochIndex(2, 0)]
    finally:
        os.environ[SPEC_ENV] = previous


def test_native_record_boxes_follow_the_augmented_image(tmp_path, swift_setup, tiny_model_dir, make_dataset):
    """ms-swift native rows (messages + images + objects): boxes are augmented and normalised on the new size."""
    import re

    from datasets import Dataset
    from swift.dataset.utils import LazyLLMDataset

    from geoaug_train.config import load_config
    from geoaug_train.prepare import prepare_run
    from geoaug_train.template import SPEC_ENV, EpochIndex

    _, _, template = swift_setup
    data = tmp_path / 'data'
    make_dataset(str(data), num=1, seed=4, num_val=0)
    first = json.loads((data / 'train.jsonl').read_text().splitlines()[0])
    box = first['objects'][0]['bbox']
    native = {
        'messages': [
            {
                'role': 'user',
                'content': [
                    {'type': 'image', 'image': first['image']},
                    {'type': 'text', 'text': 'Where is <ref-object>?'},
                ],
            },
            {'role': 'assistant', 'content': '<bbox>'},
        ],
        'objects': {'ref': [first['objects'][0]['label']], 'bbox': [box]},
    }
    (data / 'native.jsonl').write_text(json.dumps(native) + '\n')
    cfg = load_config(
        write_config(
            tmp_path / 'cfg.yaml',
            model_dir=tiny_model_dir,
            data_dir=str(data),
            output_dir=str(tmp_path / 'out'),
            custom={
                'augmentation': {
                    'ops': [{'name': 'hflip', 'params': {'prob': 1.0}}, {'name': 'pad', 'params': {'right': 64}}]
                }
            },
        ),
        [f"data.train={data / 'native.jsonl'}"],
    )
    prepared = prepare_run(cfg)
    rows = [json.loads(line) for line in open(prepared['train'])]
    previous = os.environ[SPEC_ENV]
    os.environ[SPEC_ENV] = prepared['spec']
    try:
        encoded = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)[EpochIndex(0, 0)]
    finally:
        os.environ[SPEC_ENV] = previous
    answer = template.tokenizer.decode([t for t in encoded['labels'] if t != -100])
    got = [int(v) for v in re.findall(r'\d+', answer.split('<|im_end|>')[0])]
    # hflip on the 160-px-wide original, then 64 px of padding on the right: width 224.
    w, h = 224, 128  # 120 rows round up to 128 under Qwen3-VL's factor 32 (smart_resize)
    x1, y1, x2, y2 = 160 - box[2], box[1] * 128 / 120, 160 - box[0], box[3] * 128 / 120
    expected = [x1 / w * 1000, y1 / h * 1000, x2 / w * 1000, y2 / h * 1000]
    assert len(got) == 4 and all(abs(g - e) <= 1 for g, e in zip(got, expected)), (answer, expected)
    assert encoded['image_grid_thw'].tolist() == [[1, h // 16, w // 16]]


def test_stock_template_steps_encode_the_same(swift_setup, monkeypatch):
    """On an untested ms-swift the template runs without its fast paths: every fetch encodes the same."""
    import dataclasses

    import numpy as np
    from datasets import Dataset
    from swift import get_template
    from swift.dataset.utils import LazyLLMDataset
    from swift.template import TEMPLATE_MAPPING

    from geoaug_train.template import TEMPLATE_TYPE, EpochIndex, _make_template_cls

    cfg, prepared, template = swift_setup
    assert type(template)._geoaug_fast
    monkeypatch.setitem(
        TEMPLATE_MAPPING,
        'geoaug_stock_test',
        dataclasses.replace(
            TEMPLATE_MAPPING[TEMPLATE_TYPE],
            template_type='geoaug_stock_test',
            template_cls=_make_template_cls(fast=False),
        ),
    )
    stock = get_template(template.processor, template_type='geoaug_stock_test', max_length=4096)
    stock.set_mode('train')
    assert not type(stock)._geoaug_fast
    rows = [json.loads(line) for line in open(prepared['train'])]
    fast_ds = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
    stock_ds = LazyLLMDataset(Dataset.from_list(rows), stock.encode, strict=True)
    for epoch in (0, 1):
        for index in range(len(rows)):
            a, b = fast_ds[EpochIndex(index, epoch)], stock_ds[EpochIndex(index, epoch)]
            assert a.keys() == b.keys()
            for key in a:
                va, vb = a[key], b[key]
                if hasattr(va, 'numpy'):
                    va, vb = va.numpy(), vb.numpy()
                if isinstance(va, np.ndarray):
                    np.testing.assert_array_equal(va, vb, err_msg=key)
                else:
                    assert va == vb, key
