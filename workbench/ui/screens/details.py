"""A pane's details: every figure of its latest answer, when the pane shows one line."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class DetailsModal(ModalScreen[None]):
    """The full figures lines of one pane; ``i``, enter or escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,i", "dismiss", "Close", id="close_details")
    ]

    def __init__(self, name: str, state: str, text: str) -> None:
        super().__init__()
        self.pane_name = name
        self.state = state
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="details-dialog") as dialog:
            dialog.border_title = f"{self.pane_name} · {self.state}"
            dialog.border_subtitle = "esc closes"
            yield Static(Content(self.text), id="figures-details")
