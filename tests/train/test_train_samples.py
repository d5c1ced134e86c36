"""SampleBuilder (geoaug only, no train extra): dropping, splitting and the native-record fallback."""

import json

import pytest
from PIL import Image

from geoaug_train.records import Record
from geoaug_train.samples import SampleBuilder


def builder(ops):
    return SampleBuilder({'ops': ops}, max_pixels=65536, min_pixels=4096, seed=1, prompt='find')


def image(tmp_path, w=192, h=128):
    path = tmp_path / 'a.png'
    Image.new('RGB', (w, h), (90, 90, 90)).save(path)
    return str(path)


def test_objects_outside_the_crop_leave_the_answer_and_order_is_kept(tmp_path):
    rec = Record(
        line=1,
        image=image(tmp_path),
        kind='geoaug',
        objects=[
            {'label': 'gone', 'bbox': [150, 90, 180, 120]},
            {'label': 'kept', 'bbox': [10, 10, 40, 40]},
            {'label': 'lane', 'line': [[0, 20], [90, 20]]},
            {'label': 'plate', 'quad': [[20, 50], [60, 50], [60, 60], [20, 60]]},
        ],
    )
    s = builder([{'name': 'crop', 'params': {'x': 0, 'y': 0, 'width': 96, 'height': 64}}]).build(
        rec, split='train', epoch=0, index=0
    )
    assert s.image.size == (96, 64)
    assert [o['label'] for o in s.objects] == ['kept', 'lane', 'plate']
    assert s.objects[0]['bbox_2d'] == [round(10 / 96 * 1000), round(10 / 64 * 1000), round(40 / 96 * 1000), 625]
    assert json.loads(s.messages[1]['content']) == s.objects
    assert s.messages[0]['content'] == '<image>find'


def test_native_record_losing_a_box_falls_back_to_the_unaugmented_sample(tmp_path):
    messages = [
        {'role': 'user', 'content': '<image>Where are <ref-object> and <ref-object>?'},
        {'role': 'assistant', 'content': '<bbox><bbox>'},
    ]
    rec = Record(
        line=3,
        image=image(tmp_path),
        kind='native',
        messages=messages,
        native_objects={'ref': ['a', 'b'], 'bbox': [[150.0, 90.0, 180.0, 120.0], [10.0, 10.0, 40.0, 40.0]]},
    )
    b = builder([{'name': 'crop', 'params': {'x': 0, 'y': 0, 'width': 96, 'height': 64}}])
    s = b.build(rec, split='train', epoch=0, index=0)
    assert s.fallback and b.fallbacks == 1
    assert s.image.size == (192, 128)  # un-augmented (already a multiple of 32 inside the pixel bounds)
    assert s.native_objects == {'ref': ['a', 'b'], 'bbox': [[150.0, 90.0, 180.0, 120.0], [10.0, 10.0, 40.0, 40.0]]}
    assert s.messages == messages

    kept = builder([{'name': 'hflip', 'params': {'prob': 1.0}}]).build(rec, split='train', epoch=0, index=0)
    assert not kept.fallback
    assert kept.native_objects['bbox'] == [[12.0, 90.0, 42.0, 120.0], [152.0, 10.0, 182.0, 40.0]]


@pytest.mark.parametrize('ops', [{}, 0, False, 'hflip'])
def test_augmentation_ops_that_are_not_a_list_are_refused_not_ignored(ops):
    from geoaug.errors import ConfigError
    from geoaug_train.samples import pipeline_config

    with pytest.raises(ConfigError, match='custom.augmentation.ops: expected a list of ops'):
        pipeline_config({'ops': ops}, 65536, 4096, True)
    assert pipeline_config({'ops': None}, 65536, 4096, True)['ops'][-1]['name'] == 'smart_resize'
