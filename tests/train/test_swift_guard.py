"""The ms-swift upgrade guard (geoaug_train.swift_compat): private-internals patches only on the tested version.

On another version the speed-only fast paths and the fetch-stats callback are skipped, and the epoch tracking
correctness needs is kept when its sampler attributes are there, else startup stops naming both versions.
No model needed: the installed version is monkeypatched.
"""

import os
import re

import pytest

from train_helpers import REPO

pytestmark = pytest.mark.train

FAST_PATH_METHODS = ('_tokenize', '__getstate__', '_add_dynamic_eos', 'create_mm_token_type_ids', 'replace_tag')


@pytest.fixture
def pristine_swift(monkeypatch):
    """ms-swift as before geoaug_train registered anything; restored afterwards."""
    pytest.importorskip('swift')
    from swift.dataloader.shard import BatchSamplerShard
    from swift.dataset.utils import LazyLLMDataset
    from swift.template import TEMPLATE_MAPPING

    from geoaug_train import swift_compat
    from geoaug_train.template import TEMPLATE_TYPE

    saved = (
        BatchSamplerShard.__dict__.get('__iter__'),
        LazyLLMDataset.__dict__.get('__getitem__'),
        BatchSamplerShard.__dict__.get('_geoaug_patched'),
        TEMPLATE_MAPPING.get(TEMPLATE_TYPE),
    )
    if '_geoaug_patched' in BatchSamplerShard.__dict__:
        del BatchSamplerShard._geoaug_patched
    TEMPLATE_MAPPING.pop(TEMPLATE_TYPE, None)
    monkeypatch.setattr(swift_compat, '_noticed', set())
    yield
    BatchSamplerShard.__iter__, LazyLLMDataset.__getitem__ = saved[0], saved[1]
    if saved[2] is None:
        if '_geoaug_patched' in BatchSamplerShard.__dict__:
            del BatchSamplerShard._geoaug_patched
    else:
        BatchSamplerShard._geoaug_patched = saved[2]
    if saved[3] is None:
        TEMPLATE_MAPPING.pop(TEMPLATE_TYPE, None)
    else:
        TEMPLATE_MAPPING[TEMPLATE_TYPE] = saved[3]


def _installed(monkeypatch, version):
    from geoaug_train import swift_compat

    monkeypatch.setattr(swift_compat, 'installed_version', lambda: version)


def test_tested_version_is_the_pinned_and_installed_one():
    pytest.importorskip('swift')
    from geoaug_train import swift_compat

    with open(os.path.join(REPO, 'pyproject.toml'), encoding='utf-8') as f:
        pins = re.findall(r'"ms-swift==([^"]+)"', f.read())
    assert pins == [swift_compat.TESTED_SWIFT_VERSION]
    assert swift_compat.installed_version() == swift_compat.TESTED_SWIFT_VERSION
    assert swift_compat.is_tested()


def test_tested_version_installs_the_fast_paths(pristine_swift, monkeypatch):
    from swift.template import TEMPLATE_MAPPING
    from swift.template.templates.qwen import Qwen3VLTemplate

    from geoaug_train.template import TEMPLATE_TYPE, register

    _installed(monkeypatch, '4.6.0')
    register()
    cls = TEMPLATE_MAPPING[TEMPLATE_TYPE].template_cls
    assert cls._geoaug_fast
    for name in FAST_PATH_METHODS:
        assert getattr(cls, name) is not getattr(Qwen3VLTemplate, name), name


def test_untested_version_runs_stock_steps_and_keeps_epoch_tracking(pristine_swift, monkeypatch, capsys):
    from swift.dataloader.shard import BatchSamplerShard
    from swift.template import TEMPLATE_MAPPING
    from swift.template.templates.qwen import Qwen3VLTemplate

    from geoaug_train.template import TEMPLATE_TYPE, EpochIndex, register

    _installed(monkeypatch, '4.7.0')
    register()
    cls = TEMPLATE_MAPPING[TEMPLATE_TYPE].template_cls
    assert not cls._geoaug_fast  # no array hand-off either
    for name in FAST_PATH_METHODS:  # ms-swift's own steps, untouched
        assert getattr(cls, name) is getattr(Qwen3VLTemplate, name), name
    assert cls.__dict__.keys() & set(FAST_PATH_METHODS) == set()
    # Epoch tracking is kept: 4.6's attributes are present in the installed sampler.
    sampler = BatchSamplerShard(5, batch_size=2, shuffle=True, drop_last=False, data_seed=1)
    sampler.set_epoch(2)
    indices = [i for b in sampler for i in b]
    assert sorted(indices) == list(range(5))
    assert all(isinstance(i, EpochIndex) and i.epoch == 2 for i in indices)
    err = capsys.readouterr().err
    assert 'ms-swift 4.7.0' in err and '4.6.0' in err and 'fast paths off' in err


def test_untested_version_without_the_epoch_attributes_stops_naming_both_versions(pristine_swift, monkeypatch):
    from swift.dataloader.shard import BatchSamplerShard
    from swift.template import TEMPLATE_MAPPING

    from geoaug_train.swift_compat import UnsupportedSwiftError
    from geoaug_train.template import TEMPLATE_TYPE, register

    _installed(monkeypatch, '4.7.0')
    stock_iter = BatchSamplerShard.__iter__
    monkeypatch.setattr(BatchSamplerShard, 'set_epoch', lambda self, epoch: setattr(self, 'epoch', epoch))
    with pytest.raises(UnsupportedSwiftError, match=r'ms-swift 4\.7\.0 is installed.*tested on ms-swift 4\.6\.0'):
        register()
    assert BatchSamplerShard.__iter__ is stock_iter
    assert TEMPLATE_TYPE not in TEMPLATE_MAPPING


def test_untested_version_skips_the_fetch_stats_callback_with_a_notice(monkeypatch, capsys):
    pytest.importorskip('swift')
    from swift.trainers.arguments import TrainArgumentsMixin

    from geoaug_train import fetch_stats, swift_compat

    monkeypatch.setattr(swift_compat, '_noticed', set())
    _installed(monkeypatch, '4.7.0')

    def stock(self):
        pass

    monkeypatch.setattr(TrainArgumentsMixin, '_init_callbacks', stock)
    monkeypatch.setattr(TrainArgumentsMixin, '_geoaug_fetch_stats', False, raising=False)  # undone after
    fetch_stats.register_callback()
    assert TrainArgumentsMixin._init_callbacks is stock
    assert 'fetch-stats callback off' in capsys.readouterr().err

    _installed(monkeypatch, '4.6.0')
    fetch_stats.register_callback()
    assert TrainArgumentsMixin._init_callbacks is not stock
