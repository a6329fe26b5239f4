"""Every action of the app in one table: its binding id, default key and words.

The bindings, the footer, the command palette and the help screen are all made
from this table, so a key remapped in ``workbench.toml`` (``[keys] copy_answer = "y"``)
changes everywhere at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from textual.binding import Binding

#: Where an action's binding lives: the app, the compare screen, or a focused answer pane.
SCOPES = ("app", "compare", "pane")
#: The review screens (issue 4): a diff, the sessions browser, one saved session, a re-run.
SCOPES += ("diff", "sessions", "session", "rerun")


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
_GROUPS["hunk"] = Binding.Group("Hunk", compact=True)
_GROUPS["speed"] = Binding.Group("Replay speed", compact=True)

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
        show=False,
    ),
    Action(
        "history_forward",
        "ctrl+down",
        "history(1)",
        "History",
        "Next prompt from history",
        group="history",
        show=False,
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
        "toggle_cache",
        "f11",  # every free ctrl+letter is an editing key of the prompt editor
        "toggle_cache",
        "Cache",
        "Switch the prompt cache: warm / cold (cold: times to first token compare fairly)",
        show=False,
    ),
    Action(
        "load",
        "ctrl+l",
        "load_models",
        "Load",
        "Load the chosen models now, in the background",
        show=False,
    ),
    Action("focus_models", "f2", "focus_area('models')", "Models", "Go to the model picker"),
    Action(
        "focus_settings",
        "f3",
        "focus_area('settings')",
        "Settings",
        "Go to the sampling settings and system prompt",
        show=False,
    ),
    Action(
        "focus_tests",
        "f10",
        "focus_area('tests')",
        "Tests",
        "Go to the tests every answer is run against",
        show=False,
    ),
    Action(
        "focus_prompt",
        "f4",
        "focus_area('prompt')",
        "Prompt",
        "Go to the prompt editor",
        show=False,
    ),
    Action("focus_panes", "f5", "focus_area('panes')", "Answers", "Go to the answer panes"),
    Action(
        "sidebar",
        "ctrl+backslash",
        "toggle_sidebar",
        "Sidebar",
        "Fold the sidebar (models, settings, tests) away, or bring it back",
    ),
    Action(
        "layout",
        "ctrl+r",
        "cycle_layout",
        "Layout",
        "Arrange the panes: auto → side by side → stacked (pages when they do not fit)",
        show=False,
    ),
    Action("zoom", "z", "zoom", "Zoom", "Zoom this pane to the full width, and back", "pane"),
    Action(
        "details",
        "i",
        "details",
        "Details",
        "Show every figure of this pane (a narrow pane shows one line)",
        "pane",
    ),
    Action("cancel", "x", "cancel", "Cancel", "Cancel this model's run", "pane"),
    Action(
        "thinking",
        "h",
        "toggle_thinking",
        "Thinking",
        "Open or fold a reasoning model's thinking",
        "pane",
        show=False,
    ),
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
    Action("theme", "f8", "change_theme", "Theme", "Choose the colour theme", "app", show=False),
    Action(
        "screenshot", "f9", "screenshot", "Screenshot", "Save an SVG screenshot", "app", show=False
    ),
    Action("quit", "ctrl+q", "quit", "Quit", "Quit workbench", "app", show=False, priority=True),
)

# Diff, sessions, replay and re-run (issue 4); the screens are in ui/screens/.
ACTIONS += (
    # Priority: the prompt editor (a TextArea) binds f6 and f7 to select the line / all.
    Action(
        "sessions",
        "f6",
        "sessions",
        "Sessions",
        "Browse the saved sessions",
        "app",
        priority=True,
    ),
    Action(
        "diff",
        "f7",
        "diff",
        "Diff",
        "Diff two answers (choose the pair or a reference)",
        priority=True,
    ),
    Action(
        "diff_unified", "u", "toggle_unified", "Unified", "Switch side by side / unified", "diff"
    ),
    Action(
        "diff_code",
        "c",
        "toggle_code",
        "Code only",
        "Diff only the code blocks (all of a completion), or the whole answers",
        "diff",
    ),
    Action(
        "diff_whitespace",
        "w",
        "toggle_whitespace",
        "Whitespace",
        "Ignore whitespace when comparing lines, or not",
        "diff",
    ),
    Action(
        "diff_next_hunk",
        "n",
        "hunk(1)",
        "Hunk",
        "Go to the next changed hunk",
        "diff",
        group="hunk",
    ),
    Action(
        "diff_previous_hunk",
        "p",
        "hunk(-1)",
        "Hunk",
        "Go to the previous changed hunk",
        "diff",
        group="hunk",
    ),
    Action(
        "diff_next_pair",
        "m",
        "next_pair",
        "Next pair",
        "Diff the next answer against the reference",
        "diff",
    ),
    Action("diff_close", "escape", "close", "Back", "Leave the diff", "diff"),
    Action(
        "open_session", "enter", "open_session", "Open", "Open the selected session", "sessions"
    ),
    Action("sessions_close", "escape", "close", "Back", "Leave the sessions browser", "sessions"),
    Action("session_diff", "f7", "diff", "Diff", "Diff two answers of this session", "session"),
    Action("replay", "r", "replay", "Replay", "Replay the answers as they streamed", "session"),
    Action("replay_pause", "p", "pause", "Pause", "Pause or resume the replay", "session"),
    # Not digits: on a focused answer pane 1-5 are scores.
    Action(
        "replay_slower",
        "minus",
        "speed(-1)",
        "Speed",
        "Replay slower: instant → ×10 → ×2 → ×1",
        "session",
        group="speed",
    ),
    Action(
        "replay_faster",
        "plus",
        "speed(1)",
        "Speed",
        "Replay faster: ×1 → ×2 → ×10 → instant",
        "session",
        group="speed",
    ),
    Action(
        "rerun",
        "R",
        "rerun",
        "Re-run",
        "Run the prompt again as a new session linked to this one",
        "session",
    ),
    Action(
        "delete_session",
        "delete",
        "delete",
        "Delete",
        "Delete this session (asks first)",
        "session",
    ),
    Action("session_close", "escape", "close", "Back", "Back to the sessions list", "session"),
    Action(
        "rerun_diff",
        "f7",
        "diff",
        "Diff old/new",
        "Diff the old and the new answer of the focused model",
        "rerun",
    ),
    Action(
        "rerun_close",
        "escape",
        "close",
        "Cancel/Back",
        "Cancel the re-run; once it has ended, go back",
        "rerun",
    ),
)

# Rating, blind mode, battles, the rating queue and the leaderboard (issue 5). The pane
# keys run on the screen that holds the pane ("screen.…"): compare, battle, queue, or
# any screen that mixes in workbench.ui.rater.Rater.
SCOPES += ("battle", "queue", "leaderboard")
#: Suite results (issue 14): models × tasks of a saved suite such as HumanEval.
SCOPES += ("suite",)
#: Grid results (issue 18): prompts × models × settings of a saved grid.
SCOPES += ("grid",)
_GROUPS["score"] = Binding.Group("Score", compact=True)
_GROUPS["vote"] = Binding.Group("Vote", compact=True)
ACTIONS += tuple(
    Action(
        f"score_{n}",
        str(n),
        f"screen.score({n})",
        "Score",
        f"Score this answer {n} out of 5",
        "pane",
        group="score",
    )
    for n in range(1, 6)
)
ACTIONS += (
    Action("vote_a", "A", "screen.vote('a')", "Vote", "Vote: A is better", "pane", group="vote"),
    Action("vote_b", "B", "screen.vote('b')", "Vote", "Vote: B is better", "pane", group="vote"),
    Action("vote_tie", "T", "screen.vote('tie')", "Vote", "Vote: a tie", "pane", group="vote"),
    Action(
        "vote_bad", "N", "screen.vote('bad')", "Vote", "Vote: both are bad", "pane", group="vote"
    ),
    Action(
        "rate_note",
        "t",
        "screen.rate_note",
        "Tags/note",
        "Score this answer with tags and a note",
        "pane",
    ),
    Action(
        "show_speed",
        "f",
        "screen.show_speed",
        "Speed",
        "Blind mode: show or hide the speed figures",
        "pane",
    ),
    Action(
        "blind",
        "ctrl+b",
        "toggle_blind",
        "Blind",
        "Blind mode: hide names and speed figures and shuffle the panes until the vote",
    ),
    Action(
        "battle",
        "ctrl+g",
        "battle",
        "Battle",
        "Blind battles between pairs of the chosen models",
    ),
    Action("leaderboard", "f12", "leaderboard", "Leaderboard", "Your models ranked", "app"),
    Action(
        "rating_queue",
        "ctrl+f",
        "rating_queue",
        "Rate queue",
        "Rate the sessions not rated yet, one after another",
        "app",
    ),
    Action(
        "battle_send",
        "ctrl+s",
        "send",
        "Send",
        "Send the prompt to the next pair of models",
        "battle",
    ),
    Action("battle_close", "escape", "close", "Back", "Leave the battles", "battle"),
    Action("queue_skip", "k", "skip", "Skip", "Skip this session", "queue"),
    Action(
        "queue_order",
        "o",
        "toggle_order",
        "Order",
        "Walk the queue newest first or oldest first",
        "queue",
    ),
    Action("queue_close", "escape", "close", "Back", "Leave the rating queue", "queue"),
    Action(
        "leaderboard_filter",
        "slash",
        "filter",
        "Filter",
        "Filter by tag and date",
        "leaderboard",
    ),
    Action(
        "leaderboard_bad",
        "b",
        "toggle_bad",
        "Both bad",
        "Count 'both bad' votes as a tie, or skip them",
        "leaderboard",
    ),
    Action("leaderboard_refresh", "r", "refresh", "Refresh", "Fit the votes again", "leaderboard"),
    Action("leaderboard_close", "escape", "close", "Back", "Leave the leaderboard", "leaderboard"),
    Action(
        "suite_results",
        "shift+f6",
        "suite_results",
        "Suites",
        "Suite results (HumanEval): models × tasks, run or resume a suite",
        "app",
        show=False,
    ),
    Action("suite_open", "enter", "open_task", "Open", "The task's answers side by side", "suite"),
    Action("suite_run", "r", "run_suite", "Run", "Run the suite; saved answers are kept", "suite"),
    Action("suite_stop", "x", "stop", "Stop", "Stop the suite (r resumes it)", "suite"),
    Action("suite_next", "s", "next_suite", "Next suite", "Show the next saved suite", "suite"),
    Action("suite_close", "escape", "close", "Back", "Leave the suite results", "suite"),
    Action(
        "grids",
        "shift+f12",
        "grids",
        "Grids",
        "Grid results: prompts × models × settings, checks and speed per cell",
        "app",
        show=False,
    ),
    Action("grid_open", "enter", "open_cell", "Open", "The cell's answers side by side", "grid"),
    Action("grid_repeat", "n", "next_repeat", "Next repeat", "The cell's next repeat", "grid"),
    Action("grid_next", "s", "next_grid", "Next grid", "Show the next saved grid", "grid"),
    Action("grid_close", "escape", "close", "Back", "Leave the grid results", "grid"),
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
        "slash": "/",
        "escape": "esc",
        "backslash": "\\",
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
