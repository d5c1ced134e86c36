"""Error types. Each is a ValueError or TypeError so callers can catch the builtin they expect."""


class GeoaugError(ValueError):
    """Base class for geoaug's value errors."""


class ConfigError(GeoaugError):
    """A pipeline configuration is invalid: unknown op, unknown or out-of-range param, bad YAML."""


class GeometryError(GeoaugError):
    """Boxes, quads or lines are malformed: wrong shape, NaN/inf, x2 < x1, ..."""


class ReplayError(ConfigError):
    """A replay or inverse record is malformed: missing or unknown key, bad value, unknown op or version,
    a matrix that does not follow from the steps. The message names the step, the op and the field."""


class ImageError(GeoaugError):
    """The image is empty, has too many dimensions or an unsupported channel count."""


class ImageTypeError(TypeError):
    """The image is of a type or dtype geoaug does not process."""
