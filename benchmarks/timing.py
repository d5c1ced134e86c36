"""Interleaved timing: every case runs once per round, in rotating order, so drift and noise from other
processes fall on all cases alike. Medians, never means."""

from __future__ import annotations

import time

import numpy as np


def interleaved(cases: dict, rounds: int = 15, repeat: int = 1, warmup: int = 1, clock=time.perf_counter) -> dict:
    """Median seconds per call for each ``name -> callable(i)`` (``i``: the call number, e.g. a seed).
    ``repeat`` calls are timed together per sample (for sub-millisecond cases). ``clock``: wall time by
    default; ``time.thread_time`` measures the CPU time a call needs, steady on a machine others share."""
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            cases[name](0)
    samples = {n: [] for n in names}
    call = 0
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = clock()
            for _ in range(repeat):
                cases[name](call)
                call += 1
            samples[name].append((clock() - t0) / repeat)
    return {n: float(np.median(s)) for n, s in samples.items()}
