"""What augmentation dropped, clipped and split on every fetch, summed per (split, epoch) over all processes.

Every process that fetches (the trainer's main process, each DataLoader worker, fork or spawn, persistent or
not, on every rank and node) keeps its own totals in memory and writes them, whole, to
`<stats dir>/<hostname>-<pid>.json` (a temporary file, then `os.replace`: a reader never sees half a file):
- during `record`, once `FLUSH_EVERY` fetches are pending or `FLUSH_INTERVAL` seconds have passed, and on
  the first fetch of a new (split, epoch) (so a process that moved on has its finished epoch on disk);
- from a small daemon thread, once the process has been idle for `IDLE_FLUSH` seconds with fetches pending
  (a worker waiting at an epoch end: its last fetches reach the disk within about a second);
- at process exit (atexit, and multiprocessing's finalizers, which is what a forked worker runs).
`merge(dir)` sums every process file; `format_summary(merged)` prints one line per (split, epoch).

The stats dir is `$GEOAUG_TRAIN_STATS_DIR`, else `fetch_stats/` next to `$GEOAUG_TRAIN_SPEC` (the run's
`<output_dir>/geoaug/`); with neither set, `record` does nothing.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .template import SPEC_ENV

if TYPE_CHECKING:
    from .samples import Sample

STATS_DIR_ENV = 'GEOAUG_TRAIN_STATS_DIR'
STATS_SUBDIR = 'fetch_stats'
FILE_VERSION = 1
FLUSH_EVERY = 256  # pending fetches that force a write
FLUSH_INTERVAL = 5.0  # seconds between writes while fetching
IDLE_FLUSH = 0.5  # an idle process with pending fetches writes them after this long (checked as often)
# How long after the last fetch every process's totals are surely on disk (an epoch-end reader waits this long).
SETTLE_SECONDS = 2 * IDLE_FLUSH + 0.5
KINDS = ('boxes', 'quads', 'lines', 'points', 'polygons')
COUNTERS = ('in', 'out', 'clipped', 'input_clipped', 'split_pieces', 'approximated')
CALLBACK_NAME = 'geoaug_fetch_stats'


def stats_dir(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    path = env.get(STATS_DIR_ENV)
    if path:
        return path
    spec = env.get(SPEC_ENV)
    if spec:
        return os.path.join(os.path.dirname(spec), STATS_SUBDIR)
    return None


def _new_entry(split: str, epoch: int) -> dict[str, Any]:
    entry: dict[str, Any] = {'split': split, 'epoch': epoch, 'fetches': 0, 'fallbacks': 0}
    for name in COUNTERS:
        entry[name] = {}
    entry['dropped'] = {}  # kind -> reason -> count
    return entry


def _add(counts: dict[str, int], key: str, n: int) -> None:
    if n:
        counts[key] = counts.get(key, 0) + n


class FetchStats:
    """One process's totals, keyed by (split, epoch). `directory=None` keeps them in memory only."""

    def __init__(
        self,
        directory: str | None = None,
        *,
        flush_every: int = FLUSH_EVERY,
        flush_interval: float = FLUSH_INTERVAL,
        idle_flush: float | None = IDLE_FLUSH,
    ):
        self.directory = directory
        self.flush_every = int(flush_every)
        self.flush_interval = float(flush_interval)
        self.idle_flush = idle_flush
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.entries: dict[tuple[str, int], dict[str, Any]] = {}
        self.pending = 0  # fetches recorded since the last write
        self.writes = 0
        self._last_write = time.monotonic()
        self._last_record = self._last_write
        self._last_key: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warned = False
        if directory is not None:
            self.path = os.path.join(directory, f'{self.host}-{self.pid}.json')
            atexit.register(self._at_exit)
            try:  # what a forked multiprocessing child (a DataLoader worker) runs on its way out; atexit is not
                from multiprocessing import util

                util.Finalize(self, self._at_exit, exitpriority=100)
            except Exception:  # pragma: no cover
                pass

    # -- counting -----------------------------------------------------------------------------------------
    def record(self, split: str, epoch: int, sample: Sample) -> None:
        key = (split, int(epoch))
        with self._lock:
            self._count(key, sample)
            if self.directory is None:
                return
            self.pending += 1
            now = time.monotonic()
            self._last_record = now
            moved_on = key != self._last_key
            self._last_key = key
            if (
                self.pending >= self.flush_every
                or now - self._last_write >= self.flush_interval
                or (moved_on and self.pending > 1)
            ):
                self._write()
            elif self._thread is None and self.idle_flush:
                self._thread = threading.Thread(target=self._idle_loop, name='geoaug-fetch-stats', daemon=True)
                self._thread.start()

    def _count(self, key: tuple[str, int], sample: Sample) -> None:
        e = self.entries.get(key)
        if e is None:
            e = self.entries[key] = _new_entry(*key)
        e['fetches'] += 1
        if getattr(sample, 'fallback', False):
            e['fallbacks'] += 1
        counts = e['in']
        for kind, n in (getattr(sample, 'objects_in', None) or {}).items():
            _add(counts, kind, n)
        counts = e['out']
        for kind, n in (getattr(sample, 'objects_out', None) or {}).items():
            _add(counts, kind, n)
        report = getattr(sample, 'report', None)
        if report is None:
            return
        for name, counter in (
            ('clipped', report.clipped),
            ('input_clipped', report.input_clipped),
            ('split_pieces', report.split),
            ('approximated', report.approximated),
        ):
            if counter:
                counts = e[name]
                for kind, n in counter.items():
                    _add(counts, kind, int(n))
        if report.dropped:
            dropped = e['dropped']
            for d in report.dropped:
                by_reason = dropped.get(d['kind'])
                if by_reason is None:
                    by_reason = dropped[d['kind']] = {}
                reason = str(d.get('reason', 'unknown'))
                by_reason[reason] = by_reason.get(reason, 0) + 1

    # -- writing ------------------------------------------------------------------------------------------
    def _doc(self) -> dict[str, Any]:
        """This process's totals as written to its file (the entries themselves, not copies)."""
        return {
            'version': FILE_VERSION,
            'host': self.host,
            'pid': self.pid,
            'time': time.time(),
            'stats': list(self.entries.values()),
        }

    def snapshot(self) -> dict[str, Any]:
        """A copy of this process's totals, detached from the counters that keep counting."""
        doc: dict[str, Any] = json.loads(json.dumps(self._doc()))
        return doc

    def flush(self) -> None:
        with self._lock:
            if self.directory is not None and os.getpid() == self.pid:
                self._write()

    def _write(self) -> None:  # holds the lock
        self._last_write = time.monotonic()
        text = json.dumps(self._doc(), separators=(',', ':'))
        tmp = os.path.join(self.directory, '.' + os.path.basename(self.path) + '.tmp')  # type: ignore[arg-type]  # _write runs only with a directory
        try:
            os.makedirs(self.directory, exist_ok=True)  # type: ignore[arg-type]  # _write runs only with a directory
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write(text)
            os.replace(tmp, self.path)
        except OSError as e:  # counting goes on in memory; the next write tries again
            if not self._warned:
                self._warned = True
                print(f'[geoaug-train] fetch stats: cannot write {self.path}: {e}', file=sys.stderr, flush=True)
            return
        self.pending = 0
        self.writes += 1

    def _idle_loop(self) -> None:
        while True:
            time.sleep(self.idle_flush)  # type: ignore[arg-type]  # the idle thread runs only with idle_flush set
            if os.getpid() != self.pid:  # pragma: no cover (a thread does not survive fork)
                return
            with self._lock:
                if self.pending and time.monotonic() - self._last_record >= self.idle_flush:  # type: ignore[operator]  # the idle thread runs only with idle_flush set
                    self._write()

    def _at_exit(self) -> None:
        # A forked child inherits the parent's atexit list: only the process that counted writes its file.
        if os.getpid() != self.pid or self.directory is None:
            return
        with self._lock:
            if self.pending:
                self._write()

    def merged(self) -> dict[str, Any]:
        """This process's totals in `merge`'s shape (for in-memory use, e.g. `geoaug-train render`)."""
        with self._lock:
            return _merge_docs([self.snapshot()], [])


