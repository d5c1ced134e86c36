"""Point and polygon objects in geoaug_train (issue 13): JSONL -> record store (checked against the image,
counted per kind) -> fetch (augmented; the answer's point_2d / polygon_2d on the 0-1000 grid of the
augmented image) -> predict parsing the answer back onto the original image, and the render preview.
No model is needed: the answer text is what the model is trained on, checked against the pixels."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

import geoaug
from geoaug import matrix as M
from geoaug.records import RecordError, check_object
from geoaug_train import predict
from geoaug_train.answer import grid_objects
from geoaug_train.fetch_stats import FetchStats, format_summary
from geoaug_train.prepare import format_report
from geoaug_train.records import DataError
from geoaug_train.render import draw_objects
from geoaug_train.samples import SampleBuilder, augment_record, record_tables
from geoaug_train.store import KINDS, STORE_VERSION, RecordStore, open_or_build

from train_helpers import REPO, write_config

W, H = 160, 120
GREY, RED, GREEN, BLUE = (128, 128, 128), (250, 20, 20), (20, 230, 20), (20, 20, 250)
DOT = [40.5, 30.5]  # the centre of the 7x7 red square painted over pixels 37..43 x 27..33
ROOF = [[80.0, 20.0], [130.0, 45.0], [120.0, 95.0], [70.0, 100.0], [60.0, 60.0]]  # a pentagon, filled green
BOX = [10.0, 70.0, 40.0, 100.0]
SEED = 7
AUGMENT = {
    'ops': [
        {'name': 'hflip', 'params': {'prob': 0.5}},
        {'name': 'rotate', 'params': {'max_deg': 12.0, 'prob': 1.0}},
    ]
}


def _jsonl(path, rows):
    path.write_text(''.join((r if isinstance(r, str) else json.dumps(r)) + '\n' for r in rows), encoding='utf-8')
    return str(path)


def _data(train, **kw):
    d = {
        'train': [str(p) for p in train],
        'val': None,
        'check_images': 'header',
        'objects_outside': 'clip',
        'skip_bad_images': False,
        'cache_dir': None,
    }
    d.update(kw)
    return d


def _built(tmp_path, data, workers=1):
    return open_or_build(data, str(tmp_path / 'cache'), workers=workers, log=lambda m: None)


@pytest.fixture
def scene(tmp_path):
    """A grey 160x120 image with the point, the polygon and the box painted in their colours, and its JSONL."""
    (tmp_path / 'imgs').mkdir()
    img = Image.new('RGB', (W, H), GREY)
    d = ImageDraw.Draw(img)
    d.rectangle([37, 27, 43, 33], fill=RED)
    # PIL fills pixel centres inside the polygon given in pixel-centre coordinates: shift by half a pixel
    d.polygon([(x - 0.5, y - 0.5) for x, y in ROOF], fill=GREEN)
    d.rectangle([BOX[0], BOX[1], BOX[2] - 1, BOX[3] - 1], fill=BLUE)
    img.save(tmp_path / 'imgs' / 'scene.png')
    rows = [
        {
            'image': 'imgs/scene.png',
            'prompt': 'find them',
            'objects': [
                {'label': 'dot', 'point': DOT},
                {'label': 'roof', 'polygon': ROOF},
                {'label': 'box', 'bbox': BOX},
            ],
        }
    ]
    return tmp_path, _jsonl(tmp_path / 'd.jsonl', rows)


def _builder(aug=AUGMENT):
    return SampleBuilder(aug, max_pixels=65536, min_pixels=4096, seed=SEED, prompt='find')


def _colour_pixels(pixels, colour):
    dist = np.abs(pixels.astype(int) - np.array(colour)).sum(-1)
    ys, xs = np.nonzero(dist < 150)
    return xs, ys


def _nearest(a, b):
    """The largest distance from a point of ``a`` to the nearest point of ``b`` (per axis, in pixels)."""
    a, b = np.asarray(a, float).reshape(-1, 2), np.asarray(b, float).reshape(-1, 2)
    d = np.abs(a[:, None] - b[None]).max(-1)
    return d.min(1).max()


# ---- prepare: the store ------------------------------------------------------------------------------
def test_point_and_polygon_round_trip_through_the_store_and_are_counted(scene):
    tmp_path, src = scene
    store, built = _built(tmp_path, _data([src]))
    assert built and store.meta['version'] == STORE_VERSION == 2
    assert KINDS[:3] == ('bbox', 'quad', 'line')  # codes of existing stores keep their meaning
    rec = store['train'].record(0)
    assert rec.objects == [
        {'label': 'dot', 'point': DOT},
        {'label': 'roof', 'polygon': ROOF},
        {'label': 'box', 'bbox': BOX},
    ]
    by_kind = store.report['splits']['train']['geometry']['by_kind']
    assert by_kind['point']['objects'] == 1 and by_kind['polygon']['objects'] == 1 and by_kind['bbox']['objects'] == 1
    text = format_report(store)
    assert '  point: 1 objects' in text and '  polygon: 1 objects' in text
    # a store of the previous format is never opened as this one
    meta = json.loads(open(os.path.join(store.folder, 'meta.json')).read())
    meta['version'] = 1
    with open(os.path.join(store.folder, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    with pytest.raises(DataError, match='store version 1, expected 2'):
        RecordStore(store.folder)


@pytest.mark.parametrize(
    'obj,match',
    [
        (
            {'label': 'a', 'point': [1, 2, 3]},
            r'objects\[1\]\.point: expected \[x, y\] of finite numbers, got \[1, 2, 3\]',
        ),
        ({'label': 'a', 'point': [[1, 2]]}, r'objects\[1\]\.point: expected \[x, y\] of finite numbers'),
        ({'label': 'a', 'point': [1, 'x']}, r'objects\[1\]\.point: expected \[x, y\]'),
        ({'label': 'a', 'point': [1, True]}, r'objects\[1\]\.point: expected \[x, y\]'),
        (
            {'label': 'a', 'polygon': [[0, 0], [5, 5]]},
            r'objects\[1\]\.polygon: a polygon needs at least 3 points, got 2',
        ),
        ({'label': 'a', 'polygon': [[0, 0], [5, 5], [5]]}, r'objects\[1\]\.polygon\[2\]: expected \[x, y\] of finite'),
        ({'label': 'a', 'polygon': [0, 0, 5, 5, 9, 0]}, r'objects\[1\]\.polygon\[0\]: expected \[x, y\]'),
        ({'label': 'a', 'polygon': 'square'}, r'objects\[1\]\.polygon: expected a list of \[x, y\] pairs'),
        ({'label': 'a', 'point': [1, 2], 'polygon': [[0, 0], [1, 0], [1, 1]]}, r'objects\[1\]: needs exactly one of'),
        ({'point': [1, 2]}, r'objects\[1\]\.label: expected a non-empty string'),
    ],
)
def test_bad_point_and_polygon_objects_name_line_object_and_field(scene, obj, match):
    tmp_path, _ = scene
    good = {'image': 'imgs/scene.png', 'objects': [{'label': 'ok', 'point': [1, 1]}]}
    bad = {'image': 'imgs/scene.png', 'objects': [{'label': 'ok', 'point': [1, 1]}, obj]}
    src = _jsonl(tmp_path / 'bad.jsonl', [good, good, bad])
    with pytest.raises(DataError, match=rf'^{src}:3\.{match}'):
        _built(tmp_path, _data([src]))
    # the same check, worded the same, for geoaug preview
    with pytest.raises(RecordError, match=rf'^r\.{match}'):
        check_object('r.objects[1]', obj)


def _outside_rows():
    return [
        {
            'image': 'imgs/scene.png',
            'objects': [  # the image is 160 x 120
                {'label': 'p_in', 'point': [5, 5]},
                {'label': 'p_edge', 'point': [160, 120]},  # on the closed image: kept
                {'label': 'p_hair', 'point': [160.0005, 3]},  # rounding: kept (snapped by geoaug)
                {'label': 'p_out', 'point': [161, 3]},
                {'label': 'g_in', 'polygon': [[10, 10], [50, 10], [30, 40]]},
                {'label': 'g_part', 'polygon': [[140, 10], [180, 10], [180, 50], [160, 70], [140, 50]]},
                {'label': 'g_out', 'polygon': [[170, 10], [200, 10], [185, 40]]},
                {'label': 'g_flat', 'polygon': [[10, 10], [20, 20], [30, 30], [15, 15]]},  # no area
                {'label': 'g_bowtie', 'polygon': [[0, 0], [20, 20], [20, 0], [0, 20]]},  # lobes cancel; area 200
            ],
        }
    ]


def test_objects_outside_clip_counts_points_and_polygons(scene):
    tmp_path, _ = scene
    src = _jsonl(tmp_path / 'o.jsonl', _outside_rows())
    store, _ = _built(tmp_path, _data([src]))
    labels = [o['label'] for o in store['train'].record(0).objects]
    assert labels == ['p_in', 'p_edge', 'p_hair', 'g_in', 'g_part', 'g_bowtie']
    geo = store.report['splits']['train']['geometry']
    assert geo['by_kind']['point'] == {'objects': 4, 'clipped': 0, 'outside': 1, 'degenerate': 0, 'partly_dropped': 0}
    assert geo['by_kind']['polygon'] == {
        'objects': 5,
        'clipped': 1,
        'outside': 1,
        'degenerate': 1,
        'partly_dropped': 0,
    }
    assert geo['worst'][0] == {'where': f'{src}:1', 'objects': 9, 'dropped': 3, 'clipped': 1}
    text = format_report(store)
    assert 'point: 4 objects; 1 wholly outside (dropped)' in text
    assert 'polygon: 5 objects; 1 partly outside (clipped at fetch), 1 wholly outside (dropped), 1 without area' in text


def test_objects_outside_drop_and_error_for_points_and_polygons(scene):
    tmp_path, _ = scene
    src = _jsonl(tmp_path / 'o.jsonl', _outside_rows())
    store, _ = _built(tmp_path, _data([src], objects_outside='drop'))
    assert [o['label'] for o in store['train'].record(0).objects] == ['p_in', 'p_edge', 'p_hair', 'g_in', 'g_bowtie']
    geo = store.report['splits']['train']['geometry']['by_kind']
    assert geo['polygon']['partly_dropped'] == 1 and geo['point']['outside'] == 1
    with pytest.raises(DataError, match=rf'^{src}:1\.objects\[3\] \(point\) lies outside its 160x120 image'):
        _built(tmp_path, _data([src], objects_outside='error'))
    rows = _outside_rows()
    rows[0]['objects'] = [o for o in rows[0]['objects'] if not o['label'].startswith('p_')]
    src2 = _jsonl(tmp_path / 'o2.jsonl', rows)
    with pytest.raises(DataError, match=rf'^{src2}:1\.objects\[1\] \(polygon\) reaches outside its 160x120 image'):
        _built(tmp_path, _data([src2], objects_outside='error'))
    rows[0]['objects'] = [o for o in rows[0]['objects'] if o['label'] in ('g_in', 'g_flat')]
    src3 = _jsonl(tmp_path / 'o3.jsonl', rows)
    with pytest.raises(DataError, match=rf'^{src3}:1\.objects\[1\] \(polygon\) has no area or length'):
        _built(tmp_path, _data([src3], objects_outside='error'))


def test_a_polygon_partly_outside_is_clipped_at_fetch_and_counted(scene):
    tmp_path, _ = scene
    rows = [{'image': 'imgs/scene.png', 'objects': [_outside_rows()[0]['objects'][5]]}]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'p.jsonl', rows)]))
    sample = _builder(None).build(store['train'].record(0), split='val', epoch=0, index=0)
    (obj,) = sample.objects
    pts = np.array(obj['polygon_2d'], float)
    w, h = sample.size
    # the kept part is the polygon within x <= 160 (1000 on the grid): its corners there, nothing beyond
    assert pts[:, 0].max() == 1000 and _nearest([[140 / W * 1000, 10 / H * 1000]], pts) <= 1
    assert sample.report.input_clipped['polygons'] == 1
    assert sample.objects_in == {'polygons': 1} and sample.objects_out == {'polygons': 1}
    assert (w, h) == sample.image.size


# ---- fetch: the answer on the grid -------------------------------------------------------------------
def test_fetch_answers_points_and_polygons_on_the_grid_of_the_augmented_image(scene):
    tmp_path, src = scene
    store, _ = _built(tmp_path, _data([src]))
    records = store['train']
    record, where = records.record(0), records.where(0)
    builder = _builder()
    stats = FetchStats()
    flips = set()
    for epoch in range(6):
        sample = builder.build(record, split='train', epoch=epoch, index=0, where=where)
        stats.record('train', epoch, sample)
        w, h = sample.size
        answer = json.loads(sample.messages[-1]['content'])
        assert answer == sample.objects
        assert [o['label'] for o in answer] == ['dot', 'roof', 'box']  # the record's order
        dot, roof, box = answer
        assert set(dot) == {'label', 'point_2d'} and set(roof) == {'label', 'polygon_2d'}
        assert len(dot['point_2d']) == 2 and all(isinstance(v, int) for v in dot['point_2d'])
        assert all(len(p) == 2 and all(isinstance(v, int) and 0 <= v <= 1000 for v in p) for p in roof['polygon_2d'])
        assert 'bbox_2d' in box

        # the same draw, run again: the answer is its geometry on the grid, within half a grid step
        seed = geoaug.sample_seed(SEED, epoch, 0)
        res, _ = augment_record(builder.train_pipeline, record, seed, where, **record_tables(record.objects)[1])
        assert res.size == (w, h)
        half = np.array([w, h]) / 1000 / 2 + 1e-9
        got_dot = np.array(dot['point_2d']) / 1000 * [w, h]
        assert (np.abs(got_dot - res.points.xy[0]) <= half).all()
        got_roof = np.array(roof['polygon_2d'], float) / 1000 * [w, h]
        (row,) = geoaug.kinds.get_kind('polygons').answer_rows(res.polygons)
        assert got_roof.shape == row.shape and (np.abs(got_roof - row) <= half).all()
        # ... and that geometry is the original mapped by the draw's matrix (the roof stays inside: not cut)
        a = np.asarray(res.matrix)
        np.testing.assert_allclose(res.points.xy[0], M.apply_points(a, np.array([DOT]))[0], atol=1e-6)
        assert _nearest(row, M.apply_points(a, np.array(ROOF))) < 1e-6
        assert _nearest(M.apply_points(a, np.array(ROOF)), row) < 1e-6
        flips.add(bool(np.linalg.det(a[:2, :2]) < 0))

        # ... and on the pixels: the red square's centre is the point, the green fill's extent the polygon's
        pixels = np.asarray(sample.image)
        xs, ys = _colour_pixels(pixels, RED)
        centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
        assert (np.abs(centre - got_dot) <= 1.0 + half).all(), (epoch, centre, got_dot)
        xs, ys = _colour_pixels(pixels, GREEN)
        seen = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
        bounds = np.concatenate([got_roof.min(0), got_roof.max(0)])
        assert np.abs(seen - bounds).max() <= 2.0, (epoch, seen, bounds)
    assert flips == {True, False}  # both a mirrored and a plain draw were checked
    merged = stats.merged()
    (entry,) = [e for e in merged['stats'].values() if e['split'] == 'train' and e['epoch'] == 0]
    assert entry['in'] == {'boxes': 1, 'points': 1, 'polygons': 1} and entry['out'] == entry['in']
    summary = format_summary(merged)
    assert 'points 1 in, 0% dropped' in summary and 'polygons 1 in' in summary


def test_a_point_moved_off_the_image_is_dropped_and_counted_not_clamped(scene):
    tmp_path, _ = scene
    rows = [{'image': 'imgs/scene.png', 'objects': [{'label': 'edge', 'point': [5, 60]}, {'label': 'b', 'bbox': BOX}]}]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'c.jsonl', rows)]))
    record = store['train'].record(0)
    builder = _builder({'ops': [{'name': 'affine', 'params': {'translate': [-0.2, 0.2]}}]})
    stats = FetchStats()
    dropped = 0
    for epoch in range(10):
        sample = builder.build(record, split='train', epoch=epoch, index=0)
        stats.record('train', epoch, sample)
        labels = [o['label'] for o in sample.objects]
        if 'edge' in labels:
            x = sample.objects[labels.index('edge')]['point_2d'][0]
            assert x > 0  # never clamped onto the edge
        else:
            dropped += 1
            assert sample.objects_in['points'] == 1 and sample.objects_out['points'] == 0
            assert [(d['kind'], d['reason']) for d in sample.report.dropped] == [('points', 'outside')]
    assert 0 < dropped < 10  # a shift of up to 32 px moves the point 5 px from the left edge off it sometimes
    text = format_summary(stats.merged())
    assert 'points' in text and 'dropped (outside' in text
    with pytest.raises(geoaug.ConfigError, match=r"point_outside: 'flag' would keep points that left the image"):
        _builder({'point_outside': 'flag', 'ops': []})


def test_the_plain_answer_renders_every_kind_in_record_order():
    objects = [
        {'label': 'dot', 'point': [40.5, 30.5]},
        {'label': 'roof', 'polygon': [[80.0, 20.0], [130.0, 45.0], [120.0, 95.0]]},
        {'label': 'box', 'bbox': [10.0, 70.0, 40.0, 100.0]},
    ]
    assert grid_objects(objects, 160, 120) == [
        {'label': 'dot', 'point_2d': [253, 254]},
        {'label': 'roof', 'polygon_2d': [[500, 167], [812, 375], [750, 792]]},
        {'label': 'box', 'bbox_2d': [62, 583, 250, 833]},
    ]


# ---- predict: parsing the answer back ----------------------------------------------------------------
def test_predict_maps_point_2d_and_polygon_2d_back_onto_the_original(scene):
    tmp_path, src = scene
    store, _ = _built(tmp_path, _data([src]))
    record = store['train'].record(0)
    builder = _builder()
    sample = builder.build(record, split='val', epoch=0, index=0)  # what predict's model sees: only resized
    res, image = predict.model_input(builder, record.image)
    assert image.size == sample.size != (W, H)
    ans, mapped = predict.map_answer(sample.messages[-1]['content'], *image.size, res.replay)
    assert mapped['problems'] == []
    objects = mapped['objects']
    (dot,), (roof,), (box,) = objects['points'], objects['polygons'], objects['boxes']
    half = np.array([W, H]) / 1000 / 2 + 0.01  # half a grid step of the original, and the 2-decimal rounding
    assert dot['label'] == 'dot' and (np.abs(np.array(dot['point']) - DOT) <= half).all()
    assert roof['label'] == 'roof' and np.array(roof['polygon']).shape == (5, 2)
    assert (np.abs(np.array(roof['polygon']) - ROOF) <= half).all()
    assert (np.abs(np.reshape(box['bbox'], (2, 2)) - np.reshape(BOX, (2, 2))) <= half).all()
    json.dumps(mapped)
    drawn = np.asarray(predict.annotate(record.image, ans.original)).astype(int)
    assert (np.abs(drawn - np.asarray(Image.open(record.image).convert('RGB')).astype(int)).sum(-1) > 60).any()


# ---- render: the preview draws them ------------------------------------------------------------------
def test_render_draws_points_and_polygons(scene):
    tmp_path, _ = scene
    image = Image.new('RGB', (200, 100), GREY)
    base = np.asarray(image).astype(int)

    def changed(objects):
        out = np.asarray(draw_objects(image, objects)).astype(int)
        return np.abs(out - base).sum(-1) > 60

    point = changed([{'label': 'dot', 'point_2d': [500, 500]}])
    assert point[45:56, 95:106].any() and not point[:, :85].any()
    poly = changed([{'label': 'roof', 'polygon_2d': [[100, 100], [400, 100], [250, 800]]}])
    assert poly[8:13, 30:70].any()  # the top edge, y = 10 from x = 20 to 80
    assert not poly[:, 100:].any()


def test_geoaug_train_render_previews_points_and_polygons(scene):
    tmp_path, src = scene
    os.rename(src, tmp_path / 'train.jsonl')
    (tmp_path / 'model').mkdir()
    cfg = write_config(
        tmp_path / 'cfg.yaml',
        model_dir=str(tmp_path / 'model'),
        data_dir=str(tmp_path),
        output_dir=str(tmp_path / 'out'),
        custom={'augmentation': AUGMENT},
    )
    out = tmp_path / 'render'
    cmd = [sys.executable, '-m', 'geoaug_train.cli', 'render', cfg, '--out', str(out), '--num', '1']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / '00000.json').read_text())
    assert [next(k for k in o if k != 'label') for o in meta['objects']] == ['point_2d', 'polygon_2d', 'bbox_2d']
    assert 'points 1 in' in proc.stdout and 'polygons 1 in' in proc.stdout
    sheet = np.asarray(Image.open(out / 'preview.png').convert('RGB')).astype(int)
    plain = np.asarray(Image.open(out / '00000.png').convert('RGB'))
    w, h = plain.shape[1], plain.shape[0]
    # the sheet's cell holds the drawn sample (thumbnailed when larger than the cell): outlines were drawn on it
    assert w <= 252 and h <= 252
    cell = sheet[2 : 2 + h, 2 : 2 + w]
    assert (np.abs(cell - plain.astype(int)).sum(-1) > 60).sum() > 50


def test_geoaug_preview_reads_and_draws_points_and_polygons(scene):
    from geoaug.preview import contact_sheet, read_samples

    _, src = scene
    (smp,) = read_samples(src)
    assert sorted(smp.others) == ['points', 'polygons'] and smp.labels == ['box', 'dot', 'roof']
    np.testing.assert_array_equal(smp.others['points'].xy, [DOT])
    np.testing.assert_array_equal(smp.others['polygons'].points[0], ROOF)
    drawn = np.asarray(contact_sheet(geoaug.Pipeline([]), [smp], n=1, tile_size=W)).astype(int)
    boxes_only = type(smp)(smp.name, smp.image, smp.boxes)
    undrawn = np.asarray(contact_sheet(geoaug.Pipeline([]), [boxes_only], n=1, tile_size=W)).astype(int)
    assert (np.abs(drawn - undrawn).sum(-1) > 60).sum() > 100  # the point's marker and the polygon's outline


def test_a_polygon_cut_in_two_by_the_border_answers_both_parts_with_its_label(scene):
    tmp_path, _ = scene
    # a U lying on its side, open to the left: the image's right edge (x = 160) cuts off its base, leaving its arms
    u = [[140, 10], [180, 10], [180, 60], [140, 60], [140, 45], [170, 45], [170, 25], [140, 25]]
    rows = [{'image': 'imgs/scene.png', 'objects': [{'label': 'u', 'polygon': u}, {'label': 'dot', 'point': DOT}]}]
    store, _ = _built(tmp_path, _data([_jsonl(tmp_path / 'u.jsonl', rows)]))
    assert store.report['splits']['train']['geometry']['by_kind']['polygon']['clipped'] == 1
    sample = _builder(None).build(store['train'].record(0), split='val', epoch=0, index=0)
    w, h = sample.size
    assert [o['label'] for o in sample.objects] == ['u', 'u', 'dot']
    arms = sorted(
        (np.array(o['polygon_2d'], float) / 1000 * [w, h] / [w / W, h / H] for o in sample.objects[:2]),
        key=lambda p: p[:, 1].min(),
    )
    for arm, (y0, y1) in zip(arms, [(10, 25), (45, 60)]):
        lo, hi = arm.min(0), arm.max(0)
        assert np.abs(np.concatenate([lo, hi]) - [140, y0, 160, y1]).max() <= 0.5 * max(W, H) / 1000 + 1e-6
    assert sample.report.split['polygons'] == 1
    assert sample.objects_in == {'polygons': 1, 'points': 1} and sample.objects_out == {'polygons': 2, 'points': 1}
