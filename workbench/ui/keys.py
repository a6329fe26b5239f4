"""Every action of the app in one table: its binding id, default key and words.

The bindings, the footer, the command palette and the help screen are all made
from this table, so a key remapped in ``workbench.toml`` (``[keys] send = "f5"``)
changes everywhere at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from textual.binding import Binding

#: Where an action's binding lives: the app, the compare screen, or a focused answer pane.
SCOPES = ("app", "compare", "pane")


@dataclass(frozen=True)
class Action:
    id: str
    key: str
    action: str
    label: str
    help: str
    scope: str = "compare"
    show: bool = True
    group: str | None = None
    priority: bool = False


_HISTORY = Binding.Group("History", compact=True)
_BLOCK = Binding.Group("Code block", compact=True)
_PANE = Binding.Group("Pane", compact=True)
_GROUPS = {"history": _HISTORY, "block": _BLOCK, "pane": _PANE}

ACTIONS: tuple[Action, ...] = (
    Action(
        "send",
        "ctrl+s",
        "send",
        "Send",
        "Send the prompt (a follow-up turn when answers are shown)",
    ),
    Action("new", "ctrl+n", "new_comparison", "New", "Start a new comparison: clear the answers"),
    Action("cancel_all", "escape", "cancel_all", "Cancel all", "Cancel every running model"),
    Action(
        "history_back",
        "ctrl+up",
        "history(-1)",
        "History",
        "Previous prompt from history",
        group="history",
    ),
    Action(
        "history_forward",
        "ctrl+down",
        "history(1)",
        "History",
        "Next prompt from history",
        group="history",
    ),
    Action("toggle_mode", "ctrl+o", "toggle_mode", "Mode", "Switch chat / raw completion"),
    Action(
        "toggle_schedule",
        "ctrl+t",
        "toggle_schedule",
        "Schedule",
        "Switch the schedule: parallel / sequential",
    ),
    Action(
        "load", "ctrl+l", "load_models", "Load", "Load the chosen models now, in the background"
    ),
    Action("focus_models", "f2", "focus_area('models')", "Models", "Go to the model picker"),
    Action(
        "focus_settings",
        "f3",
        "focus_area('settings')",
        "Settings",
        "Go to the sampling settings and system prompt",
    ),
    Action("focus_prompt", "f4", "focus_area('prompt')", "Prompt", "Go to the prompt editor"),
    Action("focus_panes", "f5", "focus_area('panes')", "Answers", "Go to the answer panes"),
    Action("zoom", "z", "zoom", "Zoom", "Zoom this pane to the full width, and back", "pane"),
    Action("cancel", "x", "cancel", "Cancel", "Cancel this model's run", "pane"),
    Action("copy_answer", "c", "copy_answer", "Copy", "Copy this answer to the clipboard", "pane"),
    Action(
        "copy_code",
        "b",
        "copy_code",
        "Copy code",
        "Copy the selected (or first) code block to the clipboard",
        "pane",
    ),
    Action(
        "save_code",
        "s",
        "save_code",
        "Save code",
        "Save the selected (or first) code block to a file",
        "pane",
    ),
    Action(
        "previous_block",
        "left_square_bracket",
        "select_block(-1)",
        "Block",
        "Select the previous code block",
        "pane",
        group="block",
    ),
    Action(
        "next_block",
        "right_square_bracket",
        "select_block(1)",
        "Block",
        "Select the next code block",
        "pane",
        group="block",
    ),
    Action(
        "previous_pane",
        "left",
        "move(-1)",
        "Pane",
        "Go to the pane on the left",
        "pane",
        group="pane",
    ),
    Action(
        "next_pane", "right", "move(1)", "Pane", "Go to the pane on the right", "pane", group="pane"
    ),
    Action("help", "f1", "help", "Help", "Show every key", "app"),
    Action("theme", "f8", "change_theme", "Theme", "Choose the colour theme", "app"),
    Action("screenshot", "f9", "screenshot", "Screenshot", "Save an SVG screenshot", "app"),
    Action("quit", "ctrl+q", "quit", "Quit", "Quit workbench", "app", show=False, priority=True),
)

ACTION_IDS = tuple(action.id for action in ACTIONS)


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of one scope, each with its id so a keymap can remap it."""
    return [
        Binding(
            action.key,
            action.action,
            action.label,
            show=action.show,
            priority=action.priority,
            tooltip=action.help,
            id=action.id,
            group=_GROUPS.get(action.group or ""),
        )
        for action in ACTIONS
        if action.scope == scope
    ]


def check_keymap(keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split a ``[keys]`` table into the remaps we know and one message per unknown id."""
    valid: dict[str, str] = {}
    problems: list[str] = []
    for action_id, key in keys.items():
        if action_id in ACTION_IDS:
            valid[action_id] = key
            continue
        hint = difflib.get_close_matches(action_id, ACTION_IDS, n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        problems.append(f"[keys] {action_id!r} is not an action.{extra}")
    return valid, problems


def effective_keys(keymap: dict[str, str]) -> dict[str, str]:
    """Action id → the key that triggers it now (the default unless remapped)."""
    return {action.id: keymap.get(action.id, action.key) for action in ACTIONS}


def key_label(key: str) -> str:
    """A key as people write it: ``ctrl+s`` → ``^s``, ``left_square_bracket`` → ``[``."""
    names = {
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "escape": "esc",
        "up": "↑",
        "down": "↓",
        "left": "←",
        "right": "→",
    }
    labels = []
    for one in key.split(","):
        parts = one.strip().split("+")
        parts[-1] = names.get(parts[-1], parts[-1])
        labels.append("+".join(parts))
    return " / ".join(labels)