# -- the process-wide recorder used by the template ---------------------------------------------------------
_recorders: dict[str, FetchStats] = {}


def _after_fork_in_child() -> None:
    # The parent's recorders (their totals, lock and thread) belong to the parent; the child starts afresh.
    _recorders.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def recorder(directory: str | None = None) -> FetchStats | None:
    directory = directory or stats_dir()
    if not directory:
        return None
    rec = _recorders.get(directory)
    if rec is None or rec.pid != os.getpid():
        rec = _recorders[directory] = FetchStats(directory)
    return rec


def record(split: str, epoch: int, sample: Sample) -> None:
    """Count one fetch in this process's totals (a no-op when no stats dir is configured)."""
    rec = recorder()
    if rec is not None:
        rec.record(split, epoch, sample)


def flush_all() -> None:
    for rec in list(_recorders.values()):
        rec.flush()


def reset(directory: str) -> None:
    """Remove the process files of an earlier run (a reused output_dir), before a run starts."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:  # only this module's files: <host>-<pid>.json and their .<...>.tmp
        if re.fullmatch(r'\.?.+-\d+\.json(\.tmp)?', name):
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:
                pass


# -- reading ------------------------------------------------------------------------------------------------
def merge(directory: str) -> dict[str, Any]:
    """Sum every process file in `directory`.

    Returns {'processes': n, 'hosts': [...], 'unreadable': [file names], 'stats': {(split, epoch): entry}}
    where an entry holds 'fetches', 'fallbacks' and, per kind, 'in', 'out', 'clipped', 'input_clipped',
    'split_pieces' (extra pieces), 'approximated' and 'dropped' (kind -> reason -> count)."""
    docs, unreadable = [], []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        names = []
    for name in names:
        if not name.endswith('.json') or name.startswith('.'):
            continue
        try:
            with open(os.path.join(directory, name), encoding='utf-8') as f:
                doc = json.load(f)
            if not isinstance(doc, dict) or not isinstance(doc.get('stats'), list):
                raise ValueError('not a fetch stats file')
        except (OSError, ValueError) as e:
            unreadable.append(f'{name} ({type(e).__name__}: {e})')
            continue
        docs.append(doc)
    return _merge_docs(docs, unreadable)


def _merge_docs(docs: Iterable[Mapping[str, Any]], unreadable: list[str]) -> dict[str, Any]:
    stats: dict[tuple[str, int], dict[str, Any]] = {}
    hosts, processes = set(), 0
    for doc in docs:
        processes += 1
        hosts.add(doc.get('host'))
        for e in doc['stats']:
            key = (str(e['split']), int(e['epoch']))
            m = stats.get(key)
            if m is None:
                m = stats[key] = _new_entry(*key)
            m['fetches'] += int(e.get('fetches', 0))
            m['fallbacks'] += int(e.get('fallbacks', 0))
            for name in COUNTERS:
                for kind, n in (e.get(name) or {}).items():
                    _add(m[name], kind, int(n))
            for kind, reasons in (e.get('dropped') or {}).items():
                by_reason = m['dropped'].setdefault(kind, {})
                for reason, n in reasons.items():
                    _add(by_reason, reason, int(n))
    order = {'train': 0, 'val': 1}
    stats = dict(sorted(stats.items(), key=lambda kv: (order.get(kv[0][0], 2), kv[0][0], kv[0][1])))
    return {
        'processes': processes,
        'hosts': sorted(h for h in hosts if h),
        'unreadable': list(unreadable),
        'stats': stats,
    }


def _pct(n: int, d: int) -> str:
    if not n:
        return '0%'
    if not d:
        return f'{n:,}'
    p = 100.0 * n / d
    if p < 0.1:
        return '<0.1%'
    if n < d and p > 99.9:
        return '>99.9%'
    return f'{p:.1f}%'


def format_entry(e: Mapping[str, Any]) -> str:
    parts = []
    kinds = [k for k in KINDS if k in e['in'] or k in e['dropped'] or k in e['out']]
    kinds += sorted(k for k in set(e['in']) | set(e['dropped']) | set(e['out']) if k not in KINDS)
    for kind in kinds:
        n_in = e['in'].get(kind, 0)
        reasons = e['dropped'].get(kind, {})
        n_drop = sum(reasons.values())
        text = f'{kind} {n_in:,} in, {_pct(n_drop, n_in)} dropped'
        if n_drop:
            text += (
                ' ('
                + ', '.join(f'{r} {_pct(c, n_in)}' for r, c in sorted(reasons.items(), key=lambda rc: (-rc[1], rc[0])))
                + ')'
            )
        text += f", {_pct(e['clipped'].get(kind, 0), n_in)} clipped"
        extra = [('input_clipped', 'reached outside the input image'), ('approximated', 'approximated')]
        for name, words in extra:
            n = e[name].get(kind, 0)
            if n:
                text += f', {_pct(n, n_in)} {words}'
        pieces = e['split_pieces'].get(kind, 0)
        if pieces:
            text += f', split into +{_pct(pieces, n_in)} pieces'
        text += f", {e['out'].get(kind, 0):,} out"
        parts.append(text)
    line = f"{e['split']} epoch {e['epoch']}: {e['fetches']:,} fetches; " + ('; '.join(parts) or 'no objects')
    if e['fallbacks']:
        line += (
            f"; {e['fallbacks']:,} native-record fetches ({_pct(e['fallbacks'], e['fetches'])}) trained "
            'un-augmented because augmentation dropped a box (counted as dropped above)'
        )
    return line


def format_summary(merged: Mapping[str, Any]) -> str:
    lines = [format_entry(e) for e in merged['stats'].values()]
    if not lines:
        lines.append('no fetches recorded')
    for bad in merged.get('unreadable') or []:
        lines.append(f'unreadable stats file, not counted: {bad}')
    return '\n'.join(lines)


# -- per-epoch logging inside the trainer ---------------------------------------------------------------------
def make_callback_cls() -> type:
    from transformers import TrainerCallback

    class FetchStatsCallback(TrainerCallback):
        """On the world's process zero, at each epoch end (a max_steps stop mid-epoch included, HF calls
        on_epoch_end then too): wait until every process's last fetches are on disk, then print each
        (split, epoch) line that changed since the last print."""

        def __init__(self, args: Any = None, trainer: Any = None, directory: str | None = None) -> None:
            self.args, self.trainer = args, trainer
            self.directory = directory
            self.printed: dict[tuple[str, int], Any] = {}

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                self.report(f'at the end of an epoch (step {state.global_step}, epoch {state.epoch or 0:.2f})')

        def report(self, when: str, settle: float = SETTLE_SECONDS) -> list[str]:
            directory = self.directory or stats_dir()
            if not directory:
                return []
            flush_all()  # this process's own fetches (dataloader_num_workers=0)
            time.sleep(settle)  # the workers' idle flush; other ranks fetched before the last step's all-reduce
            merged = merge(directory)
            out = []
            for key, e in merged['stats'].items():
                if self.printed.get(key) != e:
                    self.printed[key] = e
                    out.append(format_entry(e))
            out += [f'unreadable stats file, not counted: {b}' for b in merged['unreadable']]
            if out:
                hosts = len(merged['hosts'])
                print(
                    f'[geoaug-train] augmentation per fetch {when} ({merged["processes"]} processes'
                    f'{f" on {hosts} hosts" if hosts > 1 else ""}):',
                    flush=True,
                )
                for line in out:
                    print(f'[geoaug-train]   {line}', flush=True)
            return out

    return FetchStatsCallback


def register_callback() -> None:
    """Add the per-epoch callback to every ms-swift (4.6) trainer: it is registered in
    `swift.callbacks.callbacks_map` under CALLBACK_NAME and appended to `args.callbacks` when the training
    arguments initialise their callbacks (after plugins are imported), so a user's own `--callbacks` keep it.
    That patches a private ms-swift method, so on any ms-swift but the tested one it is skipped with a notice."""
    from . import swift_compat

    if not swift_compat.is_tested():
        swift_compat.notice('per-epoch fetch-stats callback off (training is unaffected)')
        return
    try:
        from swift.callbacks import callbacks_map
        from swift.trainers.arguments import TrainArgumentsMixin
    except ImportError as e:  # pragma: no cover
        print(f'[geoaug-train] per-epoch fetch stats off: {e}', file=sys.stderr, flush=True)
        return
    if CALLBACK_NAME not in callbacks_map:
        callbacks_map[CALLBACK_NAME] = make_callback_cls()
    if getattr(TrainArgumentsMixin, '_geoaug_fetch_stats', False):
        return
    init_callbacks = TrainArgumentsMixin._init_callbacks

    def _init_callbacks(self: Any) -> None:
        init_callbacks(self)
        if CALLBACK_NAME not in self.callbacks:
            self.callbacks.append(CALLBACK_NAME)

    TrainArgumentsMixin._init_callbacks = _init_callbacks
    TrainArgumentsMixin._geoaug_fetch_stats = True
