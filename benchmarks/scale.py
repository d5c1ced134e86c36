"""Training data at scale: `geoaug-train prepare` cold and warm, opening the store in a fresh process, and the
time from `geoaug-train train` to the first optimizer step of the tiny model, on a relaunch (store built)
and from nothing (a fresh output dir: prepare included; this is the figure held to the target).

    python benchmarks/scale.py --records 100000 1000000 [--images 1000] [--boxes 20] [--work /tmp/geoaug-scale]
        [--skip-train] [--json benchmarks/results/scale.json]

The data: N records of B boxes each over I distinct 640x480 JPEGs (generated once under --work, reused).
Every step runs as a separate process, as a user would run it, and is timed from the outside. The store
opening check runs the same script against a 1,000-record store first, so the RSS growth it reports is what
the large store adds, not what importing numpy and geoaug costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {'prepare_cold_s': 120, 'prepare_warm_s': 5, 'open_fetch_100_s': 1, 'rss_growth_mb': 100, 'first_step_s': 240}

# Runs a command and prints the peak RSS of its largest process (it or one of its workers): a wrapper of its
# own, so no earlier child of this script counts.
PEAK = r'''
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print('peak_rss_mb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
sys.exit(rc)
'''

OPEN_AND_FETCH = r'''
import json, os, random, sys, time, resource
t0 = time.perf_counter()
def rss_mb():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS')) / 1024
import numpy, geoaug_train.store as st  # imports first: they are the same for any store
base = rss_mb()
t = time.perf_counter()
recs = st.RecordStore(sys.argv[1])['train']
rng = random.Random(0)
n_obj = sum(len(recs.record(rng.randrange(len(recs))).objects) for _ in range(100))
print(json.dumps({'records': len(recs), 'open_fetch_100_s': time.perf_counter() - t, 'objects': n_obj,
                  'rss_after_imports_mb': base, 'rss_mb': rss_mb()}))
'''


def make_images(folder: str, count: int) -> None:
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        path = os.path.join(folder, f'{i:05d}.jpg')
        if not os.path.exists(path):
            arr = rng.integers(0, 255, (480 // 16, 640 // 16, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
            Image.fromarray(arr).save(path, quality=85)


def make_jsonl(path: str, records: int, images: int, boxes: int) -> None:
    if os.path.exists(path):
        return
    rng = random.Random(records)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        for i in range(records):
            objs = []
            for k in range(boxes):
                x, y = rng.uniform(0, 600), rng.uniform(0, 440)
                objs.append(
                    f'{{"label": "obj{k % 7}", "bbox": [{x:.1f}, {y:.1f}, {x + rng.uniform(2, 40):.1f}, '
                    f'{y + rng.uniform(2, 40):.1f}]}}'
                )
            f.write(f'{{"image": "imgs/{i % images:05d}.jpg", "objects": [{", ".join(objs)}]}}\n')
    os.replace(tmp, path)


def write_config(path: str, data: str, model: str, out: str) -> None:
    import yaml

    cfg = {
        'model': {'path': model, 'torch_dtype': 'float32', 'attn_impl': 'sdpa'},
        'training': {
            'output_dir': out,
            'max_steps': 1,
            'save_steps': 1000,
            'logging_steps': 1,
            'per_device_train_batch_size': 1,
            'seed': 0,
        },
        'data': {'train': data, 'max_pixels': 65536, 'dataloader_num_workers': 0, 'dataloader_pin_memory': False},
        'global_max_length': 2048,
        'custom': {
            'augmentation': {
                'ops': [
                    {'name': 'hflip', 'params': {'prob': 0.5}},
                    {'name': 'rotate', 'params': {'max_deg': 10.0, 'prob': 0.5}},
                ]
            }
        },
    }
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)


def timed(argv, **kw):
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f'{argv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    return time.perf_counter() - t, proc


def store_of(output: str) -> str:
    return re.search(r'record store: (\S+)', output).group(1)


def first_step(config: str) -> float:
    """Seconds from launching `geoaug-train train` to ms-swift logging the first step's loss."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'geoaug_train.cli', 'train', config],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = None
    for line in proc.stdout:
        if seen is None and "'loss'" in line:
            seen = time.perf_counter() - t
    if proc.wait() != 0 or seen is None:
        raise RuntimeError(f'train failed (rc {proc.returncode})')
    return seen


