"""Combinators: choose among ops. They only plan; the chosen ops' steps are what run and get recorded."""
from __future__ import annotations

from ..errors import ConfigError
from ..params import Param, Prob, REQUIRED
from ..registry import op_from_config, register
from .base import COMBINATOR, Op


def _ops_param():
    def check(v):
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError("must be a non-empty list of ops")
        return list(v)
    return Param(check, REQUIRED, "child ops")


def _check_weights(v):
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0
                                               for x in v) or sum(v) <= 0:
        raise ValueError("must be a list of non-negative numbers with a positive sum")
    return [float(x) for x in v]


def _check_n(v):
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return [v, v]
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and x >= 0 for x in v) \
            and v[0] <= v[1]:
        return list(v)
    raise ValueError("must be a non-negative integer or a [low, high] pair of them")


def _children(op, where):
    return [op_from_config(c, f"{where}{op.name}.ops[{i}]: ") for i, c in enumerate(op.cfg["ops"])]


class _Combinator(Op):
    kind = COMBINATOR

    def __init__(self, _where="", **params):
        super().__init__(_where, **params)
        self.children = _children(self, _where)

    def config(self):
        cfg = dict(self.cfg)
        cfg["ops"] = [c.config() for c in self.children]
        return {"name": self.name, "params": cfg}


@register
class OneOf(_Combinator):
    """Run exactly one child, chosen with ``weights`` (default: equal)."""
    name = "one_of"

    spec = {"ops": _ops_param(), "weights": Param(_check_weights, None), "prob": Prob(1.0)}

    def __init__(self, _where="", **params):
        super().__init__(_where, **params)
        w = self.cfg["weights"]
        if w is not None and len(w) != len(self.children):
            raise ConfigError(f"{_where}op 'one_of': {len(w)} weights for {len(self.children)} ops")

    def plan(self, rng, ctx, steps):
        if rng.random() >= self.prob:
            return
        w = self.cfg["weights"]
        p = None if w is None else [x / sum(w) for x in w]
        child = self.children[int(rng.choice(len(self.children), p=p))]
        child.plan(rng, ctx, steps)


@register
class SomeOf(_Combinator):
    """Run ``n`` distinct children (an int, or a [low, high] range), in their listed order."""
    name = "some_of"

    spec = {"ops": _ops_param(), "n": Param(_check_n, [1, 1]), "prob": Prob(1.0)}

    def __init__(self, _where="", **params):
        super().__init__(_where, **params)
        if self.cfg["n"][1] > len(self.children):
            raise ConfigError(f"{_where}op 'some_of': n up to {self.cfg['n'][1]} but only "
                              f"{len(self.children)} ops")

    def plan(self, rng, ctx, steps):
        if rng.random() >= self.prob:
            return
        lo, hi = self.cfg["n"]
        n = int(rng.integers(lo, hi + 1))
        chosen = sorted(rng.choice(len(self.children), size=n, replace=False).tolist())
        for i in chosen:
            self.children[i].plan(rng, ctx, steps)
