"""OpenAI-compatible servers (llama-server, llama-cpp-python, vLLM, hosted APIs) over SSE.

``spec.url`` is the base URL with its ``/v1``. The backend only passes on what
the server sends: text deltas, then one ``Usage`` built from the server's
``usage`` and, from llama-server, its ``timings``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from workbench.errors import BackendError, ConnectError, StreamProtocolError
from workbench.models.backends.api_keys import Secret, api_key, auth_headers, scrub
from workbench.models.backends.base import ProgressCallback
from workbench.models.backends.clock import StreamClock, Timeouts
from workbench.models.backends.http import StreamingClient, base_url, new_client
from workbench.models.backends.http_errors import connect_error, describe_error, http_error
from workbench.models.backends.streams import SSEJson, count_of, number_of, parse_json
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

NO_USAGE = "none (server sent no usage)"


class OpenAIBackend:
    """A model behind an OpenAI-compatible ``/chat/completions`` and ``/completions``."""

    kind: ClassVar[str] = "openai"
    local: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        # Checked in load() and stream(): a constructor must not fail, the runner
        # builds every backend before it starts any model's run.
        self.base = (spec.url or "").rstrip("/")
        self.timeouts = Timeouts.of(spec)
        self._client = StreamingClient(self.base, self.timeouts)

    async def load(self, progress: ProgressCallback) -> None:
        """Check that the server answers (and accepts the key); there is nothing to load."""
        progress(0.0)
        base_url(self.spec.url)
        key = api_key(self.spec.api_key_env, self.base)
        clock = StreamClock(self.timeouts, self.base)
        while True:
            response = await _get_models(self._client.http, self.base, key, self.timeouts.connect)
            # llama-server answers 503 while it is still loading its model.
            if response.status_code != 503 or clock.remaining() < 1:
                break
            progress(0.5)
            await asyncio.sleep(0.5)
        if response.status_code in (401, 403):
            raise scrub(_key_rejected(response, self.base, self.spec.api_key_env), key)
        if response.status_code == 503:
            raise scrub(http_error(response, response.content, self.base), key)
        # Any other answer means the server is up; some servers have no /models.
        progress(1.0)

    async def stream(self, request: Request) -> AsyncIterator[Chunk]:
        """Yield the text deltas as they arrive, then one ``Usage``."""
        base_url(self.spec.url)
        key = api_key(self.spec.api_key_env, self.base)
        path, body = self.body(request)
        frames = SSEJson()
        tally = _Tally(chat=request.mode == "chat")
        objects = self._client.stream(self.base + path, body, frames, secret=key)
        async with aclosing(objects):  # closes the answer if take() raises
            async for obj in objects:
                text = tally.take(obj)
                if tally.thinking:
                    yield ThinkingChunk(tally.thinking)
                    tally.thinking = ""
                if text:
                    tally.text.append(text)
                    yield TextChunk(text)
        if self._client.cancelled:
            return
        # Some proxies drop "[DONE]"; a finish reason says the answer was complete.
        if not frames.done and tally.finish_reason is None:
            raise BackendError(
                f"{self.base} closed the stream before it was complete (no finish reason, "
                "no [DONE]); the text so far is kept.",
                title="Connection lost",
            )
        usage = tally.final()
        if tally.reported is None:
            usage = await self._count_with_server_tokenizer(
                usage, request, "".join(tally.text), key
            )
        yield usage

    async def _count_with_server_tokenizer(
        self, usage: Usage, request: Request, text: str, key: Secret | None
    ) -> Usage:
        """Counts from the server's own tokenizer when its stream carried no ``usage``.

        llama-cpp-python's server ignores ``stream_options.include_usage`` but
        offers ``/extras/tokenize/count``. Re-tokenizing the answer is the
        server's tokenizer, not its sampler, so the source says so. The prompt
        is counted in completion mode only (in chat mode the server applies a
        template we cannot see).
        """
        root = self.base.removesuffix("/v1")
        headers = auth_headers(key)

        async def count(text: str) -> int | None:
            body = {"input": text, **({"model": self.spec.model} if self.spec.model else {})}
            try:
                response = await self._client.http.post(
                    root + "/extras/tokenize/count",
                    json=body,
                    headers=headers,
                    timeout=self.timeouts.connect,
                )
            except httpx.HTTPError:
                return None
            if response.status_code != 200:
                return None
            try:
                return count_of(response.json().get("count"))
            except (ValueError, RecursionError, AttributeError):
                return None

        empty = await count("")  # the BOS the tokenizer adds, if any
        if empty is None:
            return usage
        answer = await count(text)
        prompt = await count(request.prompt) if request.mode == "completion" else None
        return Usage(
            prompt_tokens=prompt,
            output_tokens=None if answer is None else answer - empty,
            finish_reason=usage.finish_reason,
            source="server tokenizer (/extras/tokenize; the stream sent no usage)",
            timings=usage.timings,
            info=usage.info,
            cached_prompt_tokens=usage.cached_prompt_tokens,
        )

    def body(self, request: Request) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body for ``request``."""
        body: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
        if self.spec.model:
            body["model"] = self.spec.model
        if request.mode == "chat":
            path = "/chat/completions"
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            path = "/completions"
            body["prompt"] = request.prompt
        # The runner sends every value resolved; a direct caller gets the same rules.
        sampling = resolve(
            request.sampling,
            model=self.spec.sampling,
            preset=preset_name(self.spec),
            kind="openai",
            draw_seed=False,  # the runner draws (and records) a missing seed
        ).sampling
        body.update({k: v for k, v in sampling.to_dict().items() if v is not None})
        if self.spec.stop or request.stop:
            body["stop"] = list(self.spec.stop) + list(request.stop)
        if request.cold:
            body["cache_prompt"] = False  # llama-server: evaluate the whole prompt again
        return path, body

    async def set_threads(self, threads: int) -> None:
        """Not ours to set: the server owns its threads."""

    async def cancel(self) -> None:
        await self._client.cancel()

    async def close(self) -> None:
        await self._client.close()


