"""Helpers of the UI tests: scripted models, and waiting for the app like a user would."""

from __future__ import annotations

import time

from workbench.errors import ModelLoadError
from workbench.models.backends.scripted import ScriptedBackend
from workbench.models.config import Config, ModelSpec
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.widgets.answer_view import AnswerView

ANSWER = (
    "Here is the function:\n\n"
    "```python\ndef add(a, b):\n    return a + b\n```\n\n"
    "And a test:\n\n"
    "```python\nassert add(2, 2) == 4\n```\n"
)

#: How each scripted model behaves, by name.
SCRIPTS: dict[str, dict] = {
    "alpha": {"text": ANSWER},
    "beta": {"text": "Short answer from **beta**.\n"},
    "broken": {"text": "This starts well and then " * 3, "fail_after": 6},
    "slow": {"text": "tick " * 400, "delay": 0.02},
}

SIZE = (160, 48)


class MissingFile(ScriptedBackend):
    """A model whose file is not there."""

    async def load(self, progress) -> None:
        progress(0.0)
        raise ModelLoadError("Model file not found: /models/missing.gguf")


def scripted(spec: ModelSpec) -> ScriptedBackend:
    """``slow…`` models stream for seconds; ``missing`` cannot load; others say hi."""
    if spec.name == "missing":
        return MissingFile(spec)
    script = SCRIPTS.get(spec.name.rstrip("0123456789"), {"text": f"{spec.name} says hi.\n"})
    return ScriptedBackend(spec, **script)


async def wait_for(pilot, predicate, timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` holds (a failed test names the timeout)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.02)


def finished(app) -> bool:
    """Every pane has ended and drawn its final state, and no run is going on."""
    screen = compare_screen(app)
    return (
        not screen.running
        and all(not pane.active for pane in screen.panes.values())
        and all(laid_out(view) for view in screen.query(AnswerView))
    )


def laid_out(view: AnswerView) -> bool:
    """The view's size already holds every row of its text (the next frame shows it);
    a view on a page not shown is not laid out until its page is."""
    return (
        not view.source.strip()
        or any(node.has_class("-off-page") for node in view.ancestors)
        or view.size.height == view.get_content_height(view.size, view.size, view.size.width) > 0
    )


def compare_screen(app) -> CompareScreen:
    return next(s for s in app.screen_stack if isinstance(s, CompareScreen))


async def send(pilot, text: str) -> None:
    """Type ``text`` into the prompt editor and send it, like a user."""
    await pilot.press("f4")
    await pilot.press(*text)
    await pilot.press("ctrl+s")


def make_config(
    *names: str, keys: dict[str, str] | None = None, theme: str | None = None, layout="auto"
):
    models = tuple(ModelSpec(name=name, backend="scripted") for name in names)
    return Config(models=models, keys=keys or {}, theme=theme, layout=layout)
