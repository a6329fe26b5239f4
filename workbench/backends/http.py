"""A server backend's HTTP side: one streaming request, its timeouts, retries and errors.

``StreamingClient`` sends a request and hands the answer's bytes to a parser
from ``workbench.backends.streams``. Only failures before the first byte of the
answer are retried. Every way a request can go wrong ends as a typed
``BackendError`` subclass with a message a user can act on, and the API key,
read from the environment when needed, is blanked out of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import os
import socket
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from workbench.errors import (
    BackendError,
    ConnectError,
    StreamProtocolError,
    StreamTimeout,
    WorkbenchError,
)

if TYPE_CHECKING:
    from workbench.config import ModelSpec

T = TypeVar("T")

MAX_ERROR_BODY = 64 * 1024
SNIPPET = 300

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRIES = 2
BACKOFF_S = 0.25
#: A longer Retry-After is reported to the user rather than waited for.
MAX_RETRY_AFTER_S = 10.0


# --- error bodies --------------------------------------------------------------------


def describe_error(raw: Any) -> str:
    """The human part of an error body: OpenAI, Ollama, FastAPI or plain-text shapes."""
    if isinstance(raw, str | bytes):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return snip(" ".join(text.split())) or "(no details)"
    if isinstance(raw, dict):
        for key in ("error", "message", "detail"):
            if raw.get(key):
                return describe_error(raw[key]) if key == "error" else snip(str(raw[key]))
    return snip(str(raw) if isinstance(raw, str) else json.dumps(raw))


def snip(text: str) -> str:
    """``text``, cut to ``SNIPPET`` characters for an error message."""
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


# --- timeouts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """``connect`` to open a connection; ``gap``, the longest silence between two
    payloads (keep-alives do not count); ``deadline``, the whole request."""

    connect: float = 10.0
    gap: float = 120.0
    deadline: float = 900.0

    @classmethod
    def of(cls, spec: ModelSpec) -> Timeouts:
        return cls(spec.connect_timeout, spec.gap_timeout, spec.deadline)

    def for_httpx(self) -> httpx.Timeout:
        # Reads are bounded by StreamClock instead: httpx's read timeout restarts
        # at every byte, so a server sending keep-alives would never time out.
        return httpx.Timeout(connect=self.connect, read=None, write=self.gap, pool=self.connect)


class StreamClock:
    """The gap timeout and the deadline of one request, on ``time.monotonic``."""

    def __init__(
        self, timeouts: Timeouts, server: str, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.timeouts = timeouts
        self.server = server
        self._now = now
        self.started = now()

    def remaining(self) -> float:
        return self.started + self.timeouts.deadline - self._now()

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` within the gap timeout and what is left of the deadline."""
        remaining = self.remaining()
        limit = min(remaining, self.timeouts.gap)
        if limit <= 0:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise self._expired(deadline=True)
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                return await awaitable
        except TimeoutError:
            if not scope.expired():
                raise
            raise self._expired(deadline=limit >= remaining) from None

    async def paced(self, items: AsyncIterable[T]) -> AsyncIterator[T]:
        """``items``, each one awaited within the gap timeout and the deadline."""
        iterator = aiter(items)
        try:
            while True:
                try:
                    item = await self.wait(anext(iterator))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()

    def _expired(self, *, deadline: bool) -> StreamTimeout:
        if deadline:
            return StreamTimeout(
                f"{self.server} did not finish within the deadline of "
                f"{self.timeouts.deadline:g} s; any text received is kept."
            )
        return StreamTimeout(
            f"{self.server} sent nothing for {self.timeouts.gap:g} s (gap_timeout); "
            "any text received is kept."
        )


# --- HTTP ----------------------------------------------------------------------------


def base_url(url: str | None) -> str:
    """``url`` without its trailing slash, once it is known to be an http(s) URL."""
    try:
        parsed = httpx.URL(url or "")
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConnectError(
            f"The server URL {url!r} is not an http:// or https:// URL.", title="Bad server URL"
        )
    return str(url).rstrip("/")


