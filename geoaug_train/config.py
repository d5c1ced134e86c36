"""The training YAML: schema, up-front validation (errors name the key), `--set` overrides, CPU fallback.

Validation happens before anything heavy is imported so that a typo costs a second, not a model load.
"""

from __future__ import annotations

import copy
import difflib
import glob
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import yaml


class ConfigError(ValueError):
    """A problem with the training config; the message names the offending key."""


CHECK_IMAGES = ('header', 'decode', 'off')
OBJECTS_OUTSIDE = ('clip', 'drop', 'error')
DEEPSPEED_PRESETS = ('zero2', 'zero3', 'zero2_offload', 'zero3_offload')
TORCH_DTYPES = ('bfloat16', 'float16', 'float32', 'auto')
# The attention implementations ms-swift 4.6 accepts for packing / padding_free (SftArguments._check_padding_free).
FLASH_ATTN_IMPLS = ('flash_attention_2', 'flash_attention_3', 'flash_attention_4', 'flash_attn')
DEFAULT_FLASH_ATTN = 'flash_attention_2'


def _is_bool(v: object) -> bool:
    return isinstance(v, bool)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str(v: object) -> bool:
    return isinstance(v, str) and v != ''


class Field:
    """One leaf of the schema: a type check, an optional choice list and a default."""

    def __init__(
        self,
        check: Callable[[Any], bool],
        kind: str,
        default: Any = None,
        required: bool = False,
        choices: tuple | None = None,
        minimum: float | None = None,
    ):
        self.check, self.kind, self.default, self.required = check, kind, default, required
        self.choices, self.minimum = choices, minimum

    def validate(self, key: str, value: Any) -> Any:
        if value is None:
            if self.required:
                raise ConfigError(f'{key}: required ({self.kind})')
            return copy.deepcopy(self.default)
        if not self.check(value):
            raise ConfigError(f'{key}: expected {self.kind}, got {value!r}')
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f'{key}: {value!r} is not one of {list(self.choices)}')
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f'{key}: must be >= {self.minimum}, got {value!r}')
        return value


def _str_or_list(v: object) -> bool:
    return _is_str(v) or (isinstance(v, list) and len(v) > 0 and all(_is_str(i) for i in v))


