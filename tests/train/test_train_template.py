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
    cfg = load_config(write_config(tmp / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir,
                                   output_dir=str(tmp / 'out'),
                                   custom={'augmentation': {'ops': [
                                       {'name': 'hflip', 'params': {'prob': 0.5}},
                                       {'name': 'affine', 'params': {'scale': [0.7, 1.3], 'rotate': 20.0}}]}}),
                      [f"data.val={os.path.join(dataset_dir, 'val.jsonl')}"])
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

    from geoaug_train.records import Record
    from geoaug_train.samples import SampleBuilder
    from geoaug_train.template import EpochIndex
    cfg, prepared, template = swift_setup
    rows = [json.loads(line) for line in open(prepared['train'])]
    dataset = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
    spec = json.load(open(prepared['spec']))
    builder = SampleBuilder(spec['augmentation'], max_pixels=spec['max_pixels'], min_pixels=spec['min_pixels'],
                            seed=spec['seed'], prompt=spec['prompt'])
    per_epoch = {}
    for epoch in (0, 1):
        per_epoch[epoch] = []
        for index in range(len(rows)):
            encoded = dataset[EpochIndex(index, epoch)]
            record = Record.from_json(spec['records']['train'][index])
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

    from geoaug_train.records import Record
    from geoaug_train.samples import SampleBuilder
    from geoaug_train.template import EpochIndex
    cfg, prepared, template = swift_setup
    rows = [json.loads(line) for line in open(prepared['val'])]
    assert rows and all(r['chat_template_kwargs']['geoaug_split'] == 'val' for r in rows)
    dataset = LazyLLMDataset(Dataset.from_list(rows), template.encode, strict=True)
    spec = json.load(open(prepared['spec']))
    plain = SampleBuilder(None, max_pixels=spec['max_pixels'], min_pixels=spec['min_pixels'], seed=0,
                          prompt=spec['prompt'])
    for index in range(len(rows)):
        record = Record.from_json(spec['records']['val'][index])
        expected = plain.build(record, split='val', epoch=0, index=index).objects
        for epoch in (0, 5):
            assert _answer(template, dataset[EpochIndex(index, epoch)]) == expected