class Secret:
    """An API key read from the environment, which never shows itself.

    Its ``repr`` names only the variable, so a traceback that prints local
    variables (Textual's crash report does) or a log of an object holding one
    cannot show the key. ``reveal()`` is called where the key is sent.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"<API key from ${self.source}>"

    __str__ = __repr__


def api_key(env_name: str | None, server: str) -> Secret | None:
    """The API key from the variable named in config, read now; the value is never stored."""
    if not env_name:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise BackendError(
            f"The environment variable {env_name} is not set or empty; it should hold the "
            f"API key for {server}.",
            title="API key missing",
        )
    if not all(" " <= char <= "~" for char in value):
        # httpx would refuse the header with the key quoted in its message (a line
        # break), or fail with a bare UnicodeEncodeError (a non-ASCII character).
        raise BackendError(
            f"The API key in {env_name} holds a line break, a control or a non-ASCII "
            "character, which cannot be sent in an HTTP header. Check the variable's value.",
            title="API key unusable",
        )
    return Secret(value, env_name)


def auth_headers(key: Secret | None) -> httpx.Headers:
    """The ``Authorization`` header for ``key``, or none without a key.

    ``httpx.Headers`` rather than a dict: its ``repr`` hides the value, so the
    frames of a request being sent show no key in a traceback either.
    """
    return httpx.Headers({"Authorization": f"Bearer {key.reveal()}"} if key else {})


def scrub(error: WorkbenchError, secret: Secret | str | None) -> WorkbenchError:
    """``error`` with ``secret`` blanked out of its message (servers may echo a key)."""
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if value and value in error.message:
        error.message = error.message.replace(value, "***")
        error.args = (error.message,)
    return error


def connect_error(exc: Exception, server: str) -> ConnectError:
    """The error for a server that cannot be reached, with the question that helps."""
    reason = str(exc) or type(exc).__name__
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return ConnectError(
                f"The TLS handshake with {server} failed ({cause.reason or cause}). If the "
                "server speaks plain HTTP, use an http:// URL; otherwise check its certificate.",
                title="TLS failed",
            )
        if isinstance(cause, socket.gaierror):
            host = httpx.URL(server).host
            return ConnectError(
                f"Cannot find the host {host!r} of {server} ({cause.strerror}). Check the URL.",
                title="Unknown host",
            )
        cause = cause.__cause__ or cause.__context__
    return ConnectError(
        f"Cannot connect to {server} ({reason}). Is the server running at {server}?"
    )


#: Failures before any byte of the answer, which a retry may cure.
_UNANSWERED = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


async def open_stream(
    client: httpx.AsyncClient, request: httpx.Request, clock: StreamClock
) -> httpx.Response:
    """Send ``request``; return the streaming response once its status says success.

    Retries, at most ``MAX_RETRIES`` times with a short backoff, only what fails
    before the first byte of the answer: a refused or reset connection, 429 and
    5xx (honouring a short ``Retry-After``). Anything else, or the last failure,
    raises a ``BackendError`` subclass that names the status and the server's message.
    """
    server = clock.server
    for attempt in range(MAX_RETRIES + 1):
        backoff = BACKOFF_S * 2**attempt
        retry = attempt < MAX_RETRIES
        try:
            response = await clock.wait(client.send(request, stream=True))
        except _UNANSWERED as exc:
            if retry and backoff < clock.remaining():
                await asyncio.sleep(backoff)
                continue
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                raise connect_error(exc, server) from exc
            raise BackendError(
                f"{server} closed the connection before answering ({exc}).",
                title="Connection lost",
            ) from exc
        except httpx.TimeoutException as exc:
            raise StreamTimeout(f"{server} did not answer in time ({exc}).") from exc
        except httpx.HTTPError as exc:
            raise ConnectError(f"Cannot send the request to {server} ({exc}).") from exc
        if response.is_success:
            return response
        body = await _read_some(response, clock)
        delay = retry_after(response.headers.get("retry-after"), backoff)
        if (
            retry
            and response.status_code in RETRY_STATUSES
            and delay is not None
            and delay < clock.remaining()
        ):
            await asyncio.sleep(delay)
            continue
        raise http_error(response, body, server)
    raise AssertionError("unreachable")  # pragma: no cover


async def _read_some(response: httpx.Response, clock: StreamClock) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of an error body, then the response is closed."""
    body = bytearray()

    async def read() -> None:
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) >= MAX_ERROR_BODY:
                return

    try:
        await clock.wait(read())
    except (httpx.HTTPError, StreamTimeout):
        pass  # the status alone still says what went wrong
    finally:
        await response.aclose()
    return bytes(body)


