"""The UI's plain parts, without a terminal: state file, themes, keys, figures, requests."""

from __future__ import annotations

import json

import pytest

from workbench.core.record import ModelRun
from workbench.models.config import ModelSpec
from workbench.models.request import Message, Sampling, ServerTimings
from workbench.store.sessions import Session
from workbench.ui import figures
from workbench.ui.conversation import Thread, first_requests, follow_up_requests
from workbench.ui.keys import ACTIONS, check_keymap, effective_keys, key_label
from workbench.ui.state import HISTORY_LIMIT, UIState, load_state, save_state
from workbench.ui.themes import VARIABLE_DEFAULTS, ThemeError, load_themes, parse_theme

# -- state --------------------------------------------------------------------------------


def test_state_round_trip(tmp_path):
    path = tmp_path / "deep" / "state.json"
    state = UIState(models=["a"], theme="workbench-light", sampling={"temperature": 0.5})
    state.remember_prompt("one")
    state.remember_prompt("two")
    state.remember_prompt("one")
    assert save_state(path, state) is None
    loaded, problem = load_state(path)
    assert problem is None and loaded == state
    assert loaded.history == ["two", "one"]


def test_history_is_capped_and_skips_blank_prompts():
    state = UIState()
    for i in range(HISTORY_LIMIT + 5):
        state.remember_prompt(f"p{i}")
    state.remember_prompt("   \n")
    assert len(state.history) == HISTORY_LIMIT and state.history[-1] == f"p{HISTORY_LIMIT + 4}"


@pytest.mark.parametrize(
    "text",
    [
        "{nope",
        "[]",
        '{"version": 99}',
        '{"version": 1, "history": [1]}',
        '{"version": 1, "sampling": {"t": "x"}}',
    ],
)
def test_broken_state_is_ignored_with_a_message(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_text(text)
    state, problem = load_state(path)
    assert state == UIState() and problem and str(path) in problem


def test_missing_state_is_fresh_and_unwritable_state_is_a_message(tmp_path):
    assert load_state(tmp_path / "none.json") == (UIState(), None)
    (tmp_path / "file").write_text("")
    assert "Could not save" in save_state(tmp_path / "file" / "state.json", UIState())


# -- themes -------------------------------------------------------------------------------


def test_bundled_themes_load_with_diff_variables():
    themes, errors = load_themes()
    assert not errors
    by_name = {theme.name: theme for theme in themes}
    assert {"workbench-dark", "workbench-light"} <= set(by_name)
    assert by_name["workbench-light"].dark is False
    for theme in by_name.values():
        assert set(VARIABLE_DEFAULTS) <= set(theme.variables)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('primary = "#fff"\nprimry = "#000"', "Did you mean 'primary'"),
        ('secondary = "#fff"', "needs 'primary'"),
        ('primary = "blurple"', "not a colour"),
        ('primary = "#fff"\n[variables]\ndiff-added-background = 3', "colour string"),
        ('primary = "#fff"\ndark = "yes"', "true or false"),
        ("primary = ", "not valid TOML"),
    ],
)
def test_bad_theme_files_say_what_is_wrong(text, message):
    with pytest.raises(ThemeError, match=message):
        parse_theme(text, "mine")


def test_a_bad_theme_file_does_not_hide_the_good_ones(tmp_path):
    (tmp_path / "good.toml").write_text('primary = "#123456"')
    (tmp_path / "bad.toml").write_text('primary = "nope"')
    themes, errors = load_themes([tmp_path])
    assert [t.name for t in themes] == ["good"]
    assert len(errors) == 1 and "bad.toml" in errors[0].message


# -- keys ---------------------------------------------------------------------------------


def test_action_ids_and_default_keys_are_unique_per_scope():
    assert len({a.id for a in ACTIONS}) == len(ACTIONS)
    for scope in ("app", "compare", "pane"):
        keys = [a.key for a in ACTIONS if a.scope in (scope, "app")]
        assert len(keys) == len(set(keys)), scope


def test_keymap_check_and_labels():
    valid, problems = check_keymap({"send": "f6", "zom": "m"})
    assert valid == {"send": "f6"}
    assert problems == ["[keys] 'zom' is not an action. Did you mean 'zoom'?"]
    assert effective_keys(valid)["send"] == "f6"
    assert key_label("ctrl+up") == "ctrl+↑" and key_label("left_square_bracket") == "["


