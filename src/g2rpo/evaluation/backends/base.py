"""The backend interface and registry.

A backend turns a batch of :class:`~g2rpo.evaluation.records.GenerationRequest` (images + prompt text, one
user turn, no system prompt) into one :class:`~g2rpo.evaluation.records.Generation` per request, in order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from g2rpo.evaluation.records import Generation, GenerationRequest

__all__ = ["BACKENDS", "Backend", "GenerationSettings", "LazyBackend", "make_backend", "model_identity"]


def model_identity(model: str) -> str:
    """The model as recorded in a run's settings: a local checkpoint path resolved to its absolute form
    (``outputs/tiny``, ``outputs/tiny/`` and ``/abs/outputs/tiny`` are one model); a hub id, or anything that
    is not an existing local path, unchanged."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings shared by every backend."""

    max_new_tokens: int = 4096
    """Response budget in tokens (the paper trains with 4,096)."""
    temperature: float = 0.0
    """0 → greedy decoding (the evaluation default); > 0 samples."""
    top_p: float = 1.0
    """Nucleus sampling mass, used only when ``temperature > 0``."""
    seed: int = 0
    """Sampling seed (where the backend supports one)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    """What the evaluation loop needs from a backend."""

    name: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One generation per request, in request order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Settings that change the outputs (recorded in the cache's ``run.json``)."""
        ...


BACKENDS: dict[str, str] = {
    "hf": "g2rpo.evaluation.backends.hf:HFBackend",
    "vllm": "g2rpo.evaluation.backends.vllm:VLLMBackend",
    "openai": "g2rpo.evaluation.backends.openai:OpenAIBackend",
}
"""Backend name → ``module:class``; imported only when chosen (vLLM is an optional extra)."""


def make_backend(name: str, model: str, settings: GenerationSettings, **options: Any) -> Backend:
    """Construct the named backend for ``model`` (a path, hub id or served model name).

    Unknown name → ``KeyError`` listing the valid names.
    """
    if name not in BACKENDS:
        raise KeyError(f"unknown backend {name!r}; valid backends: {sorted(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    factory: Callable[..., Backend] = getattr(importlib.import_module(module), cls)
    return factory(model, settings, **options)


class LazyBackend:
    """A backend constructed on its first ``generate`` call: a rerun whose items are all cached never loads
    the model. ``describe()`` matches what the wrapped backend would report (it keys the cache)."""

    def __init__(self, name: str, model: str, settings: GenerationSettings, **options: Any) -> None:
        if name not in BACKENDS:
            raise KeyError(f"unknown backend {name!r}; valid backends: {sorted(BACKENDS)}")
        self.name = name
        self.model = model
        self.settings = settings
        self.options = options
        self._backend: Backend | None = None

    def describe(self) -> dict[str, Any]:
        model = self.model if self.name == "openai" else model_identity(self.model)  # openai: the served name
        info = {"backend": self.name, "model": model, **self.settings.to_dict()}
        if self.name == "hf" and self.options.get("max_pixels") is not None:
            info["max_pixels"] = self.options["max_pixels"]
        if self.name == "openai":
            info["base_url"] = str(self.options.get("base_url", "http://localhost:8000/v1")).rstrip("/")
        return info

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if not requests:
            return []
        if self._backend is None:
            self._backend = make_backend(self.name, self.model, self.settings, **self.options)
        return self._backend.generate(requests)
