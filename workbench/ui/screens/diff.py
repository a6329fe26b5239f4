"""The diff screen: two answers line by line, side by side or unified, word changes marked.

The view of ``workbench.store.diff``, which computes the diff.

Opened from the compare screen, a saved session or a re-run. With more than two
answers a chooser picks one pair, or a reference that every other answer is
diffed against (the ``m`` key steps through them).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from workbench.store.diff import Diff, diff_lines
from workbench.ui.diff_layout import DiffPair, pair_choices
from workbench.ui.keys import bindings
from workbench.ui.screens.choice import ChoiceModal
from workbench.ui.widgets.diff_view import DiffView

#: Below this width the diff starts unified when side by side would wrap most lines.
NARROW_BELOW = 120


class DiffScreen(Screen[None]):
    """One pair at a time; toggles for unified, code only and whitespace; hunk by hunk."""

    SCOPE: ClassVar[str] = "diff"
    BINDINGS = bindings("diff")

    def __init__(
        self, pairs: list[DiffPair], mode: str, *, start: int = 0, title: str = "diff"
    ) -> None:
        super().__init__()
        self.pairs = pairs
        self.mode = mode
        self.index = start
        self.title_text = title
        #: Side by side (False) or unified (True).
        self.unified = False
        #: Whether the user chose with the key; until then a narrow screen, where side by
        #: side would wrap most lines, shows unified.
        self.unified_chosen = False
        #: Only the fenced code blocks (the whole text of a completion).
        self.code_only = False
        #: Compare lines with their whitespace removed (like ``git diff -w``).
        self.ignore_whitespace = False
        self.diff: Diff | None = None
        self._diffs: dict[tuple[int, bool, bool], Diff] = {}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_pair":
            return len(self.pairs) > 1  # shown only with a reference and several answers
        return True

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚖")
        yield Static(id="diff-header")
        yield DiffView(id="diff-view")
        yield Footer()

    @property
    def view(self) -> DiffView:
        return self.query_one(DiffView)

    def on_mount(self) -> None:
        self.sub_title = self.title_text
        self._show()
        self.view.focus()

    def _show(self) -> None:
        pair = self.pairs[self.index]
        a, b = pair.texts(self.mode, self.code_only)
        key = (self.index, self.code_only, self.ignore_whitespace)
        diff = self._diffs.get(key)
        if diff is None:
            diff = self._diffs[key] = diff_lines(a, b, ignore_whitespace=self.ignore_whitespace)
        self.diff = diff
        if not self.unified_chosen:
            self.unified = self._narrow(diff)
        message = ""
        if not a and not b:
            message = "Neither answer has a code block." if self.code_only else "Both are empty."
        elif self.unified and not diff.changed:
            message = "No differences."
        self.view.show(diff if message == "" else None, unified=self.unified, message=message)
        self._header()

    def _header(self) -> None:
        pair, diff, view = self.pairs[self.index], self.diff, self.view
        assert diff is not None
        hunks = len(view.marks)
        first = [f"similarity {diff.similarity:.0%}"]
        if not diff.changed:
            first.append("no differences")
        else:
            first.append(f"{hunks} changed hunk{'s' if hunks != 1 else ''}")
            if view.current is not None:
                first.append(f"hunk {view.current + 1}/{hunks}")
        view_name = "unified" if self.unified else "side by side"
        if self.unified and not self.unified_chosen:
            view_name = "unified (narrow: u for side by side)"
        second = [
            view_name,
            "code only" if self.code_only else "whole answers",
            "ignoring whitespace" if self.ignore_whitespace else "whitespace counts",
        ]
        if len(self.pairs) > 1:
            second.append(f"pair {self.index + 1}/{len(self.pairs)}")
        if self.code_only:
            a, b = pair.texts(self.mode, True)
            missing = [name for name, t in ((pair.a_name, a), (pair.b_name, b)) if not t]
            if len(missing) == 1:
                second.append(f"{missing[0]}'s answer has no code block")
        text = Content.from_markup(
            "[b]−[/b] $a  [b]+[/b] $b   $first\n$second",
            a=pair.a_name,
            b=pair.b_name,
            first=" · ".join(first),
            second=" · ".join(second),
        )
        self.query_one("#diff-header", Static).update(text)

    # -- actions (keys in workbench.ui.keys, scope "diff") -------------------------------

    def _narrow(self, diff: Diff) -> bool:
        """Whether the screen is narrow and side by side would wrap most lines there.
        (Prose paragraphs wrap at any width: a wide screen keeps side by side.)"""
        width = self.size.width or self.app.size.width
        return width < NARROW_BELOW and self.view.side_by_side_wraps(diff, width)

    def on_resize(self) -> None:
        diff = self.diff
        if diff is not None and not self.unified_chosen and self._narrow(diff) != self.unified:
            self._show()  # the width crossed the line: side by side ⟷ unified

    def action_toggle_unified(self) -> None:
        self.unified = not self.unified
        self.unified_chosen = True
        self._show()

    def action_toggle_code(self) -> None:
        self.code_only = not self.code_only
        self._show()

    def action_toggle_whitespace(self) -> None:
        self.ignore_whitespace = not self.ignore_whitespace
        self._show()

    def action_hunk(self, step: int) -> None:
        if self.view.goto_hunk(backward=step < 0) is None:
            where = "above" if step < 0 else "below"
            self.notify(f"No more changes {where}.", timeout=2)
        self._header()

    def action_next_pair(self) -> None:
        if len(self.pairs) < 2:
            self.notify("Only one pair to compare here.", timeout=2)
            return
        self.index = (self.index + 1) % len(self.pairs)
        self._show()

    def action_close(self) -> None:
        self.dismiss()


def open_diff(app: App, texts: dict[str, str], mode: str, *, title: str = "diff") -> None:
    """Diff two of ``texts`` (name → answer): at once with two, after a chooser with more."""
    if len(texts) < 2:
        app.notify("A diff needs two answers.", severity="warning")
        return
    if len(texts) == 2:
        a, b = texts
        app.push_screen(DiffScreen([DiffPair(a, texts[a], b, texts[b])], mode, title=title))
        return

    def chosen(pairs: list[DiffPair] | None) -> None:
        if pairs:
            app.push_screen(DiffScreen(pairs, mode, title=title))

    app.push_screen(ChoiceModal("Diff which answers?", pair_choices(texts)), chosen)
