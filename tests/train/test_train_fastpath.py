"""The template's fast paths (geoaug_train.swift_fastpath) give exactly what ms-swift's stock steps give."""

import copy
import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoaug_train.swift_fastpath import ChunkedTokenizer, add_dynamic_eos, bool_tensor, int_tensor, why_not_chunked

# Labels chosen to sit next to the cuts: unicode (composing and not), spaces and newlines at either end,
# digits inside words, non-ASCII digits, an added token, JSON escapes.
LABELS = [
    'text',
    'obj12',
    '12abc',
    'café',
    'cafe\u0301',
    'e\u0301\u0323',
    '文字 行',
    ' lead',
    'trail ',
    'two  spaces',
    'x\n y',
    'tab\there',
    '١٢٣',
    'x²3',
    '3²',
    'ⅷ7',
    'a\r\n7',
    "it's 9",
    '<|im_end|>5',
    '"quoted" 4',
    '½1',
    '-7',
    '\u00a07',
    '7\u00a0',
    '\u30007',
    '7\u0301',
    'ﬁ9',
    '8ﬁ',
    '\U0001f600 1',
    '1\U0001f600',
    '',
]
PIECES = LABELS + [
    ' ',
    '  ',
    '   ',
    '\n',
    ', ',
    ',  ',
    ' ,',
    '-',
    '.',
    ':',
    '[',
    ']',
    '{',
    '}',
    '"',
    "'s",
    "'",
    '_',
    '\t',
    '\r\n',
    '0',
    '7',
    '42',
    '1000',
    '-5',
    '3.25',
    '1e3',
    '0007',
    ' 12',
    '  12',
    '\n12',
    '12 ',
    'é',
    '\u0301',
    '²',
    '٣',
    '<|im_end|>',
    '<|vision_start|>',
    'a',
    'Zz',
]


def trained_tokenizer(kind):
    """A byte-level BPE with real merges, learned here from answers like ours (so digits, spaces and punctuation
    merge as in a real vocab), behind one of the two accepted pre-tokenizers: 'qwen2' is transformers'
    Qwen2Tokenizer (Qwen2/2.5/3's pre-token regex and NFC normalizer), 'gpt2' the GPT-2 byte-level regex."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Tokenizer

    tok = Tokenizer(models.BPE())
    if kind == 'qwen2':
        probe = Qwen2Tokenizer(vocab={'<|endoftext|>': 0}, merges=[])
        tok.normalizer = probe.backend_tokenizer.normalizer
        tok.pre_tokenizer = probe.backend_tokenizer.pre_tokenizer
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    rng = random.Random(0)
    corpus = [random_answer(rng) for _ in range(300)] + [random_text(rng, 400) for _ in range(300)]
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=1200, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    model = json.loads(tok.to_str())['model']
    assert len(model['merges']) > 500
    specials = [AddedToken(t, special=True) for t in ('<|im_end|>', '<|vision_start|>')]
    if kind == 'gpt2':
        tok.add_special_tokens(specials)
        return PreTrainedTokenizerFast(tokenizer_object=tok)
    qwen = Qwen2Tokenizer(
        vocab=model['vocab'], merges=[tuple(m) if isinstance(m, list) else tuple(m.split(' ')) for m in model['merges']]
    )
    qwen.add_tokens(specials, special_tokens=True)
    return qwen


def tiny_tokenizer():
    from geoaug_train.tiny_model import build_tokenizer

    return build_tokenizer()


def random_answer(rng):
    """An answer as geoaug_train renders it (json.dumps, ensure_ascii=False), with edge numbers."""
    numbers = [0, 1, 9, 10, 99, 100, 999, 1000, -1, -1000, 12345, 3.5, -0.25]
    objs = []
    for _ in range(rng.randint(1, 40)):
        kind = rng.choice(['bbox_2d', 'quad_2d', 'line_2d'])
        num = lambda: rng.choice(numbers) if rng.random() < 0.2 else rng.randint(0, 1000)  # noqa: E731
        geom = [num() for _ in range(4)] if kind == 'bbox_2d' else [[num(), num()] for _ in range(rng.randint(2, 5))]
        objs.append({'label': rng.choice(LABELS), kind: geom})
    return json.dumps(objs, ensure_ascii=rng.random() < 0.2, separators=rng.choice([None, (',', ':')]))


def random_text(rng, n):
    return ''.join(rng.choice(PIECES) for _ in range(n))


@pytest.fixture(scope='module', params=['tiny', 'qwen2', 'gpt2'])
def tokenizer(request):
    pytest.importorskip('transformers')
    return tiny_tokenizer() if request.param == 'tiny' else trained_tokenizer(request.param)


def stock(tokenizer):
    """ms-swift's Template._tokenize, as a list -> list of id lists call."""

    def call(texts):
        return tokenizer(list(texts), return_attention_mask=False, add_special_tokens=False)['input_ids']

    return call


