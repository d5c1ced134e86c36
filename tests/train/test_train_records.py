import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from geoaug_train.answer import grid_object, render_answer, to_grid
from geoaug_train.records import DataError, check_images, parse_jsonl


def write_jsonl(path, rows):
    path.write_text('\n'.join(r if isinstance(r, str) else json.dumps(r) for r in rows) + '\n')
    return str(path)


@pytest.fixture
def img(tmp_path):
    (tmp_path / 'imgs').mkdir()
    Image.new('RGB', (40, 30), (1, 2, 3)).save(tmp_path / 'imgs' / 'a.png')
    return 'imgs/a.png'


def test_geoaug_record_parses_all_kinds_and_resolves_relative_paths(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [{'image': img, 'prompt': 'go', 'objects': [
        {'label': 'cat', 'bbox': [1, 2, 10, 20]},
        {'label': 'EXIT', 'quad': [[0, 0], [5, 0], [5, 5], [0, 5]]},
        {'label': 'lane', 'line': [[0, 0], [3, 4], [9, 9]]}]}])
    (rec,) = parse_jsonl(path)
    assert rec.image == os.path.join(str(tmp_path), 'imgs', 'a.png')
    assert rec.kind == 'geoaug' and rec.prompt == 'go' and rec.line == 1
    assert [next(k for k in o if k != 'label') for o in rec.objects] == ['bbox', 'quad', 'line']


@pytest.mark.parametrize('obj,match', [
    ({'label': 'a', 'bbox': [1, 2, 3]}, r'objects\[0\]\.bbox: expected \[x1, y1, x2, y2\]'),
    ({'label': 'a', 'bbox': [5, 2, 3, 9]}, r'objects\[0\]\.bbox: needs x1 < x2'),
    ({'label': 'a', 'bbox': [1, 2, float('nan'), 9]}, r'objects\[0\]\.bbox'),
    ({'label': 'a', 'quad': [[0, 0], [1, 1], [2, 2]]}, r'objects\[0\]\.quad: expected 4 points'),
    ({'label': 'a', 'line': [[0, 0]]}, r'objects\[0\]\.line: a line needs at least 2 points'),
    ({'bbox': [1, 2, 3, 4]}, r'objects\[0\]\.label'),
    ({'label': 'a', 'bbox': [1, 2, 3, 4], 'quad': [[0, 0]] * 4}, r'needs exactly one of'),
    ({'label': 'a', 'box': [1, 2, 3, 4]}, r'needs exactly one of'),
])
def test_bad_objects_name_line_and_field(tmp_path, img, obj, match):
    good = {'image': img, 'objects': [{'label': 'x', 'bbox': [0, 0, 1, 1]}]}
    path = write_jsonl(tmp_path / 'd.jsonl', [good, {'image': img, 'objects': [obj]}])
    with pytest.raises(DataError, match=r'd\.jsonl:2\.') as e:
        parse_jsonl(path)
    assert re.search(match, str(e.value)), str(e.value)


def test_invalid_json_names_line(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [{'image': img}, '{"image": '])
    with pytest.raises(DataError, match=r'd\.jsonl:2: not valid JSON'):
        parse_jsonl(path)


def native(content, **extra):
    return {'messages': [{'role': 'user', 'content': content},
                         {'role': 'assistant', 'content': '<bbox>'}], **extra}


