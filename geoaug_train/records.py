"""Reading the user's JSONL: both the geoaug format and ms-swift native records, checked up front.

Every problem names the file and line, because the alternative in ms-swift is worse: a malformed
media item is silently dropped, and a failing sample is silently replaced by a random other one.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from geoaug.records import check_record, finite_number, iter_jsonl

IMAGE_PAD_MARKERS = ('<|image_pad|>', '<|vision_start|>', '<|vision_end|>', '<|video_pad|>')


class DataError(ValueError):
    """A problem with one record of the data; the message names file and line."""


@dataclass
class Record:
    """One training sample in pixel coordinates of its original image."""
    line: int  # 1-based line in the source JSONL
    image: str  # absolute path
    kind: str  # 'geoaug' or 'native'
    objects: List[Dict[str, Any]] = field(default_factory=list)  # geoaug: [{'label', 'bbox'|'quad'|'line'}]
    prompt: Optional[str] = None
    # native only: ms-swift messages (media already reduced to <image> tags) and objects {'ref', 'bbox'}
    messages: Optional[List[Dict[str, Any]]] = None
    native_objects: Optional[Dict[str, Any]] = None

    def to_json(self) -> Dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> 'Record':
        return cls(**d)


def _resolve(base_dir: str, path) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def _native_messages(where: str, messages, base_dir: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Reduce content lists to ms-swift's <image> tags ourselves, with the strict key contract."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f'{where}.messages: expected a non-empty list')
    out, images = [], []
    for m_i, msg in enumerate(messages):
        mw = f'{where}.messages[{m_i}]'
        if not isinstance(msg, dict) or msg.get('role') not in ('system', 'user', 'assistant'):
            raise DataError(f'{mw}: expected {{"role": system|user|assistant, "content": ...}}')
        content = msg.get('content')
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = ''
            for c_i, item in enumerate(content):
                cw = f'{mw}.content[{c_i}]'
                if not isinstance(item, dict) or 'type' not in item:
                    raise DataError(f'{cw}: expected {{"type": ..., <type>: ...}}')
                kind = item['type']
                if kind == 'text':
                    if not isinstance(item.get('text'), str):
                        raise DataError(f'{cw}: a text item needs its value under the key "text"')
                    text += item['text']
                elif kind == 'image':
                    value = item.get('image')
                    if not isinstance(value, str) or not value:
                        other = sorted(set(item) - {'type'})
                        raise DataError(f'{cw}: an image item must carry its path under the key "image" '
                                        f'(key must match type), got keys {other}; ms-swift would silently '
                                        'drop this image')
                    text += '<image>'
                    images.append(_resolve(base_dir, value))
                else:
                    raise DataError(f'{cw}: unsupported content type {kind!r} (only text and image)')
        else:
            raise DataError(f'{mw}.content: expected a string or a list of items')
        for marker in IMAGE_PAD_MARKERS:
            if marker in text:
                raise DataError(f'{mw}: contains a hand-written {marker}; use an image item or the <image> tag, '
                                'the template expands it to the right number of tokens')
        out.append({'role': msg['role'], 'content': text})
    return out, images


def _parse_native(where: str, rec: Dict[str, Any], base_dir: str, line: int) -> Record:
    messages, content_images = _native_messages(where, rec['messages'], base_dir)
    listed = rec.get('images') or []
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
        raise DataError(f'{where}.images: expected a list of image paths')
    if listed and content_images:
        raise DataError(f'{where}: images given both in "images" and inside message content; use one')
    images = content_images or [_resolve(base_dir, p) for p in listed]
    if len(images) != 1:
        raise DataError(f'{where}: expected exactly one image per record, got {len(images)}')
    n_tags = sum(m['content'].count('<image>') for m in messages)
    if n_tags > 1:
        raise DataError(f'{where}: {n_tags} <image> tags for one image')
    objects = rec.get('objects')
    if objects is not None:
        if not isinstance(objects, dict) or not isinstance(objects.get('bbox'), list):
            raise DataError(f'{where}.objects: expected {{"ref": [...], "bbox": [[x1, y1, x2, y2], ...]}}')
        if objects.get('bbox_type', 'real') != 'real':
            raise DataError(f'{where}.objects.bbox_type: only pixel coordinates ("real") can be augmented')
        for b_i, box in enumerate(objects['bbox']):
            if not (isinstance(box, list) and len(box) == 4 and all(finite_number(c) for c in box)):
                raise DataError(f'{where}.objects.bbox[{b_i}]: expected [x1, y1, x2, y2], got {box!r}')
        refs = objects.get('ref', [])
        if not isinstance(refs, list):
            raise DataError(f'{where}.objects.ref: expected a list')
        objects = {'ref': list(refs), 'bbox': [[float(c) for c in b] for b in objects['bbox']]}
    return Record(line=line, image=images[0], kind='native', messages=messages, native_objects=objects)


def _parse_geoaug(where: str, rec: Dict[str, Any], base_dir: str, line: int) -> Record:
    image, checked = check_record(where, rec, error=DataError)
    prompt = rec.get('prompt')
    if prompt is not None and not isinstance(prompt, str):
        raise DataError(f'{where}.prompt: expected a string')
    if prompt:
        for marker in IMAGE_PAD_MARKERS + ('<image>',):
            if marker in prompt:
                raise DataError(f'{where}.prompt: contains {marker}; the image is inserted by the template')
    return Record(line=line, image=_resolve(base_dir, image), kind='geoaug', objects=checked, prompt=prompt)


def parse_jsonl(path: str) -> List[Record]:
    base_dir = os.path.dirname(os.path.abspath(path))
    records = []
    for line_no, where, rec in iter_jsonl(path, error=DataError):
        if not isinstance(rec, dict):
            raise DataError(f'{where}: expected a JSON object')
        if 'messages' in rec:
            records.append(_parse_native(where, rec, base_dir, line_no))
        else:
            records.append(_parse_geoaug(where, rec, base_dir, line_no))
    if not records:
        raise DataError(f'{path}: no records')
    return records


def _image_problem(path: str) -> Optional[str]:
    from PIL import Image
    if not os.path.isfile(path):
        return 'image file not found'
    try:
        with Image.open(path) as im:
            im.load()  # a full decode: truncated files pass a header check but fail here
    except Exception as e:  # PIL raises many types for corrupt files
        return f'cannot decode image: {type(e).__name__}: {e}'
    return None


def check_images(path: str, records: List[Record], skip_bad: bool,
                 workers: int = 4) -> Tuple[List[Record], List[str]]:
    """Decode every image once before training. Returns (kept records, skip messages)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:  # PIL decoders release the GIL
        problems = list(pool.map(_image_problem, [r.image for r in records]))
    kept, skipped = [], []
    for rec, problem in zip(records, problems):
        if problem is None:
            kept.append(rec)
            continue
        msg = f'{path}:{rec.line}: {problem}: {rec.image}'
        if not skip_bad:
            raise DataError(msg + ' (set data.skip_bad_images: true to skip such records and count them)')
        skipped.append(msg)
    if not kept:
        raise DataError(f'{path}: every record was skipped for a bad image')
    return kept, skipped
