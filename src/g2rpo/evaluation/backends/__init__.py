"""Generation backends: ``hf`` (transformers), ``vllm`` (optional extra) and ``openai`` (any
OpenAI-compatible server). Each is constructed lazily so that importing the registry costs nothing."""

from g2rpo.evaluation.backends.base import BACKENDS, Backend, GenerationSettings, LazyBackend, make_backend

__all__ = ["BACKENDS", "Backend", "GenerationSettings", "LazyBackend", "make_backend"]
