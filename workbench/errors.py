"""Typed errors: a short title and a message a user can act on.

They are raised anywhere in the core and caught at a boundary (a pane, the CLI's
``main``), which shows them; a raw traceback never reaches the user.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every error workbench shows to a user."""

    title = "Error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        return {"type": type(self).__name__, "title": self.title, "message": self.message}


class ConfigError(WorkbenchError):
    """A config file that is wrong: names the file, the line and the key."""

    title = "Bad config"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = path or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.detail = message


class UsageError(WorkbenchError):
    """A command line that asks for something that does not exist."""

    title = "Bad usage"


class ModelLoadError(WorkbenchError):
    title = "Model failed to load"


class BackendError(WorkbenchError):
    """A backend failed while answering (server error, bad stream, dead worker)."""

    title = "Backend error"


class ConnectError(BackendError):
    title = "Cannot connect"


class StreamTimeout(BackendError):
    title = "Timed out"


class StreamProtocolError(BackendError):
    title = "Malformed stream"


class WorkerDied(BackendError):
    title = "Worker died"


class TemplateError(WorkbenchError):
    title = "No chat template"


class SessionError(WorkbenchError):
    title = "Bad session file"
