"""API keys: read from the environment variable named in config, sent, never shown.

The value is read when a request needs it and never stored in config or a
session; its holder hides it from ``repr``, tracebacks and error messages.
"""

from __future__ import annotations

import os

import httpx

from workbench.errors import BackendError, WorkbenchError


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
