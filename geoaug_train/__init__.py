"""geoaug-train: LoRA fine-tuning of Qwen3-VL through ms-swift, with geoaug augmentation on every fetch.

Importing this package pulls in neither torch nor ms-swift; those load only when training runs
(``build_dataset`` is resolved on first use).
"""

from typing import Any

__all__ = ['build_dataset', 'prepare_run', 'open_store', 'cli']


def __getattr__(name: str) -> Any:
    if name == 'build_dataset':
        from .dataset import build_dataset

        return build_dataset
    if name in ('prepare_run', 'open_store'):
        from . import prepare

        return getattr(prepare, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
