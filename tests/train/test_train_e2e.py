"""`geoaug-train train` as real subprocesses on the tiny model: 2 LoRA steps each, plain and under DeepSpeed."""
import json
import os
import subprocess
import sys

import pytest

from train_helpers import REPO, write_config

pytestmark = pytest.mark.train


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, '-m', 'geoaug_train.cli', *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def assert_adapter(out_dir):
    ckpt = os.path.join(out_dir, 'checkpoint-2')
    assert os.path.isfile(os.path.join(ckpt, 'adapter_model.safetensors')), os.listdir(out_dir)
    adapter = json.load(open(os.path.join(ckpt, 'adapter_config.json')))
    assert adapter['peft_type'] == 'LORA' and adapter['r'] == 4
    state = json.load(open(os.path.join(ckpt, 'trainer_state.json')))
    assert state['global_step'] == 2
    return ckpt


@pytest.mark.parametrize('deepspeed,workers', [(None, 1), ('zero2', 0), ('zero3', 0)],
                         ids=['lora', 'zero2', 'zero3'])
def test_train_two_steps_saves_adapter(tmp_path, tiny_model_dir, dataset_dir, deepspeed, workers):
    pytest.importorskip('swift')
    if deepspeed:
        pytest.importorskip('deepspeed')
    out = str(tmp_path / 'out')
    cfg = write_config(tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir, output_dir=out,
                       deepspeed={'enabled': bool(deepspeed), 'config': deepspeed or 'zero2'})
    # bf16 requested on purpose: without CUDA it must fall back to float32 instead of crashing.
    proc = run_cli('train', cfg, '--set', f'data.dataloader_num_workers={workers}', '--set', 'training.bf16=true',
                   '--set', f"data.val={os.path.join(dataset_dir, 'val.jsonl')}")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert_adapter(out)
    assert '--template geoaug_qwen3_vl' in log
    if deepspeed:
        assert f'--deepspeed {deepspeed}' in log
    # ms-swift prints the first encoded sample: the answer is our JSON on the 0-1000 grid.
    assert '"bbox_2d": [' in log and '"quad_2d": [[' in log
    assert os.path.isfile(os.path.join(out, 'geoaug', 'spec.json'))


def test_config_and_data_errors_exit_2_before_loading_anything(tmp_path, tiny_model_dir, dataset_dir):
    cfg = write_config(tmp_path / 'cfg.yaml', model_dir=tiny_model_dir, data_dir=dataset_dir,
                       output_dir=str(tmp_path / 'out'))
    proc = run_cli('train', cfg, '--set', 'training.lerning_rate=0.1')
    assert proc.returncode == 2
    assert "training.lerning_rate: unknown key; did you mean 'learning_rate'?" in proc.stderr

    bad = tmp_path / 'bad.jsonl'
    bad.write_text(json.dumps({'messages': [
        {'role': 'user', 'content': [{'type': 'image', 'url': 'imgs/train_0000.png'}, {'type': 'text', 'text': 'hi'}]},
        {'role': 'assistant', 'content': 'x'}]}) + '\n')
    proc = run_cli('train', cfg, '--set', f'data.train={bad}')
    assert proc.returncode == 2
    assert 'bad.jsonl:1.messages[0].content[0]: an image item must carry its path under the key "image"' in proc.stderr

    proc = run_cli('train', cfg, '--set', 'custom.augmentation.ops=[{name: hfilp}]')
    assert proc.returncode == 2 and 'hfilp' in proc.stderr and 'hflip' in proc.stderr
    assert not os.path.exists(os.path.join(str(tmp_path / 'out'), 'checkpoint-1'))