def test_both_tokenizers_take_the_fast_path(tokenizer):
    assert why_not_chunked(tokenizer) is None


def test_piecewise_ids_equal_stock_ids_on_random_answers_and_texts(tokenizer):
    tokenize = stock(tokenizer)
    chunked = ChunkedTokenizer(tokenizer, tokenize, min_chars=0)
    rng = random.Random(1)
    texts = [random_answer(rng) for _ in range(300)] + [random_text(rng, rng.randint(1, 300)) for _ in range(1500)]
    texts += [text + '<|im_end|>' for text in texts[:50]] + ['7', ' 7', '7 ', 'a7', '7a', 'é7', '7é', '']
    served = 0
    for text in texts:
        ids = chunked.ids_by_pieces(text)
        if ids is not None:
            served += 1
            assert ids == tokenize([text])[0], repr(text)
    assert served > 0.9 * len(texts) - 10  # nearly every text went through the pieces, not around them
    # Twice through the (now warm) cache: same ids.
    for text in texts[:100]:
        assert chunked(text) == tokenize([text])[0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PIECES),
            st.integers(-(10**6), 10**6).map(str),
            st.text(st.characters(codec='utf-8', exclude_categories=['Cs']), max_size=6),
        ),
        max_size=60,
    )
)
def test_piecewise_ids_equal_stock_ids_hypothesis(tokenizer, parts):
    text = ''.join(parts)
    tokenize = stock(tokenizer)
    ids = ChunkedTokenizer(tokenizer, tokenize, min_chars=0).ids_by_pieces(text)
    assert ids is None or ids == tokenize([text])[0]


def test_long_pieces_and_a_full_cache_still_give_stock_ids(tokenizer, monkeypatch):
    from geoaug_train import swift_fastpath

    monkeypatch.setattr(swift_fastpath, 'MAX_CACHE', 50)
    tokenize = stock(tokenizer)
    chunked = ChunkedTokenizer(tokenizer, tokenize, min_chars=0)
    rng = random.Random(2)
    for _ in range(40):
        long_label = 'Wörter ' * rng.randint(40, 80)  # pieces over MAX_PIECE_CHARS are not cached
        text = json.dumps(
            [{'label': long_label, 'bbox_2d': [rng.randint(0, 1000) for _ in range(4)]}]
            + [{'label': 'x', 'bbox_2d': [rng.randint(0, 1000) for _ in range(4)]} for _ in range(30)],
            ensure_ascii=False,
        )
        assert chunked.ids_by_pieces(text) == tokenize([text])[0]
        assert len(chunked._cache) <= 50 + 200


def test_tokenizers_the_cuts_were_not_checked_for_take_the_stock_path(tokenizer):
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # Llama-3 / cl100k style: digits in groups of three, so a run's pieces would depend on its neighbours.
    grouped = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(pre_tokenizers.ByteLevel.alphabet())}, merges=[]))
    grouped.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r'\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+|\p{L}+'), behavior='isolated'),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    reasons = {'grouped digits': why_not_chunked(PreTrainedTokenizerFast(tokenizer_object=grouped))}
    with_digit_token = copy.deepcopy(tokenizer)
    with_digit_token.add_tokens([AddedToken('<box1>', special=True)], special_tokens=True)
    reasons['added token with a digit'] = why_not_chunked(with_digit_token)
    stripping = copy.deepcopy(tokenizer)
    stripping.add_tokens([AddedToken('<sep>', lstrip=True, special=True)], special_tokens=True)
    reasons['stripping added token'] = why_not_chunked(stripping)
    reasons['slow tokenizer'] = why_not_chunked(object())
    assert all(reasons.values()), reasons
    text = random_answer(random.Random(3))
    calls = []
    counted = lambda texts: calls.append(list(texts)) or stock(with_digit_token)(texts)  # noqa: E731
    chunked = ChunkedTokenizer(with_digit_token, counted, min_chars=0)
    assert not chunked.enabled and chunked.ids_by_pieces(text) is None
    assert chunked(text) == stock(with_digit_token)([text])[0] and calls == [[text]]  # one whole-text call


