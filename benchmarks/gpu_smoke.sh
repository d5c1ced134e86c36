#!/usr/bin/env bash
# GPU smoke check of geoaug_train: the LoRA adapter path on a real CUDA device, in bf16.
#
# What it checks, in order (each step reports PASS/FAIL; later independent steps still run):
#   a) installs the carried wheels (.whl/, see below) into $SMOKE_SITE and prints the stack's versions;
#   b) builds the tiny random Qwen3-VL and a small synthetic dataset, renders a few samples;
#   c) `geoaug-train train` for a few bf16 LoRA steps: plain, ZeRO-2, ZeRO-3 (one GPU, DeepSpeed), each
#      asserting that an adapter was saved, that no CPU fallback happened, and printing wall time, peak GPU
#      memory and ms-swift's loss lines; then the three adapters are compared (same tensors, non-empty,
#      finite: ZeRO-3 must gather the LoRA weights before saving) and `predict` runs on the GPU with them;
#   d) packed against padded training (issue #15): a mixed-length dataset (boxes and text-line quads, answers of
#      ~64 to ~2,048 tokens, benchmarks/packing_data.py), `bench-data`'s padding fraction on it, then the same
#      bf16 LoRA run twice on the same data, steps, batch size and seed: padded batches (model.attn_impl
#      sdpa, the default) and training.packing: true (ms-swift padding_free, flash_attention_2, every fetch
#      freshly augmented); each reports samples/s, tokens/s (real and padded), peak memory and its loss
#      curve, and the comparison prints the packed/padded ratios against the target (>= 1.5x samples/s at equal
#      or less peak memory). Needs flash-attn for this torch and CUDA (carry its wheel in .whl/);
#   e) the tests in tests/train with a GPU present (CI unset), the flash-attention packed forward among them.
#
# Usage, from the repo root of a machine with an NVIDIA GPU and torch, but without network:
#   bash benchmarks/gpu_smoke.sh
# The machine needs the train extra that its python lacks as wheels in .whl/ (made where pip works:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .whl NAME==VERSION; deepspeed
#   built as a pure wheel with DS_BUILD_OPS=0 pip wheel --no-deps --no-build-isolation deepspeed==0.19.8).
# On the workplace's CUDA image (torch 2.11, transformers 5.17) these were missing and carried: ms-swift, transformers
#   5.19.0, peft 0.20.0, deepspeed, qwen-vl-utils, shapely, trl, datasets, dill, multiprocess, modelscope,
#   modelscope-hub, cryptography, cffi, pycparser, pydantic(-core), annotated-types, typing-inspection, hjson,
#   addict, attrdict, binpacking, dacite, importlib-metadata, json-repair, zstandard, cpm-kernels (~39 MB).
# Everything is logged to $OUT/gpu_smoke.log when OUT is set (else $SMOKE_WORK/gpu_smoke.log).
#
# Knobs (environment): PYTHON (python3), SMOKE_SITE (/tmp/site), SMOKE_WORK (/tmp/gpu_smoke),
# SMOKE_STEPS (6), EXPECT_GPU (1; 0 = dry run on a CPU machine: the GPU assertions are skipped),
# SMOKE_PYTEST (1; 0 skips step e), SMOKE_PYTEST_WORKERS (4, when pytest-xdist is there), TRAIN_TIMEOUT (240 s
# per run), SMOKE_BUDGET (540 s: pytest gets what is left of it, at most PYTEST_TIMEOUT = 330 s).
# Packed vs padded (step d): SMOKE_PACK (1; 0 skips it), SMOKE_PACK_ONLY (0; 1 runs only the inputs, step d and
# tests/train/test_train_packing.py: the whole script does not fit one 10-minute call, so run it twice, once with
# SMOKE_PACK=0 and once with SMOKE_PACK_ONLY=1),
# SMOKE_PACK_MODEL (a local Qwen3-VL checkpoint; default the tiny model, whose figures show the mechanics
# only: a 64-wide model is bound by overheads, not by the tokens it computes), SMOKE_PACK_STEPS (30),
# SMOKE_PACK_BS (8, per_device_train_batch_size of both runs), SMOKE_PACK_WARMUP (5 steps left out of the rates),
# SMOKE_PADDED_ATTN (sdpa; flash_attention_2 compares against padded batches on flash attention too).
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
SITE=${SMOKE_SITE:-/tmp/site}
WORK=${SMOKE_WORK:-/tmp/gpu_smoke}
STEPS=${SMOKE_STEPS:-6}
PACK_STEPS=${SMOKE_PACK_STEPS:-30}
PACK_BS=${SMOKE_PACK_BS:-8}
PACK_WARMUP=${SMOKE_PACK_WARMUP:-5}
PADDED_ATTN=${SMOKE_PADDED_ATTN:-sdpa}
PACK_MODEL=${SMOKE_PACK_MODEL:-$WORK/tiny-qwen3-vl}
# SMOKE_PACK_ONLY=1: only step d, then only the packing tests (their flash-attention forward among them)
PYTEST_PATH=tests/train
if [ "${SMOKE_PACK_ONLY:-0}" = 1 ]; then PYTEST_PATH=tests/train/test_train_packing.py; fi
EXPECT_GPU=${EXPECT_GPU:-1}
TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-240}
PYTEST_TIMEOUT=${PYTEST_TIMEOUT:-330}
BUDGET=${SMOKE_BUDGET:-540}
START=$(date +%s)
rm -rf "$WORK" && mkdir -p "$WORK"
LOG=${OUT:+$OUT/gpu_smoke.log}
LOG=${LOG:-$WORK/gpu_smoke.log}

