"""Reading the user's JSONL: both the geoaug format and ms-swift native records, checked up front.

Every problem names the file and line, because the alternative in ms-swift is worse: a malformed
media item is silently dropped, and a failing sample is silently replaced by a random other one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from geoaug.records import brief_repr, check_record, finite_number, iter_jsonl

IMAGE_PAD_MARKERS = ('<|image_pad|>', '<|vision_start|>', '<|vision_end|>', '<|video_pad|>')


class DataError(ValueError):
    """A problem with one record of the data; the message names file and line."""


@dataclass
class Record:
    """One training sample in pixel coordinates of its original image."""

    line: int  # 1-based line in the source JSONL
    image: str  # absolute path
    kind: str  # 'geoaug' or 'native'
    objects: list[dict[str, Any]] = field(default_factory=list)  # geoaug: [{'label', <geometry key>}] (records.py)
    prompt: str | None = None
    # native only: ms-swift messages (media already reduced to <image> tags) and objects {'ref', 'bbox'}
    messages: list[dict[str, Any]] | None = None
    native_objects: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Record:
        return cls(**d)


def _resolve(base_dir: str, path: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


# The keys a native record may carry: prepare passes only these to ms-swift, so any other key (a top-level
# "system", a message's "loss", an item's "min_pixels") would be dropped without a word.
NATIVE_KEYS = ('messages', 'images', 'objects')
NATIVE_OBJECT_KEYS = ('ref', 'bbox', 'bbox_type', 'image_id')
REF_TAG, BBOX_TAG = '<ref-object>', '<bbox>'

# qwen_vl_utils.vision_process.MAX_RATIO (0.0.14), the same 200 that transformers' Qwen2-VL/Qwen3-VL
# smart_resize writes inline: both raise when max(h, w) / min(h, w) > 200. Copied, not imported:
# qwen_vl_utils imports torch and torchvision, and this module must not.
MAX_ASPECT_RATIO = 200


def aspect_ratio_problem(width: int, height: int) -> str | None:
    """Why Qwen-VL's smart_resize would refuse an image of this size, or None when it would take it."""
    if width <= 0 or height <= 0:
        return f'image is empty ({width}x{height} pixels)'
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        return (
            f'aspect ratio {ratio:.1f}:1 ({width}x{height} pixels) is over {MAX_ASPECT_RATIO}:1, '
            'which Qwen-VL\'s image resizing (smart_resize) refuses'
        )
    return None


