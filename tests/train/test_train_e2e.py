"""`geoaug-train train` as real subprocesses on the tiny model: 2 LoRA steps each, plain and under DeepSpeed."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from train_helpers import REPO, write_config

pytestmark = [pytest.mark.train, pytest.mark.slow]  # every test here launches `geoaug-train train`


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, '-m', 'geoaug_train.cli', *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def assert_adapter(out_dir):
    ckpt = os.path.join(out_dir, 'checkpoint-2')
    assert os.path.isfile(os.path.join(ckpt, 'adapter_model.safetensors')), os.listdir(out_dir)
    adapter = json.load(open(os.path.join(ckpt, 'adapter_config.json')))
    assert adapter['peft_type'] == 'LORA' and adapter['r'] == 4
    state = json.load(open(os.path.join(ckpt, 'trainer_state.json')))
    assert state['global_step'] == 2
    # Trained, from the artefacts (not from ms-swift's log text): finite losses logged, LoRA B moved off zero.
    losses = [e['loss'] for e in state['log_history'] if 'loss' in e]
    assert losses and all(math.isfinite(v) for v in losses), state['log_history']
    from safetensors.numpy import load_file

    tensors = load_file(os.path.join(ckpt, 'adapter_model.safetensors'))
    lora_b = [v for k, v in tensors.items() if 'lora_B' in k]
    assert lora_b and all(np.isfinite(v).all() for v in tensors.values())
    assert any(np.abs(v).max() > 0 for v in lora_b)
    return ckpt


@pytest.mark.parametrize('deepspeed', [None, 'zero2', 'zero3'], ids=['lora', 'zero2', 'zero3'])
def test_train_two_steps_saves_adapter(tmp_path, tiny_model_dir, dataset_dir, deepspeed):
    pytest.importorskip('swift')
    if deepspeed:
        pytest.importorskip('deepspeed')
    out = str(tmp_path / 'out')
    cfg = write_config(
        tmp_path / 'cfg.yaml',
        model_dir=tiny_model_dir,
        data_dir=dataset_dir,
        output_dir=out,
        deepspeed={'enabled': bool(deepspeed), 'config': deepspeed or 'zero2'},
    )
    # bf16 requested on purpose: without CUDA it must fall back to float32 instead of crashing.
    proc = run_cli(
        'train',
        cfg,
        '--set',
        'data.dataloader_num_workers=0',
        '--set',
        'training.bf16=true',
        '--set',
        f"data.val={os.path.join(dataset_dir, 'val.jsonl')}",
        '--',
        '--save_total_limit',
        '3',
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert_adapter(out)
    assert '--template geoaug_qwen3_vl' in log and '--save_total_limit 3' in log
    import torch

    if torch.cuda.is_available():  # bf16 kept on a GPU
        assert '--bf16 true' in log and 'no CUDA:' not in log
    else:
        assert 'no CUDA: training.bf16 true -> false' in log
    if deepspeed:
        assert f'--deepspeed {deepspeed}' in log
    # The answers trained on (our JSON on the 0-1000 grid) are held to `render` in test_train_template.py,
    # not read from the sample ms-swift happens to print.
    # What augmentation dropped/clipped: per epoch from the trainer (max_steps stops mid-epoch: that partial
    # epoch too), then for the whole run once ms-swift has exited.
    assert '[geoaug-train] augmentation per fetch at the end of an epoch (step 2,' in log, log[-6000:]
    final = log.split('[geoaug-train] augmentation per fetch (all epochs, all processes):\n', 1)[1]
    assert re.match(
        r'\[geoaug-train\]   train epoch 0: [1-9]\d* fetches; boxes [1-9][\d,]* in, [\d.<>]+%? dropped', final
    ), final[:2000]


def test_two_ranks_two_epochs_persistent_workers_draw_per_epoch_seeds(tmp_path, tiny_model_dir, dataset_dir):
    """Under ms-swift's launcher (NPROC_PER_NODE=2, CPU/gloo) with 2 persistent workers per rank: every record
    is fetched exactly once per epoch across ranks, in worker processes, seeded from (seed, epoch, index)."""
    pytest.importorskip('swift')
    import socket

    import geoaug

    out = str(tmp_path / 'out')
    cfg = write_config(tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir, output_dir=out)
    fetch_log = tmp_path / 'fetches.jsonl'
    n = len(open(os.path.join(dataset_dir, 'train.jsonl')).read().splitlines())
    assert n % 2 == 0
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    # two CPU ranks everywhere (CUDA hidden): one GPU cannot hold two ranks, and the test is about the sampler
    env = dict(
        os.environ,
        GEOAUG_TRAIN_FETCH_LOG=str(fetch_log),
        NPROC_PER_NODE='2',
        MASTER_PORT=str(port),
        CUDA_VISIBLE_DEVICES='',
    )
    # Each rank sees n/2 records per epoch; accumulating all of them makes one step per epoch: checkpoint-2.
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'geoaug_train.cli',
            'train',
            cfg,
            '--set',
            'training.max_steps=-1',
            '--set',
            'training.num_train_epochs=2',
            '--set',
            f'training.gradient_accumulation_steps={n // 2}',
            '--set',
            'data.dataloader_num_workers=2',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # Two ranks: shown below by the fetch log (4 worker processes = 2 ranks x 2 workers), not launcher text.
    assert_adapter(out)
    fetches = [json.loads(line) for line in fetch_log.read_text().splitlines()]
    for f in fetches:
        assert f['split'] == 'train' and f['seed'] == geoaug.sample_seed(7, f['epoch'], f['index'])
    by_epoch = {}
    for f in fetches:
        by_epoch.setdefault(f['epoch'], []).append(f)
    assert sorted(by_epoch) == [0, 1]
    # Epoch 1: each record exactly once across both ranks, all in the persistent workers that also ran epoch 0.
    assert sorted(f['index'] for f in by_epoch[1]) == list(range(n))
    workers = {f['pid'] for f in by_epoch[1]}
    assert len(workers) == 4
    epoch0_in_workers = [f['index'] for f in by_epoch[0] if f['pid'] in workers]
    assert sorted(epoch0_in_workers) == list(range(n))


def test_config_and_data_errors_exit_2_before_loading_anything(tmp_path, tiny_model_dir, dataset_dir):
    cfg = write_config(
        tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir, output_dir=str(tmp_path / 'out')
    )
    proc = run_cli('train', cfg, '--set', 'training.lerning_rate=0.1')
    assert proc.returncode == 2
    assert "training.lerning_rate: unknown key; did you mean 'learning_rate'?" in proc.stderr

    bad = tmp_path / 'bad.jsonl'
    bad.write_text(
        json.dumps(
            {
                'messages': [
                    {
                        'role': 'user',
                        'content': [{'type': 'image', 'url': 'imgs/train_0000.png'}, {'type': 'text', 'text': 'hi'}],
                    },
                    {'role': 'assistant', 'content': 'x'},
                ]
            }
        )
        + '\n'
    )
    proc = run_cli('train', cfg, '--set', f'data.train={bad}')
    assert proc.returncode == 2
    assert 'bad.jsonl:1.messages[0].content[0]: an image item must carry its path under the key "image"' in proc.stderr

    proc = run_cli('train', cfg, '--set', 'custom.augmentation.ops=[{name: hfilp}]')
    assert proc.returncode == 2 and 'hfilp' in proc.stderr and 'hflip' in proc.stderr
    assert not os.path.exists(os.path.join(str(tmp_path / 'out'), 'checkpoint-1'))
