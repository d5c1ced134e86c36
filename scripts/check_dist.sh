#!/usr/bin/env bash
# Build the sdist and wheel and check their metadata (README renders on PyPI, license, version), then
# install the wheel into a fresh venv and run the main job from it (scripts/check_wheel_install.sh).
# Usage: scripts/check_dist.sh [OUTDIR]   (default /tmp/dist; emptied first)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/dist}"
rm -rf "$out"
python3 -m build --outdir "$out" .
python3 -m twine check --strict "$out"/*
ls -l "$out"
bash scripts/check_wheel_install.sh "$out"
