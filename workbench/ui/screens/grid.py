"""The grid view: prompts × models × settings of a saved grid, each cell checks and speed.

The view of ``workbench.checks.grid_saved`` (what the sessions of ``workbench grid``
hold). A cell shows the checks its answers passed over every repeat, the generation
speed as mean ± std (``‖`` marks runs that shared the machine) and the mean score
given to its answers. **enter** opens the cell's session (the models' answers at that
settings point side by side, where the diff and rating keys work); **n** shows the
next repeat of it; **s** the next saved grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from workbench.checks.grid import CellResult
from workbench.checks.grid_saved import SavedGrid, saved_grids
from workbench.core import format as fmt
from workbench.core.stats import CONTENDED
from workbench.errors import WorkbenchError
from workbench.ui.keys import bindings
from workbench.ui.screens.session_view import SessionView

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp


def cell_text(cell: CellResult | None, score: float | None) -> str:
    """``3/4 ✓ · 81±3 tok/s ‖ · ★4.0``: checks, speed (‖ contended), the mean score."""
    if cell is None or not cell.runs:
        return "·"
    parts = [f"{cell.passed}/{cell.total} ✓" if cell.total else f"{len(cell.runs)} runs"]
    for stats in cell.speed():
        if stats.gen_tokens_per_s is not None:
            mark = " ‖" if stats.contention == CONTENDED else ""
            parts.append(f"{stats.gen_tokens_per_s.short()} tok/s{mark}")
    if score is not None:
        parts.append(f"★{score:.1f}")
    return " · ".join(parts)


class GridScreen(Screen[None]):
    """Prompts × (model, settings) of one saved grid; opens a cell's answers side by side."""

    SCOPE: ClassVar[str] = "grid"
    BINDINGS = bindings("grid")
    AUTO_FOCUS = "#grid-table"

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name_wanted = name
        self.grids: dict[str, SavedGrid] = {}
        self.grid: SavedGrid | None = None
        #: The repeat the next open shows, per (prompt, settings).
        self._repeat: dict[tuple[str, str], int] = {}

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="▦")
        yield Static("Reading the saved grids…", id="grid-summary")
        table = DataTable(id="grid-table", cursor_type="cell", zebra_stripes=True)
        table.border_title = "prompts × models · settings · enter: the answers side by side"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "grid results"
        self.run_worker(self._read, thread=True, exclusive=True)

    def on_screen_resume(self) -> None:
        self.run_worker(self._read, thread=True, exclusive=True)  # scores given meanwhile

    def _read(self) -> None:
        try:
            grids = saved_grids(self.wb.store)
        except WorkbenchError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._loaded, grids)

    def _loaded(self, grids: dict[str, SavedGrid]) -> None:
        self.grids = grids
        name = self.name_wanted if self.name_wanted in grids else None
        if name is None and grids:
            name = next(reversed(grids))  # the one saved last
        self.grid = grids.get(name) if name else None
        self._draw()

    def _draw(self) -> None:
        table = self.query_one("#grid-table", DataTable)
        where = table.cursor_coordinate
        table.clear(columns=True)
        grid = self.grid
        summary = self.query_one("#grid-summary", Static)
        if grid is None:
            summary.update(
                "No grid saved yet. Run one in a terminal: `workbench grid FILE` "
                "(see the README's example grid)."
            )
            return
        table.header_height = 2  # the model, and the settings that vary under it
        table.add_column("prompt", key="prompt")
        for model, settings in grid.columns():
            table.add_column(f"{model}\n{grid.varying(settings)}", key=f"{model}\t{settings}")
        for prompt in grid.prompts:
            cells = [
                cell_text(grid.cell(prompt, m, s), grid.mean_score(prompt, m, s))
                for m, s in grid.columns()
            ]
            table.add_row(prompt, *cells, key=prompt)
        if table.row_count:
            table.move_cursor(
                row=min(where.row, table.row_count - 1),
                column=min(max(where.column, 1), len(table.columns) - 1),
            )
        summary.update(self._summary(grid))

    def _summary(self, grid: SavedGrid) -> Content:
        rates = []
        shared = f" · {grid.constant()}" if grid.constant() else ""
        for model, settings in grid.columns():
            cells = [grid.cell(p, model, settings) for p in grid.prompts]
            passed = sum(c.passed for c in cells if c)
            total = sum(c.total for c in cells if c)
            rate = fmt.percent(passed / total, 1) if total else "–"
            rates.append(
                f"{model} · {grid.varying(settings) or 'default'}: {rate} of {total} checks"
            )
        others = len(self.grids) - 1
        more = f"  · s: next grid ({others} more)" if others else ""
        return Content.from_markup(
            "[b]$name[/b]$shared · $prompts prompts · ‖ = ran beside other models$more\n$rates",
            name=grid.name,
            shared=shared,
            prompts=str(len(grid.prompts)),
            more=more,
            rates="\n".join(rates),
        )

    # -- actions -----------------------------------------------------------------------------

    def action_next_grid(self) -> None:
        """Show the next saved grid."""
        names = list(self.grids)
        if self.grid is None or len(names) < 2:
            return
        self.name_wanted = names[(names.index(self.grid.name) + 1) % len(names)]
        self.grid = self.grids[self.name_wanted]
        self._draw()

    async def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()  # the table takes enter itself: that opens the cell too
        await self.action_open_cell()

    async def action_open_cell(self, step: int = 0) -> None:
        """Open the session of the cell under the cursor: its answers side by side."""
        grid = self.grid
        table = self.query_one("#grid-table", DataTable)
        if grid is None or not table.row_count:
            return
        prompt = grid.prompts[table.cursor_row]
        column = max(table.cursor_column - 1, 0)
        _, settings = grid.columns()[column]
        paths = grid.sessions.get((prompt, settings), [])
        if not paths:
            self.notify("Nothing saved for this cell yet.", timeout=3)
            return
        key = (prompt, settings)
        index = (self._repeat.get(key, 0) + step) % len(paths)
        self._repeat[key] = index
        try:
            session = self.wb.store.load(paths[index])
        except WorkbenchError as exc:
            self.notify(exc.message, title="Cannot open the session", severity="error")
            return
        if len(paths) > 1:
            self.notify(f"Repeat {index + 1} of {len(paths)} (n: the next one).", timeout=3)
        await self.app.push_screen(SessionView(session, Path(paths[index])))

    async def action_next_repeat(self) -> None:
        """Open the next repeat of the cell under the cursor."""
        await self.action_open_cell(step=1)

    def action_close(self) -> None:
        self.dismiss()
