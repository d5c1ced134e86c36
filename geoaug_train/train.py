"""`geoaug-train train`: prepare the run, then hand over to ms-swift's own `sft` launcher.

ms-swift's launcher (`python -m swift.cli.main sft`) starts torchrun itself when NPROC_PER_NODE or
NNODES is set, so multi-GPU and multi-node runs use its variables unchanged.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
from typing import Any

from . import fetch_stats
from .config import adapt_packing, adapt_to_device
from .prepare import format_report, prepare_run
from .swift_args import sft_args
from .template import SPEC_ENV

DISTRIBUTED_LAUNCH_VARS = ('NPROC_PER_NODE', 'NNODES')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch_env(cfg: dict[str, Any], spec_path: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env[SPEC_ENV] = spec_path
    # ms-swift runs its sft script by path, so the plugin can import geoaug_train even from a source checkout.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(p for p in (here, env.get('PYTHONPATH')) if p)
    launched = any(env.get(k) for k in DISTRIBUTED_LAUNCH_VARS) or 'RANK' in env
    if cfg['deepspeed']['enabled'] and not launched:
        # DeepSpeed outside torchrun otherwise probes MPI (mpi4py) to discover its world.
        env.update(
            {
                'RANK': '0',
                'LOCAL_RANK': '0',
                'WORLD_SIZE': '1',
                'LOCAL_WORLD_SIZE': '1',
                'MASTER_ADDR': '127.0.0.1',
                'MASTER_PORT': str(_free_port()),
            }
        )
    return env


def latest_checkpoint(output_dir: str) -> str | None:
    ckpts = glob.glob(os.path.join(output_dir, 'checkpoint-*'))
    ckpts = [c for c in ckpts if c.rsplit('-', 1)[-1].isdigit()]
    return max(ckpts, key=lambda c: int(c.rsplit('-', 1)[-1])) if ckpts else None


def run_train(cfg: dict[str, Any], extra_swift_args: list[str] | None = None) -> int:
    import torch

    cuda = torch.cuda.is_available()
    for note in adapt_to_device(cfg, cuda) + adapt_packing(cfg, cuda):
        print(f'[geoaug-train] {note}', flush=True)
    prepared = prepare_run(cfg)
    for line in format_report(prepared['store']).splitlines():
        print(f'[geoaug-train] {line}', flush=True)
    argv = [sys.executable, '-m', 'swift.cli.main', 'sft'] + sft_args(cfg, prepared) + list(extra_swift_args or [])
    print('[geoaug-train] ' + ' '.join(argv), flush=True)
    env = launch_env(cfg, prepared['spec'])
    stats: str = fetch_stats.stats_dir(env)  # type: ignore[assignment]  # launch_env sets the spec: never None
    fetch_stats.reset(stats)  # an earlier run in the same output_dir must not count
    rc = subprocess.run(argv, env=env).returncode
    # Every training process has exited (and written its totals): exact, a max_steps stop mid-epoch included.
    print('[geoaug-train] augmentation per fetch (all epochs, all processes):', flush=True)
    for line in fetch_stats.format_summary(fetch_stats.merge(stats)).splitlines():
        print(f'[geoaug-train]   {line}', flush=True)
    if prepared['skipped']:
        print(f'[geoaug-train] records skipped for bad images (first {len(prepared["skipped"])} listed):', flush=True)
        for msg in prepared['skipped']:
            print(f'  {msg}', flush=True)
    if rc == 0:
        print(f'[geoaug-train] adapter: {latest_checkpoint(cfg["training"]["output_dir"])}', flush=True)
    return rc
