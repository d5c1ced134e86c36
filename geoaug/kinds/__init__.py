"""Kinds of geometry, as peers: each one module implementing the protocol in ``geoaug.kinds.base``.

Each kind's ``order`` places it among the others: in a result, a report, a drawing (within its ``layer``).
"""

from . import boxes, lines, masks, points, polygons, quads  # noqa: F401  (each registers its kind)
from .base import (
    Kind,
    Options,
    check_geometry_keys,
    default_options,
    detach,
    get_kind,
    intake_all,
    kind_names,
    kind_of,
    kinds,
    move_all,
    option_specs,
    register,
)

__all__ = [
    "Kind",
    "Options",
    "check_geometry_keys",
    "default_options",
    "detach",
    "get_kind",
    "intake_all",
    "kind_names",
    "kind_of",
    "kinds",
    "move_all",
    "option_specs",
    "register",
]
