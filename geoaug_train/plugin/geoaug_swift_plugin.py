"""Loaded by ms-swift through `--external_plugins` (and re-imported in dataloader workers).

Importing it registers the `geoaug_qwen3_vl` template (see geoaug_train/template.py) and the per-epoch
fetch-stats callback (see geoaug_train/fetch_stats.py).
"""

from geoaug_train.fetch_stats import register_callback
from geoaug_train.template import register

register()
register_callback()
