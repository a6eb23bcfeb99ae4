"""OpenAI-compatible chat-completions backend (``vllm serve``, SGLang, or any server speaking the API).

Uses ``httpx`` (already a dependency of the Hugging Face stack) rather than the ``openai`` package. Requests
run ``concurrency`` at a time on a thread pool; each is retried with exponential backoff on timeouts,
connection errors, HTTP 408/409/429 and 5xx, up to ``max_retries`` times; other HTTP errors fail at once
with the server's message. The API key is read from ``OPENAI_API_KEY`` when not given (local servers need none).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from g2rpo.evaluation.backends.base import GenerationSettings
from g2rpo.evaluation.backends.vllm import openai_messages
from g2rpo.evaluation.records import Generation, GenerationRequest

__all__ = ["OpenAIBackend", "ServerError"]

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class ServerError(RuntimeError):
    """A request that failed after every retry, or with a non-retryable HTTP status."""


class OpenAIBackend:
    """Chat completions against ``base_url`` (e.g. ``http://localhost:8000/v1``) for the served ``model``."""

    name = "openai"

    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        *,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
    ) -> None:
        import httpx

        self.model = model
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(30.0, timeout_s)))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url, **self.settings.to_dict()}

    def _payload(self, request: GenerationRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": openai_messages(request),
            "max_tokens": self.settings.max_new_tokens,
            "temperature": self.settings.temperature,
            "seed": self.settings.seed,
        }
        if self.settings.temperature > 0:
            payload["top_p"] = self.settings.top_p
        return payload

    def _one(self, request: GenerationRequest) -> Generation:
        import httpx

        url = f"{self.base_url}/chat/completions"
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self.client.post(url, json=self._payload(request))
            except (httpx.TimeoutException, httpx.TransportError) as err:
                last_error = f"{type(err).__name__}: {err}"
                continue
            if response.status_code in _RETRY_STATUS:
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code != 200:
                raise ServerError(f"{url}: HTTP {response.status_code}: {response.text[:500]}")
            try:
                body = response.json()
                text = body["choices"][0]["message"]["content"] or ""
            except (ValueError, KeyError, IndexError, TypeError) as err:
                raise ServerError(f"{url}: unexpected response body {response.text[:500]!r}") from err
            tokens = (body.get("usage") or {}).get("completion_tokens")
            return Generation(text, int(tokens) if tokens is not None else None)
        raise ServerError(f"{url}: gave up after {self.max_retries + 1} attempts; last error: {last_error}")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self._one, requests))

    def close(self) -> None:
        self.client.close()
