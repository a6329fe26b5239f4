"""Ollama's own API: ``/api/chat`` and ``/api/generate`` as newline-delimited JSON.

``spec.url`` is the server root (``http://127.0.0.1:11434``). Ollama reports its
counts and durations (in nanoseconds) on the last line, ``"done": true``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from workbench.errors import BackendError, ConnectError, ModelLoadError, StreamProtocolError
from workbench.models.backends.api_keys import Secret, api_key, auth_headers, scrub
from workbench.models.backends.base import ProgressCallback
from workbench.models.backends.clock import Timeouts
from workbench.models.backends.http import StreamingClient, base_url, new_client
from workbench.models.backends.http_errors import connect_error, describe_error, http_error
from workbench.models.backends.streams import NDJSON, count_of, number_of, parse_json
from workbench.models.request import (
    Chunk,
    Request,
    ServerTimings,
    TextChunk,
    ThinkingChunk,
    Usage,
)
from workbench.models.settings import preset_name, resolve

if TYPE_CHECKING:
    from workbench.models.config import ModelSpec

NS_TO_MS = 1e-6


class OllamaBackend:
    """A model served by Ollama."""

    kind: ClassVar[str] = "ollama"
    local: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.model = spec.model or ""
        # Checked in load() and stream(): a constructor must not fail, the runner
        # builds every backend before it starts any model's run.
        self.base = (spec.url or "").rstrip("/")
        self.timeouts = Timeouts.of(spec)
        self._client = StreamingClient(self.base, self.timeouts)

    async def load(self, progress: ProgressCallback) -> None:
        """Check that Ollama has the model, then have it load the model into memory.

        Loading now keeps Ollama's load time out of the time to first token.
        """
        progress(0.0)
        base_url(self.spec.url)
        key = api_key(self.spec.api_key_env, self.base)
        names = await _tags(self._client.http, self.base, key, self.timeouts.connect)
        if not has_model(names, self.model):
            available = ", ".join(sorted(names)) or "none"
            raise ModelLoadError(
                f"Ollama at {self.base} has no model {self.model!r}. Available: {available}. "
                f"Pull it with: ollama pull {self.model}"
            )
        progress(0.3)
        # A generate request without a prompt only loads the model (Ollama's API docs).
        timeout = httpx.Timeout(self.timeouts.deadline, connect=self.timeouts.connect)
        try:
            response = await self._client.http.post(
                f"{self.base}/api/generate",
                json={"model": self.model, "stream": False},
                headers=auth_headers(key),
                timeout=timeout,
            )
        except httpx.TimeoutException as exc:
            raise ModelLoadError(
                f"Ollama at {self.base} did not load {self.model!r} within "
                f"{self.timeouts.deadline:g} s (deadline)."
            ) from exc
        except httpx.HTTPError as exc:
            raise connect_error(exc, self.base) from exc
        if not response.is_success:
            error = http_error(response, response.content, self.base)
            raise scrub(ModelLoadError(error.message), key)
        progress(1.0)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        """Yield the text pieces as they arrive, then one ``Usage`` from the last line."""
        base_url(self.spec.url)
        key = api_key(self.spec.api_key_env, self.base)
        path, body = self.body(request)
        field = "message" if request.mode == "chat" else "response"
        final: dict[str, Any] | None = None
        objects = self._client.stream(self.base + path, body, NDJSON(), secret=key)
        async with aclosing(objects):  # closes the answer if _text() raises
            async for obj in objects:
                thinking = _thinking(obj, field)
                if thinking:
                    yield ThinkingChunk(thinking)
                text = _text(obj, field)
                if text:
                    yield TextChunk(text)
                if obj.get("done"):
                    final = obj
        if self._client.cancelled:
            return
        if final is None:
            raise BackendError(
                f'{self.base} closed the stream before its last line ("done": true); '
                "the text so far is kept.",
                title="Connection lost",
            )
        usage = final_usage(final)
        if request.cold:
            # Ollama's API has no switch for its prompt cache: say so beside the figures.
            usage.info["prompt_cache_note"] = "Ollama cannot be asked to skip its prompt cache"
        yield usage

    def body(self, request: Request) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for ``request``."""
        # The runner sends every value resolved; a direct caller gets the same rules.
        sampling = resolve(
            request.sampling,
            model=self.spec.sampling,
            preset=preset_name(self.spec),
            kind="ollama",
            draw_seed=False,  # the runner draws (and records) a missing seed
        ).sampling
        options = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "num_predict": sampling.max_tokens,
            "seed": sampling.seed,
            "top_k": sampling.top_k,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
            "stop": list(self.spec.stop) + list(request.stop) or None,
        }
        body: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "options": {k: v for k, v in options.items() if v is not None},
        }
        if request.mode == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            return "/api/chat", body
        # raw: the prompt goes to the model as it is, without Ollama's template.
        body |= {"prompt": request.prompt, "raw": True}
        return "/api/generate", body

    async def set_threads(self, threads: int) -> None:
        """Not ours to set: Ollama owns its threads."""

    async def cancel(self) -> None:
        await self._client.cancel()

    async def close(self) -> None:
        await self._client.close()


