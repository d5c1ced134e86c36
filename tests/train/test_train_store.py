"""The record store: round trip, cache, concurrent builds, shards, intake errors, the outside-objects policy,
image checks, and readers in dataloader workers. None of this needs the model."""

import json
import multiprocessing as mp
import os
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from geoaug_train.config import ConfigError, expand_sources
from geoaug_train.records import DataError
from geoaug_train.store import RecordStore, chunk_tasks, open_or_build, parse_chunk, store_key


def _jsonl(path, rows):
    path.write_text(
        ''.join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + '\n' for r in rows), encoding='utf-8'
    )
    return str(path)


def _data(train, val=None, **kw):
    d = {
        'train': [str(p) for p in train],
        'val': [str(p) for p in val] if val else None,
        'check_images': 'header',
        'objects_outside': 'clip',
        'skip_bad_images': False,
        'cache_dir': None,
    }
    d.update(kw)
    return d


@pytest.fixture
def images(tmp_path):
    (tmp_path / 'imgs').mkdir()
    Image.new('RGB', (100, 80), (10, 20, 30)).save(tmp_path / 'imgs' / 'a.png')
    Image.new('RGB', (64, 48), (200, 0, 0)).save(tmp_path / 'imgs' / 'b.jpg')
    return tmp_path


ROWS = [
    {
        'image': 'imgs/a.png',
        'prompt': 'find them',
        'objects': [
            {'label': 'cat', 'bbox': [1.25, 2.5, 10, 20]},
            {'label': 'EXIT 出口', 'quad': [[0, 0], [5.5, 0], [5, 5], [0, 5.125]]},
            {'label': 'lane', 'line': [[0, 0], [3, 4], [9, 9], [12.75, 1]]},
        ],
    },
    {'image': 'imgs/b.jpg', 'objects': []},
    {
        'messages': [
            {
                'role': 'user',
                'content': [
                    {'type': 'image', 'image': 'imgs/a.png'},
                    {'type': 'text', 'text': 'Where is the <ref-object>?'},
                ],
            },
            {'role': 'assistant', 'content': '<bbox>'},
        ],
        'objects': {'ref': ['dog'], 'bbox': [[3, 4, 30, 40]]},
    },
    {
        'image': 'imgs/b.jpg',
        'objects': [{'label': 'q', 'quad': [[1, 1], [9, 1], [9, 9], [1, 9]]}, {'label': 'b', 'bbox': [0, 0, 64, 48]}],
    },
]


def test_round_trip_equals_the_jsonl(tmp_path, images):
    src = _jsonl(tmp_path / 'd.jsonl', ROWS)
    store, _ = _built(tmp_path, _data([src]))
    folder = tmp_path / 'cache' / os.path.basename(store.folder)
    recs = RecordStore(str(folder))['train']
    assert len(recs) == 4
    r0 = recs.record(0)
    assert r0.kind == 'geoaug' and r0.prompt == 'find them' and r0.line == 1
    assert r0.image == str(images / 'imgs' / 'a.png')
    assert r0.objects == [
        {'label': o['label'], **{k: v for k, v in o.items() if k != 'label'}} for o in ROWS[0]['objects']
    ]
    assert recs.record(1).objects == [] and recs.record(1).prompt is None
    nat = recs.record(2)
    assert nat.kind == 'native' and nat.native_objects == {'ref': ['dog'], 'bbox': [[3.0, 4.0, 30.0, 40.0]]}
    assert nat.messages[0]['content'] == '<image>Where is the <ref-object>?'
    assert recs.record(3).objects == ROWS[3]['objects']
    assert recs.where(3) == f'{src}:4'
    assert recs.image_size(0) == (100, 80) and recs.image_size(1) == (64, 48)
    rows = [json.loads(line) for line in open(folder / 'train.swift.jsonl')]
    assert [r['chat_template_kwargs']['geoaug_index'] for r in rows] == [0, 1, 2, 3]
    assert rows[2]['objects'] == {'ref': ['dog'], 'bbox': [[3.0, 4.0, 30.0, 40.0]]}
    assert rows[0]['images'] == [str(images / 'imgs' / 'a.png')]


