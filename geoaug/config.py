"""Build a pipeline from the config users already write (YAML file, mapping, list, or a whole
training config holding ``custom.augmentation``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import yaml

from .errors import ConfigError
from .kinds import option_specs
from .params import bounded, short
from .pipeline import Pipeline

# The pipeline's own keys; each registered kind's options (quad_clip, quad_order, point_outside, ...) join them.
PIPELINE_BASE_KEYS = ("enabled", "ops", "filters", "fuse", "fill", "interpolation", "input_outside")


def pipeline_keys() -> tuple[str, ...]:
    """Every key an augmentation block may hold."""
    return PIPELINE_BASE_KEYS + tuple(option_specs())


# Bounds on a YAML config, for configs shared and loaded from less trusted places. YAML aliases let a few hundred
# bytes stand for 10^9 values (a "billion laughs"); PyYAML builds them as shared references in linear time, but
# everything that walks the result (validation, error messages, building a combinator's children) would pay for
# every one. The loader counts the nodes each alias stands for while it composes, in time linear in the file,
# and refuses a document that would expand beyond these. Real configs (geoaug's or geoaug-train's) hold a few
# hundred nodes, ten levels deep.
MAX_YAML_BYTES = 4 << 20  # a config file larger than 4 MiB is not a config
MAX_YAML_NODES = 100_000  # nodes once every alias is expanded
MAX_YAML_DEPTH = 100  # nesting, aliases expanded (composing recurses: deeper would overflow the stack)


class _TooBig(Exception):
    pass


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents expanding beyond MAX_YAML_NODES nodes or nesting beyond
    MAX_YAML_DEPTH levels, counting an alias as the nodes it stands for. An alias costs O(1) to count (each
    node's expanded size is kept once composed), so the work stays linear in the file whatever it expands to."""

    def __init__(self, stream: str | bytes | IO[str] | IO[bytes]) -> None:
        super().__init__(stream)
        self._expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, levels), aliases expanded
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int | yaml.Node | None) -> yaml.Node:
        alias = self.check_event(yaml.AliasEvent)
        if self._depth >= MAX_YAML_DEPTH:
            raise _TooBig(f"YAML nests deeper than {MAX_YAML_DEPTH} levels")
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            if id(node) not in self._expanded:
                raise _TooBig("a YAML alias refers to a node that contains it (a recursive alias)")
            size, levels = self._expanded[id(node)]
            self._nodes += size
        else:
            kids = (
                node.value
                if isinstance(node, yaml.SequenceNode)
                else [x for kv in node.value for x in kv]
                if isinstance(node, yaml.MappingNode)
                else ()
            )
            size = 1 + sum(self._expanded[id(k)][0] for k in kids)
            levels = 1 + max((self._expanded[id(k)][1] for k in kids), default=0)
            self._expanded[id(node)] = (size, levels)
            self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise _TooBig(
                f"YAML expands to more than {MAX_YAML_NODES:,} nodes (aliases counted as what they stand for)"
            )
        if self._depth + levels > MAX_YAML_DEPTH:
            raise _TooBig(f"YAML nests deeper than {MAX_YAML_DEPTH} levels once its aliases are expanded")
        return node


def load_yaml_text(text: str | bytes, where: str = "<yaml>") -> object:
    """Safe, bounded YAML: tags that would construct Python objects are refused, never executed; documents
    larger than MAX_YAML_BYTES, or expanding (through aliases) beyond MAX_YAML_NODES nodes or MAX_YAML_DEPTH
    levels, are refused. Every failure is a short ``ConfigError`` naming ``where``."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: {len(text):,} bytes; geoaug reads YAML configs up to {MAX_YAML_BYTES:,}")
    try:
        return yaml.load(text, Loader=BoundedSafeLoader)
    except _TooBig as e:
        raise ConfigError(f"{where}: {e}; geoaug refuses it (a YAML alias bomb?)") from None
    except yaml.constructor.ConstructorError as e:
        if "tag" in str(e.problem):
            raise ConfigError(
                f"{where}: refused unsafe or unknown YAML tag ({_cut(str(e.problem), 200)}); geoaug never executes YAML"
            ) from None
        raise ConfigError(f"{where}: invalid YAML: {_cut(str(e), 300)}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: invalid YAML: {_cut(str(e), 300)}") from None
    except (ValueError, OverflowError, RecursionError) as e:  # e.g. an integer of 5,000 digits, a 30 February
        raise ConfigError(f"{where}: invalid YAML value: {_cut(str(e), 200)}") from None


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def load_yaml(path: str | os.PathLike[str]) -> object:
    """Read a YAML config file with ``load_yaml_text``'s bounds.

    Raises:
        ConfigError: the file is missing or unreadable, is not valid YAML, uses tags that would construct
            Python objects, or exceeds the size, node or nesting bounds.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    size = p.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{p}: {size:,} bytes; geoaug reads YAML configs up to {MAX_YAML_BYTES:,}")
    return load_yaml_text(p.read_bytes(), str(p))


def augmentation_block(cfg: object, where: str = "config") -> tuple[object, str]:
    """Find the augmentation mapping in whatever the user passed; returns (block, where)."""
    if isinstance(cfg, (str, os.PathLike)):
        where = str(cfg)
        cfg = load_yaml(cfg)
    if isinstance(cfg, list):
        return {"ops": cfg}, where
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a mapping or a list of ops, got {type(cfg).__name__}")
    if "custom" in cfg:
        custom = cfg["custom"]
        if not isinstance(custom, dict) or "augmentation" not in custom:
            raise ConfigError(f"{where}: 'custom' has no 'augmentation' block")
        block = custom["augmentation"] or {"enabled": False}
        return ({"ops": block} if isinstance(block, list) else block), f"{where}: custom.augmentation"
    if "augmentation" in cfg and "ops" not in cfg:
        block = cfg["augmentation"]
        return ({"ops": block} if isinstance(block, list) else block), f"{where}: augmentation"
    return cfg, where


def from_config(cfg: Any) -> Pipeline:
    """Build a Pipeline from a config.

    Args:
        cfg: a path to a YAML file, a mapping with ``ops`` (and optional ``filters``, ``fuse``, ``fill``, ...),
            a list of ops (``{"name": ..., "params": {...}}`` mappings or op instances), or a whole training
            config holding ``custom.augmentation``.

    Returns:
        The validated ``Pipeline``; every op, param, fill and filter is checked here, never at call time.

    Raises:
        ConfigError: unknown op or param names (closest names suggested), out-of-range or ill-typed values,
            a YAML file that is missing, malformed, unsafe or over the size/depth bounds."""
    block, where = augmentation_block(cfg)
    with bounded(block, f"{where}: "):  # the whole block within the config budget before anything walks it
        if not isinstance(block, dict):
            raise ConfigError(f"{where}: augmentation must be a mapping with 'ops', got {short(block)}")
        unknown = [k for k in block if not isinstance(k, str) or k not in pipeline_keys()]
        if unknown:
            import difflib

            k = unknown[0]
            close = difflib.get_close_matches(k[:100], pipeline_keys(), n=1) if isinstance(k, str) else []
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown key {short(k)}.{hint} Valid keys: {', '.join(pipeline_keys())}")
        ops = block.get("ops")  # null: no ops; {} or 0 or false is a mistake, not an empty list
        if ops is not None and not isinstance(ops, (list, tuple)):
            raise ConfigError(f"{where}: 'ops' must be a list of ops, got {short(ops)}")
        kwargs = {k: block[k] for k in pipeline_keys() if k in block and k != "ops"}
        return Pipeline(ops or [], _where=f"{where}: ", **kwargs)
