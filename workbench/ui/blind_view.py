"""Blind mode on screen: what an answer pane shows while its model is hidden.

An :class:`~workbench.ui.widgets.answer_pane.AnswerPane` with a ``disguise`` asks
it for its title and figures. The rules of what is hidden live in
:mod:`workbench.store.blind`; this module only turns them into a pane's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from workbench.store.blind import BlindDeal, SelfNaming, self_naming, shown

if TYPE_CHECKING:
    from workbench.ui.widgets.answer_pane import AnswerPane

#: The figures line of a pane whose speed figures are hidden.
HIDDEN_FIGURES = "figures hidden while blind · {key} shows the speed figures"


class Disguise:
    """The mask of the panes of one blind deal (one per screen, shared by its panes).

    ``show_speed`` shows the client-side speed figures anyway; the second figures
    line (server source, load time, threads, schedule) waits for the reveal.
    """

    def __init__(self, deal: BlindDeal, *, speed_key: str = "f") -> None:
        self.deal = deal
        self.show_speed = False
        self.speed_key = speed_key
        self._flags: dict[str, tuple[int, SelfNaming | None]] = {}

    def flag(self, pane: AnswerPane) -> SelfNaming | None:
        """Where the pane's latest answer names its model (checked again as text grows)."""
        text = pane.answer
        cached = self._flags.get(pane.model)
        if cached is not None and cached[0] == len(text):
            return cached[1]
        run = pane.run
        found = None
        if run is not None and text:
            prompt = "\n".join(m.get("content", "") for m in run.conversation)
            found = self_naming(
                text,
                pane.model,
                identity=run.identity,
                info=run.info,
                prompt=f"{prompt}\n{run.prompt}",
            )
        self._flags[pane.model] = (len(text), found)
        return found

    def title(self, pane: AnswerPane) -> Content:
        """``Model A``, ``A · gemma3`` once revealed, with a flag when the answer names itself."""
        title = self.deal.title(pane.model)
        found = self.flag(pane)
        if found is None:
            return Content(title)
        return Content.from_markup(
            "$title [b $warning]⚑ names itself[/] [$text-muted]($words)[/]",
            title=title,
            words=found.words[:40],
        )

    def figures(self, pane: AnswerPane, text: str) -> str:
        """The pane's figures text, cut down to what blind mode may show."""
        now = shown(blind=True, revealed=self.deal.revealed, show_speed=self.show_speed)
        if now.everything:
            return text
        if now.speed:
            return text.split("\n", 1)[0]
        return HIDDEN_FIGURES.format(key=self.speed_key)