def run(records: int, args, model: str, small_store: dict) -> dict:
    work = args.work
    data = os.path.join(work, f'train_{records}.jsonl')
    t = time.perf_counter()
    make_jsonl(data, records, args.images, args.boxes)
    gen = time.perf_counter() - t
    out = os.path.join(work, f'out_{records}')
    config = os.path.join(work, f'config_{records}.yaml')
    write_config(config, data, model, out)
    subprocess.run(['rm', '-rf', out])
    cold, proc = timed([sys.executable, '-c', PEAK, sys.executable, '-m', 'geoaug_train.cli', 'prepare', config])
    report, peak = proc.stdout.rsplit('peak_rss_mb ', 1)
    peak_mb = float(peak)
    warm, _ = timed([sys.executable, '-m', 'geoaug_train.cli', 'prepare', config])
    _, proc = timed([sys.executable, '-c', OPEN_AND_FETCH, store_of(report)])
    opened = json.loads(proc.stdout)
    res = {
        'records': records,
        'objects': records * args.boxes,
        'images': args.images,
        'jsonl_mb': round(os.path.getsize(data) / 2**20, 1),
        'generate_s': round(gen, 1),
        'prepare_cold_s': round(cold, 2),
        'prepare_warm_s': round(warm, 2),
        'prepare_peak_rss_mb': round(peak_mb),
        'store_mb': round(sum(e.stat().st_size for e in os.scandir(store_of(report))) / 2**20, 1),
        'open_fetch_100_s': round(opened['open_fetch_100_s'], 3),
        'rss_growth_mb': round(opened['rss_mb'] - small_store['rss_mb'], 1),
        'prepare_report': report.strip().splitlines(),
    }
    if not args.skip_train:
        res['first_step_warm_s'] = round(first_step(config), 1)  # the store exists: a relaunch
        subprocess.run(['rm', '-rf', out])
        res['first_step_s'] = round(first_step(config), 1)  # from nothing: prepare included
    res['targets_met'] = {k: res[k] <= v for k, v in TARGETS.items() if k in res}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--records', type=int, nargs='+', default=[100000, 1000000])
    ap.add_argument('--images', type=int, default=1000)
    ap.add_argument('--boxes', type=int, default=20)
    ap.add_argument('--work', default='/tmp/geoaug-scale')
    ap.add_argument('--skip-train', action='store_true')
    ap.add_argument('--json', default=os.path.join(REPO, 'benchmarks', 'results', 'scale.json'))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    make_images(os.path.join(args.work, 'imgs'), args.images)
    model = os.path.join(args.work, 'tiny-model')
    if not os.path.isdir(model):
        timed([sys.executable, '-m', 'geoaug_train.cli', 'tiny-model', model])
    # the reference for RSS growth: the same open-and-fetch against a 1,000-record store
    small = os.path.join(args.work, 'train_1000.jsonl')
    make_jsonl(small, 1000, args.images, args.boxes)
    config = os.path.join(args.work, 'config_1000.yaml')
    write_config(config, small, model, os.path.join(args.work, 'out_1000'))
    _, proc = timed([sys.executable, '-m', 'geoaug_train.cli', 'prepare', config])
    _, proc = timed([sys.executable, '-c', OPEN_AND_FETCH, store_of(proc.stdout)])
    small_store = json.loads(proc.stdout)
    results = {'cores': os.cpu_count(), 'targets': TARGETS, 'reference_1000': small_store, 'runs': []}
    for n in args.records:
        res = run(n, args, model, small_store)
        results['runs'].append(res)
        print(json.dumps({k: v for k, v in res.items() if k != 'prepare_report'}), flush=True)
        print('\n'.join(res['prepare_report']), flush=True)
    with open(args.json, 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
