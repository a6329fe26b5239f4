"""A small modal that asks where to save a code block."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

#: File suffixes for the languages models usually name in their code fences.
SUFFIXES = {
    "python": ".py",
    "py": ".py",
    "javascript": ".js",
    "js": ".js",
    "typescript": ".ts",
    "ts": ".ts",
    "rust": ".rs",
    "go": ".go",
    "c": ".c",
    "cpp": ".cpp",
    "c++": ".cpp",
    "java": ".java",
    "bash": ".sh",
    "sh": ".sh",
    "shell": ".sh",
    "json": ".json",
    "toml": ".toml",
    "yaml": ".yaml",
    "html": ".html",
    "css": ".css",
    "sql": ".sql",
}


def suggested_name(model: str, language: str | None) -> str:
    suffix = SUFFIXES.get((language or "").lower(), ".txt")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in model) or "answer"
    return f"{stem}{suffix}"


class SaveCodeModal(ModalScreen[Path | None]):
    """Returns the chosen path (enter), or None (escape). A second enter overwrites."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="cancel_save")
    ]

    def __init__(self, suggestion: str, base: Path) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.base = base
        self._confirmed: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Save code block"
            yield Label(f"File (relative to {self.base}):")
            yield Input(self.suggestion, id="path")
            yield Static("", id="warning")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.base / path
        warning = self.query_one("#warning", Static)
        if path.is_dir():
            warning.update(f"{path} is a folder.")
            return
        if path.exists() and self._confirmed != path:
            self._confirmed = path
            warning.update(f"{path.name} exists: enter again to overwrite.")
            return
        self.dismiss(path)