def test_chunks_cut_at_line_ends_and_keep_line_numbers(tmp_path, images):
    rows = [
        {'image': 'imgs/a.png', 'objects': [{'label': f'o{i}', 'bbox': [i % 50, 1, i % 50 + 3, 9]}]} for i in range(300)
    ]
    text = ''.join(json.dumps(r) + '\n' + ('\n' if i % 7 == 0 else '') for i, r in enumerate(rows))
    path = tmp_path / 'd.jsonl'
    path.write_text(text)
    tasks = chunk_tasks(str(path), chunk_bytes=500)
    assert len(tasks) > 20
    chunks = [parse_chunk(t) for t in tasks]
    lines = np.concatenate([c.lines for c in chunks])
    expect = [n + 1 for n, t in enumerate(text.split('\n')) if t.strip()]
    assert lines.tolist() == expect
    assert sum(len(c.obj_kind) for c in chunks) == 300


def _built(tmp_path, data, workers=1):
    store, built = open_or_build(data, str(tmp_path / 'cache'), workers=workers, log=lambda m: None)
    return store, built


def test_cache_hit_and_invalidation(tmp_path, images):
    src = _jsonl(tmp_path / 'd.jsonl', ROWS)
    data = _data([src])
    s1, built1 = _built(tmp_path, data)
    t = time.perf_counter()
    s2, built2 = _built(tmp_path, data)
    assert built1 and not built2 and s1.folder == s2.folder
    assert time.perf_counter() - t < 2
    # A changed file (same size, new mtime) and a changed option each get a new store.
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
    s3, built3 = _built(tmp_path, data)
    assert built3 and s3.folder != s1.folder
    s4, built4 = _built(tmp_path, {**data, 'objects_outside': 'drop'})
    assert built4 and s4.folder not in (s1.folder, s3.folder)
    # nothing half-written is left behind
    assert not [n for n in os.listdir(tmp_path / 'cache') if n.endswith('.tmp')]


def _build_in_child(args):
    data, cache = args
    store, built = open_or_build(data, cache, workers=1, log=lambda m: None)
    return store.folder, built, len(store['train']), store['train'].record(len(store['train']) - 1).objects


def test_two_processes_building_at_once_make_one_store(tmp_path, images):
    rows = [{'image': 'imgs/a.png', 'objects': [{'label': 'x', 'bbox': [1, 1, 5 + i % 90, 9]}]} for i in range(20000)]
    data = _data([_jsonl(tmp_path / 'd.jsonl', rows)])
    cache = str(tmp_path / 'cache')
    with mp.get_context('spawn').Pool(2) as pool:
        results = pool.map(_build_in_child, [(data, cache), (data, cache)])
    assert {r[0] for r in results} == {os.path.join(cache, store_key(data))}
    assert sorted(r[1] for r in results) == [False, True]
    assert all(r[2] == 20000 and r[3] == [{'label': 'x', 'bbox': [1.0, 1.0, 5.0 + 19999 % 90, 9.0]}] for r in results)
    assert sorted(os.listdir(cache)) == sorted([store_key(data), store_key(data) + '.lock'])


def test_sharded_inputs_by_glob_and_list(tmp_path, images):
    for k in range(3):
        _jsonl(
            tmp_path / f'part-{k}.jsonl',
            [{'image': 'imgs/a.png', 'objects': [{'label': f's{k}r{i}', 'bbox': [1, 1, 2, 2]}]} for i in range(k + 1)],
        )
    files = expand_sources('data.train', str(tmp_path / 'part-*.jsonl'), lambda p: p)
    assert files == [str(tmp_path / f'part-{k}.jsonl') for k in range(3)]
    with pytest.raises(ConfigError, match='no file matches'):
        expand_sources('data.train', str(tmp_path / 'nope-*.jsonl'), lambda p: p)
    with pytest.raises(ConfigError, match='listed twice'):
        expand_sources('data.train', [files[0], files[0]], lambda p: p)
    store, _ = _built(tmp_path, _data(files), workers=2)
    recs = store['train']
    assert [recs.record(i).objects[0]['label'] for i in range(len(recs))] == [
        's0r0',
        's1r0',
        's1r1',
        's2r0',
        's2r1',
        's2r2',
    ]
    assert recs.where(4) == f'{files[2]}:2'


