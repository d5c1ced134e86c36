"""geoaug-train: fine-tune Qwen3-VL with geoaug augmentation through ms-swift.

  geoaug-train train CONFIG [--set key=value ...] [-- extra ms-swift sft args]
  geoaug-train prepare CONFIG [--set key=value ...] [--json F]
  geoaug-train render CONFIG --out DIR --num N [--epoch E] [--set key=value ...]
  geoaug-train predict CONFIG --image IMG [--image IMG ...] [--adapter DIR] [--prompt TEXT] [--out DIR]
  geoaug-train tiny-model OUT_DIR
  geoaug-train bench-data CONFIG [--num N] [--rounds R] [--workers W] [--target-steps-per-s S] [--batch-size B]
                                 [--json F]

Multi-GPU / multi-node: set ms-swift's launcher variables (NPROC_PER_NODE, NNODES, NODE_RANK,
MASTER_ADDR, MASTER_PORT) in the environment of `geoaug-train train`; ms-swift starts torchrun.
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, load_config
from .records import DataError
from .samples import SampleError


def _user_errors() -> tuple:
    import geoaug

    return ConfigError, DataError, SampleError, geoaug.GeoaugError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='geoaug-train', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest='command', required=True)
    t = sub.add_parser('train', help='run the LoRA fine-tune (ms-swift sft)')
    t.add_argument('config')
    t.add_argument(
        '--set',
        dest='overrides',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='override a config value, e.g. --set training.max_steps=2 (repeatable)',
    )
    pp = sub.add_parser(
        'prepare', help='build (or reuse) the record store and print what the data holds; does not start ms-swift'
    )
    pp.add_argument('config')
    pp.add_argument('--json', default=None, help='also write the full prepare report as JSON here')
    pp.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE')
    r = sub.add_parser('render', help='write the first N training samples as the model sees them')
    r.add_argument('config')
    r.add_argument('--out', required=True)
    r.add_argument('--num', type=int, default=16)
    r.add_argument('--epoch', type=int, default=0)
    r.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE')
    pr = sub.add_parser('predict', help='run the checkpoint (+ adapter) on images: pixel geometry JSON + drawing')
    pr.add_argument('config')
    pr.add_argument(
        '--image',
        dest='images',
        action='append',
        required=True,
        metavar='IMG',
        help='an image to predict on (repeatable)',
    )
    pr.add_argument(
        '--adapter',
        default=None,
        help='LoRA adapter directory (default: the latest <training.output_dir>/checkpoint-N, '
        'else the base model alone)',
    )
    pr.add_argument('--prompt', default=None, help='default: data.prompt')
    pr.add_argument('--out', default=None, help='default: <training.output_dir>/predict')
    pr.add_argument('--max-new-tokens', type=int, default=512)
    pr.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE')
    m = sub.add_parser('tiny-model', help='build a tiny random-weight Qwen3-VL (tests, CPU examples)')
    m.add_argument('out_dir')
    b = sub.add_parser('bench-data', help="samples/s of the training data path next to ms-swift's plain fetch")
    b.add_argument('config')
    b.add_argument('--num', type=int, default=16, help='records to fetch per round')
    b.add_argument('--rounds', type=int, default=3, help='rounds (epochs) over those records')
    b.add_argument('--workers', type=int, default=0, help='also measure a DataLoader with this many workers')
    b.add_argument(
        '--target-steps-per-s',
        type=float,
        default=None,
        help='say whether the loader keeps up with this many optimizer steps per second',
    )
    b.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='batch size for the padded-vs-packed comparison (default: training.per_device_train_batch_size)',
    )
    b.add_argument('--json', default=None, help='also write the report as JSON here')
    b.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE')
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if '--' in argv:  # everything after `--` goes to ms-swift unchanged
        cut = argv.index('--')
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = _parser().parse_args(argv)
    try:
        if args.command == 'tiny-model':
            from .tiny_model import build_tiny_model

            print(build_tiny_model(args.out_dir))
            return 0
        cfg = load_config(args.config, args.overrides)
        if args.command == 'prepare':
            import json

            from .prepare import format_report, open_store

            store = open_store(cfg)
            print(format_report(store))
            if args.json:
                with open(args.json, 'w', encoding='utf-8') as f:
                    json.dump(store.report, f, indent=1)
            return 0
        if args.command == 'render':
            from .render import run_render

            if args.num < 1:
                raise ConfigError('--num: must be >= 1')
            written = run_render(cfg, args.out, args.num, args.epoch)
            print(f'[geoaug-train] wrote {len(written)} samples and preview.png to {args.out}')
            return 0
        try:
            import swift  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            raise ConfigError(
                f'`geoaug-train {args.command}` needs the train extra (pip install -e .[train]): {e}'
            ) from None
        if args.command == 'predict':
            from .predict import run_predict

            run_predict(
                cfg,
                args.images,
                adapter=args.adapter,
                prompt=args.prompt,
                out_dir=args.out,
                max_new_tokens=args.max_new_tokens,
            )
            return 0
        if args.command == 'bench-data':
            from .bench_data import format_report as format_bench_report
            from .bench_data import run_bench

            if args.batch_size is not None and args.batch_size < 1:
                raise ConfigError('--batch-size: must be >= 1')
            print(
                format_bench_report(
                    run_bench(
                        cfg,
                        num=args.num,
                        rounds=args.rounds,
                        workers=args.workers,
                        target_steps_per_s=args.target_steps_per_s,
                        json_out=args.json,
                        batch_size=args.batch_size,
                    )
                )
            )
            return 0
        from .train import run_train

        return run_train(cfg, extra)
    except _user_errors() as e:
        print(f'geoaug-train: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
