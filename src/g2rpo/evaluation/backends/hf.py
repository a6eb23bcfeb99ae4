"""transformers ``generate`` backend: batched, left-padded, CPU or GPU.

The model and processor come from :func:`g2rpo.models.load_model_and_processor` (a local checkpoint or hub
id; a tiny test model works the same way). Each request becomes one chat turn
``[image, …, text]`` rendered with the processor's chat template (``add_generation_prompt=True``); a batch is
padded on the left so that every row's new tokens start at the same position.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from g2rpo.evaluation.backends.base import GenerationSettings, model_identity
from g2rpo.evaluation.records import Generation, GenerationRequest

__all__ = ["HFBackend", "chat_messages"]


def chat_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """The single user turn: one ``{"type": "image"}`` entry per image, then the text; with
    ``request.at_placeholders`` the training layout (:func:`g2rpo.data.prompt_messages`)."""
    if request.at_placeholders:
        from g2rpo.data.prompts import prompt_messages

        return prompt_messages(request.prompt, len(request.images))
    content: list[dict[str, Any]] = [{"type": "image"} for _ in request.images]
    content.append({"type": "text", "text": request.prompt})
    return [{"role": "user", "content": content}]


class HFBackend:
    """Batched greedy (or sampled) decoding with transformers.

    Parameters: ``model`` path or hub id; ``settings`` decoding settings; ``device`` (``"cpu"``, ``"cuda"``,
    default: CUDA when available); ``dtype`` (default bf16 on GPU, fp32 on CPU); ``max_pixels`` caps each
    image's resized area (the processor's default otherwise); ``model_and_processor`` to reuse an already
    loaded pair (tests, benchmarks).
    """

    name = "hf"

    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        *,
        device: str | None = None,
        dtype: Any = None,
        max_pixels: int | None = None,
        model_and_processor: tuple[Any, Any] | None = None,
    ) -> None:
        import torch

        self.model_path = model
        self.settings = settings
        self.max_pixels = max_pixels
        if model_and_processor is None:
            from g2rpo.models import load_model_and_processor

            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            if dtype is None:
                dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            model_and_processor = load_model_and_processor(model, dtype=dtype, device=device, max_pixels=max_pixels)
        self.model, self.processor = model_and_processor
        self.model.eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def describe(self) -> dict[str, Any]:
        info = {"backend": self.name, "model": model_identity(self.model_path), **self.settings.to_dict()}
        return {**info, "max_pixels": self.max_pixels} if self.max_pixels is not None else info

    def _stop_ids(self) -> set[int]:
        """EOS ids of the generation config and the tokenizer, and the pad id (a response ends at any of them)."""
        ids = self.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, (list, tuple)) else [ids]
        stops = {int(i) for i in ids if i is not None}
        for special in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id):
            if special is not None:
                stops.add(int(special))
        return stops

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One batch, left-padded. Vision placeholder tokens are never generated
        (:func:`g2rpo.models.vision_token_ids`); a response ends at the first EOS or pad token."""
        import torch
        from PIL import Image

        from g2rpo.models import vision_token_ids

        if not requests:
            return []
        texts = [
            self.processor.apply_chat_template(chat_messages(r), tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        flat = [Image.open(io.BytesIO(b)).convert("RGB") for r in requests for b in r.images]
        inputs = self.processor(text=texts, images=flat or None, padding=True, return_tensors="pt")
        inputs = inputs.to(self.model.device)
        sampling = self.settings.temperature > 0
        kwargs: dict[str, Any] = {"max_new_tokens": self.settings.max_new_tokens, "do_sample": sampling}
        if sampling:
            torch.manual_seed(self.settings.seed)
            kwargs.update(temperature=self.settings.temperature, top_p=self.settings.top_p)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                **kwargs,
                pad_token_id=self.tokenizer.pad_token_id,
                bad_words_ids=vision_token_ids(self.tokenizer) or None,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        stops = self._stop_ids()
        results = []
        for row in new_tokens:
            end = next((k for k, t in enumerate(row) if t in stops), len(row))
            results.append(Generation(self.tokenizer.decode(row[:end], skip_special_tokens=True), end))
        return results