# Defaults follow ms-swift's where the user's config leaves a key out, except where noted.
SCHEMA: dict[str, Any] = {
    'model': {
        'path': Field(_is_str, 'a path to a local Qwen3-VL checkpoint', required=True),
        'torch_dtype': Field(_is_str, 'a dtype name', 'bfloat16', choices=TORCH_DTYPES),
        'attn_impl': Field(_is_str, 'an attention implementation (sdpa, eager, flash_attention_2, ...)'),
    },
    'training': {
        'output_dir': Field(_is_str, 'a directory', required=True),
        'learning_rate': Field(_is_number, 'a number', 1e-4, minimum=0),
        'lr_scheduler_type': Field(_is_str, 'a transformers scheduler name', 'cosine'),
        'lr_scheduler_kwargs': Field(lambda v: isinstance(v, dict), 'a mapping', None),
        'warmup_ratio': Field(_is_number, 'a number in [0, 1]', 0.0, minimum=0),
        'num_train_epochs': Field(_is_number, 'a number', 1, minimum=0),
        'max_steps': Field(_is_int, 'an integer (-1: use num_train_epochs)', -1),
        'per_device_train_batch_size': Field(_is_int, 'an integer', 1, minimum=1),
        'gradient_accumulation_steps': Field(_is_int, 'an integer', 1, minimum=1),
        'gradient_checkpointing': Field(_is_bool, 'true or false', True),
        'bf16': Field(_is_bool, 'true or false'),
        'fp16': Field(_is_bool, 'true or false'),
        'packing': Field(_is_bool, 'true or false', False),
        'save_steps': Field(_is_int, 'an integer', 500, minimum=1),
        'logging_steps': Field(_is_int, 'an integer', 5, minimum=1),
        'seed': Field(_is_int, 'an integer', 42),
    },
    'tuner': {
        'type': Field(_is_str, 'a tuner type', 'lora', choices=('lora', 'full')),
        'lora_rank': Field(_is_int, 'an integer', 8, minimum=1),
        'lora_alpha': Field(_is_number, 'a number', 32),
        'lora_dropout': Field(_is_number, 'a number in [0, 1)', 0.05, minimum=0),
        'target_modules': Field(_str_or_list, 'a module name or a list of them', 'all-linear'),
        'freeze_llm': Field(_is_bool, 'true or false', False),
        'freeze_vit': Field(_is_bool, 'true or false', True),
        'freeze_aligner': Field(_is_bool, 'true or false', True),
    },
    'deepspeed': {
        'enabled': Field(_is_bool, 'true or false', False),
        'config': Field(_is_str, f'one of {list(DEEPSPEED_PRESETS)} or a path to a DeepSpeed JSON', 'zero2'),
    },
    'data': {
        # A file, a list of files or a glob (shards): expanded to a sorted list of absolute paths.
        'train': Field(_str_or_list, 'a JSONL path, a list of them or a glob', required=True),
        'val': Field(_str_or_list, 'a JSONL path, a list of them or a glob'),
        'prompt': Field(_is_str, 'a string', 'Locate every object in the image. Answer with a JSON list.'),
        'dataloader_num_workers': Field(_is_int, 'an integer', 0, minimum=0),
        'dataloader_pin_memory': Field(_is_bool, 'true or false', True),
        # Bounds of qwen_vl_utils' own resize (4..16384 tokens of 32x32): inside them its resize is a no-op,
        # so the model sees exactly the pixels geoaug's final smart_resize produced.
        # Unset: taken from ms-swift's MAX_PIXELS / IMAGE_MAX_TOKEN_NUM (MIN_...) when set, else 1024 / 4 tokens.
        'max_pixels': Field(_is_int, 'an integer', None, minimum=4 * 32 * 32),
        'min_pixels': Field(_is_int, 'an integer', None, minimum=4 * 32 * 32),
        # Opt-in: records whose image is missing or unreadable are skipped and counted instead of failing.
        'skip_bad_images': Field(_is_bool, 'true or false', False),
        # How images are checked at prepare time: from their headers (format, size, mode, end marker), by a
        # full decode, or not at all (then geometry is not checked against the image size either).
        'check_images': Field(_is_str, 'header, decode or off', 'header', choices=CHECK_IMAGES),
        # Objects reaching outside their own image: clip (partly outside: clipped at fetch; wholly outside:
        # dropped), drop (any object reaching outside is dropped) or error. Counted either way.
        'objects_outside': Field(_is_str, 'clip, drop or error', 'clip', choices=OBJECTS_OUTSIDE),
        # Where the record store lives (default <training.output_dir>/geoaug/store); share it between runs.
        'cache_dir': Field(_is_str, 'a directory'),
        # Processes parsing and checking at prepare time (default: the machine's cores).
        'prepare_workers': Field(_is_int, 'an integer', None, minimum=1),
    },
    'global_max_length': Field(_is_int, 'an integer', 8192, minimum=16),
    'custom': {
        'augmentation': Field(lambda v: isinstance(v, (dict, list)), "geoaug's augmentation block", None),
    },
}


def _suggest(key: str, valid: Collection[str], noun: str = 'keys') -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else f'; valid {noun}: {sorted(valid)}'


def _validate(node: Mapping, schema: Mapping, prefix: str) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise ConfigError(f'{prefix or "config"}: expected a mapping, got {type(node).__name__}')
    for key in node:
        if key not in schema:
            raise ConfigError(f'{prefix}{key}: unknown key{_suggest(str(key), schema)}')
    out = {}
    for key, spec in schema.items():
        value = node.get(key)
        if isinstance(spec, Field):
            out[key] = spec.validate(prefix + key, value)
        else:
            out[key] = _validate(value if value is not None else {}, spec, f'{prefix}{key}.')
    return out


