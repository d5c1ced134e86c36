"""The kind protocol: what a kind of geometry (boxes, quads, lines, points, polygons, masks) implements so
that the pipeline, filters, report, inverse, replay, drawing, Qwen answers and interop can move it without
naming it.

A kind is one module under ``geoaug.kinds`` holding a ``Kind`` subclass, registered with ``register``. Its
table is an instance table (``geoaug.instances._Table``): rows carrying fields, ``index`` (the source row)
and ``visibility``. Everything else iterates over ``kinds()``; adding a kind touches its module, its tests,
and the one import line in ``geoaug/kinds/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import GeometryError
from ..report import Report

if TYPE_CHECKING:
    from ..instances import Boxes, Lines, Quads
    from .masks import Masks
    from .points import Points
    from .polygons import Polygons

# The options a pipeline hands every kind: its ``<kind option>: value`` settings, each checked against the
# kind's ``options`` when the pipeline is built and stored in the replay record, so an inverse clips and
# orders exactly as the forward pass did.
Options = Mapping[str, Any]
# A drawing tag: (x, y, label text, colour) written on top of all geometry.
Tag = tuple[float, float, Any, tuple]


class Kind:
    """One kind of geometry. Subclasses set the class attributes and implement the methods marked below;
    the defaults suit a kind whose rows are points mapped by the matrix.

    Every method takes and returns tables without writing into the ones it is given, unless told that the
    coordinates are its own (``owned``: a map's fresh output, edited in place by ``clip``)."""

    name: ClassVar[str]  # the call keyword, result attribute, report and filter key ("boxes")
    table: ClassVar[type]  # its instance table class
    filters: ClassVar[tuple[str, ...]] = ("min_visibility",)  # the filter rules it accepts
    # name -> (allowed values, default): pipeline settings of this kind (``quad_clip``), checked at build
    options: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {}
    order: ClassVar[int] = 100  # position among the kinds: of a result's tables, a report, drawing within a layer
    layer: ClassVar[int] = 1  # drawing order: lower first (masks under outlines)
    # Qwen3-VL answer form: the item key on the 0-1000 grid, and how many (x, y) points one object has
    # (None: any number of at least ``answer_min``); None when the kind has no answer form.
    answer_key: ClassVar[str | None] = None
    answer_points: ClassVar[int | None] = None
    answer_min: ClassVar[int] = 1

    # ---- intake ------------------------------------------------------------------------------------
    def intake(self, x: Any, size: tuple[int, int] | None = None) -> Any:
        """``x`` as this kind's table: None is an empty one, a table passes through (it is never written),
        anything else is validated with an error naming the row, point and field. ``size``: the (W, H) of
        the frame the geometry is in, for kinds whose shape depends on it (masks)."""
        if x is None:
            return self.table()
        return x if isinstance(x, self.table) else self.table(x)

    def empty(self) -> Any:
        """A new empty table of this kind."""
        return self.table()

    # ---- moving ------------------------------------------------------------------------------------
    def map(self, t: Any, a: np.ndarray, size: tuple[int, int], opts: Options) -> Any:  # pragma: no cover
        """``t`` through the 3x3 matrix ``a`` onto a canvas of ``size`` (not cut to it yet): a new table
        with fresh coordinates (``clip`` may edit them in place)."""
        raise NotImplementedError

    def clip(
        self,
        t: Any,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Any:  # pragma: no cover
        """``t`` cut to the canvas [0, w] x [0, h]: visibility multiplied by the kept share, rows with
        nothing left dropped and reported (``report.drop``), cut rows counted under ``counter``."""
        raise NotImplementedError

    def finish(self, t: Any, net: np.ndarray, opts: Options) -> Any:
        """Once, after the last canvas, with the net matrix of the whole call (quads re-ordered, keypoint
        pairs swapped when it mirrors)."""
        return t

    def outside_row(self, t: Any, w: float, h: float) -> int | None:  # pragma: no cover
        """The first row reaching beyond [0, w] x [0, h] by more than rounding (``input_outside: error``)."""
        raise NotImplementedError

    def bounds(self, t: Any, a: np.ndarray) -> np.ndarray:  # pragma: no cover
        """(N, 4) enclosing boxes of the rows mapped by ``a`` (for ops that keep objects in view)."""
        raise NotImplementedError

    # ---- rows --------------------------------------------------------------------------------------
    def measures(self, t: Any) -> dict[str, Callable[[], np.ndarray]]:
        """Per filter rule, a function giving the measure of every row (``min_visibility``: visibility)."""
        return {"min_visibility": lambda: t.visibility}

    def coords(self, t: Any) -> list[np.ndarray]:  # pragma: no cover
        """Every coordinate array (or raster) the table holds, nested tables' included."""
        raise NotImplementedError

    def own_coords(self, t: Any, own: Callable[[Any], Any], given: Any) -> None:  # pragma: no cover
        """Replace each coordinate array of ``t`` by ``own(array)`` (a copy where it is the caller's)."""
        raise NotImplementedError

    def concat(self, tables: Sequence[Any], fields: dict[str, Any]) -> Any:  # pragma: no cover
        """One table of all the rows of ``tables`` (same frame), with ``fields``, indices and visibility."""
        raise NotImplementedError

    # ---- presentation ------------------------------------------------------------------------------
    def draw(
        self, canvas: np.ndarray, t: Any, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:  # pragma: no cover
        """Draw the rows on ``canvas`` (RGB uint8, written in place); return their label tags."""
        raise NotImplementedError

    def answer_table(self, t: Any) -> Any:
        """The rows of ``t`` the answer holds, one object each: a kind may first reshape its table (keypoints:
        one free point per labelled joint)."""
        return t

    def answer_rows(self, t: Any) -> list[np.ndarray]:
        """Each row as (K, 2) pixel points, for the Qwen answer form."""
        raise NotImplementedError(f"{self.name} have no Qwen answer form")

    def from_answer_rows(self, rows: list[np.ndarray]) -> Any:
        """The table of parsed answer objects, each (K, 2) pixel points."""
        raise NotImplementedError(f"{self.name} have no Qwen answer form")

    def empty_is_private(self, t: Any) -> bool:
        """``t`` (a copy of an empty intake table) holds no array a caller could write through: detach's
        fast path. May first replace an array that would not pass (a Lines table's offsets)."""
        return all(not x.size and x.flags.writeable for x in self.coords(t))

    def __repr__(self) -> str:
        return f"<kind {self.name}>"


_REGISTRY: dict[str, Kind] = {}


_ORDERED: list[tuple[Kind, ...]] = []  # the registry sorted by order, kept until the next register


def register(kind: type[Kind]) -> type[Kind]:
    """Class decorator: add a kind (one instance) to the registry."""
    _REGISTRY[kind.name] = kind()
    _ORDERED.clear()
    return kind


def kinds() -> Iterator[Kind]:
    """The registered kinds, by their ``order`` (of a result's tables, of a report)."""
    if not _ORDERED:
        _ORDERED.append(tuple(sorted(_REGISTRY.values(), key=lambda k: k.order)))
    return iter(_ORDERED[0])


def kind_names() -> tuple[str, ...]:
    return tuple(k.name for k in kinds())


def get_kind(name: str) -> Kind:
    return _REGISTRY[name]


def option_specs() -> dict[str, tuple[tuple[str, ...], str]]:
    """Every registered kind's options, by name."""
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for k in kinds():
        out.update(k.options)
    return out


def default_options() -> dict[str, str]:
    return {name: default for name, (_, default) in option_specs().items()}


def check_geometry_keys(given: Mapping[str, Any], where: str) -> None:
    """Refuse a geometry keyword that names no registered kind (a typo would drop it unseen)."""
    import difflib

    for k in given:
        if k not in _REGISTRY:
            close = difflib.get_close_matches(k, list(_REGISTRY), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise GeometryError(f"{where}: unknown geometry {k!r}.{hint} Kinds: {', '.join(_REGISTRY)}")


def intake_all(given: Mapping[str, Any], size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Every registered kind's table from the caller's values (None or absent: an empty table)."""
    return {k.name: k.intake(given.get(k.name), size) for k in kinds()}


def move_all(
    tables: Mapping[str, Any],
    a: np.ndarray,
    size: tuple[int, int],
    report: Report,
    opts: Options,
    *,
    counter: str = "clipped",
) -> dict[str, Any]:
    """Every table mapped by ``a`` and cut to the canvas ``size``."""
    w, h = size
    out = {}
    for k in kinds():
        t = tables[k.name]
        # an empty table (the kinds a call does not use) has nothing to move
        out[k.name] = k.clip(k.map(t, a, size, opts), w, h, report, opts, counter=counter, owned=True) if len(t) else t
    return out


def kind_of(t: Any) -> Kind:
    """The registered kind whose table ``t`` is."""
    for k in _REGISTRY.values():
        if type(t) is k.table:
            return k
    raise TypeError(f"{type(t).__name__} is no registered kind's table")


def rows_of(tables: Sequence[Any]) -> dict[str, Any]:
    """The index and visibility of several tables' rows, one after another (None when there are none)."""
    if not tables:
        return {"index": None, "visibility": None}
    return {
        "index": np.concatenate([t.index for t in tables]),
        "visibility": np.concatenate([t.visibility for t in tables]),
    }


def parts(t: Any) -> list:
    """Every array and list a table holds: coordinates (nested tables' included), index, visibility, fields."""
    return [*kind_of(t).coords(t), t.index, t.visibility, *t.fields.values()]


def detach(t: Any, given: Any) -> Any:
    """``t`` sharing no array or list with ``given``, an intake table (the caller's own table, or one built on
    their arrays): the caller may edit what comes back. Maps and clips pass fields, index and visibility
    through untouched; only what is still shared (or read-only) is copied, so a table that dropped rows
    copies nothing more."""
    kind = kind_of(t)
    if t is given:  # an empty table maps to itself: a table object of our own (copy.copy costs 5x), parts below
        t, given = object.__new__(type(t)), t
        t.__dict__.update(given.__dict__)
        if not len(t):  # (the common case: no geometry of this kind given)
            if t.fields:
                t.fields = {k: [] if isinstance(v, list) else np.array(v) for k, v in t.fields.items()}
            rows = (t.index, t.visibility)
            if kind.empty_is_private(t) and all(not x.size and x.flags.writeable for x in rows):
                return t
    theirs = parts(given)
    ids = {id(x) for x in theirs}
    views = None

    def own(v: Any) -> Any:
        nonlocal views
        if id(v) in ids:
            return np.array(v) if isinstance(v, np.ndarray) else list(v)
        if not isinstance(v, np.ndarray):
            return v
        if not v.flags.writeable:
            return np.array(v)
        if v.base is None:  # owns its memory and is not theirs: nothing of theirs can be in it
            return v
        if views is None:
            views = [x for x in theirs if isinstance(x, np.ndarray) and x.size]
        return np.array(v) if any(np.may_share_memory(v, x) for x in views) else v

    t.index, t.visibility = own(t.index), own(t.visibility)
    if t.fields:
        t.fields = {k: own(v) for k, v in t.fields.items()}
    kind.own_coords(t, own, given)
    return t


class ByKind:
    """Every kind's table as an attribute of a result-like object holding ``tables`` (kind name -> table):
    ``res.boxes``, ``res.points``, ... (one place for what Result, TTAResult and a Qwen Answer share)."""

    if TYPE_CHECKING:
        tables: dict[str, Any]

    @property
    def boxes(self) -> Boxes:
        """The boxes table."""
        out: Boxes = self._table("boxes")
        return out

    @property
    def quads(self) -> Quads:
        """The quads table."""
        out: Quads = self._table("quads")
        return out

    @property
    def lines(self) -> Lines:
        """The lines table."""
        out: Lines = self._table("lines")
        return out

    @property
    def points(self) -> Points:
        """The points table."""
        out: Points = self._table("points")
        return out

    @property
    def polygons(self) -> Polygons:
        """The polygons table."""
        out: Polygons = self._table("polygons")
        return out

    @property
    def masks(self) -> Masks:
        """The masks table."""
        out: Masks = self._table("masks")
        return out

    def _table(self, name: str) -> Any:
        tables = self.__dict__.get("tables")
        if tables is not None and name in tables:
            return tables[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are no attribute: the tables of kinds registered beyond the built-in ones
        return self._table(name)
