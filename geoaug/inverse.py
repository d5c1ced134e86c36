"""Map geometry from an augmented image back onto its original, from a result or a stored record."""
from __future__ import annotations

import numpy as np

from .clip import clip_boxes, clip_lines, clip_quads
from .geometry import map_boxes, map_lines, map_quads
from .instances import as_boxes, as_lines, as_quads
from .report import Report


def inverse(record: dict, boxes=None, quads=None, lines=None, *, quad_order: str = "clockwise",
            quad_clip: str = "clamp"):
    """Geometry in the output frame of ``record`` -> the input frame, clipped to the input image exactly as
    the forward pass clips. Returns a Result whose ``image`` is None."""
    from .pipeline import Result
    a = np.asarray(record["matrix"], dtype=np.float64)
    inv = np.linalg.inv(a)
    w, h = record["input_size"]
    report = Report()
    b = clip_boxes(map_boxes(as_boxes(boxes), inv), w, h, report)
    q = clip_quads(map_quads(as_quads(quads), inv, quad_order), w, h, report, policy=quad_clip)
    ln = clip_lines(map_lines(as_lines(lines), inv), w, h, report)
    return Result(None, b, q, ln, inv, (w, h), tuple(record["output_size"]), report,
                  {**record, "matrix": inv.tolist(), "input_size": record["output_size"], "output_size": [w, h],
                   "steps": []})
