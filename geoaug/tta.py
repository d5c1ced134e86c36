"""Test-time augmentation: predict on several augmented views, map every prediction back to the original
image through each view's own inverse, and hand back all of them (merging into one answer is the caller's
policy: NMS, voting, averaging).

    import geoaug

    def predict(img):                      # your model: image -> geometry in that image's pixels
        return {"boxes": detector(img), "labels": ...}  # or a geoaug Result / parsed Qwen answer

    aug = geoaug.from_config({"ops": [{"name": "hflip", "params": {"prob": 0.5}},
                                      {"name": "resize", "params": {"longest": 800}}]})
    tta = geoaug.tta.predict_tta(predict, image, aug, n=8, seed=0)
    tta.boxes.xyxy, tta.boxes.fields["view"]     # all views' boxes on the original image
    tta.views[3].boxes                           # view 3 alone, on the original image
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GeometryError
from .kinds import get_kind, kind_names, kinds
from .kinds.base import ByKind

if TYPE_CHECKING:
    from .pipeline import Pipeline
from .seeding import sample_seed


@dataclass
class TTAResult(ByKind):
    """``views``: per view, a geoaug Result (image None) with the predictions on the original image.
    ``tables`` (``boxes``, ``quads``, ``lines``, ... by kind name): every view's predictions in one table per
    kind, ``fields["view"]`` saying which view. ``augmented``: the forward results (the views' images and
    replay records)."""

    views: list
    tables: dict
    augmented: list = field(default_factory=list)


def _prediction_tables(pred: Any, where: str) -> dict:
    """dict of arrays/tables or anything with .boxes/.quads/.lines -> {kind: table}. A dict may carry
    ``labels`` / ``scores`` (or any other per-row list) under "<kind>_<field>" or, with one kind, plain."""
    names = kind_names()
    if isinstance(pred, dict):
        unknown = [
            k
            for k in pred
            if k not in names and not any(k.startswith(f"{kd}_") for kd in names) and k not in ("labels", "scores")
        ]
        if unknown:
            raise GeometryError(
                f"{where}: unknown key {unknown[0]!r}; a prediction has {', '.join(names)} "
                "(and labels/scores, or <kind>_<field> like boxes_scores)"
            )
        get = pred.get
    else:

        def get(k: str, d: Any = None) -> Any:
            return getattr(pred, k, d)

    present = [k for k in names if get(k) is not None]
    out = {}
    for kind in names:
        t: Any = get_kind(kind).intake(get(kind))
        if isinstance(pred, dict) and get(kind) is not None and not hasattr(get(kind), "fields"):
            extra = {k[len(kind) + 1 :]: v for k, v in pred.items() if k.startswith(f"{kind}_")}
            if len(present) == 1:
                extra.update(
                    {{"labels": "label", "scores": "score"}[k]: pred[k] for k in ("labels", "scores") if k in pred}
                )
            t = t.take(np.arange(len(t)))  # a copy we may add fields to
            for name, vals in extra.items():
                if len(vals) != len(t):
                    raise GeometryError(f"{where}: {kind} field {name!r} has {len(vals)} values for {len(t)} {kind}")
                t.fields[name] = list(vals)
        out[kind] = t
    return out


def _concat(tables: list, view_ids: list, kind: str) -> Any:
    """One table from several, fields united (None where a view lacks a field), plus a "view" field."""
    names = []
    for t in tables:
        names += [n for n in t.fields if n not in names and n != "view"]
    fields = {n: [v for t in tables for v in t.fields.get(n, [None] * len(t))] for n in names}
    fields["view"] = [v for t, v in zip(tables, view_ids) for _ in range(len(t))]
    return get_kind(kind).concat(tables, fields)


def predict_tta(
    predict_fn: Callable[[Any], Any],
    image: np.ndarray,
    aug: Pipeline,
    n: int = 8,
    seed: int = 0,
    *,
    include_original: bool = False,
) -> TTAResult:
    """Run ``predict_fn`` on ``n`` augmented views of ``image`` and map its predictions back.

    predict_fn(view_image) returns geometry in pixels of the view: a dict
    ``{"boxes": (N, 4), "quads": (M, 4, 2), "lines": [(K, 2), ...], "labels": [...], "scores": [...]}``
    (any subset; ``labels``/``scores`` when one kind is given, else ``boxes_labels`` etc.), geoaug tables in
    that dict, or a result-like object with ``.boxes``/``.quads``/``.lines`` (a geoaug Result, a parsed
    ``geoaug.qwen`` answer). ``aug``: a Pipeline or anything ``geoaug.from_config`` takes.
    View i uses seed ``sample_seed(seed, 0, i)``; ``include_original`` adds the unaugmented image as view -1.
    Mapped-back geometry is clipped to the original image like any geoaug geometry; rows keep their fields.

    Example (a flip-and-scale TTA around a detector returning boxes and scores)::

        aug = geoaug.from_config([{"name": "hflip", "params": {"prob": 0.5}},
                                  {"name": "affine", "params": {"scale": [0.9, 1.1]}}])
        out = geoaug.tta.predict_tta(lambda im: {"boxes": det(im)[0], "scores": det(im)[1]}, img, aug, n=4)
        keep = nms(out.boxes.xyxy, out.boxes.fields["score"])

    Raises:
        GeometryError / TypeError: ``predict_fn`` returns something that is not geometry of the view
            (naming the view and field); ValueError: ``n`` is not a non-negative integer. Errors ``aug``
            raises on the image pass through.
    """
    from .config import from_config
    from .pipeline import Pipeline

    if not isinstance(aug, Pipeline):
        aug = from_config(aug)
    if n < 0 or int(n) != n:
        raise ValueError(f"predict_tta: n must be a non-negative integer, got {n!r}")
    views, forward, ids = [], [], []
    if include_original:
        res = Pipeline([])(image)
        forward.append(res)
        ids.append(-1)
    for i in range(int(n)):
        forward.append(aug(image, seed=sample_seed(seed, 0, i)))
        ids.append(i)
    for res, v in zip(forward, ids):
        tables = _prediction_tables(predict_fn(res.image), f"predict_tta view {v}")
        views.append(res.inverse(**tables))
    merged = {k.name: _concat([r.tables[k.name] for r in views], ids, k.name) for k in kinds()}
    return TTAResult(views, merged, forward)


__all__ = ["TTAResult", "predict_tta"]
