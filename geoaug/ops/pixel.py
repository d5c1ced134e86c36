"""Pixel ops: touch pixel values only, never geometry. Channel order is RGB(A); alpha is left alone.
Float images are taken to span [0, 1], integer images their dtype's range, and results are kept in it. A
pipeline that can run a pixel op refuses a float image outside [0, 1] before any op runs (geoaug.image.
check_unit_range): nothing here ever sees 0-255 floats to clip."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..image import dtype_max
from ..params import Prob, Range
from ..registry import register
from .base import Draw, PixelOp, Stage, ToneStage

if TYPE_CHECKING:
    from ..pipeline import PlanContext

_GREY = np.array([0.299, 0.587, 0.114])


def _around_one(v: float) -> list[float]:
    return [max(0.0, 1.0 - v), 1.0 + v]


def _color_channels(img: np.ndarray) -> np.ndarray:
    return img[..., :3] if img.shape[2] == 4 else img


def with_alpha(img: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as the colour of ``img``, keeping its alpha channel when it has one."""
    if img.shape[2] != 4:
        return rgb
    out: np.ndarray = img.copy()
    out[..., :3] = rgb
    return out


def grey(img: np.ndarray) -> np.ndarray:
    """Luma (ITU-R 601) of the colour channels, float32, HxW."""
    if img.shape[2] == 1:
        return img[..., 0].astype(np.float32)
    return (
        cv2.cvtColor(np.ascontiguousarray(_color_channels(img)), cv2.COLOR_RGB2GRAY).astype(np.float32)
        if img.dtype == np.uint8
        else (_color_channels(img).astype(np.float32) @ _GREY.astype(np.float32))
    )


def _blend(a: np.ndarray, b: np.ndarray, t: float, top: float, dtype: np.dtype[Any]) -> np.ndarray:
    out = a.astype(np.float32) * t + b.astype(np.float32) * (1.0 - t)
    np.clip(out, 0, top, out=out)
    return _cast(out, dtype)


