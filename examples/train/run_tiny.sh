#!/usr/bin/env bash
# End-to-end CPU example: build a tiny model and a synthetic dataset, preview the samples, train 4 LoRA steps.
set -euo pipefail
cd "$(dirname "$0")"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MODELSCOPE_OFFLINE=1
python -m geoaug_train.cli tiny-model ../../runs/tiny-qwen3-vl
python make_dataset.py ../../runs/tiny-data --num 8
python -m geoaug_train.cli render tiny.yaml --out ../../runs/tiny-render --num 8
python -m geoaug_train.cli train tiny.yaml "$@"
