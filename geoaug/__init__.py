"""geoaug: geometry-aware image augmentation. Images, boxes, quads and polylines move together, through
one fused warp per run of geometric ops.

    aug = geoaug.from_config("aug.yaml")
    res = aug(image, boxes=boxes, quads=quads, lines=lines, seed=geoaug.sample_seed(0, epoch, index))
"""

from . import (  # noqa: E402  (need the names above)
    functional,
    ops,  # noqa: F401  (fills the registry)
    qwen,
    tta,
)
from .config import from_config, load_yaml
from .draw import draw
from .errors import ConfigError, GeoaugError, GeometryError, ImageError, ImageTypeError, ReplayError
from .instances import Boxes, Lines, Quads
from .inverse import inverse
from .kinds.masks import Masks
from .kinds.points import Points
from .kinds.polygons import Polygons
from .pipeline import Pipeline, Result
from .registry import REGISTRY, available_ops, make_op
from .report import Report
from .seeding import sample_seed

__version__ = "0.1.0"

__all__ = [
    "Boxes",
    "Quads",
    "Lines",
    "Masks",
    "Points",
    "Polygons",
    "Pipeline",
    "Result",
    "Report",
    "from_config",
    "load_yaml",
    "make_op",
    "available_ops",
    "REGISTRY",
    "sample_seed",
    "inverse",
    "ConfigError",
    "GeoaugError",
    "GeometryError",
    "ImageError",
    "ImageTypeError",
    "ReplayError",
    "draw",
    "qwen",
    "tta",
    "functional",
]
