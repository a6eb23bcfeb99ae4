"""vLLM offline backend (GPU; install the ``vllm`` extra: ``pip install 'g2rpo[vllm]'``).

Requests are sent through ``LLM.chat`` with images as base64 data URLs, so the model's own chat template and
multimodal processor are used exactly as in serving. vLLM batches and schedules internally; the evaluation
loop's batch size only sets how often the cache is flushed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from g2rpo.evaluation.backends.base import GenerationSettings, model_identity
from g2rpo.evaluation.records import Generation, GenerationRequest

__all__ = ["VLLMBackend", "image_data_url", "openai_messages"]


def image_data_url(data: bytes) -> str:
    """Encoded image bytes → ``data:image/<fmt>;base64,…`` (PNG/JPEG/WebP/GIF sniffed from magic bytes)."""
    mime = "image/png"
    if data[:3] == b"\xff\xd8\xff":
        mime = "image/jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    elif data[:4] == b"GIF8":
        mime = "image/gif"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def openai_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """The OpenAI chat format of one request: the turn of :func:`~g2rpo.evaluation.backends.hf.chat_messages`
    (images, then the text, unless ``at_placeholders``) with each image as a data URL; no system prompt."""
    from g2rpo.evaluation.backends.hf import chat_messages

    urls = iter([image_data_url(b) for b in request.images])
    content = [
        {"type": "image_url", "image_url": {"url": next(urls)}} if part["type"] == "image" else part
        for part in chat_messages(request)[0]["content"]
    ]
    return [{"role": "user", "content": content}]


class VLLMBackend:
    """``vllm.LLM`` on local GPUs. Extra keyword options go to ``vllm.LLM`` (e.g. ``tensor_parallel_size``)."""

    name = "vllm"

    def __init__(self, model: str, settings: GenerationSettings, **llm_options: Any) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                "the vllm backend needs vLLM: pip install 'g2rpo[vllm]' (GPU only), or use --backend hf, or "
                "serve the model with `vllm serve` and use --backend openai"
            ) from err
        self.model_path = model
        self.settings = settings
        llm_options.setdefault("limit_mm_per_prompt", {"image": 8})
        llm_options.setdefault("seed", settings.seed)
        self.llm = vllm.LLM(model=model, **llm_options)
        self.sampling = vllm.SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p if settings.temperature > 0 else 1.0,
            seed=settings.seed,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": model_identity(self.model_path), **self.settings.to_dict()}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if not requests:
            return []
        outputs = self.llm.chat([openai_messages(r) for r in requests], self.sampling, use_tqdm=False)
        return [Generation(o.outputs[0].text, len(o.outputs[0].token_ids)) for o in outputs]