def test_a_mismatch_on_the_first_text_switches_to_the_stock_path(tokenizer):
    tokenize = stock(tokenizer)
    # A stand-in stock call that tokenizes pieces differently from whole texts: the self-check must catch it.
    skewed = lambda texts: [ids if len(t) > 100 else ids[::-1] for t, ids in zip(texts, tokenize(texts))]  # noqa: E731
    chunked = ChunkedTokenizer(tokenizer, skewed, min_chars=0)
    text = random_answer(random.Random(4)) * 3
    assert chunked(text) == tokenize([text])[0]
    assert not chunked.enabled and chunked.ids_by_pieces(text) is None and chunked(text) == tokenize([text])[0]


# ---- ms-swift's _add_dynamic_eos, vectorised ------------------------------------------------------------------
def _swift_add_dynamic_eos():
    pytest.importorskip('swift')
    from swift.template.base import Template

    return Template._add_dynamic_eos


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([-100, -100, -100, 5, 6, 7, 8]), max_size=40),
    st.lists(st.sampled_from([5, 6, 7]), min_size=0, max_size=3),
    st.sampled_from(['none', 'zeros', 'mixed']),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_add_dynamic_eos_equals_ms_swift(labels, suffix, scale_kind, odd_negative, rnd):
    stock = _swift_add_dynamic_eos()
    input_ids = [rnd.choice([5, 6, 7, 9]) for _ in labels]
    for _ in range(3):  # plant the suffix at the start of some -100 runs
        starts = [i for i in range(1, len(labels)) if labels[i] == -100 and labels[i - 1] != -100]
        if starts and suffix:
            s = rnd.choice(starts)
            input_ids[s : s + len(suffix)] = suffix[: len(input_ids) - s]
    if odd_negative and labels:
        labels[rnd.randrange(len(labels))] = -1  # stock semantics for any other negative label
    loss_scale = (
        None
        if scale_kind == 'none'
        else [0.0 if scale_kind == 'zeros' else rnd.choice([0.0, 1.0, 0.5]) for _ in labels]
    )
    expected = (list(input_ids), list(labels), copy.copy(loss_scale))
    stock(*expected, list(suffix))
    got = (list(input_ids), list(labels), copy.copy(loss_scale))
    add_dynamic_eos(*got, list(suffix), stock=stock)
    assert got == expected


def test_add_dynamic_eos_on_a_real_sized_sequence():
    stock = _swift_add_dynamic_eos()
    rng = np.random.default_rng(0)
    suffix = [151645, 198]
    for _ in range(20):
        n = int(rng.integers(2, 30000))
        labels = np.where(rng.random(n) < 0.3, -100, rng.integers(0, 1000, n))
        labels[: int(rng.integers(0, n))] = -100
        input_ids = rng.integers(0, 1000, n).tolist()
        for s in np.flatnonzero((labels[1:] == -100) & (labels[:-1] != -100))[:50] + 1:
            input_ids[s : s + 2] = suffix
        labels, input_ids = labels.tolist(), input_ids[:n]
        exp_labels, got_labels = list(labels), list(labels)
        exp_scale, got_scale = [0] * n, [0] * n
        stock(input_ids, exp_labels, exp_scale, suffix)
        add_dynamic_eos(input_ids, got_labels, got_scale, suffix, stock=stock)
        assert got_labels == exp_labels and got_scale == exp_scale


