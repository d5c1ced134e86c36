"""Build a pipeline from the config users already write (YAML file, mapping, list, or a whole
training config holding ``custom.augmentation``)."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import ConfigError
from .pipeline import Pipeline

PIPELINE_KEYS = ("enabled", "ops", "filters", "fuse", "fill", "interpolation", "quad_order", "quad_clip",
                 "input_outside")


def load_yaml(path) -> object:
    """Safe YAML only: tags that would construct Python objects are refused, never executed."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        return yaml.safe_load(p.read_text())
    except yaml.constructor.ConstructorError as e:
        raise ConfigError(f"{p}: refused unsafe or unknown YAML tag ({e.problem}); geoaug never executes YAML") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML: {e}") from None


def augmentation_block(cfg, where: str = "config"):
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
        return custom["augmentation"] or {"enabled": False}, f"{where}: custom.augmentation"
    if "augmentation" in cfg and "ops" not in cfg:
        return cfg["augmentation"], f"{where}: augmentation"
    return cfg, where


def from_config(cfg) -> Pipeline:
    block, where = augmentation_block(cfg)
    if not isinstance(block, dict):
        raise ConfigError(f"{where}: augmentation must be a mapping with 'ops', got {block!r}")
    unknown = [k for k in block if k not in PIPELINE_KEYS]
    if unknown:
        import difflib
        close = difflib.get_close_matches(str(unknown[0]), PIPELINE_KEYS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}.{hint} Valid keys: {', '.join(PIPELINE_KEYS)}")
    ops = block.get("ops") or []
    if not isinstance(ops, list):
        raise ConfigError(f"{where}: 'ops' must be a list, got {type(ops).__name__}")
    kwargs = {k: block[k] for k in PIPELINE_KEYS if k in block and k != "ops"}
    return Pipeline(ops, _where=f"{where}: ", **kwargs)