def _check_cross_field(cfg: dict[str, Any]) -> None:
    tr = cfg['training']
    if tr['max_steps'] == -1 and not tr['num_train_epochs']:
        raise ConfigError('training.num_train_epochs: must be > 0 when training.max_steps is not set')
    if tr['max_steps'] == 0 or tr['max_steps'] < -1:
        raise ConfigError(f"training.max_steps: must be a positive integer or -1, got {tr['max_steps']}")
    if tr['warmup_ratio'] > 1:
        raise ConfigError(f"training.warmup_ratio: must be in [0, 1], got {tr['warmup_ratio']}")
    if tr['lr_scheduler_type'] not in KNOWN_SCHEDULERS and tr['lr_scheduler_type'] not in _scheduler_names():
        raise ConfigError(
            f"training.lr_scheduler_type: unknown scheduler {tr['lr_scheduler_type']!r}"
            f"{_suggest(tr['lr_scheduler_type'], _scheduler_names(), 'values')}"
        )
    kwargs = tr['lr_scheduler_kwargs'] or {}
    if 'min_lr' in kwargs and not _is_number(kwargs['min_lr']):
        raise ConfigError(f"training.lr_scheduler_kwargs.min_lr: expected a number, got {kwargs['min_lr']!r}")
    if tr['lr_scheduler_type'] in ('cosine_with_min_lr', 'cosine_warmup_with_min_lr') and not (
        'min_lr' in kwargs or 'min_lr_rate' in kwargs
    ):
        raise ConfigError(f"training.lr_scheduler_kwargs: {tr['lr_scheduler_type']} needs min_lr (or min_lr_rate)")
    if not 0 <= cfg['tuner']['lora_dropout'] < 1:
        raise ConfigError(f"tuner.lora_dropout: must be in [0, 1), got {cfg['tuner']['lora_dropout']}")
    resolve_pixel_limits(cfg['data'], os.environ)
    if cfg['data']['min_pixels'] > cfg['data']['max_pixels']:
        raise ConfigError('data.min_pixels: must not exceed data.max_pixels')
    attn = cfg['model']['attn_impl']
    if tr['packing'] and attn is not None and attn not in FLASH_ATTN_IMPLS:
        # ms-swift flattens packed batches into one sequence whose samples only flash attention keeps apart.
        raise ConfigError(
            f'training.packing: needs a flash attention implementation, but model.attn_impl is {attn!r}; '
            f'set model.attn_impl to one of {list(FLASH_ATTN_IMPLS)} (or leave it unset), or set packing: false'
        )


QWEN3_VL_TOKEN_PIXELS = 32 * 32  # one image token: a 16-pixel patch, merged 2 x 2
DEFAULT_TOKENS = {'max': 1024, 'min': 4}
QWEN_VL_UTILS_TOKENS = {'max': 16384, 'min': 4}  # qwen_vl_utils' own bounds when no variable is set


def swift_token_limit(bound: str, env: Mapping[str, str]) -> int | None:
    """The image-token bound ms-swift gives qwen_vl_utils for Qwen3-VL, from its variables, as ms-swift 4.6
    reads them (IMAGE_MAX_TOKEN_NUM, else MAX_PIXELS // 32**2); None when neither is set."""
    tokens, pixels = env.get(f'IMAGE_{bound.upper()}_TOKEN_NUM'), env.get(f'{bound.upper()}_PIXELS')
    try:
        if tokens:
            return int(tokens)
        if pixels:
            return int(pixels) // QWEN3_VL_TOKEN_PIXELS
    except ValueError:
        raise ConfigError(
            f'environment: IMAGE_{bound.upper()}_TOKEN_NUM / {bound.upper()}_PIXELS must be integers, '
            f'got {tokens or pixels!r}'
        ) from None
    return None


