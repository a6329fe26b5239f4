"""The model picker: every model with its backend and state; any number can be chosen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from workbench.models.config import ModelSpec

#: A model's state in the picker, with the theme colour it is shown in.
STATE_STYLES = {
    "not loaded": "$text-muted",
    "loading": "$warning",
    "ready": "$success",
    "failed": "$error",
}


class ModelPicker(OptionList):
    """A list of models, each on two lines (name, then backend and state).

    Space or enter chooses the model under the cursor, or drops it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,enter", "toggle", "Choose", id="choose_model"),
    ]

    class Changed(Message):
        """The set of chosen models changed."""

        def __init__(self, picker: ModelPicker) -> None:
            super().__init__()
            self.picker = picker

    def __init__(self, specs: Sequence[ModelSpec], chosen: Sequence[str], **kwargs) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self._chosen = {name for name in chosen if name in self.specs}
        self._wanted = set(chosen)  # a discovered model chosen last time, not found yet
        self.states: dict[str, tuple[str, int | None]] = {
            spec.name: ("not loaded", None) for spec in specs
        }
        super().__init__(*(Option(self._prompt(name), id=name) for name in self.specs), **kwargs)

    @property
    def chosen(self) -> list[str]:
        """The chosen model names, in the picker's order."""
        return [name for name in self.specs if name in self._chosen]

    def action_toggle(self) -> None:
        if self.highlighted is None:
            return
        name = self.get_option_at_index(self.highlighted).id
        if name is None:
            return
        self._chosen.symmetric_difference_update({name})
        self.replace_option_prompt(name, self._prompt(name))
        self.post_message(self.Changed(self))

    def add_models(self, specs: Sequence[ModelSpec]) -> None:
        """Append models found after start-up (discovered GGUFs), keeping known names."""
        for spec in specs:
            if spec.name in self.specs:
                continue
            self.specs[spec.name] = spec
            self.states[spec.name] = ("not loaded", None)
            if spec.name in self._wanted:
                self._chosen.add(spec.name)
            self.add_option(Option(self._prompt(spec.name), id=spec.name))

    def set_state(self, name: str, state: str, progress: float | None = None) -> None:
        """Show ``name`` as not loaded, loading (with progress 0–1), ready or failed."""
        if name not in self.specs:
            return
        shown = (state, None if progress is None else round(progress * 100))
        if self.states.get(name) == shown:
            return  # progress callbacks can be frequent; redraw only on a visible change
        self.states[name] = shown
        self.replace_option_prompt(name, self._prompt(name))

    def _prompt(self, name: str) -> Content:
        spec = self.specs[name]
        state, percent = self.states[name]
        label = f"{state} {percent}%" if state == "loading" and percent is not None else state
        mark = "[b $success]✔[/]" if name in self._chosen else "[$text-muted]·[/]"
        # Where the model came from, when it is not the config: "discovered", "bundled".
        origin = spec.origin.split(":")[0] if not spec.origin.startswith("/") else ""
        source = f" {origin}" if origin in ("discovered", "bundled", "path") else ""
        return Content.from_markup(
            f"{mark} [b]$name[/b]\n  [$text-muted]$backend$source ·[/] "
            f"[{STATE_STYLES[state]}]$label[/]",
            name=name,
            backend=spec.backend,
            source=source,
            label=label,
        )
