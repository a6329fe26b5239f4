"""The prompt editor: a multi-line text area with a persisted history."""

from __future__ import annotations

from textual.widgets import TextArea


class PromptEditor(TextArea):
    """Where the prompt is written; earlier prompts come back with the history keys.

    Walking the history keeps what was being typed: going past the newest entry
    brings the draft back.
    """

    DEFAULT_CSS = """
    PromptEditor { height: 8; }
    """

    def __init__(self, prompts: list[str], **kwargs) -> None:
        super().__init__(soft_wrap=True, tab_behavior="focus", **kwargs)
        self.prompts = prompts
        self._position: int | None = None
        self._draft = ""

    def recall(self, step: int) -> bool:
        """Move ``step`` entries through the history (−1 is older); False at either end."""
        if not self.prompts:
            return False
        if self._position is None:
            if step > 0:
                return False
            self._draft = self.text
            position = len(self.prompts) - 1
        else:
            position = self._position + step
        if position < 0:
            return False
        if position >= len(self.prompts):
            self._position = None
            self._set(self._draft)
            return True
        self._position = position
        self._set(self.prompts[position])
        return True

    def clear_prompt(self) -> None:
        """Empty the editor after a send and leave the history walk."""
        self._position = None
        self._draft = ""
        self._set("")

    def _set(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)
