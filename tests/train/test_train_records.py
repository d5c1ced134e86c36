import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from geoaug_train.answer import grid_object, render_answer, to_grid
from geoaug_train.records import DataError, parse_jsonl


def write_jsonl(path, rows):
    path.write_text('\n'.join(r if isinstance(r, str) else json.dumps(r) for r in rows) + '\n')
    return str(path)


@pytest.fixture
def img(tmp_path):
    (tmp_path / 'imgs').mkdir()
    Image.new('RGB', (40, 30), (1, 2, 3)).save(tmp_path / 'imgs' / 'a.png')
    return 'imgs/a.png'


def test_geoaug_record_parses_all_kinds_and_resolves_relative_paths(tmp_path, img):
    path = write_jsonl(
        tmp_path / 'd.jsonl',
        [
            {
                'image': img,
                'prompt': 'go',
                'objects': [
                    {'label': 'cat', 'bbox': [1, 2, 10, 20]},
                    {'label': 'EXIT', 'quad': [[0, 0], [5, 0], [5, 5], [0, 5]]},
                    {'label': 'lane', 'line': [[0, 0], [3, 4], [9, 9]]},
                ],
            }
        ],
    )
    (rec,) = parse_jsonl(path)
    assert rec.image == os.path.join(str(tmp_path), 'imgs', 'a.png')
    assert rec.kind == 'geoaug' and rec.prompt == 'go' and rec.line == 1
    assert [next(k for k in o if k != 'label') for o in rec.objects] == ['bbox', 'quad', 'line']


@pytest.mark.parametrize(
    'obj,match',
    [
        ({'label': 'a', 'bbox': [1, 2, 3]}, r'objects\[0\]\.bbox: expected \[x1, y1, x2, y2\]'),
        ({'label': 'a', 'bbox': [5, 2, 3, 9]}, r'objects\[0\]\.bbox: needs x1 < x2'),
        # A NaN coordinate no longer reaches this check: json.dumps writes the literal NaN, which the JSONL
        # reader rejects (test_nan_coordinate_is_rejected_when_reading). A non-number still lands here.
        ({'label': 'a', 'bbox': [1, 2, 'x', 9]}, r'objects\[0\]\.bbox'),
        ({'label': 'a', 'quad': [[0, 0], [1, 1], [2, 2]]}, r'objects\[0\]\.quad: expected 4 points'),
        ({'label': 'a', 'line': [[0, 0]]}, r'objects\[0\]\.line: a line needs at least 2 points'),
        ({'bbox': [1, 2, 3, 4]}, r'objects\[0\]\.label'),
        ({'label': 'a', 'bbox': [1, 2, 3, 4], 'quad': [[0, 0]] * 4}, r'needs exactly one of'),
        ({'label': 'a', 'box': [1, 2, 3, 4]}, r'needs exactly one of'),
    ],
)
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


def native(content, answer=None, **extra):
    # '<bbox>' only where there is an object to fill it: ms-swift leaves a tag with no object as literal text.
    answer = answer if answer is not None else '<bbox>' if extra.get('objects') else 'a cat'
    return {'messages': [{'role': 'user', 'content': content}, {'role': 'assistant', 'content': answer}], **extra}


