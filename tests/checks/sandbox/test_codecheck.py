"""Answers checked against tests in the sandbox: chat and completion, asserts, test
functions and HumanEval tasks; and the traceback parsing behind the messages."""

from __future__ import annotations

import json

from sandbox_helpers import needs_linux

from workbench.checks import sandbox as sandbox_module
from workbench.checks.codecheck import Tests, check_answer, solution_code
from workbench.checks.tracebacks import parse_traceback

pytestmark = needs_linux

ADD = "Sure:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nThat adds them."
WRONG_ADD = ADD.replace("a + b", "a - b")

# HumanEval/0, as in the data set (prompt, test, entry_point).
HUMANEVAL_0 = {
    "task_id": "HumanEval/0",
    "prompt": (
        "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other '
        "than\n    given threshold.\n"
        "    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
        "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
        '    """\n'
    ),
    "test": (
        "\n\nMETADATA = {\n    'author': 'jt',\n    'dataset': 'test'\n}\n\n\n"
        "def check(candidate):\n"
        "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
        "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n"
        "    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n"
        "    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n"
        "    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n"
        "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n"
        "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n"
    ),
    "entry_point": "has_close_elements",
}
CANONICAL_0 = (
    "    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n"
    "                distance = abs(elem - elem2)\n"
    "                if distance < threshold:\n"
    "                    return True\n\n"
    "    return False\n"
)


def test_fenced_answer_passes_asserts():
    result = check_answer(ADD, "chat", "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n")
    assert result.status == "passed", result.sandbox
    assert result.passed and result.message == "passed"
    assert result.code == "def add(a, b):\n    return a + b"


def test_failing_assertion_is_named_with_its_line():
    result = check_answer(WRONG_ADD, "chat", "assert add(0, 0) == 0\nassert add(1, 2) == 3\n")
    assert result.status == "failed"
    assert result.message == "tests.py:2: assert add(1, 2) == 3"
    assert result.sandbox is not None and result.sandbox.error == "AssertionError"


def test_assertion_message_is_kept():
    result = check_answer(WRONG_ADD, "chat", "assert add(1, 2) == 3, 'one and two'\n")
    assert result.message == "tests.py:1: assert add(1, 2) == 3, 'one and two'  " + (
        "(AssertionError: one and two)"
    )


def test_test_functions_are_called_and_the_failing_one_named():
    tests = (
        "def test_small():\n    assert add(1, 2) == 3\n\n"
        "def test_negative():\n    assert add(-1, -2) == -3\n"
    )
    assert check_answer(ADD, "chat", tests).passed
    result = check_answer(WRONG_ADD, "chat", tests)
    assert result.status == "failed"
    assert result.message.startswith("tests.py:2 in test_small: assert add(1, 2) == 3")
    stdout = check_answer(ADD, "chat", tests).sandbox.stdout
    assert "2 test functions" in stdout


def test_an_exception_in_the_solution_is_an_error():
    answer = "```python\ndef add(a, b):\n    return a + c\n```"
    result = check_answer(answer, "chat", "assert add(1, 2) == 3")
    assert result.status == "error"
    assert result.message == "NameError: name 'c' is not defined (at solution.py:2 in add)"


def test_syntax_error_is_an_error():
    result = check_answer("```python\ndef add(a, b)\n    return a\n```", "chat", "add(1, 2)")
    assert result.status == "error"
    assert result.message.startswith("SyntaxError:")
    assert "solution.py:1" in result.message


def test_only_python_blocks_count_and_a_bare_answer_is_code():
    answer = "Install nothing:\n```bash\npip install add\n```\n" + ADD
    assert check_answer(answer, "chat", "assert add(1, 2) == 3").passed
    bare = "def add(a, b):\n    return a + b\n"
    assert check_answer(bare, "chat", "assert add(1, 2) == 3").passed


def test_an_answer_without_code_fails_without_running():
    result = check_answer("I cannot help with that.", "chat", "assert add(1, 2) == 3")
    assert result.status == "error"
    assert result.sandbox is None
    assert "No Python code" in result.message


def test_main_guard_of_the_answer_does_not_run():
    answer = ADD.replace("```\n\n", "\nif __name__ == '__main__':\n    input()\n```\n\n", 1)
    assert "input()" in solution_code(answer, "chat", Tests("pass"))
    assert check_answer(answer, "chat", "assert add(2, 2) == 4").passed