@pytest.mark.parametrize(
    'bad,match',
    [
        ('{"image": "imgs/a.png", "objects": [}', 'not valid JSON'),
        (b'{"image": "imgs/a.png", "objects": [], "prompt": "\xff"}', 'UTF-8'),
        ('[' * 100000 + ']' * 100000, 'nesting'),
        ('{"image": "imgs/a.png", "objects": [{"label": "a", "bbox": [1, 2, 1e999, 9]}]}', 'too large'),
        ('{"image": "imgs/a.png", "objects": [{"label": "a", "bbox": [1, 2, ' + '9' * 400 + ', 9]}]}', 'too large'),
        ('{"image": "imgs/a.png", "objects": [{"label": "a", "bbox": [1, 2, true, 9]}]}', r'objects\[0\]\.bbox'),
        ('{"image": "imgs/a.png", "objects": [{"label": "a", "bbox": [1, 2, "3", 9]}]}', r'objects\[0\]\.bbox'),
        (
            '{"image": "imgs/a.png", "objects": [{"label": "a", "bbox": [5, 2, 3, 9]}]}',
            r'objects\[0\]\.bbox: needs x1 < x2',
        ),
        (
            '{"image": "imgs/a.png", "objects": [{"label": "a", "quad": [[0, 0], [1, 1], [2, 2]]}]}',
            r'objects\[0\]\.quad',
        ),
        ('"just a string"', 'expected a JSON object'),
    ],
)
@pytest.mark.parametrize('workers', [1, 2])
def test_intake_errors_name_file_and_line(tmp_path, images, bad, match, workers):
    good = json.dumps({'image': 'imgs/a.png', 'objects': [{'label': 'a', 'bbox': [1, 2, 3, 4]}]})
    _jsonl(tmp_path / 'p0.jsonl', [good] * 3)
    p1 = tmp_path / 'p1.jsonl'
    p1.write_bytes(
        b'\n'.join([good.encode(), good.encode(), bad if isinstance(bad, bytes) else bad.encode(), good.encode()])
    )
    with pytest.raises(DataError, match=match) as e:
        _built(tmp_path, _data([tmp_path / 'p0.jsonl', p1]), workers=workers)
    assert f'{p1}:3' in str(e.value)


def _outside_rows():
    return [
        {
            'image': 'imgs/a.png',
            'objects': [  # a.png is 100 x 80
                {'label': 'in', 'bbox': [1, 1, 10, 10]},
                {'label': 'part', 'bbox': [90, 70, 120, 90]},
                {'label': 'out', 'bbox': [200, 10, 220, 30]},
                {'label': 'edge', 'bbox': [100, 10, 120, 30]},  # touches the image along its right edge only
                {'label': 'qpart', 'quad': [[-5, 5], [20, 5], [20, 20], [-5, 20]]},
                {'label': 'qout', 'quad': [[110, 5], [120, 5], [120, 20], [110, 20]]},
                {'label': 'qflat', 'quad': [[1, 1], [5, 5], [9, 9], [3, 3]]},
                {'label': 'lpart', 'line': [[50, 40], [150, 40]]},
                {'label': 'lout', 'line': [[-10, -10], [-1, 90]]},  # its bounds overlap the image, the line does not
                {'label': 'hair', 'bbox': [0, 0, 100.0005, 80]},
            ],
        },
        {'image': 'imgs/a.png', 'objects': [{'label': 'gone', 'bbox': [300, 300, 310, 310]}]},
    ]


def test_outside_policy_clip_counts_and_drops_only_invisible(tmp_path, images):
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'd.jsonl', _outside_rows())]))
    recs = store['train']
    assert [o['label'] for o in recs.record(0).objects] == ['in', 'part', 'qpart', 'lpart', 'hair']
    assert recs.record(1).objects == []
    geo = store.report['splits']['train']['geometry']
    assert geo['by_kind']['bbox'] == {'objects': 6, 'clipped': 1, 'outside': 3, 'degenerate': 0, 'partly_dropped': 0}
    assert geo['by_kind']['quad'] == {'objects': 3, 'clipped': 1, 'outside': 1, 'degenerate': 1, 'partly_dropped': 0}
    assert geo['by_kind']['line'] == {'objects': 2, 'clipped': 1, 'outside': 1, 'degenerate': 0, 'partly_dropped': 0}
    assert geo['records_affected'] == 2 and geo['records_emptied'] == 1
    assert geo['worst'][0] == {'where': recs.where(0), 'objects': 10, 'dropped': 5, 'clipped': 3}


def test_outside_policy_drop_and_error(tmp_path, images):
    src = _jsonl(tmp_path / 'd.jsonl', _outside_rows())
    store, _ = _built(tmp_path, _data([src], objects_outside='drop'))
    assert [o['label'] for o in store['train'].record(0).objects] == ['in', 'hair']
    assert store.report['splits']['train']['geometry']['by_kind']['bbox']['partly_dropped'] == 1
    with pytest.raises(DataError, match=rf'{src}:1\.objects\[1\] \(bbox\) reaches outside its 100x80 image'):
        _built(tmp_path, _data([src], objects_outside='error'))


