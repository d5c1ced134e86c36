"""Per-sample seeds that depend on what is drawn, never on which worker draws it."""

from __future__ import annotations

from typing import Any

import numpy as np


def sample_seed(base_seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for sample ``index`` of ``epoch``; independent of worker count and order.

    Raises:
        ValueError: ``base_seed``, ``epoch`` or ``index`` is negative or not integral (e.g. 1.5), naming the
            argument; also (from ``int()``) a string that is not an integer, or NaN.
        TypeError: an argument ``int()`` cannot take at all, such as None (raised by ``int()``).
        OverflowError: an infinite float (raised by ``int()``).
    """
    for name, v in (("base_seed", base_seed), ("epoch", epoch), ("index", index)):
        if int(v) != v or v < 0:
            raise ValueError(f"sample_seed: {name} must be a non-negative integer, got {v!r}")
    state = np.random.SeedSequence([int(base_seed), int(epoch), int(index)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def make_rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
