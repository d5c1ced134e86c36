"""Build a tiny random-weight Qwen3-VL checkpoint, tokenizer and processor, entirely offline.

Used by the tests and the CPU example: it exercises the real ms-swift code paths (template,
LoRA targeting, DeepSpeed) in seconds. The weights are random; nothing here is meant to learn.
"""

from __future__ import annotations

import os
from typing import Any

# ms-swift hard-codes the Qwen image/video token ids (151655/151656), so the special tokens must
# sit at their real ids: a small byte-level vocabulary is padded up to 151643 first.
QWEN_FIRST_SPECIAL_ID = 151643
QWEN_SPECIAL_TOKENS = [
    '<|endoftext|>',
    '<|im_start|>',
    '<|im_end|>',
    '<|object_ref_start|>',
    '<|object_ref_end|>',
    '<|box_start|>',
    '<|box_end|>',
    '<|quad_start|>',
    '<|quad_end|>',
    '<|vision_start|>',
    '<|vision_end|>',
    '<|vision_pad|>',
    '<|image_pad|>',
    '<|video_pad|>',
    '<tool_call>',
    '</tool_call>',
    '<|fim_prefix|>',
    '<|fim_middle|>',
    '<|fim_suffix|>',
    '<|fim_pad|>',
    '<|repo_name|>',
    '<|file_sep|>',
    '<tool_response>',
    '</tool_response>',
    '<think>',
    '</think>',
]
VOCAB_SIZE = 151936  # the embedding size of the real checkpoints

# The chat template is only used by code paths that render with jinja; ms-swift's own Qwen3-VL
# template produces the same text.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer():
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_chars = list(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(sorted(byte_chars))}
    # Fillers are unreachable by the merge-free BPE: they only move the special tokens to their ids.
    for i in range(len(vocab), QWEN_FIRST_SPECIAL_ID):
        vocab[f'<|filler_{i}|>'] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token='<|im_end|>',
        pad_token='<|endoftext|>',
        additional_special_tokens=QWEN_SPECIAL_TOKENS,
        model_max_length=32768,
        chat_template=CHAT_TEMPLATE,
    )
    for token_id, token in enumerate(QWEN_SPECIAL_TOKENS, start=QWEN_FIRST_SPECIAL_ID):
        actual = fast.convert_tokens_to_ids(token)
        if actual != token_id:
            raise RuntimeError(f'special token {token} landed at id {actual}, expected {token_id}')
    return fast


def build_config():
    from transformers import Qwen3VLConfig

    text = dict(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        rope_parameters={
            'rope_type': 'default',
            'rope_theta': 5000000.0,
            'mrope_interleaved': True,
            'mrope_section': [4, 2, 2],
        },
        tie_word_embeddings=False,
    )
    vision = dict(
        depth=2,
        hidden_size=64,
        intermediate_size=128,
        num_heads=4,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=64,
        num_position_embeddings=256,
        deepstack_visual_indexes=[0, 1],
    )
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=False,
    )


def build_processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    # Small pixel budgets keep the CPU tests fast; patch 16 x merge 2 gives Qwen3-VL's factor 32.
    size = {'shortest_edge': 32 * 32, 'longest_edge': 512 * 512}
    image_processor = Qwen2VLImageProcessor(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        size=size,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    video_processor = Qwen3VLVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, size=size)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(out_dir: str, seed: int = 0) -> str:
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    config = build_config()
    model: Any = Qwen3VLForConditionalGeneration(config)
    model = model.to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=[151645, 151643], pad_token_id=151643)
    model.save_pretrained(out_dir)
    tokenizer = build_tokenizer()
    build_processor(tokenizer).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