def _cast(x: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return np.rint(x).astype(dtype) if np.issubdtype(dtype, np.integer) else x.astype(dtype)


@register
class ColorJitter(PixelOp):
    """Brightness, contrast, saturation and hue, each a factor range (a single number v means
    [1 - v, 1 + v]; hue is a shift in turns within [-0.5, 0.5]). Applied in that order, as torchvision.
    A factor left at None is not applied.

    Keyword Args:
        brightness: [low, high] range of the brightness factor, within [0, 10]; a single number v
            means [max(0, 1 - v), 1 + v]. Default None.
        contrast: [low, high] range of the contrast factor (about the image's mean grey level), within
            [0, 10]; a single number v means [max(0, 1 - v), 1 + v]. Default None.
        saturation: [low, high] range of the saturation factor, within [0, 10]; a single number v
            means [max(0, 1 - v), 1 + v]. Default None.
        hue: [low, high] range of the hue shift in turns, within [-0.5, 0.5]; a single number v means
            [-|v|, |v|]. Default None.
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "color_jitter"
    spec = {
        "brightness": Range(0, 10, None, from_scalar=_around_one, optional=True),
        "contrast": Range(0, 10, None, from_scalar=_around_one, optional=True),
        "saturation": Range(0, 10, None, from_scalar=_around_one, optional=True),
        "hue": Range(-0.5, 0.5, None, from_scalar=lambda v: [-abs(v), abs(v)], optional=True),
        "prob": Prob(1.0),
    }

    pointwise = True  # saturation/hue mix channels of one pixel only: still pointwise in space

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        return {
            k: float(rng.uniform(*self.cfg[k]))
            for k in ("brightness", "contrast", "saturation", "hue")
            if self.cfg[k] is not None
        }

    def stages(self, d: Draw) -> list[Stage]:
        out: list[Stage] = []
        if "brightness" in d:
            b = d["brightness"]
            out.append(ToneStage(lambda x, m, top, b=b: x * b))
        if "contrast" in d:
            c = d["contrast"]
            out.append(ToneStage(lambda x, m, top, c=c: x * c + (1.0 - c) * m, needs_mean=True))
        if "saturation" in d:
            out.append(partial(_saturation, s=d["saturation"]))
        if "hue" in d:
            out.append(partial(_hue, shift=d["hue"]))
        return out


def _saturation(img: np.ndarray, s: float) -> np.ndarray:
    if img.shape[2] == 1:
        return img
    rgb = np.ascontiguousarray(_color_channels(img))
    if img.dtype == np.uint8:  # all-uint8 and saturating: ~8x faster than blending in float on 1 MP
        g3 = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return with_alpha(img, cv2.addWeighted(rgb, s, g3, 1.0 - s, 0.0))
    g = grey(img)[..., None]
    return with_alpha(img, _blend(rgb, np.broadcast_to(g, rgb.shape), s, dtype_max(img.dtype), img.dtype))


def _hue(img: np.ndarray, shift: float) -> np.ndarray:
    if img.shape[2] == 1 or shift == 0:
        return img
    rgb = np.ascontiguousarray(_color_channels(img))
    if img.dtype == np.uint8:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(shift * 180))) % 180).astype(np.uint8)
        return with_alpha(img, cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    top = dtype_max(img.dtype)
    hsv = cv2.cvtColor((rgb.astype(np.float32) / top), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + shift * 360.0) % 360.0
    back = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * top
    return with_alpha(img, _cast(np.clip(back, 0, top), img.dtype))


@register
class Gamma(PixelOp):
    """out = max * (in / max) ** gamma, gamma drawn from the range.

    Keyword Args:
        gamma: [low, high] range of the exponent, within [0.01, 10]. Default [0.8, 1.25].
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "gamma"
    pointwise = True
    spec = {"gamma": Range(0.01, 10, [0.8, 1.25]), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        return {"gamma": float(rng.uniform(*self.cfg["gamma"]))}

    def stages(self, d: Draw) -> list[Stage]:
        g = d["gamma"]
        # a float image may sit a hair below 0 (UNIT_SLACK): a fractional power of it would be NaN
        return [ToneStage(lambda x, m, top, g=g: top * np.power(np.maximum(x / top, 0.0), g))]


@register
class Grayscale(PixelOp):
    """Replace colour with its luma, keeping the channel count (and alpha).

    Keyword Args:
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "grayscale"
    pointwise = True
    spec = {"prob": Prob(1.0)}

    def stages(self, d: Draw) -> list[Stage]:
        def run(img: np.ndarray) -> np.ndarray:
            if img.shape[2] == 1:
                return img
            g = _cast(grey(img), img.dtype)[..., None]
            return with_alpha(img, np.repeat(g, 3, axis=2))

        return [run]


@register
class GaussianBlur(PixelOp):
    """Gaussian blur with sigma (pixels) drawn from the range; kernel covers +-3 sigma.

    Keyword Args:
        sigma: [low, high] range of the blur's standard deviation in pixels, within [0.01, 50].
            Default [0.5, 1.5].
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "gaussian_blur"
    spec = {"sigma": Range(0.01, 50, [0.5, 1.5]), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        return {"sigma": float(rng.uniform(*self.cfg["sigma"]))}

    def stages(self, d: Draw) -> list[Stage]:
        s = d["sigma"]
        k = 2 * int(np.ceil(3 * s)) + 1

        def run(img: np.ndarray) -> np.ndarray:
            out = cv2.GaussianBlur(img, (k, k), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT_101)
            return out[..., None] if out.ndim == 2 else out

        return [run]


@register
class GaussianNoise(PixelOp):
    """Additive Gaussian noise; ``std`` is a fraction of the full range (0.02 = about 5 grey levels).

    Keyword Args:
        std: [low, high] range of the noise's standard deviation as a fraction of the full range,
            within [0, 1]. Default [0.01, 0.03].
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "gaussian_noise"
    pointwise = True
    spec = {"std": Range(0, 1, [0.01, 0.03]), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        return {"std": float(rng.uniform(*self.cfg["std"])), "seed": int(rng.integers(0, 2**63 - 1))}

    def stages(self, d: Draw) -> list[Stage]:
        def run(img: np.ndarray) -> np.ndarray:
            top = dtype_max(img.dtype)
            noise = np.random.default_rng(d["seed"]).standard_normal(img.shape, dtype=np.float32)
            out = img.astype(np.float32) + noise * np.float32(d["std"] * top)
            np.clip(out, 0, top, out=out)
            return _cast(out, img.dtype)

        return [run]


@register
class Jpeg(PixelOp):
    """JPEG round trip at a quality drawn from the range (integer images are compressed as 8-bit).

    Keyword Args:
        quality: [low, high] range of the JPEG quality, integers within [1, 100]. Default [60, 95].
        prob: Probability that the op runs. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a
            value out of range or of the wrong type.
        ImageError: at call (checked by the pipeline before any op runs): a float32 image outside [0, 1]
            (or holding NaN), the range pixel ops read float images in.
    """

    name = "jpeg"
    spec = {"quality": Range(1, 100, [60, 95], integer=True), "prob": Prob(1.0)}

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        lo, hi = self.cfg["quality"]
        return {"quality": int(rng.integers(lo, hi + 1))}

    def stages(self, d: Draw) -> list[Stage]:
        def run(img: np.ndarray) -> np.ndarray:
            top = dtype_max(img.dtype)
            rgb = _color_channels(img)
            u8 = (
                rgb
                if img.dtype == np.uint8
                else np.clip(rgb.astype(np.float32) * (255.0 / top), 0, 255).round().astype(np.uint8)
            )
            bgr = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR) if u8.shape[2] == 3 else u8
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, d["quality"]])
            dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            assert dec is not None  # OpenCV decodes the JPEG it has just encoded
            dec = cv2.cvtColor(dec, cv2.COLOR_BGR2RGB) if dec.ndim == 3 else dec[..., None]
            back = dec if img.dtype == np.uint8 else _cast(dec.astype(np.float32) * (top / 255.0), img.dtype)
            return with_alpha(img, back)

        return [run]
