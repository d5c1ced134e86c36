"""`geoaug-train bench-data`: samples/s of the training data path (augmented fetch) next to ms-swift's plain
fetch of the same records, measured in one process, interleaved, single-threaded; optionally through a
DataLoader with W workers, and against a step rate the loader must sustain. It also collates the augmented
items into ordinary batches (padded to the longest) and into packed ones (training.packing: one padding-free
sequence per batch) with ms-swift's own collator, and reports how much of each batch is padding."""

from __future__ import annotations

import copy
import json
import os
import random
import statistics
import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from .dataset import TrainingDataset


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


def loader_rate(ds: TrainingDataset, workers: int, num: int) -> float:
    """Samples/s through a torch DataLoader with ``workers`` processes (first batch excluded: worker start)."""
    from torch.utils.data import DataLoader, Subset

    n = min(num, len(ds))
    # a map-style object (len, [i]) is all DataLoader needs; torch's annotations ask for a Dataset subclass
    items = cast('Dataset[dict[str, Any]]', ds)
    loader = DataLoader(Subset(items, list(range(n))), batch_size=None, num_workers=workers, collate_fn=lambda x: x)
    it = iter(loader)
    next(it)
    t = time.perf_counter()
    count = sum(1 for _ in it)
    return count / max(time.perf_counter() - t, 1e-9)


def padding_report(ds: TrainingDataset, batch_size: int, num: int, rounds: int, seed: int = 0) -> dict[str, Any]:
    """Padding of ordinary against packed batches on these records, as the trainer's collator builds them.

    Each round r (epoch r: fresh draws) shuffles the first ``num`` records with seed (seed, r), as the
    sampler does, cuts them into batches of ``batch_size`` (the last may be short) and collates every batch
    both ways. Tokens are counted from the collated ``input_ids`` (the language model's sequence; the vision
    tower's patches are never padded): a padded batch costs batch x longest, a packed one its items' sum.
    """
    n = min(num, len(ds))
    lengths: list[int] = []
    real = padded = packed = 0
    peak_padded = peak_packed = batches = 0
    for r in range(rounds):
        ds.set_epoch(r)
        order = list(range(n))
        random.Random(f'{seed}:{r}').shuffle(order)
        for start in range(0, n, batch_size):
            items = [ds[i] for i in order[start : start + batch_size]]
            lens = [len(item['input_ids']) for item in items]
            pad_tokens = int(ds.collate(items, padding_free=False)['input_ids'].numel())
            flat = ds.collate(items, padding_free=True)['input_ids']
            if tuple(flat.shape) != (1, sum(lens)):  # the packed batch must hold exactly the items' tokens
                raise RuntimeError(f'packed batch of {lens} tokens came out as {tuple(flat.shape)}')
            lengths += lens
            real += sum(lens)
            padded += pad_tokens
            packed += int(flat.numel())
            peak_padded, peak_packed = max(peak_padded, pad_tokens), max(peak_packed, int(flat.numel()))
            batches += 1
    return {
        'batch_size': batch_size,
        'batches': batches,
        'sample_tokens': {
            'min': min(lengths),
            'median': int(statistics.median(lengths)),
            'max': max(lengths),
        },
        'tokens_real': real,
        'tokens_padded': padded,
        'tokens_packed': packed,
        'padding_fraction_padded': round(1 - real / padded, 4),
        'padding_fraction_packed': round(1 - real / packed, 4),
        'peak_batch_tokens_padded': peak_padded,
        'peak_batch_tokens_packed': peak_packed,
        'token_ratio_padded_over_packed': round(padded / packed, 3),
    }


def run_bench(
    cfg: dict[str, Any],
    num: int = 16,
    rounds: int = 3,
    workers: int = 0,
    target_steps_per_s: float | None = None,
    json_out: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    from .dataset import build_dataset

    _single_thread()
    # Packed batches are measured on every machine: only the data side runs here, no attention (the packing
    # choice does not change a fetch, and a machine without flash attention must still show the gain).
    cfg = copy.deepcopy(cfg)
    packing = cfg['training']['packing']
    cfg['training']['packing'] = False
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
    report['padding'] = padding_report(
        ours, batch_size or cfg['training']['per_device_train_batch_size'], num, rounds, cfg['training']['seed']
    )
    report['padding']['config_packing'] = packing
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
    if 'padding' in rep:
        p = rep['padding']
        t = p['sample_tokens']
        lines.append(
            f"batches of {p['batch_size']} ({p['batches']} batches, sample tokens {t['min']}-{t['max']}, "
            f"median {t['median']}; training.packing is {'on' if p['config_packing'] else 'off'}):"
        )
        lines.append(
            f"  padded to the longest: {p['tokens_padded']} tokens for {p['tokens_real']} real, padding "
            f"{100 * p['padding_fraction_padded']:.1f}%, largest batch {p['peak_batch_tokens_padded']} tokens"
        )
        lines.append(
            f"  packed (padding-free): {p['tokens_packed']} tokens, padding {100 * p['padding_fraction_packed']:.1f}%,"
            f" largest batch {p['peak_batch_tokens_packed']} tokens; padded batches carry "
            f"{p['token_ratio_padded_over_packed']:.2f}x the tokens"
        )
        if p['batch_size'] == 1:
            lines.append('  (batch size 1: nothing to pad or pack; try --batch-size)')
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
