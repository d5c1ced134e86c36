"""Loaded by ms-swift through `--external_plugins` (and re-imported in dataloader workers).

Importing it registers the `geoaug_qwen3_vl` template; see geoaug_train/template.py.
"""
from geoaug_train.template import register

register()