export PYTHONUNBUFFERED=1
# Nothing may reach a model hub: the machine has no network, and a retry loop would eat the time limit.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MODELSCOPE_OFFLINE=1 HF_DATASETS_OFFLINE=1
unset CI

RESULTS=()
FAILED=0

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME FUNCTION [ARGS...]: runs the function in a subshell under `set -e`, records PASS/FAIL, never aborts.
step() {
  local name=$1 t0 rc
  shift
  echo "================ STEP $name"
  t0=$(now)
  ( set -e; "$@" )
  rc=$?
  if [ "$rc" -eq 0 ]; then RESULTS+=("PASS  $name  ($(since "$t0") s)")
  else RESULTS+=("FAIL  $name  (rc $rc, $(since "$t0") s)"); FAILED=1; fi
  return 0
}

# GPU memory is sampled by nvidia-smi because the training runs in ms-swift's own subprocess.
SAMPLER=
sampler_start() {
  SAMPLER=
  command -v nvidia-smi >/dev/null || return 0
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$WORK/$1.mem" 2>/dev/null &
  SAMPLER=$!
}
sampler_stop() {  # prints "peak MiB (baseline MiB)"
  [ -n "$SAMPLER" ] || { echo 'n/a (no nvidia-smi)'; return 0; }
  kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
  local f=$WORK/$1.mem
  echo "$(sort -n "$f" | tail -1) MiB (baseline $(head -1 "$f") MiB)"
}
peak_above_baseline() {  # MiB the run added on the GPU at its peak
  local f=$WORK/$1.mem
  [ -s "$f" ] || { echo 0; return 0; }
  echo $(( $(sort -n "$f" | tail -1) - $(head -1 "$f") ))
}