def resolve_pixel_limits(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fill data.max_pixels / min_pixels and check them against what qwen_vl_utils will enforce inside ms-swift.

    geoaug's final smart_resize must land on a size that qwen_vl_utils leaves alone: then the template's own
    bicubic resize has nothing to do and the 0-1000 grid is computed on exactly the pixels the model sees."""
    for bound in ('max', 'min'):
        key = f'{bound}_pixels'
        swift = swift_token_limit(bound, env)
        if data[key] is None:
            data[key] = (swift if swift is not None else DEFAULT_TOKENS[bound]) * QWEN3_VL_TOKEN_PIXELS
        limit = (swift if swift is not None else QWEN_VL_UTILS_TOKENS[bound]) * QWEN3_VL_TOKEN_PIXELS
        source = 'MAX_PIXELS/IMAGE_MAX_TOKEN_NUM' if bound == 'max' else 'MIN_PIXELS/IMAGE_MIN_TOKEN_NUM'
        if bound == 'max' and data[key] > limit:
            raise ConfigError(
                f'data.max_pixels: {data[key]} exceeds the {limit} pixels ms-swift allows Qwen3-VL '
                f'({source}); qwen_vl_utils would shrink every image again after geoaug'
            )
        if bound == 'min' and data[key] < limit:
            raise ConfigError(
                f'data.min_pixels: {data[key]} is below the {limit} pixels ms-swift enforces '
                f'({source}); qwen_vl_utils would enlarge small images again after geoaug'
            )


KNOWN_SCHEDULERS = (
    'linear',
    'cosine',
    'cosine_with_restarts',
    'polynomial',
    'constant',
    'constant_with_warmup',
    'inverse_sqrt',
    'reduce_lr_on_plateau',
    'cosine_with_min_lr',
    'cosine_warmup_with_min_lr',
    'warmup_stable_decay',
)


def _scheduler_names() -> list[str]:
    # The schedulers are transformers' own (transformers.SchedulerType). Importing transformers costs
    # seconds, so the known names are checked first and transformers is asked only about others.
    names = list(KNOWN_SCHEDULERS)
    try:
        from transformers import SchedulerType

        names += [s.value for s in SchedulerType if s.value not in names]
    except Exception:  # the train extra is missing: `train` fails later, loudly; `render` does not need it
        pass
    return names


def augmentation_enabled(cfg: Mapping) -> bool:
    aug = (cfg.get('custom') or {}).get('augmentation')
    if not aug:
        return False
    if isinstance(aug, Mapping):
        return bool(aug.get('enabled', True)) and bool(aug.get('ops'))
    return True


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`--set training.max_steps=2`: dotted key, YAML-parsed value."""
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        if '=' not in item:
            raise ConfigError(f'--set {item!r}: expected key=value')
        key, text = item.split('=', 1)
        node = raw
        parts = key.strip().split('.')
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f'--set {key}: {part} is not a section')
            node = child
        node[parts[-1]] = yaml.safe_load(text)
    return raw


def load_raw(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    # geoaug's bounded safe loader: no Python tags, and no alias bomb (aliases expanding beyond 100,000 nodes or
    # 100 levels), whatever the file's origin; its errors are short and name the file
    from geoaug.config import load_yaml
    from geoaug.errors import ConfigError as GeoaugConfigError

    try:
        raw = load_yaml(path)
    except GeoaugConfigError as e:
        raise ConfigError(str(e)) from None
    if not isinstance(raw, dict):
        raise ConfigError(f'{path}: the top level must be a mapping of sections')
    return raw


def resolve_paths(cfg: dict[str, Any], base_dir: str) -> None:
    """Relative paths in the config resolve against the config file's folder, not the shell's cwd."""

    def absolute(p: str) -> str:
        p = os.path.expanduser(p)
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(base_dir, p))

    cfg['model']['path'] = absolute(cfg['model']['path'])
    cfg['training']['output_dir'] = absolute(cfg['training']['output_dir'])
    if cfg['data']['cache_dir']:
        cfg['data']['cache_dir'] = absolute(cfg['data']['cache_dir'])
    for key in ('train', 'val'):
        if cfg['data'][key]:
            cfg['data'][key] = expand_sources(f'data.{key}', cfg['data'][key], absolute)
    ds = cfg['deepspeed']['config']
    if ds not in DEEPSPEED_PRESETS:
        cfg['deepspeed']['config'] = absolute(ds)


def expand_sources(key: str, value: str | Sequence[str], absolute: Callable[[str], str]) -> list[str]:
    """A file, a list of files or globs -> sorted absolute paths (a glob's shards in name order). Every entry
    must name at least one existing file: a typo in a shard pattern must not silently train on less data."""
    out: list[str] = []
    for entry in [value] if isinstance(value, str) else value:
        path = absolute(entry)
        if glob.has_magic(path):
            found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
            if not found:
                raise ConfigError(f'{key}: no file matches {entry!r}')
            out += found
        elif os.path.isfile(path):
            out.append(path)
        else:
            raise ConfigError(f'{key}: file not found: {path}')
    if len(set(out)) != len(out):
        dup = sorted({p for p in out if out.count(p) > 1})
        raise ConfigError(f'{key}: the same file is listed twice: {dup[0]}')
    return out


def validate(raw: Mapping, base_dir: str = '.') -> dict[str, Any]:
    cfg = _validate(raw, SCHEMA, '')
    ds_given = cfg['deepspeed']['config']
    resolve_paths(cfg, base_dir)
    if (
        cfg['deepspeed']['enabled']
        and ds_given not in DEEPSPEED_PRESETS
        and not os.path.isfile(cfg['deepspeed']['config'])
    ):
        raise ConfigError(
            f'deepspeed.config: {ds_given!r} is neither one of {list(DEEPSPEED_PRESETS)} '
            f'nor an existing JSON file{_suggest(ds_given, DEEPSPEED_PRESETS, "values")}'
        )
    _check_cross_field(cfg)
    if not os.path.isdir(cfg['model']['path']):
        raise ConfigError(f"model.path: not a local checkpoint directory: {cfg['model']['path']}")
    return cfg


