"""What happened to the geometry: clipped, split, approximated and dropped objects, counted by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    """What a call did to the geometry: objects clipped, split, approximated or reaching outside the input
    image (counted per kind: ``boxes``, ``quads``, ``lines``), objects dropped (one entry each, with its
    reason), warnings, and the names of the ops that ran.

    ``summary()`` gives a one-line text, ``as_dict()`` plain JSON-ready values. Nothing here checks its
    input: building a Report and its methods raise no errors of their own.
    """

    clipped: Counter = field(default_factory=Counter)  # kind -> objects cut by a canvas edge
    split: Counter = field(default_factory=Counter)  # kind -> extra pieces created (lines)
    approximated: Counter = field(default_factory=Counter)  # kind -> clipped shapes not exactly representable
    input_clipped: Counter = field(default_factory=Counter)  # kind -> objects reaching outside the input image
    dropped: list = field(default_factory=list)  # {"kind", "index", "reason", ...}
    warnings: list = field(default_factory=list)
    ops: list = field(default_factory=list)  # names of the ops that ran, in order

    def drop(self, kind: str, indices: Any, reason: str, **extra: Any) -> None:
        """Record that the rows ``indices`` (source row indices) of ``kind`` were dropped for ``reason``."""
        for i in indices:
            self.dropped.append({"kind": kind, "index": int(i), "reason": reason, **extra})

    @property
    def dropped_counts(self) -> Counter:
        """(kind, reason) -> number of objects dropped."""
        return Counter((d["kind"], d["reason"]) for d in self.dropped)

    def summary(self) -> str:
        """One line: what was clipped, split, approximated, clipped at intake and dropped (by kind and reason)."""
        parts = []
        for name in ("clipped", "split", "approximated", "input_clipped"):
            c = getattr(self, name)
            if sum(c.values()):
                parts.append(name + " " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())))
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{k}/{r}={n}" for (k, r), n in sorted(self.dropped_counts.items())))
        return "; ".join(parts) or "nothing clipped or dropped"

    def as_dict(self) -> dict:
        """Every count, drop, warning and op as plain JSON-ready values."""
        return {
            "clipped": dict(self.clipped),
            "split": dict(self.split),
            "approximated": dict(self.approximated),
            "input_clipped": dict(self.input_clipped),
            "dropped": list(self.dropped),
            "warnings": list(self.warnings),
            "ops": list(self.ops),
        }
