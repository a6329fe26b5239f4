"""The help screen: every key of the app, as remapped by the config."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
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


#: Below the keys: how to remap one (the example's key is free everywhere).
REMAP_HINT = 'Remap keys in workbench.toml by id, e.g. [keys] copy_answer = "y".'


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
            yield Static(Content(REMAP_HINT), id="hint")

    def on_mount(self) -> None:
        self._fill()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self._fill()

    def _fill(self) -> None:
        """The table at the dialog's width: the actions' words wrap in their column, and a
        narrow screen leaves out the ids, so nothing scrolls sideways."""
        table = self.query_one(DataTable)
        rows = [
            (key_label(self.keys.get(a.id, a.key)), a.id, a.help, _WHERE[a.scope]) for a in ACTIONS
        ]
        rows += [(key, "", words, where) for key, words, where in WIDGET_KEYS]
        # The dialog: 90% of the screen, at most 130 (compare.tcss), less its border,
        # padding and a scrollbar; each column has a cell of padding on each side.
        inner = min(self.app.size.width * 9 // 10, 130) - 2 - 4 - 2
        widths = [max(cell_len(row[i]) for row in rows) + 2 for i in range(4)]
        shown = [0, 1, 2, 3] if inner - sum(widths) + widths[2] >= 40 else [0, 2, 3]
        words = max(inner - sum(widths[i] for i in shown if i != 2) - 2, 20)
        table.clear(columns=True)
        for i in shown:
            table.add_column(("key", "id", "action", "where")[i], width=words if i == 2 else None)
        for row in rows:
            table.add_row(*(row[i] for i in shown), height=None)
