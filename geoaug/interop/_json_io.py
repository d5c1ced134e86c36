"""Load a JSON source given as a path or an already parsed object, and name it in errors."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from .sample import FormatError


def load_json(src: Any, default_name: str) -> tuple[Any, str]:
    if isinstance(src, (str, os.PathLike)):
        where = os.fspath(src)
        try:
            with open(src, encoding="utf-8") as f:
                return json.load(f), where
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise FormatError(f"{where}: not valid JSON ({e})") from None
    return src, default_name


def dump_json(obj: Any, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def numbers(where: str, v: Any, n: int | None = None, what: str = "numbers") -> list[float]:
    """A list of finite numbers (of length ``n`` when given), else an error naming ``where``."""
    if not isinstance(v, (list, tuple)) or not all(is_number(c) for c in v):
        raise FormatError(f"{where}: expected a list of finite {what}, got {v!r}")
    if n is not None and len(v) != n:
        raise FormatError(f"{where}: expected {n} {what}, got {len(v)}")
    return [float(c) for c in v]