install_wheels() {
  ls .whl/*.whl >/dev/null
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
}

versions() {
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  "$PY" - <<'EOF'
import sys, torch, transformers, peft, swift, deepspeed, shapely, qwen_vl_utils, geoaug, geoaug_train
print('python', sys.version.split()[0], sys.executable)
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())
if torch.cuda.is_available():
    print('device', torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported())
for m in (transformers, peft, swift, deepspeed, shapely):
    print(m.__name__, getattr(m, '__version__', '?'), m.__file__)
import accelerate, cv2, numpy, PIL
print('accelerate', accelerate.__version__, 'cv2', cv2.__version__, 'numpy', numpy.__version__, 'pillow', PIL.__version__)
print('geoaug', geoaug.__file__)
EOF
  if [ "$EXPECT_GPU" = 1 ]; then "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device")'; fi
}

build_inputs() {
  "$PY" -m geoaug_train.cli tiny-model "$WORK/tiny-qwen3-vl"
  "$PY" examples/train/make_dataset.py "$WORK/data" --num 12 --seed 3
  ls "$WORK/tiny-qwen3-vl" "$WORK/data"
  wc -l "$WORK/data/train.jsonl" "$WORK/data/val.jsonl"
}

# write_cfg PATH OUTPUT_DIR DEEPSPEED(none|zero2|zero3): the test suite's own config, switched to bf16 below.
write_cfg() {
  "$PY" - "$@" <<EOF
import sys
sys.path.insert(0, 'tests/train')
from train_helpers import write_config
path, out, ds = sys.argv[1:4]
write_config(path, model_dir='$WORK/tiny-qwen3-vl', data_dir='$WORK/data', output_dir=out,
             deepspeed={'enabled': ds != 'none', 'config': ds if ds != 'none' else 'zero2'})
EOF
}
GPU_SETS=(--set model.torch_dtype=bfloat16 --set training.bf16=true --set "training.max_steps=$STEPS"
          --set "training.save_steps=$STEPS" --set training.logging_steps=1)

render() {
  write_cfg "$WORK/render.yaml" "$WORK/render-out" none
  "$PY" -m geoaug_train.cli render "$WORK/render.yaml" --out "$WORK/render" --num 4
  ls "$WORK/render"
  test -s "$WORK/render/preview.png"
}

# train_run NAME DEEPSPEED WORKERS
train_run() {
  local name=$1 ds=$2 workers=$3 cfg=$WORK/$1.yaml out=$WORK/$1-out log=$WORK/$1.log t0 rc=0 mem
  write_cfg "$cfg" "$out" "$ds"
  sampler_start "$name"
  t0=$(now)
  timeout "$TRAIN_TIMEOUT" "$PY" -m geoaug_train.cli train "$cfg" "${GPU_SETS[@]}" \
    --set "data.dataloader_num_workers=$workers" --set "data.val=$WORK/data/val.jsonl" \
    -- --save_total_limit 2 2>&1 | tee "$log" || rc=$?
  mem=$(sampler_stop "$name")
  echo "[smoke] $name: rc=$rc wall=$(since "$t0") s peak GPU memory used=$mem"
  echo "[smoke] $name: ms-swift log lines with the loss:"
  grep -E "'loss'" "$log" || echo '(none)'
  grep -E "train_runtime|memory\(GiB\)" "$log" | tail -2 || true
  test "$rc" -eq 0
  grep -q -- '--template geoaug_qwen3_vl' "$log"
  if [ "$ds" != none ]; then grep -q -- "--deepspeed $ds" "$log"; fi
  if grep -qiE "'loss': (nan|inf)" "$log"; then echo "[smoke] $name: non-finite loss"; false; fi
  if [ "$EXPECT_GPU" = 1 ]; then
    # The GPU path must not fall back (config.adapt_to_device) and must really hand bf16 to ms-swift.
    if grep -q 'no CUDA:' "$log"; then echo "[smoke] $name: fell back to CPU"; false; fi
    grep -q -- '--torch_dtype bfloat16' "$log"
    grep -q -- '--bf16 true' "$log"
    test "$(peak_above_baseline "$name")" -gt 100 || { echo "[smoke] $name: the GPU's memory never grew"; false; }
  fi
  "$PY" - "$out" "$STEPS" <<'EOF'
import json, os, sys
out, steps = sys.argv[1], int(sys.argv[2])
ckpt = os.path.join(out, f'checkpoint-{steps}')
assert os.path.isfile(os.path.join(ckpt, 'adapter_model.safetensors')), (ckpt, os.listdir(out))
cfg = json.load(open(os.path.join(ckpt, 'adapter_config.json')))
assert cfg['peft_type'] == 'LORA' and cfg['r'] == 4, cfg
state = json.load(open(os.path.join(ckpt, 'trainer_state.json')))
assert state['global_step'] == steps, state['global_step']
print('[smoke] adapter:', ckpt, 'losses:', [h['loss'] for h in state['log_history'] if 'loss' in h])
EOF
}

# ZeRO-3 shards the weights: a save that forgets to gather writes empty or partial LoRA tensors.
compare_adapters() {
  "$PY" - "$WORK" "$STEPS" <<'EOF'
import os, sys
import torch
from safetensors.torch import load_file
work, steps = sys.argv[1], int(sys.argv[2])
runs = {n: os.path.join(work, f'{n}-out', f'checkpoint-{steps}', 'adapter_model.safetensors')
        for n in ('lora', 'zero2', 'zero3')}
tensors = {n: load_file(p) for n, p in runs.items() if os.path.isfile(p)}
print('[smoke] adapters found:', sorted(tensors))
assert 'lora' in tensors, 'no plain LoRA adapter to compare against'
ref = {k: tuple(v.shape) for k, v in tensors['lora'].items()}
print(f'[smoke] lora: {len(ref)} tensors, {sum(v.numel() for v in tensors["lora"].values())} values')
bad = []
for n, t in tensors.items():
    shapes = {k: tuple(v.shape) for k, v in t.items()}
    if shapes != ref:
        bad.append(f'{n}: tensors differ from lora: missing {sorted(set(ref) - set(shapes))[:3]}, '
                   f'changed {[k for k in ref if k in shapes and shapes[k] != ref[k]][:3]}')
    for k, v in t.items():
        if v.numel() == 0 or not torch.isfinite(v.float()).all():
            bad.append(f'{n}: {k} is empty or not finite')
    b = [v for k, v in t.items() if 'lora_B' in k]
    print(f'[smoke] {n}: lora_B mean |w| = {sum(float(v.float().abs().mean()) for v in b) / max(len(b), 1):.3g}')
assert not bad, '\n'.join(bad[:10])
assert set(tensors) == set(runs), f'missing adapters: {sorted(set(runs) - set(tensors))}'
EOF
}

# predict_run NAME: predicts with the adapter of run NAME on two validation images.
predict_run() {
  local name=$1 ckpt=$WORK/$1-out/checkpoint-$STEPS log=$WORK/predict-$1.log t0 rc=0 mem imgs
  mapfile -t imgs < <(ls "$WORK"/data/imgs/*.png | head -2)
  sampler_start "predict-$name"
  t0=$(now)
  timeout 180 "$PY" -m geoaug_train.cli predict "$WORK/$name.yaml" "${GPU_SETS[@]}" --adapter "$ckpt" \
    --out "$WORK/predict-$name" --max-new-tokens 24 --image "${imgs[0]}" --image "${imgs[1]}" 2>&1 | tee "$log" || rc=$?
  mem=$(sampler_stop "predict-$name")
  echo "[smoke] predict-$name: rc=$rc wall=$(since "$t0") s peak GPU memory used=$mem"
  test "$rc" -eq 0
  grep -q "adapter: $ckpt" "$log"
  if [ "$EXPECT_GPU" = 1 ] && grep -q 'no CUDA:' "$log"; then echo "[smoke] predict fell back to CPU"; false; fi
  ls "$WORK/predict-$name"
  head -c 1500 "$WORK/predict-$name"/*.json | head -60
}

# Packed against padded (step d), on the mixed-length data: log-uniform answer lengths, boxes and text-line quads.
pack_inputs() {
  "$PY" benchmarks/packing_data.py "$WORK/mixed" --num $((PACK_BS * (PACK_STEPS + 2))) --seed 5
  test -d "$PACK_MODEL"
  "$PY" - "$WORK/pack.yaml" "$PACK_MODEL" "$WORK/mixed" "$WORK/pack-out" <<'EOF'
import sys
sys.path.insert(0, 'tests/train')
from train_helpers import write_config
path, model, data, out = sys.argv[1:5]
write_config(path, model_dir=model, data_dir=data, output_dir=out, global_max_length=4096,
             data={'train': data + '/train.jsonl', 'max_pixels': 65536, 'dataloader_num_workers': 2})
EOF
  # the padding that packing removes, measured on the data side before any training
  "$PY" -m geoaug_train.cli bench-data "$WORK/pack.yaml" --num 64 --rounds 2 --batch-size "$PACK_BS" \
    --json "$WORK/pack-bench.json"
}

flash_available() {
  "$PY" -c 'import sys; from transformers.utils import is_flash_attn_2_available as a; sys.exit(0 if a() else 1)'
}

# pack_run NAME PACKING ATTN: the same bf16 LoRA run with padded batches (PACKING false) or packed ones (true).
pack_run() {
  local name=$1 packing=$2 attn=$3 out=$WORK/$1-out log=$WORK/$1.log t0 rc=0 mem
  if [ "$EXPECT_GPU" = 1 ] && [ "$packing" = true ] && ! flash_available; then
    echo "[smoke] $name: flash-attn is not installed for this torch and CUDA; carry its wheel in .whl/"
    false
  fi
  sampler_start "$name"
  t0=$(now)
  timeout "$TRAIN_TIMEOUT" "$PY" -m geoaug_train.cli train "$WORK/pack.yaml" \
    --set model.torch_dtype=bfloat16 --set training.bf16=true --set "model.attn_impl=$attn" \
    --set "training.packing=$packing" --set "training.per_device_train_batch_size=$PACK_BS" \
    --set "training.max_steps=$PACK_STEPS" --set "training.save_steps=$PACK_STEPS" --set training.logging_steps=1 \
    --set "training.output_dir=$out" \
    -- --include_num_input_tokens_seen true --save_total_limit 1 2>&1 | tee "$log" || rc=$?
  mem=$(sampler_stop "$name")
  echo "[smoke] $name: rc=$rc wall=$(since "$t0") s peak GPU memory used=$mem"
  test "$rc" -eq 0
  if [ "$EXPECT_GPU" != 1 ]; then  # dry run on a CPU machine: packing falls back to padded batches, with a notice
    [ "$packing" != true ] || grep -q 'no CUDA: training.packing true -> false' "$log"
  elif [ "$packing" = true ]; then
    grep -q -- '--padding_free true' "$log"
    grep -q -- '--lazy_tokenize true' "$log"
    grep -q -- '--attn_impl flash_attention_2' "$log"
  else
    grep -q -- '--padding_free false' "$log"
  fi
  if [ "$EXPECT_GPU" = 1 ] && grep -q 'no CUDA:' "$log"; then echo "[smoke] $name: fell back to CPU"; false; fi
  "$PY" - "$out" "$name" "$PACK_BS" "$PACK_WARMUP" "$(peak_above_baseline "$name")" "$WORK/$name.json" <<'EOF'
import json, math, sys
out, name, dest = sys.argv[1], sys.argv[2], sys.argv[6]
bs, warm, peak_mib = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
steps = []  # (step, loss, seconds since the start, input tokens seen (padding included), peak reserved GiB)
for line in open(f'{out}/logging.jsonl', encoding='utf-8'):
    rec = json.loads(line)
    if 'loss' in rec and 'train_speed(s/it)' in rec:
        step = int(rec['global_step/max_steps'].split('/')[0])
        steps.append((step, rec['loss'], step * rec['train_speed(s/it)'], rec.get('num_input_tokens_seen'),
                      rec.get('memory(GiB)')))
assert steps, 'no step was logged'
losses = [round(s[1], 4) for s in steps]
assert all(math.isfinite(x) for x in losses), losses
first = next(s for s in steps if s[0] >= min(warm, steps[-1][0] - 1))  # the first steps pay for start-up
last = steps[-1]
secs = last[2] - first[2]
tokens = last[3] - first[3] if last[3] is not None and first[3] is not None else None
rep = {
    'name': name, 'steps': last[0], 'batch_size': bs, 'rates_from_step': first[0], 'seconds': round(secs, 3),
    'samples_per_s': round((last[0] - first[0]) * bs / secs, 3),
    'input_tokens': tokens, 'input_tokens_per_s': round(tokens / secs, 1) if tokens is not None else None, 'peak_reserved_gib': max((s[4] or 0) for s in steps), 'peak_nvidia_smi_mib': peak_mib,
    'losses': losses,
}
json.dump(rep, open(dest, 'w'), indent=1)
print('[smoke]', json.dumps(rep))
EOF
}

pack_compare() {
  "$PY" - "$WORK/padded.json" "$WORK/packed.json" "$WORK/pack-bench.json" <<'EOF'
import json, sys
pad, pack, bench = (json.load(open(p)) for p in sys.argv[1:4])
p = bench['padding']
print(f"[smoke] data: padding is {100 * p['padding_fraction_padded']:.1f}% of padded batches of {p['batch_size']}; "
      f"they carry {p['token_ratio_padded_over_packed']}x the tokens of packed ones")
# Both runs train the same samples in the same order (same seed, sampler and (seed, epoch, index) draws), and a
# packed batch holds exactly its samples' tokens: the packed run's input tokens are the real tokens of both.
real = pack['input_tokens']
for run in (pad, pack):
    run['real_tokens_per_s'] = round(real / run['seconds'], 1) if real else None
if real and pad['input_tokens']:
    print(f"[smoke] padding in the padded run's batches: {100 * (1 - real / pad['input_tokens']):.1f}%")
for k in ('samples_per_s', 'real_tokens_per_s', 'input_tokens_per_s', 'peak_reserved_gib', 'peak_nvidia_smi_mib'):
    a, b = pad.get(k), pack.get(k)
    ratio = f'{b / a:.2f}x' if a and b else '-'
    print(f'[smoke] {k:<20} padded {a!s:>10}   packed {b!s:>10}   packed/padded {ratio}')
print('[smoke] loss padded:', pad['losses'])
print('[smoke] loss packed:', pack['losses'])
# step 1 is the same samples through the same weights: packed (flash attention, one sequence) must give the
# padded batch's loss; later steps drift apart only as the updates' rounding does
first = abs(pack['losses'][0] - pad['losses'][0]) / abs(pad['losses'][0])
print(f'[smoke] step-1 loss, packed against padded: relative difference {first:.2e}')
assert first < 0.02, 'the packed batch does not give the padded batch loss'
speed = pack['samples_per_s'] / pad['samples_per_s']
mem_ok = pack['peak_reserved_gib'] <= pad['peak_reserved_gib']
print(f"[smoke] target >= 1.5x samples/s at equal or less peak memory: {'MET' if speed >= 1.5 and mem_ok else 'NOT MET'}"
      f" ({speed:.2f}x; peak reserved {pack['peak_reserved_gib']} against {pad['peak_reserved_gib']} GiB)")
EOF
}

run_pytest() {
  local flags=() left
  "$PY" -c 'import pytest_timeout' 2>/dev/null && flags+=(--timeout 200)
  "$PY" -c 'import xdist' 2>/dev/null && flags+=(-n "${SMOKE_PYTEST_WORKERS:-4}")
  # Whatever the steps before left of the budget, so that the log is complete before the caller's limit.
  left=$(( BUDGET - ($(date +%s) - START) - 10 ))
  [ "$left" -lt "$PYTEST_TIMEOUT" ] || left=$PYTEST_TIMEOUT
  [ "$left" -gt 30 ] || { echo "[smoke] no time left for pytest"; false; }
  # No -x: one run should show every test's result.
  timeout "$left" "$PY" -m pytest -q "$PYTEST_PATH" -p no:cacheprovider -ra "${flags[@]}"
}

main() {
  echo "[smoke] repo $REPO, work $WORK, log $LOG, python $(command -v "$PY"), steps $STEPS, expect GPU $EXPECT_GPU"
  set -x
  step install install_wheels || true
  export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  step versions versions
  step inputs build_inputs
  if [ "${SMOKE_PACK_ONLY:-0}" != 1 ]; then
    step render render
    step train-lora train_run lora none 2
    step train-zero2 train_run zero2 zero2 0
    step train-zero3 train_run zero3 zero3 0
    step compare-adapters compare_adapters
    step predict-lora predict_run lora
    step predict-zero3 predict_run zero3
  fi
  if [ "${SMOKE_PACK:-1}" = 1 ]; then
    step pack-inputs pack_inputs
    step train-padded pack_run padded false "$PADDED_ATTN"
    step train-packed pack_run packed true flash_attention_2
    step pack-compare pack_compare
  fi
  if [ "${SMOKE_PYTEST:-1}" = 1 ]; then step pytest run_pytest; fi
  set +x
  if [ -n "${OUT:-}" ]; then  # a few artefacts beside the log (the device tool brings back at most 8 files)
    cp "$WORK/render/preview.png" "$OUT/render_preview.png" 2>/dev/null
    cp "$(ls "$WORK"/predict-lora/*.png 2>/dev/null | head -1)" "$OUT/predict_lora.png" 2>/dev/null
    cp "$(ls "$WORK"/predict-zero3/*.json 2>/dev/null | head -1)" "$OUT/predict_zero3.json" 2>/dev/null
    cat "$WORK"/padded.json "$WORK"/packed.json "$WORK"/pack-bench.json >"$OUT/packing.json" 2>/dev/null
  fi
  echo "================ SUMMARY"
  printf '%s\n' "${RESULTS[@]}"
  return "$FAILED"
}

mkdir -p "$(dirname "$LOG")"
main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
