"""Geometric ops: each returns one matrix on the pixel-edge frame and an output canvas."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import matrix as M
from ..errors import ConfigError
from ..params import MAX_SIDE, Bool, Fill, Float, Int, Prob, Range
from ..registry import register
from .base import Draw, GeometricOp

if TYPE_CHECKING:
    from ..pipeline import PlanContext


@register
class HFlip(GeometricOp):
    """Mirror left-right: x' = W - x (pixel column i -> W-1-i). The canvas keeps its size.

    Keyword Args:
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
    """

    name = "hflip"
    spec = {"prob": Prob(1.0)}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        return np.array([[-1.0, 0, w], [0, 1, 0], [0, 0, 1]]), size


@register
class VFlip(GeometricOp):
    """Mirror top-bottom: y' = H - y. The canvas keeps its size.

    Keyword Args:
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
    """

    name = "vflip"
    spec = {"prob": Prob(1.0)}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        return np.array([[1.0, 0, 0], [0, -1, h], [0, 0, 1]]), size


@register
class Rot90(GeometricOp):
    """Rotate by k x 90 degrees counter-clockwise (as numpy.rot90); k null draws k from 0..3.
    Odd k swaps the canvas's width and height.

    Keyword Args:
        k: Number of quarter turns, an integer in [0, 3]. Default None: drawn uniformly from 0..3 each call.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
    """

    name = "rot90"
    spec = {"k": Int(0, 3, default=None, optional=True), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        k = self.cfg["k"]
        return {"k": int(rng.integers(0, 4)) if k is None else k}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        a = np.eye(3)
        for _ in range(draw["k"] % 4):
            a = np.array([[0.0, 1, 0], [-1, 0, w], [0, 0, 1]]) @ a
            w, h = h, w
        return a, (w, h)


@register
class Rotate(GeometricOp):
    """Rotate about the centre by an angle drawn from [-max_deg, max_deg] (positive: counter-clockwise).
    ``expand`` grows the canvas to hold the whole rotated image.

    Keyword Args:
        max_deg: Largest rotation in degrees, in [0, 180]. Default 10.0.
        expand: Grow the canvas to hold the whole rotated image (else it keeps its size). Default False.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "rotate"
    spec = {"max_deg": Float(0, 180, 10.0), "expand": Bool(False), "fill": Fill(None), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        m = self.cfg["max_deg"]
        return {"angle": float(rng.uniform(-m, m))}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        a = M.rotate_about(draw["angle"], w / 2.0, h / 2.0)
        if not self.cfg["expand"]:
            return a, size
        pts = M.apply_points(a, M.canvas_corners(w, h))
        span = pts.max(axis=0) - pts.min(axis=0)
        nw, nh = (max(1, int(math.ceil(v - 1e-6))) for v in span)
        return M.translate((nw - w) / 2.0, (nh - h) / 2.0) @ a, (nw, nh)


@register
class Affine(GeometricOp):
    """Random affine map about the canvas centre, applied to points in this order: shear (``shear_x``,
    ``shear_y`` each drawn from [-shear, shear] degrees; positive ``shear_x`` moves points below the centre
    to the right: x' = x + tan(shear_x) * y), then uniform scale (drawn from ``scale``), then rotation
    (drawn from [-rotate, rotate] degrees, positive counter-clockwise on screen), then translation by
    (tx * W, ty * H), tx and ty drawn from ``translate`` (fractions of the canvas size).

    Matrix: ``T(c + t) @ R(angle) @ S(scale) @ Sh @ T(-c)`` with c = (W/2, H/2); the canvas keeps its size.

    Keyword Args:
        scale: [low, high] range of the uniform scale factor, within [0.01, 100]; a single number s means
            [s, s]. Default [1.0, 1.0].
        translate: [low, high] range of tx and ty as fractions of the canvas size, within [-1, 1]; a single
            number t means [-|t|, |t|]. Default [0.0, 0.0].
        shear: Largest shear angle in degrees, in [0, 89]. Default 0.0.
        rotate: Largest rotation in degrees, in [0, 180]. Default 0.0.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "affine"
    spec = {
        "scale": Range(0.01, 100, [1.0, 1.0], from_scalar=lambda s: [s, s]),
        "translate": Range(-1, 1, [0.0, 0.0], from_scalar=lambda t: [-abs(t), abs(t)]),
        "shear": Float(0, 89, 0.0),
        "rotate": Float(0, 180, 0.0),
        "fill": Fill(None),
        "prob": Prob(1.0),
    }

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        c = self.cfg
        return {
            "scale": float(rng.uniform(*c["scale"])),
            "angle": float(rng.uniform(-c["rotate"], c["rotate"])),
            "shear_x": float(rng.uniform(-c["shear"], c["shear"])),
            "shear_y": float(rng.uniform(-c["shear"], c["shear"])),
            "tx": float(rng.uniform(*c["translate"])),
            "ty": float(rng.uniform(*c["translate"])),
        }

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        cx, cy = w / 2.0, h / 2.0
        sh = np.array(
            [
                [1.0, math.tan(math.radians(draw["shear_x"])), 0],
                [math.tan(math.radians(draw["shear_y"])), 1.0, 0],
                [0, 0, 1],
            ]
        )
        core = M.rotate_about(draw["angle"], 0, 0) @ M.scale(draw["scale"], draw["scale"]) @ sh
        a = M.translate(cx + draw["tx"] * w, cy + draw["ty"] * h) @ core @ M.translate(-cx, -cy)
        return a, size


@register
class Perspective(GeometricOp):
    """Move each canvas corner inwards by a fraction of the size drawn from ``scale``: a projective tilt
    that keeps the whole image on the canvas. The canvas keeps its size.

    Keyword Args:
        scale: [low, high] range of each corner's inward offset (x and y drawn apart), as a fraction of the
            canvas width or height, within [0, 0.45]. Default [0.02, 0.06].
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "perspective"
    spec = {"scale": Range(0, 0.45, [0.02, 0.06]), "fill": Fill(None), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        lo, hi = self.cfg["scale"]
        return {"offsets": rng.uniform(lo, hi, size=(4, 2)).round(6).tolist()}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        src = M.canvas_corners(w, h)
        inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
        dst = src + inward * np.asarray(draw["offsets"]) * [w, h]
        return M.homography(src, dst), size


def _scale_to(size: tuple[int, int], nw: float, nh: float) -> tuple[np.ndarray, tuple[int, int]]:
    w, h = size
    return M.scale(nw / w, nh / h), (int(nw), int(nh))


@register
class Resize(GeometricOp):
    """Resize to ``width`` x ``height``, or so the longest/shortest side equals the given length.
    Give exactly one of: ``width`` with ``height``, ``longest``, ``shortest``.

    Keyword Args:
        width: Output width in pixels, in [1, 65536]; given together with ``height``. Default None.
        height: Output height in pixels, in [1, 65536]; given together with ``width``. Default None.
        longest: Length of the longest output side in pixels, in [1, 65536], aspect ratio kept (sides
            rounded, at least 1). Default None.
        shortest: Length of the shortest output side in pixels, in [1, 65536], aspect ratio kept (sides
            rounded, at least 1). Default None.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a value out of
            range or of the wrong type; also (naming the op) unless exactly one of width-and-height, ``longest`` or
            ``shortest`` is given.
    """

    name = "resize"
    spec = {
        "width": Int(1, MAX_SIDE, None, optional=True),
        "height": Int(1, MAX_SIDE, None, optional=True),
        "longest": Int(1, MAX_SIDE, None, optional=True),
        "shortest": Int(1, MAX_SIDE, None, optional=True),
        "prob": Prob(1.0),
    }

    def __init__(self, _where: str = "", **params: Any) -> None:
        super().__init__(_where, **params)
        c = self.cfg
        modes = [
            ("width" if c["width"] or c["height"] else None),
            c["longest"] and "longest",
            c["shortest"] and "shortest",
        ]
        modes = [m for m in modes if m]
        if len(modes) != 1 or (modes == ["width"] and not (c["width"] and c["height"])):
            raise ConfigError(f"{_where}op 'resize': give width and height together, or longest, or shortest")

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        w, h = size
        c = self.cfg
        if c["width"]:
            return _scale_to(size, c["width"], c["height"])
        s = (c["longest"] / max(w, h)) if c["longest"] else (c["shortest"] / min(w, h))
        return _scale_to(size, max(1, round(w * s)), max(1, round(h * s)))


def qwen_smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's size rule (as qwen-vl-utils and the HF image processor): both sides multiples of
    ``factor``, area within [min_pixels, max_pixels], aspect ratio kept as closely as possible."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"smart_resize: aspect ratio must be below 200, got {max(height, width) / min(height, width):.1f}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@register
class SmartResize(GeometricOp):
    """Qwen-VL smart resize: sides multiples of ``factor`` (32 for Qwen3-VL), pixels in [min, max].
    The aspect ratio is kept as closely as the rule allows (see ``qwen_smart_resize``).

    Keyword Args:
        factor: Both output sides are multiples of this, in [1, 4096]. Default 32.
        min_pixels: Smallest output area in pixels, in [1, 65536**2]. Default 4096.
        max_pixels: Largest output area in pixels, in [1, 65536**2]. Default 16777216.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a value out of
            range or of the wrong type; also when ``min_pixels`` exceeds ``max_pixels``, or ``max_pixels`` is below one
            ``factor`` x ``factor`` block.
        ValueError: at call, when the input's aspect ratio (long side / short side) is above 200.
    """

    name = "smart_resize"
    spec = {
        "factor": Int(1, 4096, 32),
        "min_pixels": Int(1, MAX_SIDE * MAX_SIDE, 4096),
        "max_pixels": Int(1, MAX_SIDE * MAX_SIDE, 16777216),
        "prob": Prob(1.0),
    }

    def __init__(self, _where: str = "", **params: Any) -> None:
        super().__init__(_where, **params)
        c = self.cfg
        if c["min_pixels"] > c["max_pixels"]:
            raise ConfigError(
                f"{_where}op 'smart_resize': param 'min_pixels' ({c['min_pixels']}) exceeds "
                f"'max_pixels' ({c['max_pixels']})"
            )
        if c["factor"] ** 2 > c["max_pixels"]:
            raise ConfigError(
                f"{_where}op 'smart_resize': param 'max_pixels' ({c['max_pixels']}) is below one "
                f"factor x factor block ({c['factor']}x{c['factor']}): no output could keep to it"
            )

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        c = self.cfg
        nh, nw = qwen_smart_resize(size[1], size[0], c["factor"], c["min_pixels"], c["max_pixels"])
        return _scale_to(size, nw, nh)


def _crop(x: float, y: float, w: float, h: float) -> tuple[np.ndarray, tuple[int, int]]:
    return M.translate(-x, -y), (int(w), int(h))


@register
class Crop(GeometricOp):
    """Cut the window at integer ``x, y`` of ``width x height``; parts beyond the canvas get the fill.

    Keyword Args:
        x: Left edge of the window in pixels, in [0, 65536]. Required.
        y: Top edge of the window in pixels, in [0, 65536]. Required.
        width: Window width in pixels, in [1, 65536]. Required.
        height: Window height in pixels, in [1, 65536]. Required.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "crop"
    spec = {
        "x": Int(0, MAX_SIDE),
        "y": Int(0, MAX_SIDE),
        "width": Int(1, MAX_SIDE),
        "height": Int(1, MAX_SIDE),
        "fill": Fill(None),
        "prob": Prob(1.0),
    }

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        c = self.cfg
        return _crop(c["x"], c["y"], c["width"], c["height"])


@register
class CenterCrop(GeometricOp):
    """Centre window of ``width x height`` (padded with the fill where larger than the canvas).

    Keyword Args:
        width: Window width in pixels, in [1, 65536]. Required.
        height: Window height in pixels, in [1, 65536]. Required.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "center_crop"
    spec = {"width": Int(1, MAX_SIDE), "height": Int(1, MAX_SIDE), "fill": Fill(None), "prob": Prob(1.0)}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        c = self.cfg
        w, h = size
        return _crop((w - c["width"]) // 2, (h - c["height"]) // 2, c["width"], c["height"])


@register
class RandomCrop(GeometricOp):
    """Random window, object-aware: a candidate is kept only if some object keeps at least
    ``min_visibility`` of its area, so a crop never cuts away every object unless ``keep_objects`` is
    false. Size: ``width``/``height`` in pixels, or ``scale`` (area fraction) with ``ratio`` (w/h).
    When no candidate in ``max_tries`` keeps an object, the window of the last drawn size is centred
    on a randomly chosen object instead. The window always lies within the canvas.

    Keyword Args:
        width: Window width in pixels, in [1, 65536] (capped at the canvas width); given together with
            ``height``, instead of ``scale``. Default None.
        height: Window height in pixels, in [1, 65536] (capped at the canvas height); given together
            with ``width``. Default None.
        scale: [low, high] range of the window's area as a fraction of the canvas area, within [0.01, 1];
            instead of ``width``/``height``. Default None.
        ratio: [low, high] range of the window's aspect ratio (w/h), within [0.05, 20], drawn
            log-uniformly; only with ``scale``. Default [0.75, 4/3].
        min_visibility: Fraction of some object's area a window must keep, in [0, 1]; only with
            ``keep_objects`` true. Default 0.5.
        keep_objects: Draw windows that keep an object (else any window). Default True.
        max_tries: Candidate windows drawn before falling back to one centred on an object, in
            [1, 1000]. Default 20.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a value out of
            range or of the wrong type; also unless exactly one of width-and-height or ``scale`` is given, for ``ratio``
            given without ``scale``, and for ``min_visibility`` given with ``keep_objects`` false.
    """

    name = "random_crop"
    spec = {
        "width": Int(1, MAX_SIDE, None, optional=True),
        "height": Int(1, MAX_SIDE, None, optional=True),
        "scale": Range(0.01, 1.0, default=None, optional=True),
        "ratio": Range(0.05, 20, [0.75, 4 / 3]),
        "min_visibility": Float(0, 1, 0.5),
        "keep_objects": Bool(True),
        "max_tries": Int(1, 1000, 20),
        "prob": Prob(1.0),
    }

    def __init__(self, _where: str = "", **params: Any) -> None:
        super().__init__(_where, **params)
        c = self.cfg
        if (c["width"] is None) != (c["height"] is None) or (c["width"] is None) == (c["scale"] is None):
            raise ConfigError(f"{_where}op 'random_crop': give width and height, or scale (with optional ratio)")
        if c["scale"] is None and "ratio" in params:
            raise ConfigError(
                f"{_where}op 'random_crop': param 'ratio' applies only with 'scale' (a crop of "
                f"width x height has its own ratio)"
            )
        if not c["keep_objects"] and "min_visibility" in params:
            raise ConfigError(f"{_where}op 'random_crop': param 'min_visibility' applies only with keep_objects true")

    def _size(self, rng: np.random.Generator, w: int, h: int) -> tuple[int, int]:
        c = self.cfg
        if c["width"] is not None:
            return min(c["width"], w), min(c["height"], h)
        area = rng.uniform(*c["scale"]) * w * h
        r = math.exp(rng.uniform(math.log(c["ratio"][0]), math.log(c["ratio"][1])))
        cw = int(round(math.sqrt(area * r)))
        ch = int(round(math.sqrt(area / r)))
        return min(max(cw, 1), w), min(max(ch, 1), h)

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        w, h = ctx.size
        boxes = ctx.object_boxes() if self.cfg["keep_objects"] else np.zeros((0, 4))
        for tries in range(1, self.cfg["max_tries"] + 1):
            cw, ch = self._size(rng, w, h)
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            if len(boxes) == 0 or _best_visibility(boxes, x, y, cw, ch) >= max(self.cfg["min_visibility"], 1e-9):
                return {"x": x, "y": y, "width": cw, "height": ch, "tries": tries}
        # No candidate kept an object: take the drawn size around one object instead of losing them all.
        b = boxes[int(rng.integers(0, len(boxes)))]
        x = int(np.clip(math.floor((b[0] + b[2]) / 2 - cw / 2), 0, w - cw))
        y = int(np.clip(math.floor((b[1] + b[3]) / 2 - ch / 2), 0, h - ch))
        return {"x": x, "y": y, "width": cw, "height": ch, "tries": self.cfg["max_tries"], "fallback": True}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        return _crop(draw["x"], draw["y"], draw["width"], draw["height"])


def _best_visibility(b: np.ndarray, x: int, y: int, cw: int, ch: int) -> float:
    ix = np.clip(b[:, 2], x, x + cw) - np.clip(b[:, 0], x, x + cw)
    iy = np.clip(b[:, 3], y, y + ch) - np.clip(b[:, 1], y, y + ch)
    area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-12)
    return float((ix * iy / area).max())


@register
class Pad(GeometricOp):
    """Add ``top, bottom, left, right`` pixels of ``fill``.

    Keyword Args:
        top: Rows added above, in [0, 65536]. Default 0.
        bottom: Rows added below, in [0, 65536]. Default 0.
        left: Columns added on the left, in [0, 65536]. Default 0.
        right: Columns added on the right, in [0, 65536]. Default 0.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "pad"
    spec = {
        "top": Int(0, MAX_SIDE, 0),
        "bottom": Int(0, MAX_SIDE, 0),
        "left": Int(0, MAX_SIDE, 0),
        "right": Int(0, MAX_SIDE, 0),
        "fill": Fill(None),
        "prob": Prob(1.0),
    }

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        c = self.cfg
        w, h = size
        return M.translate(c["left"], c["top"]), (w + c["left"] + c["right"], h + c["top"] + c["bottom"])


@register
class PadToMultiple(GeometricOp):
    """Pad bottom and right so both sides become multiples of ``multiple``.

    Keyword Args:
        multiple: Both output sides become the next multiple of this, in [1, 65536]. Default 32.
        fill: Border fill where the output shows no input pixel: a number or one per channel (1, 3 or 4
            values). Default None: the pipeline's fill.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any pixel is touched): ``fill`` is outside the
            range of the image's dtype (outside [0, 1] for a float32 image that pixel ops read), or lists
            a value count other than the image's channel count.
    """

    name = "pad_to_multiple"
    spec = {"multiple": Int(1, MAX_SIDE, 32), "fill": Fill(None), "prob": Prob(1.0)}

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        m = self.cfg["multiple"]
        w, h = size
        return np.eye(3), (-(-w // m) * m, -(-h // m) * m)
