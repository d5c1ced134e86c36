"""training.packing with augmentation on: ms-swift's padding_free over freshly augmented, lazily encoded fetches.

What runs on CPU: the config mapping (down to the template ms-swift builds from our arguments), the packed batch
against the same samples encoded one by one (tokens, labels, pixels, image grids, per-sample 3-D mrope position
ids and sequence boundaries), fresh draws per epoch, and a forward pass of the tiny model on the packed batch.
With sdpa, transformers keeps the samples apart only when the text position row (restarting at 0 per sample) is
handed to the model, so the CPU forward uses that row; the trainer hands the model the boundaries as
cu_seq_lens for flash attention instead, which is checked by the CUDA-only test at the end (gpu_smoke.sh runs it).
"""

import copy
import os
import statistics

import pytest

from geoaug_train.config import ConfigError, adapt_packing, validate

from train_helpers import write_config

AUG = {'ops': [{'name': 'hflip', 'params': {'prob': 0.5}}, {'name': 'rotate', 'params': {'max_deg': 10.0}}]}


@pytest.fixture
def raw(tmp_path):
    (tmp_path / 'model').mkdir()
    (tmp_path / 'train.jsonl').write_text('{"image": "a.png", "objects": []}\n')
    return {
        'model': {'path': 'model'},
        'training': {'output_dir': 'out', 'packing': True, 'per_device_train_batch_size': 4},
        'data': {'train': 'train.jsonl'},
        'custom': {'augmentation': copy.deepcopy(AUG)},
    }, str(tmp_path)


def test_without_cuda_packing_falls_back_to_padded_batches_with_a_notice(raw):
    cfg = validate(*raw)

    def never(impl):
        raise AssertionError('no flash attention check without CUDA')

    notes = adapt_packing(cfg, cuda_available=False, missing=never)
    assert cfg['training']['packing'] is False
    assert notes == [
        'no CUDA: training.packing true -> false (padded batches; packed batches need flash attention on a CUDA GPU)'
    ]


def test_on_cuda_without_flash_attention_packing_is_a_config_error(raw):
    cfg = validate(*raw)
    with pytest.raises(ConfigError, match=r'training\.packing: needs flash attention .*flash_attention_2.*not here'):
        adapt_packing(cfg, cuda_available=True, missing=lambda impl: f'{impl} is not here')
    assert cfg['training']['packing'] is True  # no silent fallback on a GPU


def test_on_cuda_with_flash_attention_packing_stays_and_picks_flash_attention(raw):
    cfg = validate(*raw)
    seen = []
    notes = adapt_packing(cfg, cuda_available=True, missing=lambda impl: seen.append(impl))
    assert cfg['training']['packing'] is True and cfg['model']['attn_impl'] == 'flash_attention_2'
    assert seen == ['flash_attention_2'] and notes == ['training.packing: model.attn_impl unset -> flash_attention_2']
    raw[0]['training']['per_device_train_batch_size'] = 1
    raw[0]['model']['attn_impl'] = 'flash_attention_3'
    cfg = validate(*raw)
    notes = adapt_packing(cfg, cuda_available=True, missing=lambda impl: None)
    assert cfg['model']['attn_impl'] == 'flash_attention_3'
    assert len(notes) == 1 and 'per_device_train_batch_size is 1' in notes[0]


def _argv(cfg):
    from geoaug_train.swift_args import sft_args

    argv = sft_args(cfg, {'train': ['t.jsonl']})
    return dict(zip(argv[0::2], argv[1::2]))


def test_packing_maps_to_padding_free_and_lazy_encoding_with_augmentation(raw):
    args = _argv(validate(*raw))
    assert (args['--padding_free'], args['--packing'], args['--lazy_tokenize']) == ('true', 'false', 'true')
    assert args['--attn_impl'] == 'flash_attention_2'
    raw[0]['custom']['augmentation']['enabled'] = False  # no draw to freeze: ms-swift's own pre-encoded packing
    args = _argv(validate(*raw))
    assert (args['--padding_free'], args['--packing'], args['--lazy_tokenize']) == ('false', 'true', 'false')
    raw[0]['training']['packing'] = False
    args = _argv(validate(*raw))
    assert (args['--padding_free'], args['--packing'], args['--lazy_tokenize']) == ('false', 'false', 'true')
    assert '--attn_impl' not in args


