"""What a failed request tells its user: the server's own message, the status, the cause.

Every way an HTTP request can go wrong ends as a typed ``BackendError``
subclass whose message says what happened and what to check.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import httpx

from workbench.errors import BackendError, ConnectError, StreamProtocolError, StreamTimeout

SNIPPET = 300


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


def mid_stream_error(exc: httpx.HTTPError, server: str) -> BackendError:
    """The error for a transport failure while an answer was being read."""
    if isinstance(exc, httpx.TimeoutException):
        return StreamTimeout(f"{server} stopped answering ({exc}).")
    if isinstance(exc, httpx.DecodingError):
        return StreamProtocolError(f"{server} sent a body that cannot be decoded.")
    reason = str(exc) or type(exc).__name__
    return BackendError(
        f"The connection to {server} was lost mid-stream ({reason}); the text so far is kept.",
        title="Connection lost",
    )