def test_native_boxes_outside_are_counted_never_dropped(tmp_path, images):
    row = dict(ROWS[2], objects={'ref': ['dog', 'cat'], 'bbox': [[3, 4, 30, 40], [500, 500, 600, 600]]})
    row['messages'] = [
        {
            'role': 'user',
            'content': [
                {'type': 'image', 'image': 'imgs/a.png'},
                {'type': 'text', 'text': '<ref-object> and <ref-object>?'},
            ],
        },
        {'role': 'assistant', 'content': '<bbox><bbox>'},
    ]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'd.jsonl', [row])]))
    assert store['train'].record(0).native_objects['ref'] == ['dog', 'cat']
    assert store.report['splits']['train']['geometry']['native_objects_outside_kept'] == 1


def test_bad_images_error_or_skip_with_counts(tmp_path, images):
    good = images / 'imgs' / 'b.jpg'
    (images / 'imgs' / 'trunc.jpg').write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    rows = [
        {'image': 'imgs/a.png', 'objects': []},
        {'image': 'imgs/trunc.jpg', 'objects': []},
        {'image': 'imgs/missing.png', 'objects': []},
        {'image': 'imgs/trunc.jpg', 'objects': []},
    ]
    src = _jsonl(tmp_path / 'd.jsonl', rows)
    with pytest.raises(DataError, match=rf'(?i){src}:2: .*truncated.*used by 2 train record'):
        _built(tmp_path, _data([src]))
    store, _ = _built(tmp_path, _data([src], skip_bad_images=True))
    recs = store['train']
    assert len(recs) == 1 and recs.where(0) == f'{src}:1'
    assert store.report['splits']['train']['skipped_bad_image'] == 3
    assert len(store.report['skipped']) == 2 and store.report['images']['bad'] == 2
    # a full decode is the opt-in; off checks nothing (and so cannot measure geometry against the image)
    off, _ = _built(tmp_path, _data([src], check_images='off'))
    assert len(off['train']) == 4 and off['train'].image_size(1) == (0, 0)


def test_sixteen_bit_and_palette_images_are_checked_and_fetched(tmp_path):
    from geoaug_train.samples import SampleBuilder

    (tmp_path / 'imgs').mkdir()
    Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 1).astype(np.uint16)).save(
        tmp_path / 'imgs' / 'deep.png'
    )
    pal = Image.new('P', (64, 48), 0)
    pal.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    pal.paste(1, (10, 10, 30, 30))
    pal.save(tmp_path / 'imgs' / 'pal.png')
    rows = [{'image': f'imgs/{n}.png', 'objects': [{'label': 'x', 'bbox': [10, 10, 30, 30]}]} for n in ('deep', 'pal')]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'd.jsonl', rows)]))
    recs = store['train']
    assert recs.image_size(0) == (64, 48) == recs.image_size(1)
    builder = SampleBuilder(None, max_pixels=64 * 64 * 4, min_pixels=32 * 32 * 4, seed=0, prompt='p')
    deep = np.asarray(builder.build(recs.record(0), split='val', epoch=0, index=0).image)
    assert deep.min() < 10 and 0 < np.median(deep) < 250  # scaled by its range, not clipped to white
    pal_img = np.asarray(builder.build(recs.record(1), split='val', epoch=0, index=1).image)
    colours = pal_img.reshape(-1, 3).astype(int)
    assert np.abs(colours - [250, 10, 10]).sum(1).min() == 0 and np.abs(colours).sum(1).min() == 0


class _Reader:
    """A map-style dataset over one split: pickled to workers as the store's path, not its records."""

    def __init__(self, store):
        self.store = store

    def __len__(self):
        return len(self.store['train'])

    def __getitem__(self, i):
        rec = self.store['train'].record(i)
        return {'i': i, 'pid': os.getpid(), 'objects': json.dumps(rec.objects), 'where': self.store['train'].where(i)}