def _text(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    if field == "message":
        value = value.get("content") if isinstance(value, dict) else None
    if value is not None and not isinstance(value, str):
        raise StreamProtocolError(f"Ollama sent text that is not a string: {value!r:.200}")
    return value or ""


def _thinking(obj: dict[str, Any], field: str) -> str:
    """Ollama's ``thinking`` text (a reasoning model with ``think``), apart from the answer."""
    value = obj.get("message") if field == "message" else obj
    value = value.get("thinking") if isinstance(value, dict) else None
    if value is not None and not isinstance(value, str):
        raise StreamProtocolError(f"Ollama sent thinking that is not a string: {value!r:.200}")
    return value or ""


def final_usage(final: dict[str, Any]) -> Usage:
    """The ``Usage`` of Ollama's last line; its durations are in nanoseconds."""
    prompt_tokens = count_of(final.get("prompt_eval_count"))
    output_tokens = count_of(final.get("eval_count"))
    timings = ServerTimings(
        source="ollama",
        prompt_tokens=prompt_tokens,
        prompt_ms=number_of(final.get("prompt_eval_duration"), NS_TO_MS),
        output_tokens=output_tokens,
        generation_ms=number_of(final.get("eval_duration"), NS_TO_MS),
        load_ms=number_of(final.get("load_duration"), NS_TO_MS),
    )
    info: dict[str, Any] = {}
    total_ms = number_of(final.get("total_duration"), NS_TO_MS)
    if total_ms is not None:
        info["server_total_ms"] = total_ms
    reason = final.get("done_reason")
    return Usage(
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        finish_reason=reason if isinstance(reason, str) else None,
        source="ollama counts",
        timings=timings,
        info=info,
    )


def has_model(names: list[str], model: str) -> bool:
    """Whether ``model`` is among Ollama's tags; a name without a tag means ``:latest``."""
    tagged = ":" in model.rsplit("/", 1)[-1]
    return model in names or (not tagged and f"{model}:latest" in names)


async def _tags(
    client: httpx.AsyncClient, base: str, key: Secret | None, timeout: float
) -> list[str]:
    try:
        response = await client.get(f"{base}/api/tags", headers=auth_headers(key), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ConnectError(
            f"{base} did not answer within {timeout:g} s. Is Ollama running at {base}?"
        ) from exc
    except httpx.HTTPError as exc:
        raise connect_error(exc, base) from exc
    if not response.is_success:
        raise scrub(http_error(response, response.content, base), key)
    models = parse_json(response.text).get("models")
    if not isinstance(models, list):
        raise StreamProtocolError(
            f"{base}/api/tags did not list models ({describe_error(response.content)})."
        )
    names = (m.get("name") or m.get("model") for m in models if isinstance(m, dict))
    return [name for name in names if isinstance(name, str)]


async def list_models(url: str) -> list[str]:
    """The model tags Ollama at ``url`` has (``GET /api/tags``)."""
    base = base_url(url)
    async with new_client() as client:
        return await _tags(client, base, None, Timeouts().connect)
