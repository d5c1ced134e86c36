"""geoaug_train.fetch_stats: per-(split, epoch) totals of what augmentation dropped, clipped and split, summed
over processes (geoaug only, no train extra; the callback test needs transformers)."""

import json
import multiprocessing as mp
import os
import threading
import time

import pytest
from PIL import Image

from geoaug_train import fetch_stats as fs
from geoaug_train.records import Record
from geoaug_train.samples import SampleBuilder

CROP = [{'name': 'crop', 'params': {'x': 0, 'y': 0, 'width': 96, 'height': 64}}]
NATIVE_MESSAGES = [
    {'role': 'user', 'content': '<image>Where are <ref-object> and <ref-object>?'},
    {'role': 'assistant', 'content': '<bbox><bbox>'},
]


def builder(ops, filters=None):
    aug = {'ops': ops}
    if filters:
        aug['filters'] = filters
    return SampleBuilder(aug, max_pixels=65536, min_pixels=4096, seed=1, prompt='find')


def image(directory, w=192, h=128):
    path = os.path.join(str(directory), 'a.png')
    if not os.path.exists(path):
        Image.new('RGB', (w, h), (90, 90, 90)).save(path)
    return path


def geoaug_record(directory):
    return Record(
        line=1,
        image=image(directory),
        kind='geoaug',
        objects=[
            {'label': 'gone', 'bbox': [150, 90, 180, 120]},  # outside the crop: dropped 'outside'
            {'label': 'kept', 'bbox': [10, 10, 40, 40]},
            {'label': 'cut', 'bbox': [80, 10, 120, 40]},  # cut by the crop's right edge: clipped
            {'label': 'sliver', 'bbox': [94, 44, 130, 60]},  # 2 of 36 px wide stay: clipped, then min_visibility
            {'label': 'lane', 'line': [[0, 20], [150, 20], [150, 30], [0, 30]]},  # leaves and re-enters: 2 pieces
            {'label': 'plate', 'quad': [[20, 50], [60, 50], [60, 60], [20, 60]]},
        ],
    )


def native_record(directory):
    return Record(
        line=3,
        image=image(directory),
        kind='native',
        messages=NATIVE_MESSAGES,
        native_objects={'ref': ['a', 'b'], 'bbox': [[150.0, 90.0, 180.0, 120.0], [10.0, 10.0, 40.0, 40.0]]},
    )


def test_sample_carries_its_report_and_object_counts(tmp_path):
    s = builder(CROP, {'boxes': {'min_visibility': 0.2}}).build(
        geoaug_record(tmp_path), split='train', epoch=0, index=0
    )
    assert s.objects_in == {'boxes': 4, 'quads': 1, 'lines': 1}
    assert s.objects_out == {'boxes': 2, 'quads': 1, 'lines': 2}
    assert sorted((d['kind'], d['reason']) for d in s.report.dropped) == [
        ('boxes', 'min_visibility'),
        ('boxes', 'outside'),
    ]
    assert s.report.clipped['boxes'] == 2 and s.report.clipped['lines'] == 1 and s.report.split['lines'] == 1
    assert [o['label'] for o in s.objects] == ['kept', 'cut', 'lane', 'lane', 'plate']

    # A native fallback: the augmented attempt's report (the drop that forced it), all boxes in the answer.
    b = builder(CROP)
    n = b.build(native_record(tmp_path), split='train', epoch=0, index=1)
    assert n.fallback and n.objects_in == {'boxes': 2} and n.objects_out == {'boxes': 2}
    assert [(d['kind'], d['reason']) for d in n.report.dropped] == [('boxes', 'outside')]
    assert n.report.ops[0] == 'crop'

    v = b.build(geoaug_record(tmp_path), split='val', epoch=0, index=0)  # resize only: nothing lost
    assert v.report is not None and not v.report.dropped and v.objects_out == v.objects_in


