"""The help screen: every key of the app, as remapped by the config."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from workbench.ui.keys import ACTIONS, key_label

_WHERE = {"app": "anywhere", "compare": "compare screen", "pane": "answer pane"}
_WHERE |= {
    "diff": "diff screen",
    "sessions": "sessions browser",
    "session": "saved session",
    "rerun": "re-run",
}
_WHERE |= {"battle": "battle screen", "queue": "rating queue", "leaderboard": "leaderboard"}
_WHERE |= {"suite": "suite results", "grid": "grid results"}

#: Keys that come from Textual's widgets rather than from our table.
WIDGET_KEYS = (
    ("ctrl+p", "Command palette: every action by name", "anywhere"),
    ("tab / shift+tab", "Next / previous field", "anywhere"),
    ("space / enter", "Choose or drop the model under the cursor", "model picker"),
    ("↑ ↓ pgup pgdn", "Scroll the answer", "answer pane"),
    ("↑ ↓ pgup pgdn", "Move in the list (the filter keeps the focus)", "sessions browser"),
    ("↑ ↓ pgup pgdn", "Scroll the diff", "diff screen"),
)


class HelpScreen(ModalScreen[None]):
    """Lists every action with its key; the keys can be remapped in ``workbench.toml``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="close_help")
    ]

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "esc closes"
            yield DataTable(cursor_type="row", zebra_stripes=True, id="keys")
            yield Static(
                Content('Remap keys in workbench.toml by id, e.g. [keys] send = "f6".'), id="hint"
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "id", "action", "where")
        for action in ACTIONS:
            key = key_label(self.keys.get(action.id, action.key))
            table.add_row(key, action.id, action.help, _WHERE[action.scope])
        for key, words, where in WIDGET_KEYS:
            table.add_row(key, "", words, where)
        table.focus()
