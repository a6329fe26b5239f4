"""Small modals of the review screens: pick one of a few choices, or confirm an action."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

T = TypeVar("T")


class ChoiceModal(ModalScreen[T | None], Generic[T]):
    """Returns the value of the chosen line (enter), or None (escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="cancel_choice")
    ]

    def __init__(self, title: str, choices: Sequence[tuple[str, T]]) -> None:
        super().__init__()
        self.choice_title = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="choice-dialog") as dialog:
            dialog.border_title = self.choice_title
            dialog.border_subtitle = "enter chooses · esc cancels"
            yield OptionList(
                *(Option(Content(label), id=str(i)) for i, (label, _) in enumerate(self.choices)),
                id="choices",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index][1])


class ConfirmModal(ModalScreen[bool]):
    """Asks before something that cannot be undone: ``y`` (or the button) confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes", id="confirm_yes"),
        Binding("n,escape", "dismiss(False)", "No", id="confirm_no"),
    ]

    def __init__(self, title: str, message: str, confirm: str = "Delete") -> None:
        super().__init__()
        self.confirm_title = title
        self.message = message
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error-dialog") as dialog:
            dialog.border_title = self.confirm_title
            dialog.border_subtitle = "y confirms · n or esc keeps it"
            yield Static(Content(self.message), id="message")
            with Horizontal(id="buttons"):
                yield Button(f"{self.confirm} (y)", variant="error", id="yes")
                yield Button("Keep (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
