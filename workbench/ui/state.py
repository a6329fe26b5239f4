"""The small UI state kept between runs: prompt history, chosen models, theme, settings.

One JSON file (``paths.state_file()``), written atomically. It is a convenience,
not data: a file that cannot be read is ignored (the app says so) and replaced
at the next save.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.store.sessions import atomic_write

STATE_VERSION = 1
HISTORY_LIMIT = 200


@dataclass
class UIState:
    history: list[str] = field(default_factory=list)
    #: The models chosen last time; ``None`` until the user has chosen once.
    models: list[str] | None = None
    theme: str | None = None
    schedule: str | None = None
    mode: str | None = None
    system: str = ""
    #: The tests typed in the settings panel (asserts, test functions, HumanEval check).
    tests: str = ""
    #: Sampling fields the user typed (missing or ``None``: the model's default).
    sampling: dict[str, float | int | None] = field(default_factory=dict)

    def remember_prompt(self, text: str) -> None:
        """Add ``text`` to the history (newest last), without repeating the last entry."""
        text = text.strip("\n")
        if not text.strip():
            return
        if text in self.history:
            self.history.remove(text)
        self.history.append(text)
        del self.history[:-HISTORY_LIMIT]

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}


_TYPES: dict[str, tuple[type, ...]] = {
    "history": (list,),
    "models": (list, type(None)),
    "theme": (str, type(None)),
    "schedule": (str, type(None)),
    "mode": (str, type(None)),
    "system": (str,),
    "tests": (str,),
    "sampling": (dict,),
}


def parse_state(raw: str) -> UIState:
    """Parse the state file's text; ``ValueError`` says what is wrong."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unknown version {data.get('version')!r}")
    values: dict[str, Any] = {}
    for name, types in _TYPES.items():
        if name not in data:
            continue
        if not isinstance(data[name], types):
            raise ValueError(f"{name!r} has the wrong type")
        values[name] = data[name]
    if not all(isinstance(item, str) for item in values.get("history", [])):
        raise ValueError("'history' must hold strings")
    if not all(isinstance(item, str) for item in values.get("models") or []):
        raise ValueError("'models' must hold strings")
    sampling = values.get("sampling", {})
    if not all(
        isinstance(v, int | float | None) and not isinstance(v, bool) for v in sampling.values()
    ):
        raise ValueError("'sampling' must hold numbers")
    return UIState(**values)


def load_state(path: Path | None) -> tuple[UIState, str | None]:
    """The saved state, or a fresh one plus a message when the file is broken."""
    if path is None:
        return UIState(), None
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UIState(), None
    except (OSError, UnicodeDecodeError) as exc:
        return UIState(), f"Could not read {path}: {exc}. Starting with a fresh state."
    try:
        return parse_state(raw), None
    except (ValueError, RecursionError) as exc:
        return UIState(), f"Ignored the broken state file {path} ({exc})."


def save_state(path: Path | None, state: UIState) -> str | None:
    """Write the state; return a message instead of raising when the disk says no."""
    if path is None:
        return None
    try:
        payload = json.dumps(state.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(path, payload)
    except OSError as exc:
        return f"Could not save the UI state to {path}: {exc}"
    return None