def test_native_record_with_image_item(tmp_path, img):
    path = write_jsonl(
        tmp_path / 'd.jsonl',
        [
            native(
                [{'type': 'image', 'image': img}, {'type': 'text', 'text': 'find <ref-object>'}],
                objects={'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]},
            )
        ],
    )
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
    path = write_jsonl(
        tmp_path / 'd.jsonl',
        [native('<image>ok', images=[img]), native([{'type': 'image', 'url': img}, {'type': 'text', 'text': 'hi'}])],
    )
    with pytest.raises(
        DataError,
        match=r'd\.jsonl:2\.messages\[0\]\.content\[0\]: an image item must carry its '
        r'path under the key "image"',
    ):
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
    from geoaug_train.store import open_or_build

    (tmp_path / 'imgs' / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    path = write_jsonl(tmp_path / 'd.jsonl', [{'image': img}, {'image': 'imgs/missing.png'}, {'image': 'imgs/bad.png'}])
    data = {'train': [path], 'check_images': 'header', 'objects_outside': 'clip'}
    with pytest.raises(DataError, match=r'd\.jsonl:2: .*image file not found'):
        open_or_build({**data, 'skip_bad_images': False}, str(tmp_path / 'cache'), workers=1)
    store, _ = open_or_build({**data, 'skip_bad_images': True}, str(tmp_path / 'cache'), workers=1)
    assert [store['train'].where(i) for i in range(len(store['train']))] == [f'{path}:1']
    skipped = store.report['skipped']
    assert len(skipped) == 2 and ':2: ' in skipped[0] and 'not found' in skipped[0]
    assert ':3: ' in skipped[1] and 'cannot read image' in skipped[1]


def test_grid_rounding_and_clamping():
    assert to_grid(0, 640) == 0
    assert to_grid(640, 640) == 1000
    assert to_grid(320.4, 640) == round(320.4 / 640 * 1000)
    assert to_grid(-3, 640) == 0 and to_grid(700, 640) == 1000
    obj = grid_object('cat', 'bbox', [10, 20, 30, 40], 100, 200)
    assert obj == {'label': 'cat', 'bbox_2d': [100, 100, 300, 200]}
    assert grid_object('q', 'quad', [[0, 0], [50, 0], [50, 100], [0, 100]], 100, 100)['quad_2d'][2] == [500, 1000]
    assert json.loads(render_answer([obj, grid_object('l', 'line', [[0, 0], [100, 50]], 100, 100)])) == [
        {'label': 'cat', 'bbox_2d': [100, 100, 300, 200]},
        {'label': 'l', 'line_2d': [[0, 0], [1000, 500]]},
    ]


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
    ours = (
        [grid_object('b', 'bbox', b, w, h) for b in xyxy]
        + [grid_object('q', 'quad', q, w, h) for q in quads]
        + [grid_object('l', 'line', ln, w, h) for ln in lines]
    )
    theirs = library_to_grid(
        {
            'boxes': Boxes(xyxy, label=['b'] * 20),
            'quads': Quads(quads, label=['q'] * 5),
            'lines': Lines(lines, label=['l']),
        },
        w,
        h,
    )
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


# ---- native records: as strict as geoaug records ----


def native_rec(img, objects=None, user='<image>Find <ref-object>', answer='<bbox>', **extra):
    rec = {
        'messages': [{'role': 'user', 'content': user}, {'role': 'assistant', 'content': answer}],
        'images': [img],
        **extra,
    }
    if objects is not None:
        rec['objects'] = objects
    return rec


def native_error(tmp_path, img, bad) -> str:
    """The message for ``bad`` written as line 2, after a valid native record."""
    good = native_rec(img, {'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]})
    path = write_jsonl(tmp_path / 'd.jsonl', [good, bad])
    with pytest.raises(DataError) as e:
        parse_jsonl(path)
    msg = str(e.value)
    assert msg.startswith(f'{path}:2'), msg
    return msg


@pytest.mark.parametrize(
    'objects,where,reason',
    [
        ({'ref': None, 'bbox': [[1, 2, 10, 20]]}, '.objects.ref:', 'expected a list of strings, got None'),
        ({'ref': 'cat', 'bbox': [[1, 2, 10, 20]]}, '.objects.ref:', "expected a list of strings"),
        (
            {'ref': ['a', 7], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 40]]},
            '.objects.ref[1]:',
            'expected a non-empty string, got 7',
        ),
        ({'ref': ['a', ''], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 40]]}, '.objects.ref[1]:', 'non-empty string'),
        (
            {'ref': ['a', 'b'], 'bbox': [[1, 2, 10, 20], [30, 4, 3, 40]]},
            '.objects.bbox[1]:',
            'needs x1 < x2 and y1 < y2 (an inverted or empty box), got [30, 4, 3, 40]',
        ),
        (
            {'ref': ['a', 'b'], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 4]]},
            '.objects.bbox[1]:',
            'needs x1 < x2 and y1 < y2',
        ),
        ({'ref': ['a'], 'bbox': [[1, 2, 10]]}, '.objects.bbox[0]:', 'expected [x1, y1, x2, y2] of finite numbers'),
        ({'ref': ['a'], 'bbox': [[1, 2, True, 20]]}, '.objects.bbox[0]:', 'finite numbers'),
        ({'ref': ['a'], 'bbox': [[1, 2, 10, 20]], 'bbox_type': 'norm1000'}, '.objects.bbox_type:', 'pixel coordinates'),
        ({'ref': ['a'], 'bbox': [[1, 2, 10, 20]], 'image_id': [1]}, '.objects.image_id:', 'every image_id must be 0'),
        ({'ref': ['a'], 'bbox': [[1, 2, 10, 20]], 'label': ['a']}, '.objects:', "unknown keys ['label']"),
    ],
)
def test_native_objects_are_checked_like_geoaug_objects(tmp_path, img, objects, where, reason):
    refs = objects.get('ref') if isinstance(objects.get('ref'), list) else []
    msg = native_error(
        tmp_path,
        img,
        native_rec(
            img, objects, user='<image>Find' + ' <ref-object>' * len(refs), answer='<bbox>' * len(objects['bbox'])
        ),
    )
    assert msg.split(':2', 1)[1].startswith(where) and reason in msg, msg


