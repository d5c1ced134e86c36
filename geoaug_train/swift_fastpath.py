"""Faster, byte-identical stand-ins for three per-token steps of ms-swift's encode, used by our template.

A geoaug answer lists every object's 0-1000 grid coordinates, so one A4 page with 300 text lines is tens of
thousands of characters: the steps that walk it token by token dominate a fetch. Each stand-in returns
exactly what the stock step returns (tests/train/test_train_fastpath.py checks that on random inputs):

- `ChunkedTokenizer`: the answer is cut into pieces at places where the tokenizer's pre-tokenizer is known
  to split anyway (around runs of ASCII digits), and each distinct piece is tokenized once and cached.
  Only tokenizers whose pre-tokenizer, normalizer and added tokens make those cuts provably invisible are
  served this way; any other tokenizer, or a text with nothing to cut, goes through the stock call.
- `add_dynamic_eos`: ms-swift's `Template._add_dynamic_eos` with the scan over labels done in numpy.
- `int_tensor` / `bool_tensor`: `torch.tensor(list)` without its per-element Python conversion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from itertools import chain

import numpy as np

# Where a cut is invisible to the pre-tokenizers accepted below (each digit, or each maximal digit run, is a
# pre-token of its own, and a pre-token never runs from a non-space character into a following space):
# - before ` *[0-9]+` when the character before it is printable, non-space, non-digit ASCII (or the text
#   starts there): a pre-token boundary whose left side ends without whitespace, so no `\s+(?!\S)`
#   lookahead can tell the cut from the real continuation, and the regex has no lookbehind for the right;
# - after the maximal digit run (possessive `++`: a run is never split) when the next character is ASCII.
# ASCII on both sides of every cut also keeps NFC from composing across it.
_NUMBER = re.compile(r'(?<![^\x21-\x2f\x3a-\x7e])( *[0-9]++)(?=[\x00-\x7f]|\Z)')

# The pre-tokenizers the cuts above were checked against (pre-token regexes, tokenizers' JSON form).
_QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
_ACCEPTED_PRE_TOKENIZERS = (
    # GPT-2 style byte level: ' ?\p{N}+' keeps a digit run (with one leading space) whole.
    {'type': 'ByteLevel', 'add_prefix_space': False, 'use_regex': True},
    # Qwen2/2.5/3 (transformers' Qwen2Tokenizer and the checkpoints' tokenizer.json): one pre-token per digit.
    {
        'type': 'Sequence',
        'pretokenizers': [
            {'type': 'Split', 'pattern': {'Regex': _QWEN2_SPLIT}, 'behavior': 'Isolated', 'invert': False},
            {'type': 'ByteLevel', 'add_prefix_space': False, 'use_regex': False},
        ],
    },
)
_ACCEPTED_NORMALIZERS = (None, {'type': 'NFC'})

MIN_CHARS = 512  # shorter texts (prompts, template pieces) are not worth cutting
MAX_PIECE_CHARS = 256  # longer pieces are tokenized but not cached
MAX_CACHE = 200_000


def _strip(node, keys):
    return {k: v for k, v in node.items() if k in keys} if isinstance(node, dict) else node


def _matches(node, accepted) -> bool:
    if node is None or accepted is None:
        return node is accepted
    if accepted.get('type') == 'Sequence':
        subs = node.get('pretokenizers') if node.get('type') == 'Sequence' else None
        return (
            subs is not None
            and len(subs) == len(accepted['pretokenizers'])
            and all(_matches(s, a) for s, a in zip(subs, accepted['pretokenizers']))
        )
    return _strip(node, accepted.keys()) == accepted


def why_not_chunked(tokenizer) -> str | None:
    """None when `ChunkedTokenizer` gives exactly the tokenizer's own ids; otherwise the reason it does not."""
    backend = getattr(tokenizer, 'backend_tokenizer', None)
    if backend is None:
        return 'not a tokenizers-backed (fast) tokenizer'
    spec = json.loads(backend.to_str())
    if spec.get('normalizer') not in _ACCEPTED_NORMALIZERS:
        return f"normalizer {spec.get('normalizer')} is not one the cuts were checked against"
    if not any(_matches(spec.get('pre_tokenizer'), a) for a in _ACCEPTED_PRE_TOKENIZERS):
        return f"pre-tokenizer {spec.get('pre_tokenizer')} is not one the cuts were checked against"
    model = spec.get('model') or {}
    if model.get('type') != 'BPE' or model.get('dropout') not in (None, 0.0):
        return f"model {model.get('type')} (dropout {model.get('dropout')}) is not a deterministic BPE"
    for tok in spec.get('added_tokens') or []:
        # An added token is matched on the whole text before pre-tokenization: it must not be able to span
        # a cut (no digit, no space in it) nor reach across one (no stripping, no word-boundary rule).
        if tok.get('lstrip') or tok.get('rstrip') or tok.get('single_word') or re.search(r'[0-9 ]', tok['content']):
            return f"added token {tok['content']!r} could reach across a cut"
    if getattr(tokenizer, 'split_special_tokens', False):
        return 'split_special_tokens is set'
    return None