@dataclass
class _Tally:
    """What the chunks of one stream report besides their text."""

    chat: bool
    reported: dict[str, Any] | None = None
    timings: ServerTimings | None = None
    finish_reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    #: The thinking piece of the last chunk (``reasoning_content``), "" when none.
    thinking: str = ""
    #: llama-server's ``timings.cache_n``: prompt tokens it took from its cache.
    cache_n: int | None = None

    def take(self, obj: dict[str, Any]) -> str:
        """Note what ``obj`` reports; return its text ("" when it has none)."""
        if isinstance(obj.get("usage"), dict):
            self.reported = obj["usage"]
        if isinstance(obj.get("timings"), dict):
            self.timings = _timings(obj["timings"])
            self.cache_n = count_of(obj["timings"].get("cache_n"))
        if isinstance(obj.get("model"), str):
            self.info["server_model"] = obj["model"]
        choices = obj.get("choices") or []
        if not isinstance(choices, list):
            raise _malformed(choices)
        for choice in choices:  # a loop, not all(...): this runs once per token
            if not isinstance(choice, dict):
                raise _malformed(choices)
        if not choices:
            return ""  # the usage chunk has none
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        if self.chat:
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(delta, dict):
                self.thinking = _thinking(delta)
        else:
            text = choice.get("text")
        if text is not None and not isinstance(text, str):
            raise StreamProtocolError(f"The server sent text that is not a string: {text!r:.200}")
        return text or ""

    def final(self) -> Usage:
        """The one ``Usage`` that ends the stream."""
        if self.reported is None:
            return Usage(
                None,
                None,
                self.finish_reason,
                NO_USAGE,
                self.timings,
                self.info,
                cached_prompt_tokens=self.cache_n,
            )
        prompt = _details(self.reported, "prompt_tokens_details")
        output = _details(self.reported, "completion_tokens_details")
        # OpenAI, vLLM: usage.prompt_tokens_details.cached_tokens; llama-server: cache_n.
        cached = count_of(prompt.get("cached_tokens"))
        return Usage(
            prompt_tokens=count_of(self.reported.get("prompt_tokens")),
            output_tokens=count_of(self.reported.get("completion_tokens")),
            finish_reason=self.finish_reason,
            source="server usage",
            timings=self.timings,
            info=self.info,
            cached_prompt_tokens=cached if cached is not None else self.cache_n,
            thinking_tokens=count_of(output.get("reasoning_tokens")),
        )


def _thinking(delta: dict[str, Any]) -> str:
    """The thinking text of a delta: ``reasoning_content`` (llama-server, DeepSeek, vLLM)
    or ``reasoning`` (newer vLLM, OpenRouter)."""
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if value is not None and not isinstance(value, str):
            raise StreamProtocolError(f"The server sent {key} that is not a string: {value!r:.200}")
        if value:
            return value
    return ""


def _details(usage: dict[str, Any], key: str) -> dict[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, dict) else {}


def _malformed(choices: Any) -> StreamProtocolError:
    return StreamProtocolError(f"The server sent malformed choices: {choices!r:.200}")


def _timings(data: dict[str, Any]) -> ServerTimings:
    """llama-server's own figures; ``prompt_n`` counts only the prompt tokens not cached."""
    return ServerTimings(
        source="llama-server timings",
        prompt_tokens=count_of(data.get("prompt_n")),
        prompt_ms=number_of(data.get("prompt_ms")),
        output_tokens=count_of(data.get("predicted_n")),
        generation_ms=number_of(data.get("predicted_ms")),
    )


async def _get_models(
    client: httpx.AsyncClient, base: str, key: Secret | None, timeout: float
) -> httpx.Response:
    try:
        return await client.get(f"{base}/models", headers=auth_headers(key), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ConnectError(
            f"{base} did not answer within {timeout:g} s. Is the server running at {base}?"
        ) from exc
    except httpx.HTTPError as exc:
        raise connect_error(exc, base) from exc


def _key_rejected(response: httpx.Response, base: str, env_name: str | None) -> BackendError:
    where = f"the key in ${env_name}" if env_name else "no key (this model has no api_key_env)"
    return BackendError(
        f"{base} refused {where} (HTTP {response.status_code}): {describe_error(response.content)}",
        title="Not authorized",
    )


async def list_models(url: str, api_key_env: str | None = None) -> list[str]:
    """The model ids an OpenAI-compatible server offers (``GET {url}/models``)."""
    base = base_url(url)
    key = api_key(api_key_env, base)
    timeout = Timeouts().connect
    async with new_client() as client:
        response = await _get_models(client, base, key, timeout)
    if response.status_code in (401, 403):
        raise scrub(_key_rejected(response, base, api_key_env), key)
    if not response.is_success:
        raise scrub(http_error(response, response.content, base), key)
    data = parse_json(response.text).get("data")
    if not isinstance(data, list):
        raise StreamProtocolError(f"{base}/models did not list models (no 'data' array).")
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