def test_native_image_id_zero_and_bbox_type_real_are_accepted(tmp_path, img):
    path = write_jsonl(
        tmp_path / 'd.jsonl',
        [native_rec(img, {'ref': ['cat'], 'bbox': [[1, 2, 10, 20]], 'bbox_type': 'real', 'image_id': [0]})],
    )
    (rec,) = parse_jsonl(path)
    assert rec.native_objects == {'ref': ['cat'], 'bbox': [[1.0, 2.0, 10.0, 20.0]]}


def test_huge_numbers_in_a_native_bbox_name_the_line(tmp_path, img):
    good = json.dumps(native_rec(img, {'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]}))
    for literal, reason in (
        ('1e999', 'number too large: 1e999'),
        (str(10**400), 'number too large: 1000'),
        ('NaN', 'NaN/Infinity is not JSON'),
    ):
        bad = good.replace('[[1, 2, 10, 20]]', f'[[1, 2, {literal}, 20]]')
        path = write_jsonl(tmp_path / 'd.jsonl', [good, bad])
        with pytest.raises(DataError, match=re.escape(f'{path}:2: {reason}')):
            parse_jsonl(path)


@pytest.mark.parametrize(
    'user,answer,objects,reason',
    [
        (
            '<image>Find <ref-object>',
            '<bbox><bbox>',
            {'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]},
            '2 <bbox> tags in the messages for 1 entries in objects.bbox',
        ),
        (
            '<image>Find <ref-object> and <ref-object>',
            '<bbox>',
            {'ref': ['cat'], 'bbox': [[1, 2, 10, 20]]},
            '2 <ref-object> tags in the messages for 1 entries in objects.ref',
        ),
        (
            '<image>Find <ref-object>',
            '<bbox>',
            None,
            '1 <ref-object> tags in the messages for 0 entries in objects.ref',
        ),
        ('<image>Find the cat', '<bbox>', None, '1 <bbox> tags in the messages for 0 entries in objects.bbox'),
        (
            '<image>Find <ref-object>',
            '<bbox>',
            {'ref': ['cat', 'dog'], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 40]]},
            '1 <ref-object> tags in the messages for 2 entries in objects.ref',
        ),
    ],
)
def test_ref_and_bbox_tags_must_match_the_objects(tmp_path, img, user, answer, objects, reason):
    msg = native_error(tmp_path, img, native_rec(img, objects, user=user, answer=answer))
    assert reason in msg and 'ms-swift fills the k-th' in msg, msg


def test_tag_counts_that_match_or_are_unused_are_accepted(tmp_path, img):
    two = {'ref': ['cat', 'dog'], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 40]]}
    path = write_jsonl(
        tmp_path / 'd.jsonl',
        [
            native_rec(img, two, user='<image>Find <ref-object> and <ref-object>', answer='<bbox>\n<bbox>'),
            native_rec(img, two, user='<image>Find the animals', answer='<ref-object>: <bbox>, <ref-object>: <bbox>'),
            native_rec(img, two, user='<image>Find the animals', answer='<bbox> <bbox>'),  # refs as labels only
            native_rec(img, two, user='<image>Describe', answer='Two animals.'),  # no tags: objects not rendered
            native_rec(img, {'ref': [], 'bbox': []}, user='<image>Describe', answer='Nothing.'),
        ],
    )
    assert [len(r.native_objects['bbox']) for r in parse_jsonl(path)] == [2, 2, 2, 2, 0]