def load_config(path: str, overrides: list[str] | None = None) -> dict[str, Any]:
    raw = apply_overrides(load_raw(path), overrides or [])
    return validate(raw, base_dir=os.path.dirname(os.path.abspath(path)))


def adapt_to_device(cfg: dict[str, Any], cuda_available: bool) -> list[str]:
    """Without CUDA, half precision and flash attention cannot run: fall back instead of crashing.

    Returns human-readable notes of what changed.
    """
    notes: list[str] = []
    if cuda_available:
        return notes
    if cfg['model']['torch_dtype'] not in ('float32',):
        notes.append(f"no CUDA: model.torch_dtype {cfg['model']['torch_dtype']} -> float32")
        cfg['model']['torch_dtype'] = 'float32'
    for key in ('bf16', 'fp16'):
        if cfg['training'][key]:
            notes.append(f'no CUDA: training.{key} true -> false')
    cfg['training']['bf16'] = False
    cfg['training']['fp16'] = False
    attn = cfg['model']['attn_impl']
    if attn and attn.startswith('flash_attention'):
        notes.append(f'no CUDA: model.attn_impl {attn} -> sdpa')
        cfg['model']['attn_impl'] = 'sdpa'
    return notes


def flash_attention_missing(impl: str) -> str | None:
    """None when transformers can run ``impl``; otherwise what is missing (the package to install)."""
    from transformers.utils import is_flash_attn_2_available, is_flash_attn_3_available, is_flash_attn_4_available

    checks = {
        'flash_attn': (is_flash_attn_2_available, 'flash-attn (flash_attn 2)'),
        'flash_attention_2': (is_flash_attn_2_available, 'flash-attn (flash_attn 2)'),
        'flash_attention_3': (is_flash_attn_3_available, 'flash-attn 3 (flash_attn_interface)'),
        'flash_attention_4': (is_flash_attn_4_available, 'flash-attn 4 (flash_attn.cute)'),
    }
    available, package = checks[impl]
    return None if available() else f'the {package} package is not installed for this torch and CUDA'


def adapt_packing(
    cfg: dict[str, Any], cuda_available: bool, missing: Callable[[str], str | None] | None = None
) -> list[str]:
    """Decide what `training.packing: true` becomes on this machine; returns notes of what changed.

    Packed batches are flattened into one sequence per batch (ms-swift's padding_free when augmentation is
    on, its pre-encoded packing when it is off), which only flash attention keeps apart sample by sample:
    - no CUDA: fall back to padded batches, with a notice (the same YAML still runs a CPU check);
    - CUDA: model.attn_impl defaults to flash_attention_2, and a missing flash-attn package is a ConfigError
      naming training.packing (a GPU run asked for the speed; it must not silently train padded).
    ``missing`` (default `flash_attention_missing`) says what an implementation lacks, None when it runs.
    """
    notes: list[str] = []
    if not cfg['training']['packing']:
        return notes
    if not cuda_available:
        cfg['training']['packing'] = False
        notes.append(
            'no CUDA: training.packing true -> false (padded batches; packed batches need flash attention on a '
            'CUDA GPU)'
        )
        return notes
    attn = cfg['model']['attn_impl']
    if attn is None:
        cfg['model']['attn_impl'] = attn = DEFAULT_FLASH_ATTN
        notes.append(f'training.packing: model.attn_impl unset -> {attn}')
    elif attn not in FLASH_ATTN_IMPLS:  # validate() refuses this already; a caller may have edited the dict
        raise ConfigError(f'training.packing: needs a flash attention implementation, got model.attn_impl {attn!r}')
    why = (missing or flash_attention_missing)(attn)
    if why:
        raise ConfigError(
            f'training.packing: needs flash attention (model.attn_impl {attn}), but {why}; install it '
            '(pip install flash-attn --no-build-isolation) or set training.packing: false'
        )
    if cfg['training']['per_device_train_batch_size'] == 1 and augmentation_enabled(cfg):
        notes.append(
            'training.packing: per_device_train_batch_size is 1, so every batch is one sample and there is no '
            'padding to remove; raise it to gain from packing'
        )
    return notes
