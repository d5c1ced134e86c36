"""The training-data record format, one object at a time: ``{"label": ..., <geometry key>: ...}`` in pixel
coordinates, the geometry key one of ``bbox`` ([x1, y1, x2, y2]), ``quad`` (4 [x, y] points), ``line`` (K >= 2
points), ``point`` ([x, y]) or ``polygon`` (K >= 3 points). Read by ``geoaug preview`` and by ``geoaug_train``:
one place decides what is valid."""

from __future__ import annotations

import codecs
import json
import math
import os
import re
from collections.abc import Iterator
from typing import Any, NoReturn

from .errors import GeoaugError
from .params import short

GEOMETRY_KEYS = ("bbox", "quad", "line", "point", "polygon")
# The geoaug kind (call keyword, result attribute) each object key becomes.
KIND_OF = {"bbox": "boxes", "quad": "quads", "line": "lines", "point": "points", "polygon": "polygons"}
# The fewest points of the ragged kinds, and the word for one object of them in a message.
_LEAST = {"line": 2, "polygon": 3}


class RecordError(GeoaugError):
    """A record is malformed; the message names the file, line, object and field."""


def finite_number(v: object) -> bool:
    """A JSON number usable as a coordinate: a finite float, or an int that ``float()`` can hold (10**400
    cannot: ``math.isfinite`` and ``float`` would raise OverflowError on it)."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            float(v)
        except OverflowError:
            return False
        return True
    return False


def brief_repr(v: object) -> str:
    """Bounded repr for messages: a megabyte list or a 900-deep nesting must not flood or crash the report
    (the one bounded repr of the library, ``params.short``)."""
    return short(v)


def _points(where: str, pts: object, n: int | None, error: type[Exception], key: str = "line") -> list[list[float]]:
    if not isinstance(pts, list):
        raise error(f"{where}: expected a list of [x, y] pairs of finite numbers, got {brief_repr(pts)}")
    for i, p in enumerate(pts):
        if not (isinstance(p, list) and len(p) == 2 and all(finite_number(c) for c in p)):
            raise error(f"{where}[{i}]: expected [x, y] of finite numbers, got {brief_repr(p)}")
    if n is not None and len(pts) != n:
        raise error(f"{where}: expected {n} points, got {len(pts)}")
    if n is None and len(pts) < _LEAST[key]:
        raise error(f"{where}: a {key} needs at least {_LEAST[key]} points, got {len(pts)}")
    return [[float(x), float(y)] for x, y in pts]


def check_object(where: str, obj: object, error: type[Exception] = RecordError) -> dict[str, Any]:
    """Validate one object; returns ``{"label": str, <kind>: floats}``. ``error`` is the class raised."""
    if not isinstance(obj, dict):
        raise error(f"{where}: expected an object mapping, got {brief_repr(obj)}")
    label = obj.get("label")
    if not isinstance(label, str) or not label:
        raise error(f"{where}.label: expected a non-empty string, got {brief_repr(label)}")
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
            raise error(f"{where}.bbox: expected [x1, y1, x2, y2] of finite numbers, got {brief_repr(value)}")
        x1, y1, x2, y2 = (float(c) for c in value)
        if x2 <= x1 or y2 <= y1:
            raise error(f"{where}.bbox: needs x1 < x2 and y1 < y2, got {brief_repr(value)}")
        return {"label": label, "bbox": [x1, y1, x2, y2]}
    if key == "point":
        if not (isinstance(value, list) and len(value) == 2 and all(finite_number(c) for c in value)):
            raise error(f"{where}.point: expected [x, y] of finite numbers, got {brief_repr(value)}")
        return {"label": label, "point": [float(value[0]), float(value[1])]}
    return {"label": label, key: _points(f"{where}.{key}", value, 4 if key == "quad" else None, error, key)}


class _Reject(Exception):
    """Raised by the JSON hooks below; parse_json_line turns it into ``error`` with file:line."""


def _number_text(s: str, unit: str = "characters") -> str:
    """The literal as written, or its first 20 characters and its length when it is long."""
    return s if len(s) <= 24 else f"{s[:20]}... ({len(s.lstrip('-'))} {unit})"


def _reject_constant(s: str) -> NoReturn:
    raise _Reject(f"NaN/Infinity is not JSON (found {s})")


def _strict_float(s: str) -> float:
    v = float(s)
    if v in (math.inf, -math.inf):  # NaN cannot come from a literal; Infinity goes to _reject_constant
        raise _Reject(f"number too large: {_number_text(s)}")
    return v


def _strict_int(s: str) -> int:
    try:
        v = int(s)
        float(v)
    except (ValueError, OverflowError):  # past the int-string limit (4300 digits), or past float range
        raise _Reject(f"number too large: {_number_text(s, 'digits')}") from None
    return v


# The plain decoder: json's C scanner at full speed (float/int hooks cost ~55% more on a typical 1.1 KB line;
# this path ~7%). parse_constant is free, being called only when a NaN/Infinity literal is there.
_FAST = json.JSONDecoder(parse_constant=_reject_constant)
# The checking decoder, for the rare line whose text could hold a number that overflows a float.
_STRICT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_strict_float, parse_int=_strict_int)
# A float literal can only overflow with an exponent (a JSON exponent is always [eE] then sign or digit)
# or with at least 309 integer digits (float max is about 1.8e308); an int only with 309+ digits.
_EXPONENT = re.compile(r"e[-+0-9]")  # a literal first character: re's fast prefix search
_EXPONENT_UPPER = re.compile(r"E[-+0-9]")
_LONG_RUN = 309
_STRIDE = 77  # any 309 consecutive bytes hold 4 consecutive multiples of 77 (309 >= 4 * 77)
_DIGIT_MARK = bytes(48 if 48 <= c <= 57 else 120 for c in range(256))  # digits -> "0", else "x"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # D800-DFFF


def _may_overflow(text: str, raw: bytes) -> bool:
    if _EXPONENT.search(text) or ("E" in text and _EXPONENT_UPPER.search(text)):
        return True
    if len(raw) < _LONG_RUN:
        return False
    # A 309-digit run holds 4 consecutive samples taken every 77 bytes: test the samples, not every byte, then
    # confirm a hit (about 1 line in 15 of typical data) by the whole 232-byte span between its samples.
    marks = raw[::_STRIDE].translate(_DIGIT_MARK)
    k = marks.find(b"0000")
    while k >= 0:
        if raw[k * _STRIDE : (k + 3) * _STRIDE + 1].isdigit():
            return True
        k = marks.find(b"0000", k + 1)
    return False


def _lone_surrogate(obj: object) -> str | None:
    """The first string (key or value) holding a lone surrogate (JSON "\\ud800" unpaired), or None."""
    stack: list[object] = [obj]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                return v[e.start]
    return None


def _json_problem(text: str, e: json.JSONDecodeError) -> str:
    """ "<msg> at column <c>" for the line without its line ending, which would otherwise shift an error at the
    end of the line onto "line 2, column 1" of the text json saw."""
    line = text.rstrip("\r\n")
    if line != text:
        try:
            _FAST.decode(line)
        except json.JSONDecodeError as again:
            e = again
        except (ValueError, RecursionError, _Reject):  # not expected: the first error stands
            pass
    return f"{e.msg} at column {e.colno}"


def parse_json_line(raw: bytes, where: str, error: type[Exception] = RecordError) -> Any:
    """One JSONL line (bytes, with or without its newline) to a Python object. Every failure is ``error``
    (a ValueError) whose message starts with ``where`` and says why: bad UTF-8, not JSON, nesting too deep,
    NaN/Infinity, a number too large for a float, a lone surrogate."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{where}: not valid UTF-8 at byte {e.start + 1} of the line (0x{raw[e.start]:02x})") from None
    if text.startswith("\ufeff"):
        raise error(f"{where}: starts with a UTF-8 byte-order mark; only line 1 may (were files concatenated?)")
    try:
        try:
            obj = _FAST.decode(text)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an int past Python's int-string limit: the strict hooks name it
            obj = _STRICT.decode(text)
        else:
            if _may_overflow(text, raw):
                obj = _STRICT.decode(text)
    except json.JSONDecodeError as e:
        raise error(f"{where}: not valid JSON ({_json_problem(text, e)})") from None
    except _Reject as e:
        raise error(f"{where}: {e}") from None
    except RecursionError:
        raise error(f"{where}: nesting deeper than Python's JSON reader allows") from None
    except ValueError as e:  # not expected past the hooks; still named by file and line
        raise error(f"{where}: number too large ({e})") from None
    if "\\" in text and _SURROGATE_ESCAPE.search(text):  # one-character test first: it is the cheap one
        bad = _lone_surrogate(obj)
        if bad is not None:
            raise error(f"{where}: a string holds a lone surrogate \\u{ord(bad):04x}, which is not valid Unicode")
    return obj