def test_accumulator_counts_exactly_what_the_reports_say(tmp_path):
    b = builder(CROP, {'boxes': {'min_visibility': 0.2}})
    flip = builder([{'name': 'hflip', 'params': {'prob': 1.0}}])
    rec, nat = geoaug_record(tmp_path), native_record(tmp_path)
    samples = [
        ('train', 0, b.build(rec, split='train', epoch=0, index=0)),
        ('train', 0, b.build(nat, split='train', epoch=0, index=1)),  # fallback
        ('train', 0, flip.build(nat, split='train', epoch=0, index=1)),  # kept
        ('train', 1, b.build(rec, split='train', epoch=1, index=0)),
        ('val', 0, b.build(rec, split='val', epoch=0, index=0)),
    ]
    st = fs.FetchStats()
    for split, epoch, s in samples:
        st.record(split, epoch, s)
    stats = st.merged()['stats']
    assert list(stats) == [('train', 0), ('train', 1), ('val', 0)]

    e = stats[('train', 0)]
    assert e['fetches'] == 3 and e['fallbacks'] == 1
    assert e['in'] == {'boxes': 4 + 2 + 2, 'quads': 1, 'lines': 1}
    assert e['out'] == {'boxes': 2 + 2 + 2, 'quads': 1, 'lines': 2}
    assert e['dropped'] == {'boxes': {'outside': 1 + 1, 'min_visibility': 1}}
    assert e['clipped'] == {'boxes': 2, 'lines': 1}
    assert e['split_pieces'] == {'lines': 1}

    # Against the reports themselves, for every key.
    for key, entry in stats.items():
        mine = [s for split, epoch, s in samples if (split, epoch) == key]
        assert entry['fetches'] == len(mine)
        for name, attr in (
            ('clipped', 'clipped'),
            ('input_clipped', 'input_clipped'),
            ('split_pieces', 'split'),
            ('approximated', 'approximated'),
        ):
            want = {}
            for s in mine:
                for k, v in getattr(s.report, attr).items():
                    if v:
                        want[k] = want.get(k, 0) + v
            assert entry[name] == want, name
        want = {}
        for s in mine:
            for d in s.report.dropped:
                want.setdefault(d['kind'], {}).setdefault(d['reason'], 0)
                want[d['kind']][d['reason']] += 1
        assert entry['dropped'] == want
    assert stats[('val', 0)]['dropped'] == {} and stats[('val', 0)]['in'] == stats[('val', 0)]['out']


def test_summary_shows_the_percentages(tmp_path):
    st = fs.FetchStats()
    b = builder(CROP, {'boxes': {'min_visibility': 0.2}})
    st.record('train', 0, b.build(geoaug_record(tmp_path), split='train', epoch=0, index=0))
    st.record('train', 0, b.build(native_record(tmp_path), split='train', epoch=0, index=1))
    text = fs.format_summary(st.merged())
    # boxes: 6 in; 2 outside + 1 min_visibility dropped; 2 clipped. lines: 1 in, 1 clipped, +1 piece.
    assert text.startswith(
        'train epoch 0: 2 fetches; boxes 6 in, 50.0% dropped (outside 33.3%, '
        'min_visibility 16.7%), 33.3% clipped, 4 out; '
    )
    assert 'quads 1 in, 0% dropped, 0% clipped, 1 out' in text
    assert 'lines 1 in, 0% dropped, 100.0% clipped, split into +100.0% pieces, 2 out' in text
    assert '1 native-record fetches (50.0%) trained un-augmented' in text

    # Nothing rounds away: one drop in 100,000 still shows.
    e = fs._new_entry('train', 3)
    e.update(fetches=50000, **{'in': {'lines': 100000}, 'out': {'lines': 99999}})
    e['dropped'] = {'lines': {'min_size': 1}}
    line = fs.format_summary({'stats': {('train', 3): e}, 'unreadable': ['x.json (ValueError: bad)']})
    assert 'train epoch 3: 50,000 fetches; lines 100,000 in, <0.1% dropped (min_size <0.1%)' in line
    assert 'unreadable stats file, not counted: x.json' in line
    assert fs.format_summary({'stats': {}}) == 'no fetches recorded'


