"""The review screens' plain parts, without a terminal: unified rows, choices, replay clock."""

from __future__ import annotations

import pytest
from review_helpers import LEFT, RIGHT, run

from workbench.core.events import Cancelled, Failed, Finished
from workbench.store.diff import diff_lines
from workbench.store.replay import Beat
from workbench.store.sessions import Session
from workbench.ui.diff_layout import DiffPair, next_mark, pair_choices, unified_lines
from workbench.ui.pane_host import INTERRUPTED, final_event
from workbench.ui.replayer import ReplayClock, speed_label
from workbench.ui.screens.rerun import rerun_requests
from workbench.ui.screens.session_view import ratings_line
from workbench.ui.widgets.session_list import when


def test_unified_lines_number_both_sides_and_keep_the_word_changes():
    diff = diff_lines(LEFT, RIGHT)
    lines, marks = unified_lines(diff)
    raw = diff.unified()[2:]
    assert [line.kind for line in lines] == [
        {"@": "header", " ": "equal", "-": "delete", "+": "insert"}[r[0]] for r in raw
    ]
    assert len(marks) == len(diff.hunk_rows) == 4
    for line in lines:
        if line.a_no is not None:
            assert diff.a_lines[line.a_no] == line.text
        if line.b_no is not None:
            assert diff.b_lines[line.b_no] == line.text
    first = lines[marks[0]]
    assert first.kind == "delete" and first.text == "Intro line one."
    changed = [s.text for s in first.segments if s.kind == "delete"]
    assert changed == ["one"]
    assert all(lines[m].kind in ("delete", "insert") for m in marks)
    assert all(lines[m - 1].kind in ("header", "equal") for m in marks)


def test_unified_lines_of_an_insertion_at_the_start_and_of_no_change():
    lines, marks = unified_lines(diff_lines("b\n", "a\nb\n"))
    assert [(line.kind, line.a_no, line.b_no) for line in lines] == [
        ("header", None, None),
        ("insert", None, 0),
        ("equal", 0, 1),
    ]
    assert marks == [1]
    assert unified_lines(diff_lines("same\n", "same\n")) == ([], [])


def test_next_mark_steps_like_next_hunk():
    marks = [3, 10, 20]
    assert next_mark(marks, -1) == 3 and next_mark(marks, 3) == 10 and next_mark(marks, 20) is None
    assert next_mark(marks, 10, backward=True) == 3 and next_mark(marks, 3, backward=True) is None


def test_pair_choices_offer_every_pair_then_each_reference():
    choices = pair_choices({"a": "1", "b": "2", "c": "3"})
    assert [label for label, _ in choices] == [
        "a  ⟷  b",
        "a  ⟷  c",
        "b  ⟷  c",
        "each against a (reference)",
        "each against b (reference)",
        "each against c (reference)",
    ]
    assert choices[4][1] == [DiffPair("b", "2", "a", "1"), DiffPair("b", "2", "c", "3")]


def test_diff_pair_code_only_follows_the_mode():
    pair = DiffPair("a", "text\n```\ncode\n```\n", "b", "no code")
    assert pair.texts("chat", True) == ("code", "")
    assert pair.texts("completion", True) == (pair.a_text, pair.b_text)
    assert pair.texts("chat", False) == (pair.a_text, pair.b_text)


def beats(*offsets: float) -> list[Beat]:
    return [Beat(t, "m" if i % 2 else "n", f"{i} ") for i, t in enumerate(offsets)]


def test_replay_clock_plays_at_its_speed_and_stands_still_when_paused():
    clock = ReplayClock(beats(0.0, 1.0, 2.0, 3.0), now=100.0, speed=2.0)
    assert [i for i, _ in clock.due(100.0)] == [0]
    assert [i for i, _ in clock.due(100.5)] == [1]  # 1 s of replay in 0.5 s
    assert clock.toggle_pause(100.6)
    assert clock.due(105.0) == [] and clock.position == pytest.approx(1.2)
    assert not clock.toggle_pause(105.0)
    clock.set_speed(10.0, 105.0)
    assert [i for i, _ in clock.due(105.1)] == [2]  # 1.2 + 1.0
    assert not clock.done
    clock.set_speed(0.0, 105.1)  # instant: the rest at once
    assert [i for i, _ in clock.due(105.1)] == [3]
    assert clock.done and clock.position == clock.duration == 3.0
    assert clock.last_beat == {"n": 2, "m": 3}


def test_speed_labels():
    assert [speed_label(s) for s in (1.0, 2.0, 10.0, 0.0)] == ["×1", "×2", "×10", "instant"]


def test_final_event_of_each_saved_state():
    done = run("a", "x")
    assert isinstance(final_event(done), Finished)
    assert isinstance(final_event(run("a", "x", state="cancelled")), Cancelled)
    failed = run("a", "x", state="failed", error={"title": "T", "message": "M"})
    assert final_event(failed).error == {"title": "T", "message": "M"}
    interrupted = final_event(run("a", "x", state="streaming"))
    assert isinstance(interrupted, Failed) and interrupted.error == INTERRUPTED


def test_rerun_requests_repeat_each_conversation_with_the_saved_sampling():
    first = run("a", "one", conversation=[{"role": "user", "content": "q1"}])
    second = run(
        "b",
        "two",
        conversation=[
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "b's answer"},
            {"role": "user", "content": "q2"},
        ],
    )
    session = Session(
        id="s", created="", mode="chat", prompt="q2", runs=[first, second], sampling={"seed": 3}
    )
    requests = rerun_requests(session, ["b", "a", "new"])
    assert [m.content for m in requests["b"].messages] == ["q1", "b's answer", "q2"]
    assert [m.content for m in requests["a"].messages] == ["q1"]
    assert requests["new"].messages == requests["a"].messages  # the first run's
    assert requests["a"].sampling.seed == 3
    completion = Session(
        id="c", created="", mode="completion", prompt="def", runs=[run("a", "x", prompt="def f(")]
    )
    assert rerun_requests(completion, ["a"])["a"].prompt == "def f("


def test_ratings_line_and_when():
    session = Session(id="s", created="", mode="chat", prompt="p")
    assert ratings_line(session) == ""
    session.ratings = {
        "scores": [{"model": "a", "score": 4, "tags": ["fast"]}],
        "votes": [{"a": "a", "b": "b", "outcome": "b"}, {"a": "a", "b": "b", "outcome": "bad"}],
    }
    assert ratings_line(session) == "a 4/5 (fast) · b is better than a · a and b are both bad"
    assert when("2026-11-01T00:00:00") == "2026-11-01 00:00"
    assert when("not a date") == "not a date"
