"""Pieces of the adapter that need no model run: the ms-swift argument mapping, launch env, tiny model."""

import json
import os

import pytest

from geoaug_train.config import validate
from geoaug_train.swift_args import sft_args
from geoaug_train.train import launch_env


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / 'model').mkdir()
    (tmp_path / 'train.jsonl').write_text('{}\n')
    (tmp_path / 'val.jsonl').write_text('{}\n')
    return validate(
        {
            'model': {'path': 'model', 'torch_dtype': 'bfloat16', 'attn_impl': 'flash_attention_2'},
            'training': {
                'output_dir': 'out',
                'lr_scheduler_type': 'cosine_warmup_with_min_lr',
                'lr_scheduler_kwargs': {'min_lr': 1e-6},
                'warmup_ratio': 0.1,
                'num_train_epochs': 2,
                'gradient_accumulation_steps': 4,
                'bf16': True,
            },
            'tuner': {'lora_rank': 16, 'target_modules': ['q_proj', 'v_proj'], 'freeze_vit': False},
            'deepspeed': {'enabled': True, 'config': 'zero3'},
            'data': {'train': 'train.jsonl', 'val': 'val.jsonl', 'dataloader_num_workers': 4, 'max_pixels': 200704},
            'global_max_length': 4096,
        },
        str(tmp_path),
    )


def as_dict(argv):
    out, key = {}, None
    for tok in argv:
        if tok.startswith('--'):
            key = tok[2:]
            out[key] = []
        else:
            out[key].append(tok)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def test_sft_args_map_every_section(cfg):
    args = as_dict(sft_args(cfg, {'train': '/p/train.jsonl', 'val': '/p/val.jsonl'}))
    assert args['template'] == 'geoaug_qwen3_vl'
    assert args['external_plugins'].endswith(os.path.join('plugin', 'geoaug_swift_plugin.py'))
    assert os.path.isfile(args['external_plugins'])
    assert args['dataset'] == '/p/train.jsonl' and args['val_dataset'] == '/p/val.jsonl'
    assert args['check_model'] == 'false' and args['strict'] == 'true' and args['lazy_tokenize'] == 'true'
    assert args['lr_scheduler_type'] == 'cosine_warmup_with_min_lr'
    assert json.loads(args['lr_scheduler_kwargs']) == {'min_lr': 1e-6}
    assert args['gradient_accumulation_steps'] == '4' and args['num_train_epochs'] == '2'
    assert args['bf16'] == 'true' and args['torch_dtype'] == 'bfloat16' and args['attn_impl'] == 'flash_attention_2'
    assert args['deepspeed'] == 'zero3' and args['max_length'] == '4096' and args['max_pixels'] == '200704'
    assert args['target_modules'] == ['q_proj', 'v_proj'] and args['lora_rank'] == '16'
    assert args['freeze_vit'] == 'false' and args['freeze_aligner'] == 'true'
    assert args['dataloader_num_workers'] == '4' and args['seed'] == args['data_seed'] == '42'
    assert 'split_dataset_ratio' in args and args['add_version'] == 'false'


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16', 'float16'])
def test_asking_for_one_half_precision_switches_the_other_off(cfg, dtype):
    # ms-swift turns fp16 on for a float32/float16 model when fp16 is unset; with bf16 asked for, transformers
    # would then refuse both at once (found on a GPU: bf16 with a float32 model).
    cfg['model']['torch_dtype'] = dtype
    args = as_dict(sft_args(cfg, {'train': '/p/train.jsonl'}))
    assert args['bf16'] == 'true' and args['fp16'] == 'false'
    cfg['training']['bf16'], cfg['training']['fp16'] = None, True
    args = as_dict(sft_args(cfg, {'train': '/p/train.jsonl'}))
    assert args['fp16'] == 'true' and args['bf16'] == 'false'
    cfg['training']['fp16'] = None
    assert 'fp16' not in as_dict(sft_args(cfg, {'train': '/p/train.jsonl'}))


def test_sft_args_without_deepspeed_or_val(cfg):
    cfg['deepspeed']['enabled'] = False
    args = as_dict(sft_args(cfg, {'train': '/p/train.jsonl'}))
    assert 'deepspeed' not in args and 'val_dataset' not in args


def test_single_process_deepspeed_gets_a_world_of_one(cfg):
    env = launch_env(cfg, '/spec.json', base={'PATH': '/bin'})
    assert env['GEOAUG_TRAIN_SPEC'] == '/spec.json'
    assert {k: env[k] for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR')} == {
        'RANK': '0',
        'LOCAL_RANK': '0',
        'WORLD_SIZE': '1',
        'LOCAL_WORLD_SIZE': '1',
        'MASTER_ADDR': '127.0.0.1',
    }
    assert int(env['MASTER_PORT']) > 0
    # Under ms-swift's launcher (torchrun) the distributed variables are torchrun's business.
    env = launch_env(cfg, '/spec.json', base={'NPROC_PER_NODE': '8'})
    assert 'RANK' not in env and 'MASTER_PORT' not in env
    cfg['deepspeed']['enabled'] = False
    assert 'RANK' not in launch_env(cfg, '/spec.json', base={})


@pytest.mark.train
def test_tiny_model_has_qwen_special_token_ids(tiny_model_dir):
    from transformers import AutoConfig, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    tok = processor.tokenizer
    assert tok.convert_tokens_to_ids(
        ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>', '<|image_pad|>', '<|video_pad|>']
    ) == [151643, 151644, 151645, 151652, 151655, 151656]
    assert tok('a<|image_pad|>b')['input_ids'][1] == 151655
    config = AutoConfig.from_pretrained(tiny_model_dir)
    assert config.model_type == 'qwen3_vl'
    assert config.text_config.hidden_size == 64 and config.text_config.num_hidden_layers == 2
    assert config.vision_config.patch_size == 16 and config.vision_config.spatial_merge_size == 2
    assert list(config.vision_config.deepstack_visual_indexes) == [0, 1]
    assert processor.image_processor.patch_size == 16 and processor.image_processor.merge_size == 2