def test_completion_mode_runs_prompt_plus_completion():
    tests = Tests("assert add(1, 2) == 3", prompt="def add(a, b):\n")
    assert check_answer("    return a + b\n", "completion", tests).passed
    failed = check_answer("    return a * b\n", "completion", tests)
    assert failed.status == "failed"


def test_humaneval_completion_mode():
    tests = Tests.humaneval(HUMANEVAL_0)
    assert check_answer(CANONICAL_0, "completion", tests).passed
    wrong = check_answer("    return False\n", "completion", tests)
    assert wrong.status == "failed"
    assert wrong.message == (
        "tests.py:10 in check: assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"
    )


def test_humaneval_chat_mode_whole_function_gets_the_prompts_imports():
    whole = (
        "```python\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
        "               for j, b in enumerate(numbers) if i != j)\n```"
    )
    result = check_answer(whole, "chat", Tests.humaneval(HUMANEVAL_0))
    assert result.passed, result.message
    assert result.code.startswith("from typing import List\n")


def test_humaneval_chat_mode_body_only_continues_the_prompt():
    result = check_answer(f"```python\n{CANONICAL_0}```", "chat", Tests.humaneval(HUMANEVAL_0))
    assert result.passed, result.message


def test_timeout_is_reported():
    result = check_answer("```python\nwhile True: pass\n```", "chat", "pass", timeout=1)
    assert result.status == "timeout"
    assert result.message == "timed out after 1 s"


def test_result_fits_in_a_session():
    data = check_answer(WRONG_ADD, "chat", "assert add(1, 2) == 3").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["status"] == "failed" and data["passed"] is False
    assert data["source_line"] == "assert add(1, 2) == 3"
    assert data["where"] == "tests.py:1"
    assert data["isolation"] == "namespaces" and "isolation_note" not in data


def test_a_check_in_a_weaker_isolation_carries_why(monkeypatch):
    """Forced to basic by the setting: the session's check says so (with no hint to
    give: it was asked for) and what it is; auto would add the reason and the hint."""
    from workbench.checks import sandbox

    monkeypatch.setattr(sandbox, "_REPORT", None)
    monkeypatch.setenv("WORKBENCH_ISOLATION", "basic")
    monkeypatch.setattr(sandbox, "_try", lambda mode, platform: "")
    report = sandbox.isolation_report()
    assert (report.mode, report.forced, report.note) == ("basic", True, "")
    monkeypatch.setattr(
        sandbox, "_REPORT", sandbox.IsolationReport("basic", "Because.", "Do this.", "linux")
    )
    monkeypatch.setattr(sandbox, "_run", lambda mode, note, *rest: _fake_result(mode, note))
    data = check_answer(ADD, "chat", "assert add(1, 2) == 3").to_dict()
    assert (data["isolation"], data["isolation_note"]) == ("basic", "Because. Do this.")


def _fake_result(mode: str, note: str) -> sandbox_module.SandboxResult:
    return sandbox_module.SandboxResult(
        "passed", 0, None, "", "", 0, 0, 0.1, isolation=mode, isolation_note=note
    )


# --- traceback parsing ------------------------------------------------------------------


def test_parse_the_last_traceback_and_the_first_line_of_its_message():
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/x/main.py", line 3, in <module>\n'
        "    f()\n"
        "KeyError: 'a'\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/x/main.py", line 5, in <module>\n'
        "    g()\n"
        '  File "/x/tests.py", line 9, in check\n'
        "    assert candidate(1) == 2, 'first\n"
        "              ^^^^^^^^^^^^\n"
        "AssertionError: first\n"
        "second line\n"
    )
    assert parse_traceback(stderr) == (
        "AssertionError: first",
        "tests.py:9 in check",
        "assert candidate(1) == 2, 'first",
    )


def test_parse_a_syntax_error_without_header_and_nothing():
    stderr = (
        "  File \"/x/main.py\", line 1\n    def f(\n         ^\nSyntaxError: '(' was never closed\n"
    )
    assert parse_traceback(stderr) == (
        "SyntaxError: '(' was never closed",
        "main.py:1",
        "def f(",
    )
    assert parse_traceback("just output\n") == (None, None, None)
