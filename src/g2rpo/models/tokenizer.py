"""An offline byte-level BPE tokenizer and a Qwen-style chat template for the tiny test models.

The tokenizer is trained in-process (``tokenizers``) on a fixed, deterministic corpus of ASCII text, digits,
answer tags and JSON boxes, so it is identical on every machine and needs no hub. It carries the Qwen special
tokens the processor and chat template rely on (``<|im_start|>``, ``<|im_end|>``, ``<|vision_start|>``,
``<|vision_end|>``, ``<|image_pad|>``, ``<|video_pad|>``, ``<|endoftext|>``). Byte-level, so any string
round-trips, and model output (untrusted) always decodes.

The chat template renders the Qwen-VL layout: ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, an
image part as ``<|vision_start|><|image_pad|><|vision_end|>``, and ``<|im_start|>assistant\\n`` as the generation
prompt. No default system prompt (recipe §8).
"""

from __future__ import annotations

import string

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Qwen special tokens, in id order (ids 0..6 of the tiny vocabulary)."""

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}"
    "{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)
"""Jinja chat template in the Qwen-VL layout (user/assistant/system roles, text and image parts)."""

_WORDS = (
    "the a an of to in is are what which how many much where left right above below between color colour shape "
    "circle square triangle star red green blue yellow black white purple orange bar chart value tallest "
    "largest smallest count number distance box boxes object image picture document text word read answer "
    "question option options choose correct letter first think reason step then so therefore because total "
    "sum difference equal equals plus minus times divided area length width height point points x y "
    "You should inside and only the with as JSON format final think about carefully before answering"
)


def _corpus() -> list[str]:
    """A fixed training corpus: the prompt wording, words, tags, digits, numbers, options and JSON boxes.

    The recipe's prompt text (instruction and per-problem-type tails) is in it, so a training prompt costs a few
    dozen tokens rather than a few hundred: CPU steps stay fast.
    """
    from g2rpo.data.prompts import BOX_UNITS, PROBLEM_TYPE_TAILS, THINK_INSTRUCTION

    lines = [_WORDS, string.ascii_letters, string.digits, string.punctuation]
    lines += [THINK_INSTRUCTION.format(tag=tag) for tag in ("thinking", "think")] * 20
    lines += [
        tail.format(units=units) for tail in PROBLEM_TYPE_TAILS.values() for units in BOX_UNITS.values()
    ] * 5
    lines += [
        "<thinking> reasoning </thinking> <answer> B </answer>",
        "Think inside <thinking> </thinking> and answer inside <answer> </answer>.",
        "<thinking>The bar is tallest.</thinking><answer>C</answer>",
        "Options:\nA. red\nB. green\nC. blue\nD. yellow",
        "Answer with the option's letter from the given choices.",
        'Output only the box as JSON: {"boxes": [x1, y1, x2, y2]}',
    ]
    lines += [" ".join(str(n) for n in range(k, 1001, 37)) for k in range(37)]
    lines += [f'{{"boxes": [{a}, {a + 13}, {a * 2 + 40}, {a + 300}]}}' for a in range(0, 600, 23)]
    lines += [f"{x}.{y}" for x in range(0, 100, 7) for y in range(0, 10, 3)]
    return lines * 3


def build_tokenizer(vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train the tiny byte-level BPE tokenizer and wrap it with the Qwen special tokens and chat template.

    ``vocab_size`` counts the 256 byte symbols, the learned merges and the special tokens. Deterministic: the
    corpus is fixed and BPE training on it is deterministic.
    """
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
