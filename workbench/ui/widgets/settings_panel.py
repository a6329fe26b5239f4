"""Mode, schedule, sampling settings, samples, the optional system prompt and tests."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Input, Label, Static, TextArea

from workbench.checks.samples import MAX_SAMPLES, samples_problem
from workbench.models.request import Sampling

#: field → (label, Input type, lowest, highest)
FIELDS: dict[str, tuple[str, str, float, float]] = {
    "temperature": ("temperature", "number", 0, 5),
    "top_p": ("top-p", "number", 0, 1),
    "max_tokens": ("max tokens", "integer", 1, 10**6),
    "seed": ("seed", "integer", -(2**63), 2**63 - 1),
}


class SettingsPanel(Vertical):
    """Settings for the next send. An empty field means "the model's default"."""

    DEFAULT_CSS = """
    SettingsPanel { height: auto; }
    SettingsPanel .row { height: 1; }
    SettingsPanel .row Label { width: 13; color: $text-muted; }
    SettingsPanel .row Input { width: 1fr; }
    SettingsPanel #system { height: 5; }
    SettingsPanel #tests { height: 5; }
    """

    mode: reactive[str] = reactive("chat")
    """``chat`` (messages through the chat template) or ``completion`` (raw text)."""
    schedule: reactive[str] = reactive("parallel")
    """``parallel`` (all models at once) or ``sequential`` (one after another)."""
    cache: reactive[str] = reactive("warm")
    """``warm`` (a model reuses the cached start of an earlier prompt) or ``cold``
    (nothing reused: a time to first token that compares fairly)."""

    def __init__(
        self,
        *,
        mode: str,
        schedule: str,
        values: dict[str, float | int | None],
        defaults: Sampling,
        system: str,
        tests: str = "",
        cursor_blink: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.set_reactive(SettingsPanel.mode, mode)
        self.set_reactive(SettingsPanel.schedule, schedule)
        self._values = values
        self._defaults = defaults
        self._system = system
        self._tests = tests
        self._blink = cursor_blink

    def compose(self) -> ComposeResult:
        yield Static(self._switches(), id="switches")
        for name, (label, kind, _, _) in FIELDS.items():
            value = self._values.get(name)
            default = getattr(self._defaults, name)
            with Horizontal(classes="row"):
                yield Label(label)
                field = Input(
                    "" if value is None else str(value),
                    placeholder=f"default {default}" if default is not None else "default",
                    type=kind,  # type: ignore[arg-type]
                    valid_empty=True,  # empty means "the model's default"
                    compact=True,
                    id=f"sampling-{name.replace('_', '-')}",
                )
                field.cursor_blink = self._blink
                yield field
        with Horizontal(classes="row"):
            yield Label("samples")
            field = Input(
                "",
                placeholder=f"1 (up to {MAX_SAMPLES})",
                type="integer",
                valid_empty=True,  # empty means one answer per model
                compact=True,
                id="samples",
            )
            field.cursor_blink = self._blink
            yield field
        system = TextArea(self._system, id="system", soft_wrap=True, compact=True)
        system.placeholder = "optional system prompt"
        system.cursor_blink = self._blink
        system.border_title = "system prompt"
        yield system
        tests = TextArea(self._tests, id="tests", soft_wrap=True, compact=True)
        tests.placeholder = "optional tests: asserts, def test_…, check(candidate)"
        tests.cursor_blink = self._blink
        tests.border_title = "tests"
        yield tests

    def _switches(self) -> Content:
        return Content.from_markup(
            "mode     [b $accent]$mode[/]\nschedule [b $accent]$schedule[/]"
            "\ncache    [b $accent]$cache[/]",
            mode=self.mode,
            schedule=self.schedule,
            cache=self.cache,
        )

    def watch_mode(self) -> None:
        self._refresh_switches()

    def watch_schedule(self) -> None:
        self._refresh_switches()

    def watch_cache(self) -> None:
        self._refresh_switches()

    def _refresh_switches(self) -> None:
        if self.is_mounted:
            self.query_one("#switches", Static).update(self._switches())

    @property
    def system_prompt(self) -> str:
        return self.query_one("#system", TextArea).text

    @property
    def tests(self) -> str:
        """The tests every answer is run against ("" when none)."""
        return self.query_one("#tests", TextArea).text

    def samples(self) -> int:
        """Answers per model (1 when empty); ``ValueError`` with a message when wrong."""
        text = self.query_one("#samples", Input).value.strip()
        if not text:
            return 1
        try:
            samples = int(text)
        except ValueError:
            raise ValueError(f"samples must be a whole number, not {text!r}.") from None
        problem = samples_problem(samples)
        if problem:
            raise ValueError(problem)
        return samples

    def typed_values(self) -> dict[str, float | int | None]:
        """The fields as typed, for the saved state (no validation)."""
        values: dict[str, float | int | None] = {}
        for name in FIELDS:
            try:
                values[name] = self._read(name)
            except ValueError:
                values[name] = None
        return values

    def sampling(self) -> Sampling:
        """The settings as a ``Sampling``; ``ValueError`` with a message when one is wrong."""
        return Sampling(**{name: self._read(name) for name in FIELDS})

    def _read(self, name: str) -> float | int | None:
        label, kind, low, high = FIELDS[name]
        text = self.query_one(f"#sampling-{name.replace('_', '-')}", Input).value.strip()
        if not text:
            return None
        try:
            value: float | int = int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ValueError(f"{label} must be a number, not {text!r}.") from None
        if not low <= value <= high:
            raise ValueError(f"{label} must be between {low} and {high}.")
        return value
