"""`geoaug-train bench-data`: samples/s of the training data path (augmented fetch) next to ms-swift's plain
fetch of the same records, measured in one process, interleaved, single-threaded; optionally through a
DataLoader with W workers, and against a step rate the loader must sustain."""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any


def _single_thread() -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def time_fetches(datasets: dict[str, Any], num: int, rounds: int) -> dict[str, list[float]]:
    """Per-fetch seconds for each dataset. Fetches alternate between the datasets record by record, and the
    order flips every round, so drift in the machine's speed hits both alike. Round r uses epoch r."""
    names = list(datasets)
    times: dict[str, list[float]] = {n: [] for n in names}
    for ds in datasets.values():  # warm caches (tokenizer, processor, first-call imports)
        ds[0]
    for r in range(rounds):
        for ds in datasets.values():
            ds.set_epoch(r)
        order = names if r % 2 == 0 else names[::-1]
        for i in range(min(num, *(len(d) for d in datasets.values()))):
            for n in order:
                t = time.perf_counter()
                datasets[n][i]
                times[n].append(time.perf_counter() - t)
    return times


def loader_rate(ds, workers: int, num: int) -> float:
    """Samples/s through a torch DataLoader with ``workers`` processes (first batch excluded: worker start)."""
    from torch.utils.data import DataLoader, Subset

    n = min(num, len(ds))
    loader = DataLoader(Subset(ds, list(range(n))), batch_size=None, num_workers=workers, collate_fn=lambda x: x)
    it = iter(loader)
    next(it)
    t = time.perf_counter()
    count = sum(1 for _ in it)
    return count / max(time.perf_counter() - t, 1e-9)


def run_bench(
    cfg: dict[str, Any],
    num: int = 16,
    rounds: int = 3,
    workers: int = 0,
    target_steps_per_s: float | None = None,
    json_out: str | None = None,
) -> dict[str, Any]:
    from .dataset import build_dataset

    _single_thread()
    ours = build_dataset(cfg)
    plain = build_dataset(cfg, plain=True)
    times = time_fetches({'geoaug': ours, 'ms-swift plain': plain}, num, rounds)
    med = {k: statistics.median(v) for k, v in times.items()}
    report: dict[str, Any] = {
        'records': min(num, len(ours)),
        'rounds': rounds,
        'cores': os.cpu_count(),
        'median_ms': {k: round(v * 1000, 2) for k, v in med.items()},
        'samples_per_s_1_thread': {k: round(1 / v, 2) for k, v in med.items()},
        'ratio_geoaug_over_plain': round(med['geoaug'] / med['ms-swift plain'], 3),
    }
    if workers:
        report['workers'] = workers
        report['samples_per_s_loader'] = {
            'geoaug': round(loader_rate(ours, workers, num), 2),
            'ms-swift plain': round(loader_rate(plain, workers, num), 2),
        }
    if target_steps_per_s:
        tr = cfg['training']
        per_step = tr['per_device_train_batch_size'] * tr['gradient_accumulation_steps']
        need = target_steps_per_s * per_step
        have = report.get('samples_per_s_loader', {}).get('geoaug') or report['samples_per_s_1_thread']['geoaug'] * max(
            workers, 1
        )
        report['target'] = {
            'steps_per_s': target_steps_per_s,
            'samples_per_step': per_step,
            'needed_samples_per_s': round(need, 2),
            'geoaug_samples_per_s': round(have, 2),
            'keeps_up': bool(have >= need),
            'workers_needed_at_1_thread_rate': max(1, int(-(-need // report['samples_per_s_1_thread']['geoaug']))),
        }
    if json_out:
        with open(json_out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    return report


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"records {rep['records']} x {rep['rounds']} rounds, one thread, interleaved ({rep['cores']} cores)",
        f"{'path':<16}{'median ms/fetch':>16}{'samples/s':>12}",
    ]
    for k, v in rep['median_ms'].items():
        lines.append(f"{k:<16}{v:>16.2f}{rep['samples_per_s_1_thread'][k]:>12.2f}")
    lines.append(f"geoaug / plain: {rep['ratio_geoaug_over_plain']:.3f}x the time per fetch")
    if 'samples_per_s_loader' in rep:
        lines.append(
            f"DataLoader, {rep['workers']} workers: "
            + ', '.join(f'{k} {v:.1f} samples/s' for k, v in rep['samples_per_s_loader'].items())
        )
    if 'target' in rep:
        t = rep['target']
        verdict = 'keeps up' if t['keeps_up'] else 'does NOT keep up'
        lines.append(
            f"target {t['steps_per_s']} steps/s x {t['samples_per_step']} samples/step = "
            f"{t['needed_samples_per_s']} samples/s: the loader {verdict} ({t['geoaug_samples_per_s']} samples/s;"
            f" {t['workers_needed_at_1_thread_rate']} worker(s) needed at the one-thread rate)"
        )
    return '\n'.join(lines)
