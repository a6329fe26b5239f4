"""Re-running a session sends each model what it was sent the first time."""

from __future__ import annotations

from workbench.core.record import ModelRun
from workbench.store.comparison import rerun_requests
from workbench.store.sessions import Session

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Write is_prime."},
    {"role": "assistant", "content": "def is_prime(n): ..."},
    {"role": "user", "content": "Now add type hints."},
]


def session(mode: str = "chat") -> Session:
    runs = [
        ModelRun(model="a", conversation=CONVERSATION, prompt=""),
        ModelRun(model="b", conversation=CONVERSATION[:2], prompt=""),
    ]
    if mode == "completion":
        runs = [
            ModelRun(model="a", prompt="def fib(n):"),
            ModelRun(model="b", prompt="def fib(n):"),
        ]
    return Session(
        id="s",
        created="2026-11-26T00:00:00+00:00",
        mode=mode,
        prompt="Now add type hints." if mode == "chat" else "def fib(n):",
        system="Be brief.",
        sampling={"temperature": 0.1, "top_p": 0.9, "max_tokens": 32, "seed": 7},
        runs=runs,
        turn=2,
    )


def test_a_follow_up_turn_keeps_each_models_whole_conversation():
    requests = rerun_requests(session(), ["a", "b"])
    assert [m.content for m in requests["a"].messages] == [m["content"] for m in CONVERSATION]
    assert len(requests["b"].messages) == 2
    assert requests["a"].sampling.seed == 7 and requests["a"].sampling.max_tokens == 32


def test_a_model_new_to_the_session_gets_the_first_runs_prompt():
    requests = rerun_requests(session(), ["c"])
    assert requests["c"].messages[-1].content == "Now add type hints."


def test_completion_mode_reruns_the_raw_prompt():
    requests = rerun_requests(session("completion"), ["a"])
    assert requests["a"].mode == "completion" and requests["a"].prompt == "def fib(n):"
