import os
import subprocess
import sys

import pytest

from train_helpers import REPO, load_example_module

# Nothing in these tests may reach a model hub.
for _k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'MODELSCOPE_OFFLINE', 'HF_DATASETS_OFFLINE'):
    os.environ.setdefault(_k, '1')


def pytest_configure(config):
    config.addinivalue_line('markers', 'train: needs the train extra (torch, ms-swift, deepspeed); CI must not skip')


@pytest.fixture(scope='session')
def make_dataset():
    return load_example_module('make_dataset').make_dataset


@pytest.fixture(scope='session')
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    out = str(tmp_path_factory.mktemp('tiny-qwen3-vl'))
    proc = subprocess.run(
        [sys.executable, '-m', 'geoaug_train.cli', 'tiny-model', out], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope='session')
def dataset_dir(tmp_path_factory, make_dataset):
    out = tmp_path_factory.mktemp('data')
    make_dataset(str(out), num=6, seed=3)
    return str(out)
