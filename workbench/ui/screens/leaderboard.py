"""The leaderboard: your models ranked from your own votes, with how sure it is.

The view of ``workbench.store.leaderboard``.

Recomputed from the raw votes each time it opens (``workbench.store.leaderboard.leaderboard``:
Bradley-Terry with 95% posterior intervals, numpy-vectorised), in a thread. The
rows are the standings; a text bar draws each rating's interval on one common
scale; models with too few battles to rank are listed last, marked provisional;
below, the win-rate matrix.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from workbench.checks.samples import pass_rates, rate_text
from workbench.errors import SessionError
from workbench.store.leaderboard import PROVISIONAL_BATTLES, Leaderboard, Standing
from workbench.ui.fit_columns import columns_to_drop, empty_columns
from workbench.ui.keys import bindings
from workbench.ui.screens.rating import RATING_CSS

if TYPE_CHECKING:
    from workbench.ui.app import WorkbenchApp

BOOTSTRAP = 1000
BAR_WIDTH = 21
#: The standings' columns left out first when the screen is narrow ("" is the bar);
#: columns with nothing in them go before these. Rank, model and rating always stay.
DROP_ORDER = ("bad", "n", "", "95% interval", "W-L-T", "pass rate", "battles", "score")
STANDINGS_COLUMNS = (
    "#",
    "model",
    "rating",
    "95% interval",
    "",
    "battles",
    "W-L-T",
    "bad",
    "score",
    "n",
    "pass rate",
)


def interval_bar(
    low: float | None,
    mid: float | None,
    high: float | None,
    lo: float,
    hi: float,
    width: int = BAR_WIDTH,
) -> str:
    """``low``–``high`` with ``mid`` marked, drawn on the scale ``lo``–``hi``:
    ``   ├──●───┤      ``. Empty when there is no rating; only ``●`` with no interval."""
    if mid is None:
        return " " * width

    def at(value: float) -> int:
        if hi <= lo:
            return width // 2
        return round((min(max(value, lo), hi) - lo) / (hi - lo) * (width - 1))

    cells = [" "] * width
    if low is not None and high is not None:
        left, right = at(low), at(high)
        for i in range(left, right + 1):
            cells[i] = "─"
        cells[left], cells[right] = "├", "┤"
    cells[at(mid)] = "●"
    return "".join(cells)


def parse_since(text: str) -> datetime | None:
    """A date typed in the filter (``2026-11-01``, or with a time); empty is None."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'since' takes a date like 2026-11-01, not {text!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def standing_row(rank: int | None, s: Standing, lo: float, hi: float) -> tuple[str, ...]:
    """One line of the standings, as text; a provisional model has no rank (``–``)."""
    interval = "–"
    if s.rating_low is not None and s.rating_high is not None:
        interval = f"{s.rating_low:.0f}–{s.rating_high:.0f}"
    score = _number(s.mean_score, 2)
    if s.score_low is not None and s.score_high is not None:
        score += f" ({s.score_low:.1f}–{s.score_high:.1f})"
    return (
        "–" if rank is None else str(rank),
        s.model,
        _number(s.rating),
        interval,
        interval_bar(s.rating_low, s.rating, s.rating_high, lo, hi),
        f"{s.battles} provisional" if s.provisional else str(s.battles),
        f"{s.wins}-{s.losses}-{s.ties}",
        str(s.bad),
        score,
        str(s.scores),
    )