def test_stats_dir_comes_from_the_env_or_next_to_the_spec(tmp_path, monkeypatch):
    assert fs.stats_dir({}) is None
    spec = os.path.join('run', 'geoaug', 'spec.json')
    assert fs.stats_dir({fs.SPEC_ENV: spec}) == os.path.join('run', 'geoaug', 'fetch_stats')
    assert fs.stats_dir({fs.SPEC_ENV: spec, fs.STATS_DIR_ENV: 'elsewhere'}) == 'elsewhere'
    monkeypatch.delenv(fs.STATS_DIR_ENV, raising=False)
    monkeypatch.delenv(fs.SPEC_ENV, raising=False)
    s = builder(CROP).build(geoaug_record(tmp_path), split='train', epoch=0, index=0)
    fs.record('train', 0, s)  # no dir configured: nothing recorded, nothing written
    assert fs.recorder() is None
    monkeypatch.setenv(fs.SPEC_ENV, str(tmp_path / 'geoaug' / 'spec.json'))
    fs.record('train', 0, s)
    fs.flush_all()
    merged = fs.merge(str(tmp_path / 'geoaug' / 'fetch_stats'))
    assert merged['processes'] == 1 and merged['stats'][('train', 0)]['fetches'] == 1
    (tmp_path / 'geoaug' / 'fetch_stats' / 'notes.json').write_text('{}')  # not ours: kept, reported
    assert fs.merge(str(tmp_path / 'geoaug' / 'fetch_stats'))['unreadable'][0].startswith('notes.json')
    fs.reset(str(tmp_path / 'geoaug' / 'fetch_stats'))
    assert os.listdir(str(tmp_path / 'geoaug' / 'fetch_stats')) == ['notes.json']


def _child(directory, image_dir, n, epoch):
    """Runs in a fresh (spawn) or forked process: records through the module-level recorder, then exits
    without flushing by hand: the exit hooks must write the totals."""
    os.environ[fs.STATS_DIR_ENV] = directory
    b = builder(CROP)
    for i in range(n):
        fs.record('train', epoch, b.build(geoaug_record(image_dir), split='train', epoch=epoch, index=i))


