"""A reasoning model's thinking, folded to one line above its answer until a key opens it.

The thinking is not the answer: code checks, diffs and copies read the answer only
(``ModelRun.text``); the thinking is kept in ``ModelRun.thinking``.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class ThinkingFold(Static):
    """``▸ thinking (1,234 chars)``, or the whole thinking when open."""

    DEFAULT_CSS = """
    ThinkingFold { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, key: str = "h") -> None:
        super().__init__("", classes="thinking")
        self.key = key
        self.open = False
        self._text = ""

    def show(self, text: str) -> None:
        """Draw ``text`` (the thinking so far) folded or open, as the fold is now."""
        self._text = text
        self._draw()

    def toggle(self) -> None:
        """Open the fold, or fold it again."""
        self.open = not self.open
        self._draw()

    def _draw(self) -> None:
        head = f"{'▾' if self.open else '▸'} thinking ({len(self._text):,} chars)"
        if self.open:
            self.update(Content(f"{head}\n{self._text}"))
        else:
            self.update(Content(f"{head} · {self.key} shows it"))
