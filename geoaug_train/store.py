"""The record store: every training record in numpy columns on disk, built once per data version, shared
by every rank and dataloader worker through the OS page cache, read one record at a time.

Why numpy columns with offsets (not Arrow or one JSON document): a record is a handful of ragged arrays
(objects -> points), and reading one is a few positioned reads of column files: no Python object per
record exists anywhere but the one being fetched, the pages are the page cache shared by every process,
and opening a store costs one small JSON read. It needs nothing beyond numpy, so `render` and `prepare`
run without the train extra. The builder's bulk passes read the same files memory-mapped.

Layout of a store directory (`<cache_dir>/<key>/`):
    meta.json                     version, key, sources, column lengths, the prepare report
    images.{path_off,path,w,h}    the distinct images (shared by the splits)
    <split>.<column>              per-split columns, below
Per split: `rec_*` (one entry per record: source file, line, image, kind, object and text offsets),
`obj_*` (per object: kind, point and label offsets, drop code), `points` (x, y float64), `label`/`text`
(UTF-8 blobs) and `keep` (dataset index -> record row: records whose image was skipped are left out).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from geoaug.records import parse_json_line

from .records import DataError, Record, _parse_geoaug, naming_the_line, parse_record
from .samples import ANSWER_PLACEHOLDER

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

    from numpy.typing import DTypeLike

_T = TypeVar('_T')
_R = TypeVar('_R')

# 2: point and polygon objects (kind codes 3 and 4). The version is part of the key: an older store is rebuilt.
STORE_VERSION = 2
# obj_kind codes: the position in KINDS. New kinds are appended, so a code never changes its meaning.
KINDS = ('bbox', 'quad', 'line', 'point', 'polygon')
BBOX, QUAD, LINE, POINT, POLYGON = range(len(KINDS))
POINTS_OF = {'bbox': 2, 'quad': 4, 'point': 1}  # a box is stored as its two corners
GEOAUG, NATIVE = 0, 1
# obj_drop codes: why prepare left an object out (0: kept)
KEPT, OUTSIDE, DEGENERATE, PARTLY_OUTSIDE = 0, 1, 2, 3
DROP_REASONS = {
    OUTSIDE: 'wholly outside its image',
    DEGENERATE: 'no area/length inside its image',
    PARTLY_OUTSIDE: 'partly outside its image (objects_outside: drop)',
}
CHUNK_BYTES = 8 << 20
COLUMNS = {  # name -> dtype, with the number of values per row where it is not 1
    'rec_file': np.int32,
    'rec_line': np.int64,
    'rec_image': np.int64,
    'rec_kind': np.uint8,
    'rec_obj': np.int64,
    'rec_text': np.int64,
    'text': np.uint8,
    'obj_kind': np.uint8,
    'obj_pts': np.int64,
    'obj_label': np.int64,
    'obj_drop': np.uint8,
    'label': np.uint8,
    'points': np.float64,
    'keep': np.int64,
}
IMAGE_COLUMNS = {'path_off': np.int64, 'path': np.uint8, 'w': np.int32, 'h': np.int32}


# ----------------------------------------------------------------------------------------------- parsing


@dataclass
class ChunkColumns:
    """What a worker parsed from one byte range of one file: columns, with offsets local to the chunk."""

    lines: np.ndarray
    images: list[str]  # distinct resolved paths in this chunk
    rec_image: np.ndarray  # index into `images`
    rec_kind: np.ndarray
    rec_nobj: np.ndarray
    text: bytes
    text_len: np.ndarray
    obj_kind: np.ndarray
    obj_npts: np.ndarray
    label: bytes
    label_len: np.ndarray
    points: np.ndarray  # (P, 2)


class _ChunkBuilder:
    lines: list[int]
    rec_image: list[int]
    rec_kind: list[int]
    rec_nobj: list[int]
    texts: list[bytes]
    obj_kind: list[int]
    obj_npts: list[int]
    labels: list[bytes]

    def __init__(self) -> None:
        self.lines, self.rec_image, self.rec_kind, self.rec_nobj = [], [], [], []
        self.texts, self.obj_kind, self.obj_npts, self.labels = [], [], [], []
        self.flat: list[float] = []
        self.images: dict[str, int] = {}

    def image_id(self, path: str) -> int:
        return self.images.setdefault(path, len(self.images))

    def add(self, line: int, image: str, kind: int, text: bytes, objects: Sequence[tuple[int, str, list]]) -> None:
        self.lines.append(line)
        self.rec_image.append(self.image_id(image))
        self.rec_kind.append(kind)
        self.rec_nobj.append(len(objects))
        self.texts.append(text)
        for k, label, coords in objects:
            self.obj_kind.append(k)
            self.obj_npts.append(len(coords) // 2)
            self.labels.append(label.encode('utf-8'))
            self.flat.extend(coords)

    def finish(self) -> ChunkColumns:
        return ChunkColumns(
            lines=np.asarray(self.lines, np.int64),
            images=list(self.images),
            rec_image=np.asarray(self.rec_image, np.int64),
            rec_kind=np.asarray(self.rec_kind, np.uint8),
            rec_nobj=np.asarray(self.rec_nobj, np.int64),
            text=b''.join(self.texts),
            text_len=np.fromiter(map(len, self.texts), np.int64, len(self.texts)),
            obj_kind=np.asarray(self.obj_kind, np.uint8),
            obj_npts=np.asarray(self.obj_npts, np.int64),
            label=b''.join(self.labels),
            label_len=np.fromiter(map(len, self.labels), np.int64, len(self.labels)),
            points=np.asarray(self.flat, np.float64).reshape(-1, 2),
        )


def _flatten_fast(objects: list[Any]) -> list[tuple[int, str, list]] | None:
    """The common shape ({"label": str, "bbox": [4 numbers]} / {"label", "quad": [[x, y] x 4]}) without
    per-value checks, or None when anything looks unusual: the caller then runs the exact checks, which
    also word the error. Numbers are checked for the whole record at once (`_numbers_ok`)."""
    out: list[tuple[int, str, list]] = []
    for o in objects:
        if type(o) is not dict or len(o) != 2:
            return None
        label = o.get('label')
        if type(label) is not str or not label:
            return None
        b = o.get('bbox')
        if b is not None:
            if type(b) is not list or len(b) != 4:
                return None
            out.append((0, label, b))
            continue
        q = o.get('quad')
        if type(q) is not list or len(q) != 4 or not all(type(p) is list and len(p) == 2 for p in q):
            return None
        out.append((1, label, [q[0][0], q[0][1], q[1][0], q[1][1], q[2][0], q[2][1], q[3][0], q[3][1]]))
    return out


def _numbers_ok(objects: list[tuple[int, str, list]]) -> bool:
    flat = [c for _, _, coords in objects for c in coords]
    if not flat:
        return True
    try:
        arr = np.array(flat)
    except (ValueError, OverflowError, TypeError):
        return False
    if arr.dtype.kind not in 'if' or not np.isfinite(arr.astype(np.float64)).all():
        return False  # strings, None, objects (ints beyond 64 bits), NaN or inf
    for k, _, c in objects:
        if k == 0 and not (c[2] > c[0] and c[3] > c[1]):
            return False
    return True


def _exact_objects(checked: list[dict[str, Any]]) -> list[tuple[int, str, list]]:
    out = []
    for o in checked:
        kind = next(k for k in KINDS if k in o)
        v = o[kind]
        flat = list(v) if kind in ('bbox', 'point') else [c for p in v for c in p]
        out.append((KINDS.index(kind), o['label'], flat))
    return out


def _parse_line(
    raw: bytes, where: str, base_dir: str, line: int
) -> tuple[str, int, bytes, list[tuple[int, str, list]]]:
    """-> (image, kind, text bytes, objects) for one JSONL line; errors name `where`."""
    rec = parse_json_line(raw, where, DataError)
    fast = None
    # `true`/`false` anywhere in the line: a bool might stand for a number, which numpy would take as 0/1.
    if type(rec) is dict and 'messages' not in rec and b'true' not in raw and b'false' not in raw:
        objects = rec.get('objects', [])
        fast = _flatten_fast(objects) if type(objects) is list else None
        if fast is not None and not _numbers_ok(fast):
            fast = None
    if fast is not None:
        r = _parse_geoaug(where, {k: v for k, v in rec.items() if k != 'objects'}, base_dir, line)
        return r.image, GEOAUG, (r.prompt or '').encode('utf-8'), fast
    # the exact checks: they raise, naming the object and field, or accept what the fast path doubted
    r = parse_record(where, rec, base_dir, line)
    if r.kind == 'geoaug':
        return r.image, GEOAUG, (r.prompt or '').encode('utf-8'), _exact_objects(r.objects)
    native = r.native_objects
    # Boxes go to the object columns (checked against the image like any object); refs stay with the
    # messages: ms-swift pairs them with tags, not with boxes, and their counts may differ.
    objects = [(0, '', list(b)) for b in native['bbox']] if native else []
    extra = {'messages': r.messages, 'ref': native['ref'] if native else None}
    return r.image, NATIVE, json.dumps(extra, ensure_ascii=False).encode('utf-8'), objects


def parse_chunk(task: tuple[str, int, int, int]) -> ChunkColumns:
    """Parse the lines of ``path`` in bytes [start, end); ``first_line`` is the 1-based number of the first."""
    path, start, end, first_line = task
    base_dir = os.path.dirname(os.path.abspath(path))
    with open(path, 'rb') as f:
        f.seek(start)
        data = f.read(end - start)
    if start == 0 and data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    out = _ChunkBuilder()
    for n, raw in enumerate(data.split(b'\n'), start=first_line):
        if not raw.strip():
            continue
        where = f'{path}:{n}'
        with naming_the_line(where):
            out.add(n, *_parse_line(raw, where, base_dir, n))
    return out.finish()


def chunk_tasks(path: str, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[str, int, int, int]]:
    """Byte ranges of whole lines, each with the number of its first line (one sequential read to count)."""
    tasks, start, line = [], 0, 1
    with open(path, 'rb') as f:
        carry = b''
        while True:
            block = f.read(chunk_bytes)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b'\n') + 1
            if cut == 0:  # a line longer than a chunk: keep reading
                carry = data
                continue
            tasks.append((path, start, start + cut, line))
            line += data.count(b'\n', 0, cut)
            start += cut
            carry = data[cut:]
        if carry:
            tasks.append((path, start, start + len(carry), line))
    return tasks


# ------------------------------------------------------------------------------------------------ writing


class _ColumnWriter:
    """Appends chunks to one split's column files, turning chunk-local counts into global offsets."""

    def __init__(self, folder: str, split: str):
        self.folder, self.split = folder, split
        self.files = {name: open(os.path.join(folder, f'{split}.{name}'), 'wb') for name in COLUMNS if name != 'keep'}
        self.n_rec = self.n_obj = self.n_pts = self.n_text = self.n_label = 0
        for name in ('rec_obj', 'rec_text', 'obj_pts', 'obj_label'):
            self._put(name, np.zeros(1, np.int64))

    def _put(self, name: str, arr: np.ndarray) -> None:
        self.files[name].write(np.ascontiguousarray(arr, COLUMNS[name]).tobytes())

    def add(self, file_id: int, chunk: ChunkColumns, image_ids: np.ndarray) -> None:
        self._put('rec_file', np.full(len(chunk.lines), file_id))
        self._put('rec_line', chunk.lines)
        self._put('rec_image', image_ids[chunk.rec_image] if len(chunk.rec_image) else chunk.rec_image)
        self._put('rec_kind', chunk.rec_kind)
        self._put('rec_obj', self.n_obj + np.cumsum(chunk.rec_nobj))
        self._put('rec_text', self.n_text + np.cumsum(chunk.text_len))
        self.files['text'].write(chunk.text)
        self._put('obj_kind', chunk.obj_kind)
        self._put('obj_pts', self.n_pts + np.cumsum(chunk.obj_npts))
        self._put('obj_label', self.n_label + np.cumsum(chunk.label_len))
        self._put('obj_drop', np.zeros(len(chunk.obj_kind)))
        self.files['label'].write(chunk.label)
        self._put('points', chunk.points)
        self.n_rec += len(chunk.lines)
        self.n_obj += len(chunk.obj_kind)
        self.n_pts += len(chunk.points)
        self.n_text += len(chunk.text)
        self.n_label += len(chunk.label)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _write(folder: str, name: str, arr: np.ndarray, dtype: DTypeLike) -> None:
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(np.ascontiguousarray(arr, dtype).tobytes())