class LeaderboardScreen(Screen[None]):
    """Ratings with 95% intervals, battles, W-L-T, mean scores, and the win-rate matrix."""

    SCOPE: ClassVar[str] = "leaderboard"
    BINDINGS = bindings("leaderboard")
    CSS_PATH = RATING_CSS
    AUTO_FOCUS = "#lb-standings"

    def __init__(
        self, *, tag: str | None = None, since: str = "", bootstrap: int = BOOTSTRAP
    ) -> None:
        super().__init__()
        self.tag = tag
        self.since = since
        self.bootstrap = bootstrap
        #: How "both bad" votes count: as a tie, or not at all.
        self.bad = "tie"
        self.board: Leaderboard | None = None
        #: What ``_show`` drew last (drawn again, to the new width, on a resize).
        self._shown: tuple | None = None

    @property
    def wb(self) -> WorkbenchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="▲")
        with Horizontal(id="lb-filters"):
            yield Label("tag")
            yield Input(self.tag or "", placeholder="any tag", id="lb-tag")
            yield Label("since")
            yield Input(self.since, placeholder="YYYY-MM-DD", id="lb-since")
        yield Static("Fitting the votes…", id="lb-summary")
        standings = DataTable(id="lb-standings", cursor_type="row", zebra_stripes=True)
        standings.border_title = "Standings"
        yield standings
        matrix = DataTable(id="lb-matrix", cursor_type="none", zebra_stripes=True)
        matrix.border_title = "Win rate of the row against the column (ties half) · battles"
        yield matrix
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "leaderboard"
        self.query_one("#lb-standings", DataTable).add_columns(*STANDINGS_COLUMNS)
        self.recompute()

    # -- narrow screens -----------------------------------------------------------------------

    def _to_drop(self) -> list[str]:
        """The standings' columns that do not fit the screen's width, least useful first."""
        table = self.query_one("#lb-standings", DataTable)
        names = [str(column.label) for column in table.ordered_columns]
        rows = [table.get_row_at(index) for index in range(table.row_count)]
        # Measured from the cells: the table measures its own only at the next idle.
        widths = {
            name: max(cell_len(str(cell)) for cell in (name, *(row[i] for row in rows)))
            + 2 * table.cell_padding
            for i, name in enumerate(names)
        }
        order = [*empty_columns(rows, names), *DROP_ORDER]
        # The table's border and a scrollbar's room.
        return columns_to_drop(widths, order, (self.size.width or self.app.size.width) - 4)

    def _fit_columns(self) -> None:
        """Fill the standings again without the columns that do not fit (a table
        rebuilt, not ``remove_column``: that leaves the header at the old widths)."""
        table = self.query_one("#lb-standings", DataTable)
        dropped = self._to_drop()
        if not dropped:
            return
        names = [str(column.label) for column in table.ordered_columns]
        keep = [index for index, name in enumerate(names) if name not in dropped]
        rows = [(row.key.value, table.get_row(row.key)) for row in table.ordered_rows]
        table.clear(columns=True)
        table.add_columns(*(names[index] for index in keep))
        for key, cells in rows:
            table.add_row(*(cells[index] for index in keep), key=key)

    def on_resize(self) -> None:
        if self._shown is not None:
            self._show(*self._shown)  # every column again, then those that fit the new width

    # -- fitting ------------------------------------------------------------------------------

    def recompute(self) -> None:
        """Fit the votes that pass the filters again, in a thread."""
        tag = self.query_one("#lb-tag", Input).value.strip() or None
        try:
            since = parse_since(self.query_one("#lb-since", Input).value)
        except ValueError as exc:
            self.notify(str(exc), title="Filter", severity="warning")
            return
        self.query_one("#lb-summary", Static).update("Fitting the votes…")
        self.run_worker(
            lambda: self._fit(tag, since, self.bad),
            thread=True,
            group="fit",
            exclusive=True,
            exit_on_error=False,
        )

    def _fit(self, tag: str | None, since: datetime | None, bad: str) -> None:
        from workbench.store.leaderboard import leaderboard
        from workbench.store.votes import collect

        started = time.perf_counter()
        votes, scores, errors = collect(self.wb.store, tag=tag, since=since)
        board = leaderboard(votes, scores, bootstrap=self.bootstrap, seed=0, bad=bad)
        rates = pass_rates(self.wb.store, tag=tag, since=since)
        elapsed = time.perf_counter() - started
        self.app.call_from_thread(self._show, board, errors, tag, since, elapsed, rates)

    def _show(
        self,
        board: Leaderboard,
        errors: list[SessionError],
        tag: str | None,
        since: datetime | None,
        elapsed: float,
        rates: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self._shown = (board, errors, tag, since, elapsed, rates)  # shown again on resize
        rates = rates or {}
        standings = self.query_one("#lb-standings", DataTable)
        standings.clear(columns=True)
        standings.add_columns(*STANDINGS_COLUMNS)
        points = (x for s in board.standings for x in (s.rating_low, s.rating, s.rating_high))
        ends = [x for x in points if x is not None]
        lo, hi = (min(ends), max(ends)) if ends else (0.0, 0.0)
        for rank, standing in zip(board.ranks(), board.standings, strict=True):
            row = standing_row(rank, standing, lo, hi)
            standings.add_row(*row, rate_text(rates.get(standing.model)), key=standing.model)
        ranked = {s.model for s in board.standings}
        for model in sorted(set(rates) - ranked):  # checked by tests, never rated
            cells = ("–", model, "–", "–", " " * BAR_WIDTH, "0", "–", "–", "–", "0")
            standings.add_row(*cells, rate_text(rates[model]), key=model)
        self._matrix(board)
        filters = [f"tag {tag}" if tag else "", f"since {since:%Y-%m-%d}" if since else ""]
        shown = " · ".join(f for f in filters if f) or "all votes"
        bad = "a tie" if board.bad == "tie" else "nothing (skipped)"
        took = "" if self.wb.test_mode else f" · {elapsed * 1000:.0f} ms"
        summary = (
            f"{_count(board.votes, 'vote')} · {_count(len(board.standings), 'model')} · {shown} · "
            "Bradley-Terry, 95% posterior intervals · "
            f"'both bad' counts as {bad}{took}"
        )
        if any(s.provisional for s in board.standings):
            summary += f" · provisional: under {PROVISIONAL_BATTLES} battles, not ranked"
        if errors:
            summary += f" · {len(errors)} unreadable session files skipped"
        if rates:
            summary += " · pass rate: answers that passed their tests / answers checked"
        if not board.standings and not rates:
            summary = "No votes or scores yet: rate some answers (1–5, A/B/T/N) or play battles."
        self.query_one("#lb-summary", Static).update(Content(summary))
        self._fit_columns()
        self.board = board  # last: tests wait for it to see the whole screen

    def _matrix(self, board: Leaderboard) -> None:
        matrix = self.query_one("#lb-matrix", DataTable)
        matrix.clear(columns=True)
        models = [s.model for s in board.standings if s.model in board.win_rate_matrix]
        if len(models) < 2:
            matrix.display = False
            return
        matrix.display = True
        matrix.add_column("")
        for index in range(len(models)):
            matrix.add_column(str(index + 1))
        for index, row in enumerate(models):
            cells = [f"{index + 1} {row}"]
            for column in models:
                rate = board.win_rate_matrix[row][column]
                battles = board.battle_count_matrix[row][column]
                if row == column:
                    cells.append("—")
                elif rate is None:
                    cells.append("·")
                else:
                    cells.append(f"{rate:.0%} /{battles}")
            matrix.add_row(*cells)

    # -- actions (keys in workbench.ui.keys, scope "leaderboard") ----------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.recompute()
        self.query_one("#lb-standings", DataTable).focus()

    def action_filter(self) -> None:
        """Go to the tag filter (enter applies, tab goes to the date)."""
        self.query_one("#lb-tag", Input).focus()

    def action_toggle_bad(self) -> None:
        """Count "both bad" votes as a tie, or skip them."""
        self.bad = "skip" if self.bad == "tie" else "tie"
        self.recompute()

    def action_refresh(self) -> None:
        self.recompute()

    def action_close(self) -> None:
        self.dismiss()
