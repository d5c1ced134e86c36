"""Before ms-swift starts: build (or reuse) the record store, check the augmentation on one record, and
write the run's spec.

ms-swift's dataset pipeline keeps only its own columns and rewrites `objects`, so the geometry stays in
the store and each ms-swift row carries only its record index. The spec (`<output_dir>/geoaug/spec.json`)
is a few hundred bytes: the augmentation, the seed, the prompt and the store's path. Every rank and
dataloader worker opens the store memory-mapped; none parses the data again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from .samples import SampleBuilder
from .store import KINDS, RecordStore, open_or_build

SPEC_VERSION = 2


def open_store(cfg: dict[str, Any], log: Callable[[str], Any] = print) -> RecordStore:
    data = cfg['data']
    default = os.path.join(cfg['training']['output_dir'], 'geoaug', 'store')
    store, built = open_or_build(data, default, data['prepare_workers'], log=log)
    if not built:
        log(f'[geoaug-train] record store unchanged, reused: {store.folder}')
    return store


def prepare_run(cfg: dict[str, Any], log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Returns {'spec', 'store', 'train', 'val' (ms-swift row files; val None), 'counts', 'skipped'}."""
    data = cfg['data']
    store = open_store(cfg, log)
    work_dir = os.path.join(cfg['training']['output_dir'], 'geoaug')
    os.makedirs(work_dir, exist_ok=True)
    augmentation = (cfg.get('custom') or {}).get('augmentation')
    spec = {
        'version': SPEC_VERSION,
        'seed': cfg['training']['seed'],
        'prompt': data['prompt'],
        'max_pixels': data['max_pixels'],
        'min_pixels': data['min_pixels'],
        'augmentation': augmentation,
        'store': store.folder,
    }
    # Build the pipeline and one sample now: a bad op name or param fails here, before the model loads.
    builder = SampleBuilder(
        augmentation,
        max_pixels=data['max_pixels'],
        min_pixels=data['min_pixels'],
        seed=cfg['training']['seed'],
        prompt=data['prompt'],
    )
    train = store['train']
    builder.build(train.record(0), split='train', epoch=0, index=0, where=train.where(0))
    out = {
        'spec': os.path.join(work_dir, 'spec.json'),
        'store': store,
        'skipped': store.report['skipped'],
        'counts': {s: len(store[s]) for s in store.splits},
        'val': None,
    }
    _write_atomic(out['spec'], json.dumps(spec, indent=1))
    for split in store.splits:
        out[split] = store.swift_rows(split)
    return out


def format_report(store: RecordStore) -> str:
    """What prepare found, for people: records, images, what the geometry loses against its own image."""
    rep = store.report
    lines = [
        f"record store: {store.folder}",
        f"images: {rep['images']['distinct']:,} distinct, checked: {rep['images']['check']}, "
        f"bad: {rep['images']['bad']}",
    ]
    lines += [f'  {p}' for p in rep['images']['problems'][:5]]
    for split, s in rep['splits'].items():
        geo = s['geometry']
        lines.append(
            f"{split}: {s['records']:,} records in {len(s['files'])} file(s), {s['kept']:,} kept"
            + (f", {s['skipped_bad_image']:,} skipped (bad image)" if s['skipped_bad_image'] else '')
        )
        for kind in KINDS:
            c = geo['by_kind'].get(kind)
            if not c:
                continue
            lost = [
                f"{c[k]:,} {what}"
                for k, what in (
                    ('clipped', 'partly outside (clipped at fetch)'),
                    ('outside', 'wholly outside (dropped)'),
                    ('degenerate', 'without area/length (dropped)'),
                    ('partly_dropped', 'partly outside (dropped)'),
                )
                if c[k]
            ]
            lines.append(f"  {kind}: {c['objects']:,} objects" + (f"; {', '.join(lost)}" if lost else ''))
        if geo['records_affected']:
            lines.append(
                f"  records touched: {geo['records_affected']:,}; left without objects: "
                f"{geo['records_emptied']:,}"
                + (
                    f"; native boxes outside (kept): {geo['native_objects_outside_kept']:,}"
                    if geo['native_objects_outside_kept']
                    else ''
                )
            )
            lines += [
                f"    {w['where']}: {w['dropped']} dropped, {w['clipped']} clipped of {w['objects']}"
                for w in geo['worst'][:5]
            ]
    skipped = sum(s['skipped_bad_image'] for s in rep['splits'].values())
    if skipped:
        lines.append(
            f"records skipped for a bad image (data.skip_bad_images): {skipped:,}, listed in the store's meta.json"
        )
    lines.append('store built in ' + ', '.join(f'{k} {v:.1f} s' for k, v in rep['seconds'].items()))
    return '\n'.join(lines)


def _write_atomic(path: str, text: str) -> None:
    # Several nodes sharing an output_dir each write the same spec: a reader never sees half of one.
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


__all__: list[str] = ['prepare_run', 'open_store', 'format_report']
