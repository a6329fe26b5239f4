"""A server backend's HTTP side: one streaming request, its retries and its reading.

``StreamingClient`` sends a request and reads the answer's bytes with a
decoder from ``workbench.models.backends.streams``, each read within the gap timeout
and the deadline (``workbench.models.backends.clock``). Only failures before the
first byte of the answer are retried. Every way a request can go wrong ends as
a typed ``BackendError`` subclass (``workbench.models.backends.http_errors``) with a
message a user can act on, and the API key (``workbench.models.backends.api_keys``) is
blanked out of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from workbench.errors import BackendError, ConnectError, StreamTimeout, WorkbenchError
from workbench.models.backends.api_keys import Secret, auth_headers, scrub
from workbench.models.backends.clock import GapTimer, StreamClock, Timeouts
from workbench.models.backends.http_errors import connect_error, http_error, mid_stream_error
from workbench.models.backends.streams import Decoder

MAX_ERROR_BODY = 64 * 1024

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRIES = 2
BACKOFF_S = 0.25
#: A longer Retry-After is reported to the user rather than waited for.
MAX_RETRY_AFTER_S = 10.0


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


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one SSL context every client verifies servers with.

    Each ``httpx.AsyncClient`` would otherwise load the CA bundle itself, about
    25 ms of CPU on the event loop per model at the first prompt.
    """
    return httpx.create_ssl_context()


def new_client(**kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that uses the shared SSL context."""
    return httpx.AsyncClient(verify=tls_context(), **kwargs)


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


def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The answer's bytes as they arrive, decompressed if the server compressed them."""
    encodings = response.headers.get_list("content-encoding", split_commas=True)
    if all(value.strip().lower() in ("", "identity") for value in encodings):
        # Nothing to decode: the raw bytes, without aiter_bytes' layer per read.
        return response.aiter_raw()
    return response.aiter_bytes()


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
            self._client = new_client(timeout=self.timeouts.for_httpx())
        return self._client

    async def stream(
        self, url: str, body: dict[str, Any], decoder: Decoder, *, secret: Secret | None = None
    ) -> AsyncIterator[Any]:
        """POST ``body`` as JSON; yield the objects ``decoder`` reads from the answer.

        Reading ends with the answer, or once the decoder is ``done``.
        """
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
                # One loop, not a generator per stage: this runs once per token.
                timer = GapTimer(clock)
                reads = _body(response)
                try:
                    timer.start()
                    while True:
                        try:
                            chunk = await timer.read(reads)
                        except StopAsyncIteration:
                            break
                        except httpx.HTTPError as exc:
                            raise mid_stream_error(exc, self.server) from exc
                        objects = decoder.feed(chunk)
                        for obj in objects:
                            yield obj
                        if decoder.error is not None:
                            raise decoder.error
                        if decoder.done:
                            return
                        if objects:  # a keep-alive alone does not restart the gap
                            timer.start()
                    for obj in decoder.close():
                        yield obj
                    if decoder.error is not None:
                        raise decoder.error
                finally:
                    timer.close()
                    await reads.aclose()
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