# ---------------------------------------------------------------------------------------------- with the model


@pytest.fixture(scope='module')
def packed_setup(tmp_path_factory, tiny_model_dir, dataset_dir):
    pytest.importorskip('swift')
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from geoaug_train.dataset import build_dataset

    tmp = tmp_path_factory.mktemp('packing')
    path = write_config(
        tmp / 'cfg.yaml',
        model_dir=tiny_model_dir,
        data_dir=dataset_dir,
        output_dir=str(tmp / 'out'),
        model={'path': tiny_model_dir, 'torch_dtype': 'float32'},
    )
    # packing off in the config: collate(padding_free=...) picks the batch form, the same on every machine (with
    # packing on, a GPU machine without flash-attn would stop here, as `train` does)
    ds = build_dataset(path, overrides=['training.per_device_train_batch_size=3'])
    model = Qwen3VLForConditionalGeneration.from_pretrained(
        tiny_model_dir, dtype=torch.float32, attn_implementation='sdpa'
    ).eval()
    return ds, model, path


def _items(ds, indices):
    return [ds[i] for i in indices]


def _same(a, b):
    import torch

    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


@pytest.mark.train
def test_ms_swift_builds_a_padding_free_template_from_our_arguments(packed_setup):
    from geoaug_train import template as template_mod
    from geoaug_train.config import adapt_to_device, load_config
    from geoaug_train.dataset import _swift_args
    from geoaug_train.prepare import prepare_run

    _, _, path = packed_setup
    cfg = load_config(path, ['training.packing=true', 'training.per_device_train_batch_size=3'])
    adapt_to_device(cfg, cuda_available=True)
    adapt_packing(cfg, cuda_available=True, missing=lambda impl: None)  # as on a GPU with flash-attn
    prepared = prepare_run(cfg)
    os.environ[template_mod.SPEC_ENV] = prepared['spec']
    template_mod.register()
    args = _swift_args(cfg, prepared, template_mod.TEMPLATE_TYPE)
    assert args.padding_free is True and args.packing is False and args.lazy_tokenize is True
    assert args.attn_impl == 'flash_attention_2'
    template = args.get_template(args.get_model_processor(load_model=False)[1])
    assert template.padding_free is True and type(template).__name__ == 'GeoaugQwen3VLTemplate'