def iter_jsonl(path: str | os.PathLike[str], error: type[Exception] = RecordError) -> Iterator[tuple[int, str, Any]]:
    """(line number, "path:line", parsed object) for each non-blank line. Any problem with a line, from bad
    UTF-8 to an overflowing number, is ``error`` naming ``path:line``; a UTF-8 BOM on line 1 is skipped."""
    try:
        f = open(path, "rb", buffering=1 << 20)  # 1 MiB: halves line iteration (0.7 -> 0.35 us)
    except OSError as e:
        raise error(f"{path}: cannot open: {e.strerror or e}") from None
    with f:
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if not raw or raw.isspace():
                continue
            where = f"{path}:{n}"
            yield n, where, parse_json_line(raw, where, error)


RECORD_KEYS = ("image", "objects", "prompt")


def check_record(where: str, rec: object, error: type[Exception] = RecordError) -> tuple[str, list[dict[str, Any]]]:
    """Validate one record (``image``, ``objects``, optional ``prompt``); returns (image path as written,
    checked objects). Object errors name ``where.objects[i]`` and the field."""
    if not isinstance(rec, dict):
        raise error(f"{where}: expected a JSON object, got {type(rec).__name__}")
    unknown = set(rec) - set(RECORD_KEYS)
    if unknown:
        raise error(f"{where}: unknown keys {sorted(unknown)}; a record is {{\"image\", \"objects\", \"prompt\"}}")
    image = rec.get("image")
    if not isinstance(image, str) or not image:
        raise error(f"{where}.image: expected an image path, got {brief_repr(image)}")
    objects = rec.get("objects", [])
    if not isinstance(objects, list):
        raise error(f"{where}.objects: expected a list, got {type(objects).__name__}")
    return image, [check_object(f"{where}.objects[{i}]", o, error) for i, o in enumerate(objects)]
