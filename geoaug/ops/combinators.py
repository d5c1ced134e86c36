"""Combinators: choose among ops. They only plan; the chosen ops' steps are what run and get recorded."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..params import REQUIRED, Param, Prob, bounded, short
from ..registry import op_from_config, register
from .base import COMBINATOR, Op, Step

if TYPE_CHECKING:
    from ..pipeline import PlanContext


def _ops_param() -> Param:
    def check(v: Any) -> list[Any]:
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(f"must be a non-empty list of ops, got {short(v)}")
        return list(v)

    return Param(check, REQUIRED, "child ops")


def _weight(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    try:
        x = float(x)
    except (OverflowError, ValueError):
        return None
    return x if math.isfinite(x) and x >= 0 else None


def _check_weights(v: Any) -> list[float] | None:
    """Finite, non-negative weights whose sum is finite and positive: they become probabilities at build."""
    if v is None:
        return None
    w = [_weight(x) for x in v] if isinstance(v, (list, tuple)) else [None]
    weights = [x for x in w if x is not None]
    if not w or len(weights) != len(w):
        raise ValueError(f"must be a list of finite non-negative numbers, got {short(v)}")
    try:
        total = math.fsum(weights)
    except OverflowError:
        total = math.inf
    if not 0 < total < math.inf:
        raise ValueError(f"must have a positive, finite sum, got {short(v)}")
    return weights


def _int(x: Any) -> int | None:
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else None


def _check_n(v: Any) -> list[int]:
    n = [_int(v)] * 2 if not isinstance(v, (list, tuple)) else [_int(x) for x in v] if len(v) == 2 else [None]
    lo, hi = (n[0], n[1]) if len(n) == 2 else (None, None)
    if lo is None or hi is None or lo < 0 or lo > hi:
        raise ValueError(f"must be a non-negative integer or a [low, high] pair of them, got {short(v)}")
    return [lo, hi]


class _Combinator(Op):
    kind = COMBINATOR

    def __init__(self, _where: str = "", **params: Any) -> None:
        with bounded(params, _where):  # the children of an aliased op list are built once per occurrence
            super().__init__(_where, **params)
            self._check_against_ops(_where, len(self.cfg["ops"]))
            self.children = [
                op_from_config(c, f"{_where}{self.name}.ops[{i}]: ") for i, c in enumerate(self.cfg["ops"])
            ]

    def _check_against_ops(self, where: str, n_ops: int) -> None:
        """Cross-checks of the other params against the number of child ops (before building any)."""

    def config(self) -> dict[str, Any]:
        cfg = dict(self.cfg)
        cfg["ops"] = [c.config() for c in self.children]
        return {"name": self.name, "params": cfg}


@register
class OneOf(_Combinator):
    """Run exactly one child, chosen with ``weights`` (default: equal). At call it raises nothing of its
    own: the chosen child's errors propagate.

    Keyword Args:
        ops: The child ops: a non-empty list of op mappings (``{name, params}``) or built ops. Required.
        weights: One finite, non-negative weight per child, with a positive sum; normalised to
            probabilities. Default None: equal weights.
        prob: Probability that a child runs at all. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a value out of
            range or of the wrong type; also when ``weights`` has a different length than ``ops``, and for a child op
            that fails to build (its error, prefixed with ``one_of.ops[i]: ``).
    """

    name = "one_of"

    spec = {"ops": _ops_param(), "weights": Param(_check_weights, None), "prob": Prob(1.0)}

    def _check_against_ops(self, where: str, n_ops: int) -> None:
        w = self.cfg["weights"]
        if w is not None and len(w) != n_ops:
            raise ConfigError(f"{where}op 'one_of': param 'weights' has {len(w)} values for {n_ops} ops")
        self._p = None if w is None else [x / math.fsum(w) for x in w]

    def plan(self, rng: np.random.Generator, ctx: PlanContext, steps: list[Step]) -> None:
        if rng.random() >= self.prob:
            return
        child = self.children[int(rng.choice(len(self.children), p=self._p))]
        child.plan(rng, ctx, steps)


@register
class SomeOf(_Combinator):
    """Run ``n`` distinct children (an int, or a [low, high] range), in their listed order. At call it
    raises nothing of its own: the chosen children's errors propagate.

    Keyword Args:
        ops: The child ops: a non-empty list of op mappings (``{name, params}``) or built ops. Required.
        n: How many children run: a non-negative integer, or a [low, high] pair of them drawn uniformly.
            Default [1, 1].
        prob: Probability that any child runs at all. Default 1.0.

    Raises:
        ConfigError: at build, naming the op and the param: an unknown param, a missing required one, or a value out of
            range or of the wrong type; also when ``n`` goes above the number of ops, and for a child op that fails to
            build (its error, prefixed with ``some_of.ops[i]: ``).
    """

    name = "some_of"

    spec = {"ops": _ops_param(), "n": Param(_check_n, [1, 1]), "prob": Prob(1.0)}

    def _check_against_ops(self, where: str, n_ops: int) -> None:
        if self.cfg["n"][1] > n_ops:
            raise ConfigError(
                f"{where}op 'some_of': param 'n' goes up to {self.cfg['n'][1]} but there are only {n_ops} ops"
            )

    def plan(self, rng: np.random.Generator, ctx: PlanContext, steps: list[Step]) -> None:
        if rng.random() >= self.prob:
            return
        lo, hi = self.cfg["n"]
        n = int(rng.integers(lo, hi + 1))
        chosen = sorted(rng.choice(len(self.children), size=n, replace=False).tolist())
        for i in chosen:
            self.children[i].plan(rng, ctx, steps)