@pytest.mark.train
def test_packed_batch_is_the_samples_encoded_one_by_one(packed_setup):
    import torch

    ds, model, _ = packed_setup
    assert ds.padding_free is False  # packing off in the config: the trainer would pad
    order = [4, 0, 2]
    items = _items(ds, order)
    kept = copy.deepcopy(items)
    packed = ds.collate(items, padding_free=True)
    assert all(_same(a, b) for a, b in zip(items, kept))  # the collator did not touch the items
    # the same seeds fetched again, one at a time: the same encodings (each fetch is a fresh, seeded draw)
    again = [ds[i] for i in order]
    assert all(_same(a, b) for a, b in zip(again, items))

    lens = [len(it['input_ids']) for it in items]
    total = sum(lens)
    assert packed['input_ids'].shape == (1, total)
    assert packed['input_ids'][0].tolist() == sum((it['input_ids'] for it in items), [])
    assert packed['labels'][0].tolist() == sum((it['labels'] for it in items), [])
    assert torch.equal(packed['pixel_values'], torch.cat([it['pixel_values'] for it in items]))
    assert torch.equal(packed['image_grid_thw'], torch.cat([it['image_grid_thw'] for it in items]))
    assert torch.equal(packed['mm_token_type_ids'][0], torch.cat([it['mm_token_type_ids'] for it in items]))
    assert 'attention_mask' not in packed  # nothing is padded
    # boundaries: text positions restart at 0 per sample, and cu_seq_lens mark the same cuts for flash attention
    assert packed['text_position_ids'][0].tolist() == sum((list(range(n)) for n in lens), [])
    cuts = torch.tensor([0] + lens).cumsum(0).to(torch.int32)
    assert torch.equal(packed['cu_seq_lens_q'], cuts) and torch.equal(packed['cu_seq_lens_k'], cuts)
    assert int(packed['max_length_q']) == max(lens)
    # the 3-D mrope positions: the model's own get_rope_index on each sample alone, concatenated
    rope = model.model.get_rope_index
    alone = [
        rope(
            torch.tensor(it['input_ids'])[None],
            it['mm_token_type_ids'][None],
            image_grid_thw=it['image_grid_thw'],
        )[0]
        for it in items
    ]
    assert packed['position_ids'].shape == (3, 1, total)
    assert torch.equal(packed['position_ids'], torch.cat(alone, dim=-1))
    # an image's tokens do not advance the positions one by one: the rope really is 3-D, not a plain arange
    assert not torch.equal(alone[0][0, 0], torch.arange(lens[0]))
    # and an ordinary (padded) batch of the same items holds each one as its row
    padded = ds.collate(items, padding_free=False)
    assert padded['input_ids'].shape == (3, max(lens))
    for row, (it, pos, n) in enumerate(zip(items, alone, lens)):
        assert padded['input_ids'][row, :n].tolist() == it['input_ids']
        assert int(padded['attention_mask'][row].sum()) == n
        assert torch.equal(padded['position_ids'][:, row, :n], pos[:, 0])


@pytest.mark.train
def test_each_epoch_packs_fresh_draws(packed_setup):
    import torch

    ds, _, _ = packed_setup
    order = list(range(len(ds)))
    ds.set_epoch(0)
    first = _items(ds, order)
    packed0 = ds.collate(first, padding_free=True)
    ds.set_epoch(1)
    try:
        second = _items(ds, order)
        packed1 = ds.collate(second, padding_free=True)
    finally:
        ds.set_epoch(0)
    changed = [
        i
        for i in order
        if first[i]['pixel_values'].shape != second[i]['pixel_values'].shape
        or not torch.equal(first[i]['pixel_values'], second[i]['pixel_values'])
        or first[i]['input_ids'] != second[i]['input_ids']
    ]
    assert len(changed) >= 2, changed  # hflip and rotate at prob 0.5 over 6 records
    assert packed0['pixel_values'].shape != packed1['pixel_values'].shape or not torch.equal(
        packed0['pixel_values'], packed1['pixel_values']
    )
    # and epoch 1's packed batch is epoch 1's samples, not a replay of epoch 0
    assert torch.equal(packed1['pixel_values'], torch.cat([it['pixel_values'] for it in second]))
    assert packed1['input_ids'][0].tolist() == sum((it['input_ids'] for it in second), [])


def _forward(model, batch, position_ids):
    import torch

    keys = ('input_ids', 'labels', 'pixel_values', 'image_grid_thw', 'mm_token_type_ids', 'attention_mask')
    keys += ('cu_seq_lens_q', 'cu_seq_lens_k', 'max_length_q', 'max_length_k')
    with torch.no_grad():
        return model(position_ids=position_ids, use_cache=False, **{k: batch[k] for k in keys if k in batch})