def _column(folder: str, name: str, dtype: Any, mode: Literal['r', 'r+'] = 'r') -> np.ndarray:
    path = os.path.join(folder, name)
    width = 2 if name.endswith('.points') else 1
    size = os.path.getsize(path) // np.dtype(dtype).itemsize
    if size == 0:
        return np.zeros((0, 2) if width == 2 else 0, dtype)
    arr = np.memmap(path, dtype=dtype, mode=mode, shape=(size // width, width) if width == 2 else (size,))
    return arr


class _PreadColumn:
    """Read-only access to one column file by positioned reads. Fetches read a few bytes at random places of
    large files: through a memory map each fault maps a whole page-cache folio (up to 2 MB on current kernels)
    into the process, so 100 fetches grew RSS by ~90 MB. pread copies just the bytes; the page cache behind
    it is still one copy shared by every process. The descriptor opens on first use, per process."""

    def __init__(self, path: str, dtype: Any, width: int = 1) -> None:
        self.path, self.dtype, self.width = path, np.dtype(dtype), width
        self.row_bytes: int = self.dtype.itemsize * width
        self.n: int = os.path.getsize(path) // self.row_bytes
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.n

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._pid != os.getpid():  # a forked child gets its own descriptor (and never closes the parent's)
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        start, stop = int(start), int(stop)
        raw = os.pread(self._fd, (stop - start) * self.row_bytes, start * self.row_bytes)  # type: ignore[arg-type]  # opened just above in this process
        arr = np.frombuffer(raw, self.dtype)
        return arr.reshape(-1, self.width) if self.width > 1 else arr

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            return self.read(key.start, key.stop)
        return self.read(key, key + 1)[0]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, '_fd': None, '_pid': -1}


def _strings(off: _PreadColumn, blob: _PreadColumn, i: int) -> str:
    a, b = off[i : i + 2]
    return bytes(blob[a:b]).decode('utf-8')


# ----------------------------------------------------------------------------------------------- the key


def store_key(data: dict[str, Any]) -> str:
    """What the store is built from: each source file's path, size and mtime, and the data options that
    change its contents. A relaunch with unchanged files finds the same key; a touched file rebuilds."""
    sources: dict[str, list[list[Any]]] = {}
    for split in ('train', 'val'):
        for path in data.get(split) or []:
            st = os.stat(path)
            sources.setdefault(split, []).append([path, st.st_size, st.st_mtime_ns])
    what = {
        'version': STORE_VERSION,
        'sources': sources,
        'options': {k: data.get(k) for k in ('check_images', 'objects_outside', 'skip_bad_images')},
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


# ------------------------------------------------------------------------------------------- the checks


def check_image(task: tuple[str, str]) -> tuple[int, int, str | None]:
    """(width, height, problem) of one image file: header by default, a full decode on request."""
    from geoaug.errors import ImageError
    from geoaug.io import probe_image

    from .records import aspect_ratio_problem

    path, mode = task
    try:
        info = probe_image(path, decode=mode == 'decode')
    except ImageError as e:
        return 0, 0, str(e)
    aspect = aspect_ratio_problem(info.width, info.height)
    return info.width, info.height, aspect and f'image {path}: {aspect}'


def _their_points(starts: np.ndarray, objs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the objects ``objs``: the positions of their points in order, how many each has, and where each
    object's first point is among those positions."""
    n = starts[objs + 1] - starts[objs]
    first = np.cumsum(n) - n
    at = np.repeat(starts[objs] - first, n) + np.arange(n.sum())
    return at, n, first


def _visible(
    kinds: np.ndarray, pts: np.ndarray, starts: np.ndarray, w: np.ndarray, h: np.ndarray, picked: np.ndarray
) -> np.ndarray:
    """For the objects `picked` (indices), whether any area (boxes, quads, polygons), length (lines) or the
    point itself (points) lies inside their image. Exact: boxes and points in closed form, the others by
    shapely (only those reaching outside)."""
    import shapely

    out = np.zeros(len(picked), bool)
    pk = kinds[picked]
    box = pk == BBOX
    b = picked[box]
    p0, p1 = pts[starts[b]], pts[starts[b] + 1]
    out[box] = (np.minimum(p1[:, 0], w[b]) > np.maximum(p0[:, 0], 0)) & (
        np.minimum(p1[:, 1], h[b]) > np.maximum(p0[:, 1], 0)
    )
    point = pk == POINT  # the closed image: a point on its edge is in it
    q = pts[starts[picked[point]]]
    out[point] = (q[:, 0] >= 0) & (q[:, 0] <= w[picked[point]]) & (q[:, 1] >= 0) & (q[:, 1] <= h[picked[point]])
    for area in (True, False):
        j = np.flatnonzero(np.isin(pk, (QUAD, POLYGON)) if area else pk == LINE)
        if not len(j):
            continue
        o = picked[j]
        at, n, _ = _their_points(starts, o)
        which = np.repeat(np.arange(len(o)), n)
        if area:  # make_valid: a bow-tie's kept area is that of its repaired shape
            shapes = shapely.make_valid(shapely.polygons(shapely.linearrings(pts[at], indices=which)))
        else:
            shapes = shapely.linestrings(pts[at], indices=which)
        measure = shapely.area if area else shapely.length
        out[j] = measure(shapely.intersection(shapes, shapely.box(0, 0, w[o], h[o]))) > 0
    return out


def _degenerate(kinds: np.ndarray, pts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Quads and polygons of zero area and lines of zero length (boxes cannot be: intake refuses x2 <= x1;
    a point is never degenerate)."""
    out = np.zeros(len(kinds), bool)
    q = np.flatnonzero(np.isin(kinds, (QUAD, POLYGON)))
    if len(q):
        at, n, first = _their_points(starts, q)
        nxt = np.arange(len(at)) + 1
        nxt[first + n - 1] = first  # each ring closes on its own first point
        x, y = pts[at, 0], pts[at, 1]
        zero = q[np.add.reduceat(x * y[nxt] - x[nxt] * y, first) == 0]  # twice the shoelace area
        if len(zero):  # a bow-tie's lobes cancel in the shoelace sum: only the repaired shape tells
            import shapely

            out[zero] = [shapely.make_valid(shapely.Polygon(pts[starts[o] : starts[o + 1]])).area == 0 for o in zero]
    ln = np.flatnonzero(kinds == LINE)
    if len(ln):
        seg = np.hypot(*np.diff(pts, axis=0).T)
        seg = np.append(seg, 0.0)
        # a line's segments are those starting at its points but the last
        total = np.add.reduceat(seg, starts[:-1])[ln] - seg[starts[1:] - 1][ln]
        out[ln] = total == 0
    return out


def check_geometry(
    folder: str,
    split: str,
    img_w: np.ndarray,
    img_h: np.ndarray,
    policy: str,
    where: Callable[[int], str],
    block: int = 1 << 15,
) -> dict[str, Any]:
    """Every object against its own image, blockwise over the memory-mapped columns. Marks dropped objects in
    `obj_drop` and returns the counts by kind, the records affected and the worst ones."""
    from geoaug.clip import HAIR

    col = {
        n: _column(folder, f'{split}.{n}', COLUMNS[n])
        for n in ('rec_obj', 'rec_image', 'rec_kind', 'obj_kind', 'obj_pts', 'points')
    }
    drop_col = _column(folder, f'{split}.obj_drop', np.uint8, mode='r+')
    rec_obj, n_rec = col['rec_obj'], len(col['rec_image'])
    counts = {k: {'objects': 0, 'clipped': 0, 'outside': 0, 'degenerate': 0, 'partly_dropped': 0} for k in KINDS}
    per_rec_clip, per_rec_drop = np.zeros(n_rec, np.int64), np.zeros(n_rec, np.int64)
    native_touched = 0
    for r0 in range(0, n_rec, block):
        r1 = min(r0 + block, n_rec)
        o0, o1 = int(rec_obj[r0]), int(rec_obj[r1])
        if o0 == o1:
            continue
        kinds = np.asarray(col['obj_kind'][o0:o1])
        po = np.asarray(col['obj_pts'][o0 : o1 + 1])
        pts = np.asarray(col['points'][po[0] : po[-1]])
        starts = po - po[0]
        obj_rec = np.repeat(np.arange(r0, r1), np.diff(rec_obj[r0 : r1 + 1]))
        img = np.asarray(col['rec_image'])[obj_rec]
        w, h = img_w[img].astype(np.float64), img_h[img].astype(np.float64)
        for k, name in enumerate(KINDS):
            counts[name]['objects'] += int((kinds == k).sum())
        degenerate = _degenerate(kinds, pts, starts)
        if not (w > 0).any():  # images not checked: nothing to measure against
            reach = np.zeros(len(kinds), bool)
        else:
            lo_x, hi_x = np.minimum.reduceat(pts[:, 0], starts[:-1]), np.maximum.reduceat(pts[:, 0], starts[:-1])
            lo_y, hi_y = np.minimum.reduceat(pts[:, 1], starts[:-1]), np.maximum.reduceat(pts[:, 1], starts[:-1])
            reach = (w > 0) & ((lo_x < -HAIR) | (lo_y < -HAIR) | (hi_x > w + HAIR) | (hi_y > h + HAIR))
        picked = np.flatnonzero(reach)
        visible = _visible(kinds, pts, starts, w, h, picked)
        code = np.zeros(len(kinds), np.uint8)
        code[degenerate] = DEGENERATE
        code[picked[~visible]] = OUTSIDE
        partly = picked[visible]
        is_partly = np.zeros(len(kinds), bool)
        is_partly[partly] = True
        if policy == 'drop':
            code[partly] = PARTLY_OUTSIDE
        native = np.asarray(col['rec_kind'])[obj_rec] == NATIVE
        if native.any():  # native answers refer to boxes by position: they are counted, never dropped
            native_touched += int(((code != KEPT) & native).sum() + native[partly].sum())
            code[native] = KEPT
        bad = (code != KEPT) | is_partly
        if policy == 'error' and bad.any():
            o = int(np.flatnonzero(bad)[0])
            r = int(obj_rec[o])
            j = o + o0 - int(rec_obj[r])
            if degenerate[o]:
                why = 'has no area or length'
            else:
                why = f"{'lies' if kinds[o] == POINT else 'reaches'} outside its {int(w[o])}x{int(h[o])} image"
            raise DataError(
                f'{where(r)}.objects[{j}] ({KINDS[kinds[o]]}) {why} '
                '(data.objects_outside: error; set clip or drop to count such objects instead)'
            )
        drop_col[o0:o1] = code
        for k, name in enumerate(KINDS):
            mine = kinds == k
            counts[name]['clipped'] += int((mine & is_partly).sum()) if policy == 'clip' else 0
            counts[name]['outside'] += int((mine & (code == OUTSIDE)).sum())
            counts[name]['degenerate'] += int((mine & (code == DEGENERATE)).sum())
            counts[name]['partly_dropped'] += int((mine & (code == PARTLY_OUTSIDE)).sum())
        np.add.at(per_rec_drop, obj_rec[code != KEPT], 1)
        if policy == 'clip':
            np.add.at(per_rec_clip, obj_rec[partly], 1)
    if isinstance(drop_col, np.memmap):  # an empty column is a plain array
        drop_col.flush()
    nobj = np.diff(np.asarray(rec_obj))
    affected = np.flatnonzero(per_rec_clip + per_rec_drop)
    worst = affected[np.argsort(-(per_rec_drop + per_rec_clip)[affected], kind='stable')][:10]
    return {
        'by_kind': {k: v for k, v in counts.items() if v['objects']},
        'records_affected': int(len(affected)),
        'records_emptied': int(((per_rec_drop == nobj) & (nobj > 0)).sum()),
        'native_objects_outside_kept': native_touched,
        'worst': [
            {
                'where': where(int(r)),
                'objects': int(nobj[r]),
                'dropped': int(per_rec_drop[r]),
                'clipped': int(per_rec_clip[r]),
            }
            for r in worst
        ],
    }


# ------------------------------------------------------------------------------------------------ building


class _Progress:
    """A tqdm bar on a terminal (ms-swift brings tqdm); in a log file, a line every few seconds and one at the
    end, so a long prepare under a job scheduler still shows its rate."""

    def __init__(self, what: str, total: int | None, unit: str, every: float = 10.0):
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.n, self.t0, self.last = 0, time.time(), time.time()
        self.bar = None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=total, desc=f'[geoaug-train] {what}', unit=f' {unit}', unit_scale=True, mininterval=0.5
                )
            except ImportError:
                pass

    def update(self, n: int) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.time() - self.last > self.every:
            self.last = time.time()
            self._line()

    def _line(self) -> None:
        of = f' of {self.total:,}' if self.total else ''
        rate = self.n / max(time.time() - self.t0, 1e-9)
        print(f'[geoaug-train] {self.what}: {self.n:,}{of} {self.unit} ({rate:,.0f}/s)', file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.n:
            self._line()


def _pool(workers: int) -> Pool | None:
    import multiprocessing as mp

    if workers <= 1:
        return None
    # fork: workers start in milliseconds and need no importable __main__; they only parse and read files.
    ctx = mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
    return ctx.Pool(workers)


def _map(pool: Pool | None, fn: Callable[[_T], _R], items: Iterable[_T], chunksize: int = 1) -> Iterator[_R]:
    return pool.imap(fn, items, chunksize) if pool is not None else map(fn, items)


def _splits(data: dict[str, Any]) -> dict[str, list[str]]:
    return {s: list(data[s]) for s in ('train', 'val') if data.get(s)}


def build_store(data: dict[str, Any], folder: str, workers: int = 1) -> dict[str, Any]:
    """Parse, check and write every record of data.train / data.val into ``folder``; returns the report."""
    t0 = time.time()
    sources = _splits(data)
    images: dict[str, int] = {}
    first_use: list[str] = []  # per image: the first record naming it
    seconds: dict[str, float] = {}
    pool = _pool(workers)
    try:
        for split, files in sources.items():
            writer = _ColumnWriter(folder, split)
            tasks = [(fid, t) for fid, path in enumerate(files) for t in chunk_tasks(path)]
            bar = _Progress(f'reading {split}', None, 'records')
            try:
                for (fid, _), chunk in zip(tasks, _map(pool, parse_chunk, [t for _, t in tasks])):
                    ids = np.empty(len(chunk.images), np.int64)
                    firsts = np.unique(chunk.rec_image, return_index=True)[1]
                    for j, p in enumerate(chunk.images):
                        ids[j] = images.setdefault(p, len(images))
                        if ids[j] == len(first_use):
                            first_use.append(f'{files[fid]}:{chunk.lines[firsts[j]]}')
                    writer.add(fid, chunk, ids)
                    bar.update(len(chunk.lines))
            finally:
                writer.close()
                bar.close()
            if writer.n_rec == 0:
                raise DataError(f'data.{split}: no records in {", ".join(files)}')
        seconds['parse'] = time.time() - t0

        t1, mode = time.time(), data.get('check_images') or 'header'
        paths = list(images)
        img_w, img_h = np.zeros(len(paths), np.int32), np.zeros(len(paths), np.int32)
        problems: dict[int, str] = {}
        if mode != 'off':
            bar = _Progress(f'checking images ({mode})', len(paths), 'images')
            for i, (w, h, problem) in enumerate(_map(pool, check_image, [(p, mode) for p in paths], 16)):
                img_w[i], img_h[i] = w, h
                if problem:
                    problems[i] = problem
                bar.update(1)
            bar.close()
        seconds['images'] = time.time() - t1
    finally:
        if pool is not None:
            pool.terminate()
    enc = [p.encode('utf-8') for p in paths]
    _write(folder, 'images.path_off', np.concatenate([[0], np.cumsum([len(e) for e in enc])]), np.int64)
    with open(os.path.join(folder, 'images.path'), 'wb') as f:
        f.write(b''.join(enc))
    _write(folder, 'images.w', img_w, np.int32)
    _write(folder, 'images.h', img_h, np.int32)

    report: dict[str, Any] = {'splits': {}, 'images': {'distinct': len(paths), 'check': mode, 'bad': len(problems)}}
    image_ok = np.ones(len(paths), bool)
    image_ok[list(problems)] = False
    skipped: list[str] = []
    t2 = time.time()
    for split, files in sources.items():
        rec_image = _column(folder, f'{split}.rec_image', np.int64)
        rec_file = _column(folder, f'{split}.rec_file', np.int32)
        rec_line = _column(folder, f'{split}.rec_line', np.int64)

        def where(
            r: int, files: list[str] = files, rec_file: np.ndarray = rec_file, rec_line: np.ndarray = rec_line
        ) -> str:
            return f'{files[rec_file[r]]}:{rec_line[r]}'

        uses = np.bincount(rec_image, minlength=len(paths))
        for i in sorted(problems):
            if uses[i] == 0:
                continue
            msg = f'{first_use[i]}: {problems[i]} (used by {uses[i]} {split} record(s))'
            if not data.get('skip_bad_images'):
                raise DataError(msg + '; set data.skip_bad_images: true to skip such records and count them')
            skipped.append(msg)
        keep = np.flatnonzero(image_ok[rec_image])
        if len(keep) == 0:
            raise DataError(f'data.{split}: every record was skipped for a bad image')
        _write(folder, f'{split}.keep', keep, np.int64)
        geometry = check_geometry(folder, split, img_w, img_h, data.get('objects_outside') or 'clip', where)
        report['splits'][split] = {
            'files': files,
            'records': int(len(rec_image)),
            'kept': int(len(keep)),
            'skipped_bad_image': int(len(rec_image) - len(keep)),
            'geometry': geometry,
        }
        write_swift_rows(folder, split)
    seconds['geometry'] = time.time() - t2
    report['images']['problems'] = [f'{first_use[i]}: {problems[i]}' for i in sorted(problems)][:20]
    report['skipped'] = skipped[:100]
    report['seconds'] = {k: round(v, 2) for k, v in {**seconds, 'total': time.time() - t0}.items()}
    return report


def write_swift_rows(folder: str, split: str) -> str:
    """ms-swift's dataset file: one row per kept record, carrying only its index (the template looks the
    record up in the store at fetch). Native rows keep their messages and objects for ms-swift's own path."""
    store = SplitRecords(folder, split)
    path = os.path.join(folder, f'{split}.swift.jsonl')
    geoaug_messages = json.dumps(
        [{'role': 'user', 'content': '<image>'}, {'role': 'assistant', 'content': ANSWER_PLACEHOLDER}]
    )
    off = _column(folder, 'images.path_off', np.int64)
    blob = bytes(_column(folder, 'images.path', np.uint8))
    image_json = [json.dumps(blob[off[j] : off[j + 1]].decode('utf-8')) for j in range(len(off) - 1)]
    kept = np.asarray(_column(folder, f'{split}.keep', np.int64))
    native = np.asarray(_column(folder, f'{split}.rec_kind', np.uint8))[kept] == NATIVE
    rec_image = np.asarray(_column(folder, f'{split}.rec_image', np.int64))[kept].tolist()
    with open(path, 'w', encoding='utf-8') as f:
        for i in range(len(kept)):
            kwargs = f'"chat_template_kwargs": {{"geoaug_index": {i}, "geoaug_split": "{split}"}}'
            if native[i]:
                rec = store.record(i)
                row: dict[str, Any] = {'messages': rec.messages, 'images': [rec.image]}
                if rec.native_objects is not None:
                    row['objects'] = rec.native_objects
                f.write(json.dumps(row, ensure_ascii=False)[:-1] + f', {kwargs}}}\n')
            else:
                f.write(f'{{"messages": {geoaug_messages}, "images": [{image_json[rec_image[i]]}], {kwargs}}}\n')
    return path


# ------------------------------------------------------------------------------------------------ reading


class SplitRecords:
    """One split of a store: ``len``, ``record(i)``, ``where(i)``, ``image(i)``, ``image_size(i)``; ``i`` is the
    dataset index (records skipped for a bad image are not counted). Columns open on first use."""

    def __init__(self, folder: str, split: str, files: list[str] | None = None) -> None:
        self.folder, self.split, self.files = folder, split, files
        self._cols: dict[str, _PreadColumn] = {}

    def col(self, name: str) -> _PreadColumn:
        column = self._cols.get(name)
        if column is None:
            dtype: Any
            if name.startswith('images.'):
                path, dtype = os.path.join(self.folder, name), IMAGE_COLUMNS[name.split('.', 1)[1]]
            else:
                path, dtype = os.path.join(self.folder, f'{self.split}.{name}'), COLUMNS[name]
            column = self._cols[name] = _PreadColumn(path, dtype, 2 if name == 'points' else 1)
        return column

    def __len__(self) -> int:
        return len(self.col('keep'))

    def _row(self, i: int) -> int:
        if not 0 <= i < len(self):
            raise IndexError(f'index {i} out of range for {len(self)} {self.split} records')
        return int(self.col('keep')[i])

    def where(self, i: int) -> str:
        r = self._row(i)
        return f'{self.files[int(self.col("rec_file")[r])]}:{int(self.col("rec_line")[r])}'  # type: ignore[index]  # RecordStore always passes files

    def _image_index(self, i: int) -> int:
        return int(self.col('rec_image')[self._row(i)])

    def image(self, i: int) -> str:
        return self._image_path(self._image_index(i))

    def _image_path(self, j: int) -> str:
        return _strings(self.col('images.path_off'), self.col('images.path'), j)

    def image_size(self, i: int) -> tuple[int, int]:
        """(width, height) from the prepare-time check; (0, 0) when images were not checked."""
        j = self._image_index(i)
        return int(self.col('images.w')[j]), int(self.col('images.h')[j])

    def record(self, i: int) -> Record:
        r = self._row(i)
        o0, o1 = (int(v) for v in self.col('rec_obj')[r : r + 2])
        po = self.col('obj_pts')[o0 : o1 + 1]
        pts = self.col('points')[po[0] : po[-1]].tolist()
        lo = self.col('obj_label')[o0 : o1 + 1]
        labels = bytes(self.col('label')[lo[0] : lo[-1]])
        kinds, drops = self.col('obj_kind')[o0:o1].tolist(), self.col('obj_drop')[o0:o1].tolist()
        objects = []
        for j, (k, d) in enumerate(zip(kinds, drops)):
            if d:
                continue
            p = pts[po[j] - po[0] : po[j + 1] - po[0]]
            label = labels[lo[j] - lo[0] : lo[j + 1] - lo[0]].decode('utf-8')
            objects.append({'label': label, KINDS[k]: p[0] + p[1] if k == BBOX else p[0] if k == POINT else p})
        text = _strings(self.col('rec_text'), self.col('text'), r)
        line, image = int(self.col('rec_line')[r]), self._image_path(int(self.col('rec_image')[r]))
        if self.col('rec_kind')[r] == GEOAUG:
            return Record(line=line, image=image, kind='geoaug', objects=objects, prompt=text or None)
        extra = json.loads(text)
        native = None if extra['ref'] is None else {'ref': extra['ref'], 'bbox': [o['bbox'] for o in objects]}
        return Record(line=line, image=image, kind='native', messages=extra['messages'], native_objects=native)


class RecordStore:
    """A built store: ``store['train']`` is a SplitRecords. Pickles as its path, so dataloader workers
    (fork or spawn) reopen the same files instead of receiving copies."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)
        with open(os.path.join(self.folder, 'meta.json'), encoding='utf-8') as f:
            self.meta = json.load(f)
        if self.meta.get('version') != STORE_VERSION:
            raise DataError(f'{self.folder}: store version {self.meta.get("version")}, expected {STORE_VERSION}')
        self._splits: dict[str, SplitRecords] = {}

    def __reduce__(self) -> tuple[type[RecordStore], tuple[str]]:
        return RecordStore, (self.folder,)

    @property
    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = self.meta['report']
        return out

    @property
    def splits(self) -> list[str]:
        return list(self.meta['report']['splits'])

    def __getitem__(self, split: str) -> SplitRecords:
        if split not in self._splits:
            if split not in self.meta['report']['splits']:
                raise KeyError(f'no {split!r} split in {self.folder} (has {self.splits})')
            files = self.meta['report']['splits'][split]['files']
            self._splits[split] = SplitRecords(self.folder, split, files)
        return self._splits[split]

    def swift_rows(self, split: str) -> str:
        return os.path.join(self.folder, f'{split}.swift.jsonl')


# ------------------------------------------------------------------------------- build once, share by all


def open_or_build(
    data: dict[str, Any], default_dir: str, workers: int | None = None, log: Callable[[str], Any] = print
) -> tuple[RecordStore, bool]:
    """The store for these data settings: reused when one with the same key exists, else built under an
    exclusive lock (every other process asking for the same key waits, then opens the finished store; a
    half-built store lives under a temporary name and is never opened). Returns (store, built now)."""
    import fcntl
    import shutil

    cache_dir = data.get('cache_dir') or default_dir
    key = store_key(data)
    final = os.path.join(cache_dir, key)
    if os.path.isfile(os.path.join(final, 'meta.json')):
        return RecordStore(final), False
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, f'{key}.lock'), 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f'[geoaug-train] another process is building the record store {final}; waiting for it')
            fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(final, 'meta.json')):
            return RecordStore(final), False
        for name in os.listdir(cache_dir):  # left by a builder that died (its lock died with it)
            if name.startswith(f'.{key}.') and name.endswith('.tmp'):
                shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)
        tmp = os.path.join(cache_dir, f'.{key}.{socket.gethostname()}.{os.getpid()}.tmp')
        os.makedirs(tmp)
        try:
            report = build_store(data, tmp, workers or os.cpu_count() or 1)
            meta = {'version': STORE_VERSION, 'key': key, 'created': time.time(), 'report': report}
            with open(os.path.join(tmp, 'meta.json'), 'w', encoding='utf-8') as f:
                json.dump(meta, f, indent=1)
            try:
                os.rename(tmp, final)
            except OSError:  # a file system whose locks did not hold: another builder finished first
                if not os.path.isfile(os.path.join(final, 'meta.json')):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                return RecordStore(final), False
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return RecordStore(final), True
