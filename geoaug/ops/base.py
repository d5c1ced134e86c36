"""The op contract. An op draws its random parameters from a Generator it is given (``draw``), then applies
them deterministically: geometric ops return a matrix and a canvas (``transform``), pixel ops return
stages to run on the pixels. Drawing apart from applying is what makes replay and inverse possible."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..params import Param, validate

if TYPE_CHECKING:
    from ..pipeline import PlanContext

GEOMETRIC, PIXEL, COMBINATOR = "geometric", "pixel", "combinator"

# What an op drew for one call (``{"angle": 12.5}``): JSON values, replayed as they are.
Draw = dict[str, Any]


class Op:
    name = ""
    kind = ""
    spec: dict[str, Param] = {}

    def __init__(self, _where: str = "", **params: Any) -> None:
        self.cfg = validate(self.name, self.spec, params, _where)
        self.prob = self.cfg.get("prob", 1.0)

    def plan(self, rng: np.random.Generator, ctx: PlanContext, steps: list[Step]) -> None:
        """Append (op, draw) steps. The coin is always tossed first so draws never shift with prob."""
        coin = rng.random()
        if coin < self.prob:
            d = self.draw(rng, ctx)
            steps.append((self, d))
            if self.kind == GEOMETRIC:
                ctx.advance(*cast(GeometricOp, self).transform(d, ctx.size))  # kind GEOMETRIC: a GeometricOp

    def draw(self, rng: np.random.Generator, ctx: PlanContext) -> Draw:
        return {}

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.cfg)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.cfg.items())
        return f"{self.name}({args})"


class GeometricOp(Op):
    kind = GEOMETRIC

    def transform(self, draw: Draw, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        raise NotImplementedError

    @property
    def fill(self) -> Any:
        return self.cfg.get("fill")


class PixelOp(Op):
    kind = PIXEL
    pointwise = False  # True when each output pixel depends only on the same input pixel

    def stages(self, draw: Draw) -> list[Stage]:
        """Stages to apply: ToneStage (per-value curves, foldable into one lookup) or callables img->img."""
        raise NotImplementedError


class ToneStage:
    """A per-value curve ``fn(x, mean, top)`` on [0, top]; ``needs_mean``: it reads the image's mean grey
    level (contrast). Consecutive tone stages fold into one lookup table for integer images."""

    def __init__(self, fn: Callable[..., np.ndarray], needs_mean: bool = False) -> None:
        self.fn, self.needs_mean = fn, needs_mean

    def __call__(self, x: np.ndarray, mean: float | None, top: float) -> np.ndarray:
        return self.fn(x, mean, top)


# One planned step: the leaf op that runs and what it drew.
Step = tuple[Op, Draw]
# A pixel op's stage: a tone curve, or a function from the image (HxWxC) to the new one.
Stage = ToneStage | Callable[[np.ndarray], np.ndarray]