@pytest.mark.train
def test_packed_forward_equals_per_sample_forward_on_cpu(packed_setup):
    import torch

    ds, model, _ = packed_setup
    items = _items(ds, [1, 3, 5])
    lens = [len(it['input_ids']) for it in items]
    singles = [ds.collate([it], padding_free=False) for it in items]
    ref = torch.cat(
        [_forward(model, s, torch.cat([s['text_position_ids'][None], s['position_ids']])).logits[0] for s in singles]
    )
    packed = ds.collate(items, padding_free=True)
    # with the text row restarting per sample, transformers masks the packed sequence block by block on sdpa
    out = _forward(model, packed, torch.cat([packed['text_position_ids'][None], packed['position_ids']]))
    assert torch.allclose(out.logits[0], ref, atol=1e-4), float((out.logits[0] - ref).abs().max())
    # the loss over the same label tokens is the ordinary padded batch's
    padded = ds.collate(items, padding_free=False)
    loss = _forward(model, padded, torch.cat([padded['text_position_ids'][None], padded['position_ids']])).loss
    assert torch.allclose(out.loss, loss, atol=1e-5), (float(out.loss), float(loss))
    # what the trainer hands the model (3 mrope rows, boundaries as cu_seq_lens) needs flash attention: sdpa
    # ignores cu_seq_lens, so the later samples attend to the earlier ones (why ms-swift refuses padding_free
    # without flash attention, and why geoaug-train falls back to padded batches without CUDA)
    leaky = _forward(model, packed, packed['position_ids']).logits[0]
    assert torch.allclose(leaky[: lens[0]], ref[: lens[0]], atol=1e-4)
    assert not torch.allclose(leaky[lens[0] :], ref[lens[0] :], atol=1e-2)


@pytest.mark.train
def test_bench_data_reports_padding_of_ordinary_against_packed_batches(packed_setup):
    from geoaug_train.bench_data import format_report, run_bench
    from geoaug_train.config import load_config

    ds, _, path = packed_setup
    cfg = load_config(path, ['training.packing=true'])
    rep = run_bench(cfg, num=len(ds), rounds=1, batch_size=len(ds))
    p = rep['padding']
    # one batch of every record: padded to the longest costs n x longest; packed, exactly the real tokens
    ds.set_epoch(0)
    lens = [len(ds[i]['input_ids']) for i in range(len(ds))]
    assert p['batches'] == 1 and p['batch_size'] == len(ds) and p['config_packing'] is True
    assert p['tokens_real'] == p['tokens_packed'] == sum(lens)
    assert p['tokens_padded'] == p['peak_batch_tokens_padded'] == len(lens) * max(lens)
    assert p['padding_fraction_packed'] == 0
    assert p['padding_fraction_padded'] == round(1 - sum(lens) / (len(lens) * max(lens)), 4)
    assert p['sample_tokens'] == {'min': min(lens), 'median': int(statistics.median(lens)), 'max': max(lens)}
    assert 'packed (padding-free)' in format_report(rep)
    assert cfg['training']['packing'] is True  # the caller's config is left as it was


@pytest.mark.train
@pytest.mark.gpu
def test_packed_forward_with_flash_attention_equals_per_sample_forward_on_gpu(packed_setup, tiny_model_dir):
    """What the trainer feeds the model under padding_free, on flash attention (a GPU test: deselected without
    CUDA; on a GPU without flash-attn it fails, naming what is missing)."""
    import torch

    from geoaug_train.config import flash_attention_missing

    why = flash_attention_missing('flash_attention_2')
    assert not why, f'needs flash attention: {why}'
    from transformers import Qwen3VLForConditionalGeneration

    ds, _, _ = packed_setup
    model = Qwen3VLForConditionalGeneration.from_pretrained(
        tiny_model_dir, dtype=torch.bfloat16, attn_implementation='flash_attention_2'
    ).cuda()
    model.eval()
    items = _items(ds, [0, 1, 2, 3])

    def cuda(batch):
        return {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    singles = [cuda(ds.collate([it], padding_free=True)) for it in items]
    ref = torch.cat([_forward(model, s, s['position_ids']).logits[0].float() for s in singles])
    packed = cuda(ds.collate(items, padding_free=True))
    out = _forward(model, packed, packed['position_ids'])  # exactly the trainer's inputs: 3 rows + cu_seq_lens
    assert torch.allclose(out.logits[0].float(), ref, atol=2e-2), float((out.logits[0].float() - ref).abs().max())
