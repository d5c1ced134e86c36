#!/usr/bin/env bash
# Install the built wheel into a fresh venv and run the README's main job from outside the checkout: the
# package must work as shipped (modules, py.typed, bundled samples and configs, the console script), not
# through the editable install or the source tree.
# Usage: scripts/check_wheel_install.sh DISTDIR   (a folder holding the wheel, e.g. from scripts/check_dist.sh)
# The venv sees the system site-packages for the dependencies (numpy, opencv, ...): CI has no index to
# install them from again, and what is checked here is geoaug's own files. geoaug itself must come from the
# venv, which the checks below assert.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dist="$(cd "${1:?usage: $0 DISTDIR}" && pwd)"
wheels=("$dist"/geoaug-*.whl)
[ "${#wheels[@]}" -eq 1 ] && [ -f "${wheels[0]}" ] || { echo "expected one geoaug wheel in $dist" >&2; exit 1; }
start=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-deps --no-index --disable-pip-version-check "${wheels[0]}"
cd "$work"  # outside the checkout: the current directory must not put the source tree on sys.path
"$work/venv/bin/python" - "$work/venv" "$repo" <<'EOF'
import os, sys
from importlib import resources
venv, repo = (os.path.realpath(p) for p in sys.argv[1:3])
import geoaug, geoaug.interop, geoaug_train
for mod in (geoaug, geoaug_train):
    where = os.path.realpath(mod.__file__)
    assert where.startswith(venv + os.sep), f"{mod.__name__} imported from {where}, not from the venv {venv}"
    assert not where.startswith(repo + os.sep), f"{mod.__name__} imported from the checkout: {where}"
assert "torch" not in sys.modules, "import geoaug must not pull in torch"
root = resources.files("geoaug")
missing = [p for p in ("py.typed", "samples/samples.jsonl", "samples/doc.jpg", "samples/street.jpg",
                       "samples/train_config.yaml", "configs/seed.yaml", "configs/showcase.yaml")
           if not root.joinpath(p).is_file()]
assert not missing, f"missing from the wheel: {missing}"
print(f"geoaug {geoaug.__version__} from {os.path.dirname(geoaug.__file__)}: modules, py.typed, samples, configs ok")
EOF
# The README's main job, through the installed console script, on the bundled samples.
"$work/venv/bin/geoaug" preview --out "$work/preview.png" --n 4 --quiet
"$work/venv/bin/python" -c "
import sys; from PIL import Image
with Image.open(sys.argv[1]) as im:
    assert im.format == 'PNG' and min(im.size) >= 300, (im.format, im.size)
    print('geoaug preview wrote', im.size, 'PNG')" "$work/preview.png"
echo "wheel install check: $((SECONDS - start)) s"