# ---- torch.tensor(list) ---------------------------------------------------------------------------------------
def test_list_to_tensor_equals_torch_tensor():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(0)
    for values in ([], [0], rng.integers(-(2**40), 2**40, 1000).tolist(), [151655] * 7):
        a, b = int_tensor(values), torch.tensor(values)
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    for values in ([], [True], (rng.random(1000) < 0.5).tolist(), [0, 1, 2, 0]):
        a, b = bool_tensor(values), torch.tensor(values, dtype=torch.bool)
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


# ---- the whole fetch ------------------------------------------------------------------------------------------
def _quad_dataset(folder, n=2, quads=150):
    from PIL import Image

    (folder / 'imgs').mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = [label for label in LABELS if label.strip()]
    lines = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(folder / f'imgs/{i}.png')
        shape = [[0, 0], [30, 0], [30, 12], [0, 12]]
        corners = rng.uniform(5, 60, (quads, 1, 2)) + shape + rng.uniform(0, 300, (quads, 1, 2))
        objects = [{'label': labels[int(rng.integers(len(labels)))], 'quad': q.round(1).tolist()} for q in corners]
        lines.append(json.dumps({'image': f'imgs/{i}.png', 'objects': objects}, ensure_ascii=False))
    (folder / 'train.jsonl').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return str(folder)


@pytest.mark.train
def test_fetch_with_fast_paths_equals_fetch_with_ms_swift_steps(tmp_path, tiny_model_dir):
    """A whole training fetch of long, label-rich answers: our template's item equals the item its stock
    ms-swift steps produce, key by key (input_ids, labels, mm_token_type_ids, pixel_values, ...)."""
    pytest.importorskip('swift')
    import types

    import torch
    from swift.template.templates.qwen import Qwen3VLTemplate

    from geoaug_train.config import load_config
    from geoaug_train.dataset import build_dataset

    from train_helpers import write_config

    data = _quad_dataset(tmp_path / 'data')
    cfg = load_config(
        write_config(
            tmp_path / 'cfg.yaml',
            model_dir=tiny_model_dir,
            data_dir=data,
            output_dir=str(tmp_path / 'out'),
            global_max_length=65536,
        )
    )
    ds = build_dataset(cfg)
    fast = [ds[i] for i in range(len(ds))]
    template = ds.template
    chunked = template._geoaug_chunked
    assert chunked.enabled and len(chunked._cache) > 100  # the answers went through the pieces
    template._tokenize = types.MethodType(Qwen3VLTemplate._tokenize, template)
    template.create_mm_token_type_ids = types.MethodType(Qwen3VLTemplate.create_mm_token_type_ids, template)
    template._add_dynamic_eos = Qwen3VLTemplate._add_dynamic_eos
    slow = [ds[i] for i in range(len(ds))]
    for a, b in zip(fast, slow):
        assert a.keys() == b.keys() and len(a['input_ids']) > 5000
        for key in a:
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
            else:
                assert a[key] == b[key], key


@pytest.mark.train
def test_template_state_leaves_the_cache_out_and_a_copy_rebuilds_it(tmp_path, tiny_model_dir):
    """The state a worker copy is made from (``__getstate__``) holds no cache nor its bound stock call."""
    pytest.importorskip('swift')
    import copy

    import torch

    from geoaug_train.config import load_config
    from geoaug_train.dataset import build_dataset

    from train_helpers import write_config

    data = _quad_dataset(tmp_path / 'data', n=1, quads=60)
    cfg = load_config(
        write_config(
            tmp_path / 'cfg.yaml',
            model_dir=tiny_model_dir,
            data_dir=data,
            output_dir=str(tmp_path / 'out'),
            global_max_length=65536,
        )
    )
    ds = build_dataset(cfg)
    first = ds[0]
    assert '_geoaug_chunked' in ds.template.__dict__
    clone = copy.copy(ds.template)  # goes through __reduce_ex__ -> __getstate__, as pickling does
    assert '_geoaug_chunked' not in clone.__dict__
    again = clone.encode(ds.rows[0])
    assert again['input_ids'] == first['input_ids'] and again['labels'] == first['labels']
    assert torch.equal(again['pixel_values'], first['pixel_values'])
