"""The ``geoaug`` command.

geoaug preview [CONFIG] [IMAGE_OR_JSONL] --out grid.png [--n 16] [--seed S]
geoaug preview --out preview.png            # bundled samples + bundled config, works on a fresh install
geoaug ops                                  # the op registry: names, kinds, params and defaults
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import GeoaugError, ImageTypeError

DEFAULT_CONFIG = "showcase"


class ProgressBar:
    """A one-line stderr bar, shown on a terminal (or when forced) so logs and pipes stay clean."""

    def __init__(self, label: str, stream: TextIO | None = None, force: bool = False, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.on = force or getattr(self.stream, "isatty", lambda: False)()

    def __call__(self, done: int, total: int) -> None:
        if not self.on:
            return
        filled = self.width * done // total
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def resolve_config(arg: str | None) -> Path:
    """A path, or the name of a bundled config (``seed``, ``showcase``)."""
    from .preview import CONFIGS_DIR

    if arg is None:
        return CONFIGS_DIR / f"{DEFAULT_CONFIG}.yaml"
    p = Path(arg)
    if not p.exists() and (CONFIGS_DIR / f"{arg}.yaml").is_file():
        return CONFIGS_DIR / f"{arg}.yaml"
    return p


def cmd_preview(args: argparse.Namespace) -> int:
    from . import from_config
    from .preview import SAMPLES_DIR, contact_sheet, read_samples

    if args.example and (args.config or args.input):
        raise GeoaugError("--example uses the bundled config and samples; drop CONFIG and IMAGE_OR_JSONL")
    if args.n < 1:
        raise GeoaugError(f"--n must be at least 1, got {args.n}")
    config = resolve_config(args.config)
    aug = from_config(str(config))
    samples = read_samples(args.input or SAMPLES_DIR / "samples.jsonl")
    bar = None if args.quiet else ProgressBar("preview", force=args.progress)
    sheet = contact_sheet(
        aug, samples, n=args.n, seed=args.seed, tile_size=args.tile, columns=args.columns, progress=bar
    )
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    sheet.save(out, optimize=True)
    if not args.quiet:
        print(f"wrote {out} ({args.n} views of {len(samples)} image(s), config {config})")
    return 0


def cmd_ops(args: argparse.Namespace) -> int:
    from . import available_ops

    ops = available_ops()
    if args.json:
        print(json.dumps(ops, indent=2, default=str))
        return 0
    width = max(map(len, ops))
    for name, info in ops.items():
        params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
        print(f"{name:<{width}}  {info['kind']:<10}  {params}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geoaug", description="Geometry-aware image augmentation.")
    sub = p.add_subparsers(dest="command", required=True)
    pv = sub.add_parser(
        "preview",
        help="contact sheet of augmented views with geometry and drawn params",
        description="Render N augmented views with their boxes, quads and lines drawn. "
        "With no arguments: the bundled samples and config.",
    )
    pv.add_argument(
        "config",
        nargs="?",
        help="YAML (ops, augmentation block or whole training config) or a "
        "bundled config name: seed, showcase (default)",
    )
    pv.add_argument("input", nargs="?", help="an image, or a JSONL of training records (default: bundled samples)")
    pv.add_argument("--out", default="preview.png", help="output PNG (default: preview.png)")
    pv.add_argument("--n", type=int, default=16, help="number of views (default: 16)")
    pv.add_argument("--seed", type=int, default=0, help="base seed; view i uses sample_seed(seed, 0, i)")
    pv.add_argument("--tile", type=int, default=300, help="tile size in pixels (default: 300)")
    pv.add_argument("--columns", type=int, default=None, help="tiles per row (default: about sqrt(n))")
    pv.add_argument("--example", action="store_true", help="use the bundled samples and config")
    pv.add_argument("--progress", action="store_true", help="always show the progress bar")
    pv.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    pv.set_defaults(func=cmd_preview)
    po = sub.add_parser("ops", help="list the registered ops with their params and defaults")
    po.add_argument("--json", action="store_true", help="machine-readable output")
    po.set_defaults(func=cmd_ops)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except BrokenPipeError:  # `geoaug ops | head`
        return 0
    except (GeoaugError, ImageTypeError, OSError) as e:
        # user errors get one clear line, not a traceback
        print(f"geoaug {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