def test_native_record_with_image_item(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [native(
        [{'type': 'image', 'image': img}, {'type': 'text', 'text': 'find <ref-object>'}],
        objects={'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]})])
    (rec,) = parse_jsonl(path)
    assert rec.kind == 'native'
    assert rec.messages[0]['content'] == '<image>find <ref-object>'
    assert rec.native_objects == {'ref': ['cat'], 'bbox': [[1.0, 2.0, 10.0, 20.0]]}
    assert rec.image.endswith(os.path.join('imgs', 'a.png'))


def test_native_record_with_images_column(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [native('<image>find it', images=[img])])
    (rec,) = parse_jsonl(path)
    assert rec.image.endswith('a.png') and rec.native_objects is None


def test_image_item_with_url_key_is_rejected_with_line(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [
        native('<image>ok', images=[img]),
        native([{'type': 'image', 'url': img}, {'type': 'text', 'text': 'hi'}])])
    with pytest.raises(DataError, match=r'd\.jsonl:2\.messages\[0\]\.content\[0\]: an image item must carry its '
                                        r'path under the key "image"'):
        parse_jsonl(path)


def test_hand_written_image_pad_is_rejected(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [native('<|vision_start|><|image_pad|><|vision_end|>hi', images=[img])])
    with pytest.raises(DataError, match=r'd\.jsonl:1\.messages\[0\]: contains a hand-written'):
        parse_jsonl(path)
    path = write_jsonl(tmp_path / 'e.jsonl', [{'image': img, 'prompt': 'look <|image_pad|>'}])
    with pytest.raises(DataError, match=r'e\.jsonl:1\.prompt: contains <\|image_pad\|>'):
        parse_jsonl(path)


def test_native_record_needs_exactly_one_image(tmp_path, img):
    path = write_jsonl(tmp_path / 'd.jsonl', [native('hi')])
    with pytest.raises(DataError, match=r'd\.jsonl:1: expected exactly one image per record, got 0'):
        parse_jsonl(path)


def test_missing_and_corrupt_images_error_or_counted_skip(tmp_path, img):
    (tmp_path / 'imgs' / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    path = write_jsonl(tmp_path / 'd.jsonl', [
        {'image': img}, {'image': 'imgs/missing.png'}, {'image': 'imgs/bad.png'}])
    records = parse_jsonl(path)
    with pytest.raises(DataError, match=r'd\.jsonl:2: image file not found'):
        check_images(path, records, skip_bad=False)
    kept, skipped = check_images(path, records, skip_bad=True)
    assert [r.line for r in kept] == [1]
    assert len(skipped) == 2 and ':2: image file not found' in skipped[0] and ':3: cannot decode' in skipped[1]


def test_grid_rounding_and_clamping():
    assert to_grid(0, 640) == 0
    assert to_grid(640, 640) == 1000
    assert to_grid(320.4, 640) == round(320.4 / 640 * 1000)
    assert to_grid(-3, 640) == 0 and to_grid(700, 640) == 1000
    obj = grid_object('cat', 'bbox', [10, 20, 30, 40], 100, 200)
    assert obj == {'label': 'cat', 'bbox_2d': [100, 100, 300, 200]}
    assert grid_object('q', 'quad', [[0, 0], [50, 0], [50, 100], [0, 100]], 100, 100)['quad_2d'][2] == [500, 1000]
    assert json.loads(render_answer([obj, grid_object('l', 'line', [[0, 0], [100, 50]], 100, 100)])) == [
        {'label': 'cat', 'bbox_2d': [100, 100, 300, 200]}, {'label': 'l', 'line_2d': [[0, 0], [1000, 500]]}]


def test_answer_grid_agrees_with_geoaug_qwen():
    """Our answers must parse back with geoaug.qwen (the library's reader of Qwen3-VL answers) unchanged."""
    import numpy as np
    from geoaug import Boxes, Lines, Quads
    from geoaug.qwen import to_grid as library_to_grid
    rng = np.random.default_rng(0)
    w, h = 224, 160
    xyxy = np.sort(rng.uniform(0, 1, (20, 2, 2)) * [w, h], axis=1).reshape(20, 4)
    xyxy[:4] = [[0, 0, 112, 80], [0.5 * w / 1000 * 3, 0, w, h], [1, 2, 3, 4], [10.7, 0.08, 200.2, 159.9]]
    quads = rng.uniform(0, 1, (5, 4, 2)) * [w, h]
    lines = [rng.uniform(0, 1, (3, 2)) * [w, h]]
    ours = ([grid_object('b', 'bbox', b, w, h) for b in xyxy] + [grid_object('q', 'quad', q, w, h) for q in quads]
            + [grid_object('l', 'line', ln, w, h) for ln in lines])
    theirs = library_to_grid({'boxes': Boxes(xyxy, label=['b'] * 20), 'quads': Quads(quads, label=['q'] * 5),
                              'lines': Lines(lines, label=['l'])}, w, h)
    assert ours == theirs


def test_grid_table_equals_grid_object_row_by_row():
    """The training fetch renders each kind in one numpy pass: it must agree with the per-object rule."""
    from geoaug_train.answer import grid_table
    rng = np.random.default_rng(3)
    w, h = 1280, 960
    xyxy = np.sort(rng.uniform(-10, 1300, (30, 2, 2)), axis=1).transpose(0, 2, 1).reshape(-1, 4)
    quads = rng.uniform(0, 1280, (7, 4, 2))
    lines = [rng.uniform(0, 960, (k, 2)) for k in (2, 5, 3)]
    for kind, geoms in (('bbox', xyxy), ('quad', quads), ('line', lines)):
        key = {'bbox': 'bbox_2d', 'quad': 'quad_2d', 'line': 'line_2d'}[kind]
        assert grid_table(kind, geoms, w, h) == [grid_object('x', kind, g, w, h)[key] for g in geoms]
