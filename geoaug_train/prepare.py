"""Before ms-swift starts: read and check the data, write the run's spec and ms-swift's dataset files.

ms-swift's dataset pipeline keeps only its own columns and rewrites `objects`, so the geometry stays
in our spec (`<output_dir>/geoaug/spec.json`) and each ms-swift row carries only its record index.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

from .records import Record, check_images, parse_jsonl
from .samples import ANSWER_PLACEHOLDER, SampleBuilder

SPEC_VERSION = 1


def swift_row(record: Record, split: str, index: int) -> Dict[str, Any]:
    if record.kind == 'geoaug':
        # The placeholder is replaced by the answer rendered after augmentation, on every fetch.
        messages = [{'role': 'user', 'content': '<image>'}, {'role': 'assistant', 'content': ANSWER_PLACEHOLDER}]
    else:
        messages = record.messages
    row = {'messages': messages, 'images': [record.image],
           'chat_template_kwargs': {'geoaug_index': index, 'geoaug_split': split}}
    if record.kind == 'native' and record.native_objects is not None:
        row['objects'] = record.native_objects
    return row


def _load_split(path: str, skip_bad: bool) -> Tuple[List[Record], List[str]]:
    records = parse_jsonl(path)
    return check_images(path, records, skip_bad)


def prepare_run(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Returns {'spec': path, 'train': jsonl, 'val': jsonl or None, 'skipped': [...], 'counts': {...}}."""
    data = cfg['data']
    work_dir = os.path.join(cfg['training']['output_dir'], 'geoaug')
    os.makedirs(work_dir, exist_ok=True)
    splits = {'train': data['train']}
    if data['val']:
        splits['val'] = data['val']
    records, skipped = {}, []
    for split, path in splits.items():
        records[split], split_skipped = _load_split(path, data['skip_bad_images'])
        skipped += split_skipped
    augmentation = (cfg.get('custom') or {}).get('augmentation')
    spec = {
        'version': SPEC_VERSION,
        'seed': cfg['training']['seed'],
        'prompt': data['prompt'],
        'max_pixels': data['max_pixels'],
        'min_pixels': data['min_pixels'],
        'augmentation': augmentation,
        'sources': splits,
        'records': {s: [r.to_json() for r in recs] for s, recs in records.items()},
        'skipped': skipped,
    }
    # Build the pipeline and one sample now: a bad op name or param fails here, before the model loads.
    builder = SampleBuilder(augmentation, max_pixels=data['max_pixels'], min_pixels=data['min_pixels'],
                            seed=cfg['training']['seed'], prompt=data['prompt'])
    first = records['train'][0]
    builder.build(first, split='train', epoch=0, index=0, where=f"{splits['train']}:{first.line}")

    out = {'spec': os.path.join(work_dir, 'spec.json'), 'skipped': skipped, 'val': None,
           'counts': {s: len(r) for s, r in records.items()}}
    _write_atomic(out['spec'], json.dumps(spec))
    for split, recs in records.items():
        path = os.path.join(work_dir, f'{split}.jsonl')
        _write_atomic(path, ''.join(json.dumps(swift_row(rec, split, i), ensure_ascii=False) + '\n'
                                    for i, rec in enumerate(recs)))
        out[split] = path
    return out


def _write_atomic(path: str, text: str) -> None:
    # Several nodes sharing an output_dir each prepare the same files: a reader never sees half of one.
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)