@pytest.mark.parametrize('method', ['fork', 'spawn'])
def test_dataloader_workers_read_the_store(tmp_path, images, method):
    torch = pytest.importorskip('torch')
    import pickle

    rows = [{'image': 'imgs/a.png', 'objects': [{'label': f'r{i}', 'bbox': [1, 1, 2 + i % 90, 9]}]} for i in range(64)]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'd.jsonl', rows)]))
    assert len(pickle.dumps(store)) < 500  # the path, not the data
    loader = torch.utils.data.DataLoader(_Reader(store), batch_size=None, num_workers=2, multiprocessing_context=method)
    got = list(loader)
    assert [g['i'] for g in got] == list(range(64))
    assert len({g['pid'] for g in got} - {os.getpid()}) == 2
    assert [json.loads(g['objects']) for g in got] == [
        [{'label': f'r{i}', 'bbox': [1.0, 1.0, 2.0 + i % 90, 9.0]}] for i in range(64)
    ]


# ---- the fast intake path against the exact one ----

_num = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
_point = st.lists(_num, min_size=2, max_size=2)
_object = st.one_of(
    st.builds(
        lambda l, x, y, w, h: {'label': l, 'bbox': [x, y, x + w, y + h]},
        st.text(min_size=1, max_size=8),
        _num,
        _num,
        st.integers(1, 100),
        st.floats(0.5, 100),
    ),
    st.builds(
        lambda l, q: {'label': l, 'quad': q}, st.text(min_size=1, max_size=8), st.lists(_point, min_size=4, max_size=4)
    ),
    st.builds(
        lambda l, p: {'label': l, 'line': p}, st.text(min_size=1, max_size=8), st.lists(_point, min_size=2, max_size=6)
    ),
)


@given(st.lists(st.lists(_object, max_size=12), min_size=1, max_size=6))
def test_fast_intake_equals_the_exact_checks(tmp_path_factory, records):
    """Whatever shape the objects take, the columns hold exactly what check_record accepts (same floats,
    labels, kinds and order), whether a record went through the fast path or the exact one."""
    from geoaug_train.records import _parse_geoaug
    from geoaug_train.store import KINDS

    path = tmp_path_factory.mktemp('fast') / 'd.jsonl'
    rows = [{'image': 'a.png', 'objects': objs} for objs in records]
    _jsonl(path, rows)
    (chunk,) = [parse_chunk(t) for t in chunk_tasks(str(path))]
    pts = chunk.points.tolist()
    labels = chunk.label.decode('utf-8')
    o = p = lab = 0
    for n, row in enumerate(rows):
        expect = _parse_geoaug('x', json.loads(json.dumps(row)), str(tmp_path_factory.getbasetemp()), n + 1).objects
        assert chunk.rec_nobj[n] == len(expect)
        for obj in expect:
            kind = KINDS[chunk.obj_kind[o]]
            k = int(chunk.obj_npts[o])
            got = pts[p : p + k]
            assert kind in obj and obj[kind] == (got[0] + got[1] if kind == 'bbox' else got)
            size = int(chunk.label_len[o])
            assert labels.encode('utf-8')[lab : lab + size].decode('utf-8') == obj['label']
            o, p, lab = o + 1, p + k, lab + size
    assert o == len(chunk.obj_kind)


def test_a_race_lost_where_locks_do_not_hold_opens_the_winner(tmp_path, images, monkeypatch):
    """On a file system whose locks are not shared, two builders can both build: the second rename fails,
    and the loser opens the winner's complete store instead of failing or leaving its copy behind."""
    import shutil

    import geoaug_train.store as store_mod

    data = _data([_jsonl(tmp_path / 'd.jsonl', ROWS)])
    final = tmp_path / 'cache' / store_key(data)
    real_build = store_mod.build_store

    def racing_build(d, folder, workers):
        report = real_build(d, folder, workers)
        shutil.copytree(folder, final)  # the other node finishes first
        (final / 'meta.json').write_text(json.dumps({'version': store_mod.STORE_VERSION, 'report': report}))
        return report

    monkeypatch.setattr(store_mod, 'build_store', racing_build)
    store, built = _built(tmp_path, data)
    assert not built and store.folder == str(final) and store['train'].record(0).prompt == 'find them'
    assert sorted(os.listdir(tmp_path / 'cache')) == sorted([final.name, final.name + '.lock'])


def test_an_image_qwen_would_refuse_is_a_bad_image(tmp_path, images):
    Image.new('RGB', (402, 2), (0, 0, 0)).save(images / 'imgs' / 'strip.png')
    src = _jsonl(
        tmp_path / 'd.jsonl', [{'image': 'imgs/a.png', 'objects': []}, {'image': 'imgs/strip.png', 'objects': []}]
    )
    with pytest.raises(DataError, match=rf'{src}:2: image .*strip\.png: aspect ratio 201\.0:1 .*smart_resize'):
        _built(tmp_path, _data([src]))
