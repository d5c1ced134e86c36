"""What a call returns (``Result``), and ``inverse``: geometry from a result's output frame back onto its
input, clipped as the forward pass clips. Kept apart from the pipeline so that neither imports the other in
a circle: the pipeline makes Results, and a Result inverts itself through this module alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError
from .kinds import check_geometry_keys, intake_all, kinds, move_all, option_specs
from .kinds.base import ByKind
from .record import RECORD_VERSION, check_record, steps_json
from .report import Report


@dataclass
class Result(ByKind):
    """The augmented image and every kind's table (``res.boxes``, ``res.quads``, ``res.lines``, and each
    registered kind by its name: ``res.points``, ``res.polygons``, ``res.masks``), the net ``matrix`` from
    the input frame to the output, the output ``size`` and ``input_size`` as (width, height), the
    ``report`` and the ``replay`` record."""

    image: object
    tables: dict  # kind name -> table, every registered kind
    matrix: np.ndarray
    size: tuple  # (width, height) of the output canvas
    input_size: tuple  # (width, height) of the input image
    report: Report = field(default_factory=Report)
    replay: dict = field(default_factory=dict)
    _pipeline: object = None

    def inverse(self, boxes: Any = None, quads: Any = None, lines: Any = None, **geometry: Any) -> Result:
        """Map geometry from this result's output frame back onto the input image, clipped with the pipeline's
        kind options (``quad_clip``, ...) and ordered by its ``quad_order`` (as the forward pass). What comes
        back, per kind: README, "Undo, replay, predictions".

        Raises:
            GeometryError: the geometry is malformed, or a keyword names no kind.
        """
        opts = getattr(self._pipeline, "options", None) or {}
        return inverse(self.replay, boxes, quads, lines, **opts, **geometry)


def inverse(
    record: dict,
    boxes: Any = None,
    quads: Any = None,
    lines: Any = None,
    **geometry_and_options: Any,
) -> Result:
    """Geometry in the output frame of ``record`` -> its input frame, clipped to the input image exactly as
    the forward pass clips (the kind options, e.g. ``quad_clip`` and ``quad_order``: the forward pass's,
    from the record, unless given as keywords). Every kind is taken by its name (``points=...``,
    ``polygons=...``, ``masks=...``). Returns a Result whose ``image`` is None and whose ``replay`` is the
    record inverted (inverting that maps forward again). What comes back, per kind, is stated in the README
    ("Undo, replay, predictions").

    Raises:
        ReplayError: ``record`` is malformed (not a mapping, an unknown or missing key, a bad value, an unknown
            op or version, a size or matrix that does not follow from its steps, a singular matrix); the
            message names the step, the op and the field where they apply.
        ConfigError: a kind option (``quad_order``, ``quad_clip``, ...) is not one of its allowed values.
        GeometryError: the geometry is malformed (wrong shape, not numbers, NaN/inf), or a keyword names
            neither a kind nor a kind option.
    """
    rec = check_record(record, "inverse")
    specs = option_specs()
    opts = dict(rec.options)
    given = {"boxes": boxes, "quads": quads, "lines": lines}
    for name, v in geometry_and_options.items():
        if name in specs:
            if v is None:
                continue
            allowed = specs[name][0]
            if not isinstance(v, str) or v not in allowed:
                raise ConfigError(f"inverse: {name} must be one of {list(allowed)}, got {v!r}")
            opts[name] = v
        else:
            given[name] = v
    check_geometry_keys(given, "inverse")
    assert rec.matrix is not None  # check_record(use="inverse") requires it
    inv = np.linalg.inv(rec.matrix)
    w, h = rec.input_size
    report = Report()
    tables = intake_all(given, rec.output_size)
    moved = move_all(tables, inv, (w, h), report, opts)
    out = {
        "version": RECORD_VERSION,
        "input_size": list(rec.output_size),
        "output_size": [w, h],
        "matrix": inv.tolist(),
        "steps": steps_json(rec.steps),
        **opts,
        "inverted": not rec.inverted,
    }
    for k in kinds():
        moved[k.name] = k.finish(moved[k.name], inv, opts)
    return Result(None, moved, inv, (w, h), rec.output_size, report, out)
