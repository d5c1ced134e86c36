"""``geoaug.inverse``: geometry from an augmented image back onto its original, from a result or a stored
record (the function lives in ``geoaug.result`` beside ``Result``; the record check in ``geoaug.record``).
Kept as a module of its own name for the imports that name it."""

from .record import (
    DRAW_SPECS,
    MAX_RECORD_SIDE,
    RECORD_VERSION,
    CheckedRecord,
    check_record,
    draw_spec,
    record_op,
    steps_json,
    top_keys,
)
from .result import Result, inverse

__all__ = [
    "DRAW_SPECS",
    "MAX_RECORD_SIDE",
    "RECORD_VERSION",
    "CheckedRecord",
    "Result",
    "check_record",
    "draw_spec",
    "inverse",
    "record_op",
    "steps_json",
    "top_keys",
]
