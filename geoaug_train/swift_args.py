"""Map the validated config onto ms-swift 4.6 `sft` arguments; ms-swift and transformers do the work."""

from __future__ import annotations

import json
from typing import Any

from .config import DEFAULT_FLASH_ATTN, augmentation_enabled
from .plugin import PLUGIN_FILE
from .template import TEMPLATE_TYPE


def _flag(v: bool) -> str:
    return 'true' if v else 'false'


def sft_args(cfg: dict[str, Any], prepared: dict[str, Any]) -> list[str]:
    m, tr, tu, ds, data = cfg['model'], cfg['training'], cfg['tuner'], cfg['deepspeed'], cfg['data']
    # training.packing: with augmentation on, ms-swift's padding_free flattens each batch of lazily encoded
    # (so freshly augmented) samples into one sequence; its own packing would pre-encode the dataset once and
    # freeze one draw for the whole run. With augmentation off there is no draw to freeze: ms-swift packs.
    padding_free = tr['packing'] and augmentation_enabled(cfg)
    packing = tr['packing'] and not padding_free
    args = {
        'model': m['path'],
        'model_type': 'qwen3_vl',
        'template': TEMPLATE_TYPE,
        'external_plugins': PLUGIN_FILE,
        # Without this ms-swift looks the checkpoint up on the hub (and retries when offline).
        'check_model': 'false',
        'torch_dtype': m['torch_dtype'],
        'dataset': prepared['train'],
        'split_dataset_ratio': '0',
        'output_dir': tr['output_dir'],
        # A predictable adapter location: <output_dir>/checkpoint-N, not a versioned sub-folder.
        'add_version': 'false',
        'tuner_type': tu['type'],
        'learning_rate': tr['learning_rate'],
        'lr_scheduler_type': tr['lr_scheduler_type'],
        'warmup_ratio': tr['warmup_ratio'],
        'num_train_epochs': tr['num_train_epochs'],
        'max_steps': tr['max_steps'],
        'per_device_train_batch_size': tr['per_device_train_batch_size'],
        'gradient_accumulation_steps': tr['gradient_accumulation_steps'],
        'gradient_checkpointing': _flag(tr['gradient_checkpointing']),
        'packing': _flag(packing),
        'padding_free': _flag(padding_free),
        'save_steps': tr['save_steps'],
        'logging_steps': tr['logging_steps'],
        'seed': tr['seed'],
        'data_seed': tr['seed'],
        'dataloader_num_workers': data['dataloader_num_workers'],
        'dataloader_pin_memory': _flag(data['dataloader_pin_memory']),
        'max_pixels': data['max_pixels'],
        'max_length': cfg['global_max_length'],
        # A failing sample raises (naming its record) instead of being replaced by a random other one.
        'strict': 'true',
        # Encode per fetch so that every fetch is freshly augmented (padding_free included). ms-swift's packing
        # needs pre-encoded samples: only chosen above when augmentation is off.
        'lazy_tokenize': _flag(not packing),
    }
    if prepared.get('val'):
        args['val_dataset'] = prepared['val']
    attn = m['attn_impl'] or (DEFAULT_FLASH_ATTN if tr['packing'] else None)
    if attn:
        args['attn_impl'] = attn
    half = {key: tr[key] for key in ('bf16', 'fp16')}
    # ms-swift switches fp16 on by itself for a float32 or float16 model when fp16 is unset, and transformers
    # then refuses bf16 and fp16 together: asking for one switches the other off explicitly (seen on a GPU).
    for on, other in (('bf16', 'fp16'), ('fp16', 'bf16')):
        if half[on] and half[other] is None:
            half[other] = False
    for key, value in half.items():
        if value is not None:
            args[key] = _flag(value)
    if tr['lr_scheduler_kwargs']:
        args['lr_scheduler_kwargs'] = json.dumps(tr['lr_scheduler_kwargs'])
    if tu['type'] == 'lora':
        args.update({'lora_rank': tu['lora_rank'], 'lora_alpha': tu['lora_alpha'], 'lora_dropout': tu['lora_dropout']})
    for key in ('freeze_llm', 'freeze_vit', 'freeze_aligner'):
        args[key] = _flag(tu[key])
    if ds['enabled']:
        args['deepspeed'] = ds['config']

    argv = []
    for key, value in args.items():
        argv.append(f'--{key}')
        argv.append(str(value))
    targets = tu['target_modules']
    argv.append('--target_modules')
    argv.extend([targets] if isinstance(targets, str) else list(targets))
    return argv