def test_ms_swift_docs_shared_query_ref_is_accepted_and_kept_whole(tmp_path, img):
    """ms-swift's docs show a query <ref-object> plus one <ref-object> per answered box: one more ref than
    boxes. ms-swift pairs refs with tags, not with boxes, so the record is valid and every ref must survive
    the store (boxes and refs are kept as separate lists)."""
    from geoaug_train.store import open_or_build

    objects = {'ref': ['sheep', 'sheep', 'sheep'], 'bbox': [[1, 2, 10, 20], [3, 4, 30, 40]]}
    rec = native_rec(
        img,
        objects,
        user='<image>Locate the <ref-object> in the image',
        answer='[{"bbox_2d": <bbox>, "label": "<ref-object>"}, {"bbox_2d": <bbox>, "label": "<ref-object>"}]',
    )
    path = write_jsonl(tmp_path / 'd.jsonl', [rec])
    (parsed,) = parse_jsonl(path)
    expect = {'ref': ['sheep'] * 3, 'bbox': [[1.0, 2.0, 10.0, 20.0], [3.0, 4.0, 30.0, 40.0]]}
    assert parsed.native_objects == expect
    store, _ = open_or_build(
        {'train': [path], 'check_images': 'header', 'objects_outside': 'clip'}, str(tmp_path / 'cache'), workers=1
    )
    assert store['train'].record(0).native_objects == expect


@pytest.mark.parametrize(
    'bad,where,reason',
    [
        ({'system': 'be brief'}, ':', "unknown keys ['system']"),
        (
            {
                'messages': [
                    {'role': 'user', 'content': '<image>hi', 'loss': False},
                    {'role': 'assistant', 'content': 'x'},
                ]
            },
            '.messages[0]:',
            "unknown keys ['loss']",
        ),
        (
            {
                'images': None,
                'messages': [
                    {'role': 'user', 'content': [{'type': 'image', 'image': 'imgs/a.png', 'min_pixels': 1}]},
                    {'role': 'assistant', 'content': 'x'},
                ],
            },
            '.messages[0].content[0]:',
            "unknown keys ['min_pixels']",
        ),
        (
            {
                'images': None,
                'messages': [
                    {
                        'role': 'user',
                        'content': [{'type': 'image', 'image': 'imgs/a.png'}, {'type': 'text', 'text': 'hi', 'x': 1}],
                    },
                    {'role': 'assistant', 'content': 'x'},
                ],
            },
            '.messages[0].content[1]:',
            "unknown keys ['x']",
        ),
        ({'images': ''}, '.images:', 'expected a list of image paths'),
        ({'images': {}}, '.images:', 'expected a list of image paths'),
    ],
)
def test_native_keys_that_would_be_dropped_are_errors(tmp_path, img, bad, where, reason):
    rec = native_rec(img)
    rec.update(bad)
    if rec.get('images') is None:
        rec.pop('images')
    msg = native_error(tmp_path, img, rec)
    assert msg.split(':2', 1)[1].startswith(where) and reason in msg, msg


def test_aspect_ratio_problem_matches_qwen_vl_smart_resize():
    from geoaug_train.records import MAX_ASPECT_RATIO, aspect_ratio_problem

    assert aspect_ratio_problem(200, 1) is None and aspect_ratio_problem(1, 200) is None
    assert aspect_ratio_problem(640, 480) is None
    assert 'aspect ratio 201.0:1 (201x1 pixels) is over 200:1' in aspect_ratio_problem(201, 1)
    assert 'over 200:1' in aspect_ratio_problem(3, 700)
    assert 'empty' in aspect_ratio_problem(0, 10)
    vision_process = pytest.importorskip('qwen_vl_utils.vision_process')
    assert MAX_ASPECT_RATIO == vision_process.MAX_RATIO
    for w, h in ((64 * 200, 64), (64 * 200 + 1, 64), (64, 64 * 200 + 1), (1000, 999), (10_001, 50)):
        try:
            vision_process.smart_resize(h, w, factor=32)
            refused = False
        except ValueError:
            refused = True
        assert refused == (aspect_ratio_problem(w, h) is not None), (w, h)
