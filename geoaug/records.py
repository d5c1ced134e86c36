"""The training-data record format, one object at a time: ``{"label": ..., "bbox" | "quad" | "line": ...}`` in
pixel coordinates. Read by ``geoaug preview`` and by ``geoaug_train``: one place decides what is valid."""
from __future__ import annotations

import math

from .errors import GeoaugError

GEOMETRY_KEYS = ("bbox", "quad", "line")


class RecordError(GeoaugError):
    """A record is malformed; the message names the file, line, object and field."""


def finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _points(where: str, pts, n, error) -> list:
    if not isinstance(pts, list):
        raise error(f"{where}: expected a list of [x, y] pairs of finite numbers, got {pts!r}")
    for i, p in enumerate(pts):
        if not (isinstance(p, list) and len(p) == 2 and all(finite_number(c) for c in p)):
            raise error(f"{where}[{i}]: expected [x, y] of finite numbers, got {p!r}")
    if n is not None and len(pts) != n:
        raise error(f"{where}: expected {n} points, got {len(pts)}")
    if n is None and len(pts) < 2:
        raise error(f"{where}: a line needs at least 2 points, got {len(pts)}")
    return [[float(x), float(y)] for x, y in pts]


def check_object(where: str, obj, error=RecordError) -> dict:
    """Validate one object; returns ``{"label": str, <kind>: floats}``. ``error`` is the class raised."""
    if not isinstance(obj, dict):
        raise error(f"{where}: expected an object mapping, got {obj!r}")
    label = obj.get("label")
    if not isinstance(label, str) or not label:
        raise error(f"{where}.label: expected a non-empty string, got {label!r}")
    present = [k for k in GEOMETRY_KEYS if k in obj]
    if len(present) != 1:
        raise error(f"{where}: needs exactly one of {list(GEOMETRY_KEYS)}, got {present or 'none'}")
    key = present[0]
    unknown = set(obj) - {"label", key}
    if unknown:
        raise error(f"{where}: unknown keys {sorted(unknown)}")
    value = obj[key]
    if key == "bbox":
        if not (isinstance(value, list) and len(value) == 4 and all(finite_number(c) for c in value)):
            raise error(f"{where}.bbox: expected [x1, y1, x2, y2] of finite numbers, got {value!r}")
        x1, y1, x2, y2 = (float(c) for c in value)
        if x2 <= x1 or y2 <= y1:
            raise error(f"{where}.bbox: needs x1 < x2 and y1 < y2, got {value!r}")
        return {"label": label, "bbox": [x1, y1, x2, y2]}
    return {"label": label, key: _points(f"{where}.{key}", value, 4 if key == "quad" else None, error)}


def iter_jsonl(path, error=RecordError):
    """(line number, "path:line", parsed object) for each non-blank line; bad JSON names its line."""
    import json
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, start=1):
            if not text.strip():
                continue
            where = f"{path}:{n}"
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as e:
                raise error(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
            yield n, where, rec


RECORD_KEYS = ("image", "objects", "prompt")


def check_record(where: str, rec, error=RecordError) -> tuple[str, list]:
    """Validate one record (``image``, ``objects``, optional ``prompt``); returns (image path as written,
    checked objects). Object errors name ``where.objects[i]`` and the field."""
    if not isinstance(rec, dict):
        raise error(f"{where}: expected a JSON object, got {type(rec).__name__}")
    unknown = set(rec) - set(RECORD_KEYS)
    if unknown:
        raise error(f"{where}: unknown keys {sorted(unknown)}; a record is {{\"image\", \"objects\", \"prompt\"}}")
    image = rec.get("image")
    if not isinstance(image, str) or not image:
        raise error(f"{where}.image: expected an image path, got {image!r}")
    objects = rec.get("objects", [])
    if not isinstance(objects, list):
        raise error(f"{where}.objects: expected a list, got {type(objects).__name__}")
    return image, [check_object(f"{where}.objects[{i}]", o, error) for i, o in enumerate(objects)]