class ChunkedTokenizer:
    """Token ids of long number-heavy texts from a cache of their pieces' ids.

    ``tokenize`` is the stock call (ms-swift's ``Template._tokenize``), given a list of strings it returns
    their id lists; it tokenizes every piece the cache lacks and every text this class does not serve.
    """

    def __init__(self, tokenizer, tokenize: Callable[[Sequence[str]], list[list[int]]], min_chars: int = MIN_CHARS):
        self.tokenizer = tokenizer
        self.reason = why_not_chunked(tokenizer)
        self.min_chars = min_chars
        self._tokenize = tokenize
        self._cache: dict[str, list[int]] = {}
        self._checked = False

    @property
    def enabled(self) -> bool:
        return self.reason is None

    def __call__(self, text: str) -> list[int]:
        ids = self.ids_by_pieces(text)
        if ids is None:
            return self._tokenize([text])[0]
        if not self._checked:
            # Belt and braces: the first text this process serves is also tokenized whole; should the two
            # ever differ, every later text takes the stock call.
            self._checked = True
            stock = self._tokenize([text])[0]
            if ids != stock:
                self.reason = 'the piecewise ids of a text differed from the stock ids'
                return stock
        return ids

    def ids_by_pieces(self, text) -> list[int] | None:
        """The ids from cached pieces, or None for a text this class leaves to the stock call."""
        if self.reason is not None or not isinstance(text, str) or len(text) < self.min_chars:
            return None
        pieces = [p for p in _NUMBER.split(text) if p]
        if len(pieces) < 2:
            return None
        return self._from_pieces(pieces)

    def _from_pieces(self, pieces: list[str]) -> list[int]:
        cache = self._cache
        missing = [p for p in dict.fromkeys(pieces) if p not in cache]
        if len(cache) + len(missing) > MAX_CACHE:
            cache.clear()
            missing = list(dict.fromkeys(pieces))
        long: dict[str, list[int]] = {}
        if missing:
            ids = self._tokenize(missing)
            long = {p: i for p, i in zip(missing, ids) if len(p) > MAX_PIECE_CHARS}
            cache.update((p, i) for p, i in zip(missing, ids) if len(p) <= MAX_PIECE_CHARS)
        if long:
            return list(chain.from_iterable(cache[p] if p in cache else long[p] for p in pieces))
        return list(chain.from_iterable(map(cache.__getitem__, pieces)))


def add_dynamic_eos(
    input_ids: list[int], labels: list[int], loss_scale: list | None, suffix_tokens_id: list[int], stock: Callable
) -> None:
    """In place, as ms-swift's `Template._add_dynamic_eos`: inside each run of -100 labels that follows a
    trained token, a leading copy of the suffix (e.g. <|im_end|>) becomes trained too. The runs are found
    with numpy; labels holding any other negative value take ``stock`` (the original) instead."""
    n, width = len(labels), len(suffix_tokens_id)
    if n < 2 or width == 0:
        return stock(input_ids, labels, loss_scale, suffix_tokens_id)
    lab = np.fromiter(labels, np.int64, n)
    masked = lab == -100
    if ((lab < 0) & ~masked).any():
        return stock(input_ids, labels, loss_scale, suffix_tokens_id)
    # Runs of -100 that start after a trained token (a run from position 0 never qualifies) and end at the
    # next trained token or at the end.
    starts = np.flatnonzero(masked[1:] & ~masked[:-1]) + 1
    if not len(starts):
        return None
    ends = np.flatnonzero(masked[:-1] & ~masked[1:]) + 1
    ends = np.append(ends, n) if masked[-1] else ends
    ends = ends[np.searchsorted(ends, starts)]
    suffix = list(suffix_tokens_id)
    for start, end in zip(starts.tolist(), ends.tolist()):
        stop = start + width
        if end - start >= width and input_ids[start:stop] == suffix:
            labels[start:stop] = suffix
            if loss_scale and loss_scale[start:stop] == [0] * width:
                loss_scale[start:stop] = [1] * width
    return None


def int_tensor(values: list[int]):
    """`torch.tensor(values)` for a list of Python ints (int64), built through numpy."""
    import torch

    if not values:  # torch.tensor([]) is float32
        return torch.tensor(values)
    return torch.from_numpy(np.fromiter(values, np.int64, len(values)))


def bool_tensor(values: list):
    """`torch.tensor(values, dtype=torch.bool)` for a list of truth values."""
    import torch

    return torch.from_numpy(np.array(values, dtype=bool).reshape(len(values)))
