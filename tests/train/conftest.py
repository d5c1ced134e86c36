import importlib.util
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, 'examples', 'train')

# Nothing in these tests may reach a model hub.
for _k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'MODELSCOPE_OFFLINE', 'HF_DATASETS_OFFLINE'):
    os.environ.setdefault(_k, '1')


def pytest_configure(config):
    config.addinivalue_line('markers', 'train: needs the train extra (torch, ms-swift, deepspeed); CI must not skip')


def load_example_module(name):
    spec = importlib.util.spec_from_file_location(f'_example_{name}', os.path.join(EXAMPLES, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def make_dataset():
    return load_example_module('make_dataset').make_dataset


@pytest.fixture(scope='session')
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from geoaug_train.tiny_model import build_tiny_model
    return build_tiny_model(str(tmp_path_factory.mktemp('tiny-qwen3-vl')))


@pytest.fixture(scope='session')
def dataset_dir(tmp_path_factory, make_dataset):
    out = tmp_path_factory.mktemp('data')
    make_dataset(str(out), num=6, seed=3)
    return str(out)


def write_config(path, *, model_dir, data_dir, output_dir, **sections):
    """A minimal valid config; `sections` override whole sections or top-level keys."""
    import yaml
    cfg = {
        'model': {'path': model_dir, 'torch_dtype': 'float32', 'attn_impl': 'sdpa'},
        'training': {'output_dir': output_dir, 'learning_rate': 1e-4, 'max_steps': 2,
                     'per_device_train_batch_size': 1, 'gradient_accumulation_steps': 1,
                     'save_steps': 2, 'logging_steps': 1, 'seed': 7},
        'tuner': {'type': 'lora', 'lora_rank': 4, 'lora_alpha': 8},
        'data': {'train': os.path.join(data_dir, 'train.jsonl'), 'max_pixels': 65536,
                 'dataloader_num_workers': 0, 'dataloader_pin_memory': False},
        'global_max_length': 2048,
        'custom': {'augmentation': {'enabled': True, 'ops': [
            {'name': 'hflip', 'params': {'prob': 0.5}},
            {'name': 'rotate', 'params': {'max_deg': 10.0, 'prob': 0.5}},
            {'name': 'pad_to_multiple', 'params': {'multiple': 32}}]}},
    }
    for key, value in sections.items():
        cfg[key] = value
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)
    return str(path)
