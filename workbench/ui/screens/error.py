"""A modal that shows an error that is not one pane's: its title, message and details."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ErrorModal(ModalScreen[None]):
    """Shows ``title`` and ``message``; enter or escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss", "Close", id="close_error")
    ]

    def __init__(self, title: str, message: str, details: str | None = None) -> None:
        super().__init__()
        self.error_title = title
        self.message = message
        self.details = details

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error-dialog") as dialog:
            dialog.border_title = self.error_title
            yield Static(Content(self.message), id="message")
            if self.details:
                with VerticalScroll(id="details"):
                    yield Static(Content(self.details))
            yield Button("OK", variant="primary", id="ok")

    def on_button_pressed(self) -> None:
        self.dismiss()