def _unknown_keys(where: str, d: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = set(d) - set(allowed)
    if unknown:
        raise DataError(
            f'{where}: unknown keys {sorted(unknown)}; {what} has only {list(allowed)} '
            '(anything else would be dropped before training)'
        )


def _native_messages(where: str, messages: object, base_dir: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Reduce content lists to ms-swift's <image> tags ourselves, with the strict key contract."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f'{where}.messages: expected a non-empty list')
    out, images = [], []
    for m_i, msg in enumerate(messages):
        mw = f'{where}.messages[{m_i}]'
        if not isinstance(msg, dict) or msg.get('role') not in ('system', 'user', 'assistant'):
            raise DataError(f'{mw}: expected {{"role": system|user|assistant, "content": ...}}')
        _unknown_keys(mw, msg, ('role', 'content'), 'a message')
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
                    _unknown_keys(cw, item, ('type', 'text'), 'a text item')
                    text += item['text']
                elif kind == 'image':
                    value = item.get('image')
                    if not isinstance(value, str) or not value:
                        other = sorted(set(item) - {'type'})
                        raise DataError(
                            f'{cw}: an image item must carry its path under the key "image" '
                            f'(key must match type), got keys {other}; ms-swift would silently '
                            'drop this image'
                        )
                    _unknown_keys(cw, item, ('type', 'image'), 'an image item')
                    text += '<image>'
                    images.append(_resolve(base_dir, value))
                else:
                    raise DataError(f'{cw}: unsupported content type {brief_repr(kind)} (only text and image)')
        else:
            raise DataError(f'{mw}.content: expected a string or a list of items')
        for marker in IMAGE_PAD_MARKERS:
            if marker in text:
                raise DataError(
                    f'{mw}: contains a hand-written {marker}; use an image item or the <image> tag, '
                    'the template expands it to the right number of tokens'
                )
        out.append({'role': msg['role'], 'content': text})
    return out, images


def _native_objects(where: str, objects: object) -> dict[str, Any]:
    """Check ``objects`` as strictly as a geoaug record's: one non-empty string ``ref`` per box, every box
    [x1, y1, x2, y2] of finite numbers with x1 < x2 and y1 < y2, pixel coordinates of the one image."""
    ow = f'{where}.objects'
    if not isinstance(objects, dict) or not isinstance(objects.get('bbox'), list):
        raise DataError(f'{ow}: expected {{"ref": [...], "bbox": [[x1, y1, x2, y2], ...]}}')
    _unknown_keys(ow, objects, NATIVE_OBJECT_KEYS, 'objects')
    if objects.get('bbox_type', 'real') != 'real':
        raise DataError(f'{ow}.bbox_type: only pixel coordinates ("real") can be augmented')
    boxes = []
    for b_i, box in enumerate(objects['bbox']):
        if not (isinstance(box, list) and len(box) == 4 and all(finite_number(c) for c in box)):
            raise DataError(f'{ow}.bbox[{b_i}]: expected [x1, y1, x2, y2] of finite numbers, got {brief_repr(box)}')
        x1, y1, x2, y2 = (float(c) for c in box)  # compared as floats, as they will be used
        if not (x1 < x2 and y1 < y2):
            raise DataError(
                f'{ow}.bbox[{b_i}]: needs x1 < x2 and y1 < y2 (an inverted or empty box), got {brief_repr(box)}'
            )
        boxes.append([x1, y1, x2, y2])
    refs = objects.get('ref', [])
    # No count rule between refs and boxes: ms-swift's own grounding example has a ref for the query's
    # <ref-object> and one per answered box. What must match is each list and its tags (_check_object_tags).
    if not isinstance(refs, list):
        raise DataError(f'{ow}.ref: expected a list of strings, got {brief_repr(refs)}')
    for r_i, ref in enumerate(refs):
        if not isinstance(ref, str) or not ref:
            raise DataError(f'{ow}.ref[{r_i}]: expected a non-empty string, got {brief_repr(ref)}')
    image_ids = objects.get('image_id')
    if image_ids is not None and not (
        isinstance(image_ids, list)
        and len(image_ids) <= len(boxes)
        and all(type(i) is int and i == 0 for i in image_ids)
    ):
        raise DataError(
            f'{ow}.image_id: a record has one image, so every image_id must be 0, got {brief_repr(image_ids)}'
        )
    return {'ref': list(refs), 'bbox': boxes}


def _check_object_tags(where: str, messages: list[dict[str, Any]], objects: dict[str, Any] | None) -> None:
    """ms-swift (template/base.py, Template._pre_tokenize) fills the k-th <ref-object> tag with objects.ref[k]
    and the k-th <bbox> tag with objects.bbox[k], across all messages (system included) in order; a tag past
    the end of its list stays in the text as itself, and an entry no tag reaches is left out, both silently.
    A tag kind the messages do not use is not checked: ms-swift then renders none of that list."""
    for tag, key in ((REF_TAG, 'ref'), (BBOX_TAG, 'bbox')):
        count = sum(m['content'].count(tag) for m in messages)
        n = len(objects[key]) if objects else 0
        if count and count != n:
            raise DataError(
                f'{where}: {count} {tag} tags in the messages for {n} entries in objects.{key}; '
                f'ms-swift fills the k-th {tag} with objects.{key}[k] (an extra tag would stay '
                'literal text, a missing one would leave its entry out)'
            )


def _parse_native(where: str, rec: dict[str, Any], base_dir: str, line: int) -> Record:
    _unknown_keys(where, rec, NATIVE_KEYS, 'a native record')
    messages, content_images = _native_messages(where, rec['messages'], base_dir)
    listed = rec.get('images')
    if listed is None:
        listed = []
    elif isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
        raise DataError(f'{where}.images: expected a list of image paths, got {brief_repr(rec.get("images"))}')
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
        objects = _native_objects(where, objects)
    _check_object_tags(where, messages, objects)
    return Record(line=line, image=images[0], kind='native', messages=messages, native_objects=objects)


def _parse_geoaug(where: str, rec: dict[str, Any], base_dir: str, line: int) -> Record:
    image, checked = check_record(where, rec, error=DataError)
    prompt = rec.get('prompt')
    if prompt is not None and not isinstance(prompt, str):
        raise DataError(f'{where}.prompt: expected a string')
    if prompt:
        for marker in IMAGE_PAD_MARKERS + ('<image>',):
            if marker in prompt:
                raise DataError(f'{where}.prompt: contains {marker}; the image is inserted by the template')
    return Record(line=line, image=_resolve(base_dir, image), kind='geoaug', objects=checked, prompt=prompt)


def parse_record(where: str, rec: Any, base_dir: str, line: int) -> Record:
    """One parsed JSONL line -> a Record: a native ms-swift record when it has ``messages``, else a geoaug one."""
    if not isinstance(rec, dict):
        raise DataError(f'{where}: expected a JSON object, got {type(rec).__name__}')
    parse = _parse_native if 'messages' in rec else _parse_geoaug
    return parse(where, rec, base_dir, line)


@contextmanager
def naming_the_line(where: str) -> Iterator[None]:
    """Whatever reading a record raises leaves as a DataError naming ``where`` (a check nobody foresaw
    included; the cause stays chained)."""
    try:
        yield
    except DataError:
        raise
    except Exception as e:
        raise DataError(f'{where}: cannot read this record ({type(e).__name__}: {e})') from e


def parse_jsonl(path: str) -> list[Record]:
    base_dir = os.path.dirname(os.path.abspath(path))
    records = []
    for line_no, where, rec in iter_jsonl(path, error=DataError):
        with naming_the_line(where):
            records.append(parse_record(where, rec, base_dir, line_no))
    if not records:
        raise DataError(f'{path}: no records')
    return records
