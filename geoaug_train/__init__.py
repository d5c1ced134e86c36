"""geoaug-train: LoRA fine-tuning of Qwen3-VL through ms-swift, with geoaug augmentation on every fetch.

Importing this package pulls in neither torch nor ms-swift; those load only when training runs.
"""
__all__ = ['cli']