# -- figures ------------------------------------------------------------------------------


def _run(**fields) -> ModelRun:
    return ModelRun(model="m", **fields)


def test_live_figures_while_streaming_are_marked_approximate():
    run = _run(state="streaming", t_sent=100.0, first_token_s=0.5, chunks=[(0.5, "a"), (1.5, "b")])
    assert figures.live(run, 102.0) == "TTFT 0.50s · ≈0.7 tok/s · ≈2 tok · 2.00s"
    assert figures.live(_run(state="queued"), 1.0) == "waiting for the model…"
    assert figures.live(_run(state="streaming", t_sent=1.0), 1.25) == "prompt sent · 0.25s"


def test_final_figures_with_server_timings_and_schedule():
    run = _run(
        state="done",
        first_token_s=0.25,
        last_token_s=2.25,
        total_s=2.5,
        prompt_tokens=12,
        output_tokens=41,
        threads=1,
        load_s=1.5,
        finish_reason="length",
        timings=ServerTimings("llama.cpp perf", 12, 100.0, 41, 2000.0),
    )
    first, second = figures.final(run, "parallel")
    assert first == "TTFT 0.25s · 20.0 tok/s · 41 out / 12 in tok · total 2.50s"
    assert second == (
        "llama.cpp perf: 20.5 tok/s gen 120.0 tok/s prompt · load 1.50s · finish: length"
        " · parallel · 1 thread"
    )
    masked = figures.final(run, "sequential", mask=True)
    assert "0.25" not in masked[0] and figures.MASKED_TIME in masked[0]
    assert masked[1].endswith("sequential · 1 thread")


def test_time_formats():
    assert figures.seconds(75.25) == "1m15.2s"
    assert figures.seconds(None) == "–"
    assert figures.rate(12345.0) == "12,345"
    assert figures.schedule_label("parallel", [1, 2]) == "parallel · 1→2 threads"
    assert figures.schedule_label("sequential", None) == "sequential"


# -- requests -----------------------------------------------------------------------------


SPECS = [
    ModelSpec(name="a", backend="scripted", sampling=Sampling(temperature=0.9, max_tokens=50)),
    ModelSpec(name="b", backend="scripted"),
]


def test_first_turn_carries_only_the_typed_sampling():
    # The runner layers the preset, the config and the model's own settings under it
    # (workbench.models.settings), once the model has loaded.
    requests = first_requests(
        SPECS, "hi", mode="chat", system="be brief", typed=Sampling(max_tokens=10)
    )
    assert requests["a"].sampling == Sampling(max_tokens=10)
    assert requests["b"].sampling == Sampling(max_tokens=10)
    assert requests["a"].messages == (Message("system", "be brief"), Message("user", "hi"))
    raw = first_requests(SPECS, "def f(", mode="completion", system="x", typed=Sampling())
    assert raw["b"].mode == "completion" and raw["b"].prompt == "def f("


def test_follow_up_continues_each_models_own_conversation():
    runs = [
        _run(state="done", conversation=[{"role": "user", "content": "q1"}], text="A1"),
        _run(state="failed", conversation=[{"role": "user", "content": "q1"}], text="partial"),
    ]
    runs[0].model, runs[1].model = "a", "b"
    previous = Session(id="s1", created="now", mode="chat", prompt="q1", runs=runs)
    requests = follow_up_requests(SPECS, "q2", previous, typed=Sampling())
    assert [m.content for m in requests["a"].messages] == ["q1", "A1", "q2"]
    assert [m.content for m in requests["b"].messages] == ["q1", "partial", "q2"]
    thread = Thread(("a", "b"), "chat", previous)
    assert thread.continues(["b", "a"], "chat")
    assert not thread.continues(["a"], "chat") and not thread.continues(["a", "b"], "completion")


def test_follow_up_in_completion_mode_appends_the_text():
    run = _run(state="done", prompt="def f(", text="x):")
    run.model = "b"
    previous = Session(id="s", created="now", mode="completion", prompt="def f(", runs=[run])
    requests = follow_up_requests(SPECS[1:], "\n", previous, typed=Sampling())
    assert requests["b"].prompt == "def f(x):\n"


def test_state_file_is_plain_json(tmp_path):
    save_state(tmp_path / "s.json", UIState(history=["é"]))
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["history"] == ["é"]
