import os
import sys

import pytest
import yaml

from geoaug_train.config import ConfigError, adapt_to_device, apply_overrides, load_config, validate


@pytest.fixture
def base(tmp_path):
    (tmp_path / 'model').mkdir()
    (tmp_path / 'train.jsonl').write_text('{"image": "a.png", "objects": []}\n')
    return {
        'model': {'path': 'model'},
        'training': {'output_dir': 'out'},
        'data': {'train': 'train.jsonl'},
    }, str(tmp_path)


def test_minimal_config_gets_defaults_and_absolute_paths(base):
    raw, root = base
    cfg = validate(raw, root)
    assert cfg['model']['path'] == os.path.join(root, 'model')
    assert cfg['data']['train'] == [os.path.join(root, 'train.jsonl')]  # always a list of files (shards)
    assert cfg['tuner']['target_modules'] == 'all-linear'
    assert cfg['tuner']['type'] == 'lora'
    assert cfg['training']['gradient_accumulation_steps'] == 1


@pytest.mark.parametrize(
    'section,key,suggestion',
    [
        ('training', 'learning_rat', 'learning_rate'),
        ('tuner', 'lora_rnak', 'lora_rank'),
        ('data', 'dataloader_num_worker', 'dataloader_num_workers'),
        ('model', 'torch_dtyp', 'torch_dtype'),
    ],
)
def test_unknown_key_names_key_and_suggests(base, section, key, suggestion):
    raw, root = base
    raw.setdefault(section, {})[key] = 1
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: unknown key; did you mean '{suggestion}'"):
        validate(raw, root)


def test_unknown_section_suggests(base):
    raw, root = base
    raw['deepspeeed'] = {'enabled': True}
    with pytest.raises(ConfigError, match="deepspeeed: unknown key; did you mean 'deepspeed'"):
        validate(raw, root)


@pytest.mark.parametrize(
    'section,key,value,match',
    [
        ('training', 'learning_rate', 'fast', r'training\.learning_rate: expected a number'),
        ('training', 'bf16', 'yes', r'training\.bf16: expected true or false'),
        ('model', 'torch_dtype', 'float8', r'model\.torch_dtype: .* is not one of'),
        ('tuner', 'type', 'qlora', r'tuner\.type: .* is not one of'),
        (
            'training',
            'lr_scheduler_type',
            'cosine_warmup_with_minlr',
            r"training\.lr_scheduler_type: unknown scheduler .*did you mean 'cosine_warmup_with_min_lr'",
        ),
        ('deepspeed', 'config', 'zero4', r"deepspeed\.config: 'zero4' is neither"),
        ('tuner', 'lora_dropout', 1.5, r'tuner\.lora_dropout: must be in \[0, 1\)'),
    ],
)
def test_bad_values_name_the_key(base, section, key, value, match):
    raw, root = base
    raw.setdefault(section, {})[key] = value
    if section == 'deepspeed':
        raw['deepspeed']['enabled'] = True
    with pytest.raises(ConfigError, match=match):
        validate(raw, root)


def test_missing_required(base):
    raw, root = base
    del raw['model']['path']
    with pytest.raises(ConfigError, match=r'model\.path: required'):
        validate(raw, root)


def test_missing_files_are_named(base):
    raw, root = base
    raw['data']['val'] = 'nope.jsonl'
    with pytest.raises(ConfigError, match=r'data\.val: file not found'):
        validate(raw, root)
    raw['data'].pop('val')
    raw['model']['path'] = 'missing-model'
    with pytest.raises(ConfigError, match=r'model\.path: not a local checkpoint'):
        validate(raw, root)


def test_min_lr_scheduler_needs_min_lr(base):
    raw, root = base
    raw['training']['lr_scheduler_type'] = 'cosine_warmup_with_min_lr'
    with pytest.raises(ConfigError, match='needs min_lr'):
        validate(raw, root)
    raw['training']['lr_scheduler_kwargs'] = {'min_lr': 1e-6}
    assert validate(raw, root)['training']['lr_scheduler_kwargs'] == {'min_lr': 1e-6}


def test_packing_with_augmentation_is_accepted_but_not_with_a_non_flash_attention(base):
    raw, root = base
    raw['training']['packing'] = True
    raw['custom'] = {'augmentation': {'ops': [{'name': 'hflip'}]}}
    assert validate(raw, root)['training']['packing'] is True  # padding_free: each fetch stays fresh
    raw['model']['attn_impl'] = 'sdpa'
    with pytest.raises(ConfigError, match=r"training\.packing: .*model\.attn_impl is 'sdpa'"):
        validate(raw, root)
    raw['model']['attn_impl'] = 'flash_attention_3'
    assert validate(raw, root)['model']['attn_impl'] == 'flash_attention_3'


def test_overrides_parse_yaml_values(base, tmp_path):
    raw, root = base
    out = apply_overrides(raw, ['training.max_steps=3', 'deepspeed.enabled=true', 'data.prompt="find: it"'])
    assert out['training']['max_steps'] == 3
    assert out['deepspeed']['enabled'] is True
    assert out['data']['prompt'] == 'find: it'
    assert 'max_steps' not in raw['training']  # the original is untouched
    with pytest.raises(ConfigError, match='expected key=value'):
        apply_overrides(raw, ['training.max_steps'])


def test_load_config_resolves_against_config_folder(base, tmp_path):
    raw, root = base
    path = tmp_path / 'cfg.yaml'
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(str(path), ['training.seed=5'])
    assert cfg['training']['seed'] == 5
    assert cfg['training']['output_dir'] == os.path.join(root, 'out')


def test_alias_bomb_in_the_config_fails_fast(base, tmp_path):
    """A shared config whose aliases stand for 9^9 values in ~500 bytes is refused while it is read, with a short
    message: geoaug's bounded loader counts what each alias stands for and never expands it. The work is counted
    (function calls, through sys.setprofile), not timed: unbounded, it would be ~10^9."""
    raw, _ = base
    levels = []
    for i in range(9):
        items = ', '.join([f'*a{i - 1}' if i else 'lol'] * 9)
        levels.append(f'&a{i} [{items}]')
    path = tmp_path / 'bomb.yaml'
    path.write_text(yaml.safe_dump(raw) + 'custom:\n  augmentation:\n    ops: [' + ', '.join(levels) + ']\n')
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event in ('call', 'c_call'):
            calls += 1
            if calls > 200_000:
                raise RuntimeError('unbounded work')

    sys.setprofile(count)
    try:
        with pytest.raises(ConfigError, match=r'bomb\.yaml: YAML expands to more than 100,000 nodes') as e:
            load_config(str(path))
    finally:
        sys.setprofile(None)
    assert len(str(e.value)) < 300


def test_cpu_fallback(base):
    raw, root = base
    raw['model'].update(torch_dtype='bfloat16', attn_impl='flash_attention_2')
    raw['training']['bf16'] = True
    cfg = validate(raw, root)
    assert adapt_to_device(dict(cfg), cuda_available=True) == []
    notes = adapt_to_device(cfg, cuda_available=False)
    assert cfg['model']['torch_dtype'] == 'float32'
    assert cfg['training']['bf16'] is False and cfg['training']['fp16'] is False
    assert cfg['model']['attn_impl'] == 'sdpa'
    assert len(notes) == 3