@pytest.mark.parametrize('method', ['spawn', 'fork'])
def test_processes_record_into_one_dir_and_merge_sums_them(tmp_path, method, monkeypatch):
    if method not in mp.get_all_start_methods():
        pytest.skip(f'no {method} here')
    directory = str(tmp_path / 'stats')
    if method == 'fork':
        # The parent has counted before forking: a child must not carry (and re-write) the parent's totals.
        monkeypatch.setenv(fs.STATS_DIR_ENV, directory)
        _child(directory, str(tmp_path), 1, 0)
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_child, args=(directory, str(tmp_path), n, 0)) for n in (3, 4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    fs.flush_all()
    merged = fs.merge(directory)
    parent = 1 if method == 'fork' else 0
    assert merged['processes'] == 2 + parent and not merged['unreadable']
    e = merged['stats'][('train', 0)]
    fetches = 3 + 4 + parent
    assert e['fetches'] == fetches
    assert e['in'] == {'boxes': 4 * fetches, 'quads': fetches, 'lines': fetches}
    assert e['dropped'] == {'boxes': {'outside': fetches}}
    assert {n for n in os.listdir(directory)} == {f'{os.uname().nodename}-{p.pid}.json' for p in procs} | (
        {f'{os.uname().nodename}-{os.getpid()}.json'} if parent else set()
    )


def test_flush_is_atomic_a_reader_never_sees_a_partial_file(tmp_path):
    directory = str(tmp_path / 'stats')
    s = builder(CROP).build(geoaug_record(tmp_path), split='train', epoch=0, index=0)
    writers = [fs.FetchStats(directory, flush_every=1, idle_flush=None) for _ in range(2)]
    for i, w in enumerate(writers):  # two "processes" in one: distinct files
        w.path = os.path.join(directory, f'host-{i}.json')
        w.pid = os.getpid()
    stop = threading.Event()

    def write(w):
        while not stop.is_set():
            w.record('train', 0, s)  # every record rewrites the whole file

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    reads, last = 0, 0
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            for name in os.listdir(directory) if os.path.isdir(directory) else []:
                if name.endswith('.json'):
                    with open(os.path.join(directory, name)) as f:
                        json.load(f)  # raises on a partial file
            merged = fs.merge(directory)
            assert not merged['unreadable']
            if merged['stats']:
                fetches = merged['stats'][('train', 0)]['fetches']
                assert fetches >= last  # totals only grow
                last = fetches
                reads += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert reads > 10 and all(w.writes > 10 for w in writers)
    assert not [n for n in os.listdir(directory) if not n.endswith('.json') and not n.startswith('.')]


def test_an_idle_process_writes_its_pending_fetches_within_a_second(tmp_path):
    directory = str(tmp_path / 'stats')
    st = fs.FetchStats(directory)  # defaults: would not write before 256 fetches or 5 s
    s = builder(CROP).build(geoaug_record(tmp_path), split='train', epoch=0, index=0)
    for _ in range(3):
        st.record('train', 0, s)
    assert st.writes == 0
    deadline = time.monotonic() + fs.SETTLE_SECONDS + 2
    while time.monotonic() < deadline and not fs.merge(directory)['stats']:
        time.sleep(0.05)
    assert fs.merge(directory)['stats'][('train', 0)]['fetches'] == 3


def test_record_costs_well_under_one_percent_of_a_fetch(tmp_path):
    st = fs.FetchStats(str(tmp_path / 'stats'))
    s = builder(CROP, {'boxes': {'min_visibility': 0.2}}).build(
        geoaug_record(tmp_path), split='train', epoch=0, index=0
    )
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        st.record('train', 0, s)
    per_fetch = (time.perf_counter() - t) / n
    assert st.writes >= n // fs.FLUSH_EVERY - 1
    assert per_fetch < 150e-6, per_fetch  # 1% of a ~15 ms fetch (measured ~5 us, on a busy machine)


def test_epoch_end_callback_prints_each_changed_line_once(tmp_path, capsys):
    pytest.importorskip('transformers')
    directory = str(tmp_path / 'stats')
    st = fs.FetchStats(directory, flush_every=1)
    s = builder(CROP).build(geoaug_record(tmp_path), split='train', epoch=0, index=0)
    st.record('train', 0, s)
    cb = fs.make_callback_cls()(directory=directory)
    entry = fs.merge(directory)['stats'][('train', 0)]
    assert cb.report('at the end of an epoch', settle=0) == [fs.format_entry(entry)]
    out = capsys.readouterr().out
    assert '[geoaug-train]   train epoch 0: 1 fetches; boxes 4 in, 25.0% dropped (outside 25.0%)' in out
    assert cb.report('again', settle=0) == []  # unchanged: not repeated
    st.record('train', 1, s)
    assert [line.split(':')[0] for line in cb.report('later', settle=0)] == ['train epoch 1']


def test_a_process_moving_to_the_next_epoch_writes_the_finished_one(tmp_path):
    directory = str(tmp_path / 'stats')
    st = fs.FetchStats(directory, idle_flush=None)
    s = builder(CROP).build(geoaug_record(tmp_path), split='train', epoch=0, index=0)
    for _ in range(3):
        st.record('train', 0, s)
    assert st.writes == 0
    st.record('train', 1, s)
    stats = fs.merge(directory)['stats']
    assert stats[('train', 0)]['fetches'] == 3 and stats[('train', 1)]['fetches'] == 1