def retry_after(value: str | None, default: float) -> float | None:
    """Seconds to wait before a retry, or ``None`` when the server asks for too long."""
    if value is None:
        return default
    try:
        delay = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        delay = when.timestamp() - time.time()
    delay = max(0.0, delay)
    return delay if delay <= MAX_RETRY_AFTER_S else None


def http_error(response: httpx.Response, body: bytes, server: str) -> BackendError:
    """An error for a failed status, naming it and the server's own message."""
    status = response.status_code
    message = f"{server} answered HTTP {status} {response.reason_phrase}: {describe_error(body)}"
    if status in (401, 403):
        message += " Check the API key."
    location = response.headers.get("location")
    if 300 <= status < 400 and location:
        # Redirects are not followed (a POST would turn into a GET, and a loop never ends).
        message += f" It redirects to {snip(location)}: set the model's url to the final address."
    wait = response.headers.get("retry-after")
    if status == 429 and wait:
        message += f" (The server asks to retry after {wait}.)"
    return BackendError(message, title=f"HTTP {status}")


async def read_stream(
    objects: AsyncIterable[dict[str, Any]], clock: StreamClock
) -> AsyncIterator[dict[str, Any]]:
    """``objects`` paced by ``clock``, with transport failures turned into typed errors."""
    try:
        async for obj in clock.paced(objects):
            yield obj
    except httpx.TimeoutException as exc:
        raise StreamTimeout(f"{clock.server} stopped answering ({exc}).") from exc
    except httpx.DecodingError as exc:
        raise StreamProtocolError(f"{clock.server} sent a body that cannot be decoded.") from exc
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise BackendError(
            f"The connection to {clock.server} was lost mid-stream ({reason}); "
            "the text so far is kept.",
            title="Connection lost",
        ) from exc


class StreamingClient:
    """A server backend's HTTP side: one streaming request at a time, cancellable.

    ``cancel()`` comes from another task (the runner's): it stops the request
    while it waits for the answer's head, or closes the answer being read, and
    ``stream`` then ends quietly with ``cancelled`` set.
    """

    def __init__(self, server: str, timeouts: Timeouts) -> None:
        self.server = server
        self.timeouts = timeouts
        self.cancelled = False
        self._client: httpx.AsyncClient | None = None
        self._sending: asyncio.Future[httpx.Response] | None = None
        self._response: httpx.Response | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        # Made on first use, so that it belongs to the running event loop.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeouts.for_httpx())
        return self._client

    async def stream(
        self,
        url: str,
        body: dict[str, Any],
        parse: Callable[[AsyncIterable[bytes]], AsyncIterable[dict[str, Any]]],
        *,
        secret: Secret | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """POST ``body`` as JSON; yield the objects ``parse`` reads from the answer."""
        self.cancelled = False
        clock = StreamClock(self.timeouts, self.server)
        request = self.http.build_request("POST", url, json=body, headers=auth_headers(secret))
        try:
            response = await self._send(request, clock)
            if response is None:
                return
            self._response = response
            try:
                if self.cancelled:
                    return
                async for obj in read_stream(parse(response.aiter_bytes()), clock):
                    yield obj
            finally:
                self._response = None
                await response.aclose()
        except WorkbenchError as exc:
            if self.cancelled:
                return  # the error is only the echo of our own cancel
            raise scrub(exc, secret) from exc.__cause__

    async def _send(self, request: httpx.Request, clock: StreamClock) -> httpx.Response | None:
        # A task of its own, so that cancel() can stop it without cancelling the
        # caller, whose task belongs to the runner.
        self._sending = asyncio.ensure_future(open_stream(self.http, request, clock))
        try:
            return await self._sending
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.cancelled and task is not None and not task.cancelling():
                return None
            raise
        finally:
            self._sending = None

    async def cancel(self) -> None:
        """Stop the current request; its ``stream`` ends without an error."""
        self.cancelled = True
        if self._sending is not None:
            self._sending.cancel()
        if self._response is not None:
            await self._response.aclose()

    async def close(self) -> None:
        await self.cancel()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
