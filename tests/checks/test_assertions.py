"""Every check kind on crafted answers: one that passes and one that fails, with its message."""

from __future__ import annotations

import pytest

from workbench.checks.assertions import (
    KINDS,
    Assertion,
    evaluate,
    make_assertion,
    parse_check,
    split_checks,
)
from workbench.checks.samples import Checker
from workbench.core.record import ModelRun
from workbench.errors import UsageError


def answer(text: str, *, tokens: int = 10, total_s: float = 1.0, state: str = "done") -> ModelRun:
    return ModelRun(
        model="m",
        state=state,
        text=text,
        output_tokens=tokens,
        first_token_s=0.1,
        last_token_s=total_s,
        total_s=total_s,
    )


CASES = [
    # (check as typed, answer, passes, words the message must hold)
    ("contains:def add", "def add(a, b):\n    return a + b", True, "found"),
    ("contains:def add", "lambda a, b: a + b", False, "not found"),
    ("not-contains:import os", "def add(a, b): ...", True, "absent"),
    ("not-contains:import os", "import os\nos.remove('x')", False, "present"),
    ("regex:^def \\w+\\(", "Here:\ndef add(a, b):", True, "matched 'def add('"),
    ("regex:^def \\w+\\(", "  def add(a, b):", False, "no match"),
    ("json", '{"name": "Ada"}', True, "valid JSON"),
    ("json", '```json\n{"name": "Ada"}\n```', True, "valid JSON"),
    ("json", "{name: Ada}", False, "not valid JSON"),
    ("python:len(output) < 20", "short", True, "True"),
    ("python:len(output) < 20", "x" * 50, False, "False"),
    ("python:json.loads(output)['n'] == 3", '{"n": 3}', True, "True"),
    ("max-tokens:10", "ten tokens", True, "10 output tokens"),
    ("max-tokens:9", "ten tokens", False, "10 output tokens (max 9)"),
    ("max-seconds:2", "fast", True, "1.00 s"),
    ("max-seconds:0.5", "slow", False, "(max 0.5 s)"),
]


@pytest.mark.parametrize(("typed", "text", "passes", "words"), CASES)
def test_each_kind_passes_and_fails_with_a_message(typed, text, passes, words):
    result = evaluate(parse_check(typed), answer(text))
    assert result.passed is passes, result
    assert words in result.message


def test_every_kind_is_covered_by_a_case():
    assert {typed.split(":")[0] for typed, *_ in CASES} == set(KINDS)


def test_json_against_a_schema():
    schema = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}
    check = make_assertion("json", schema, where="grid.toml:3")
    assert evaluate(check, answer('{"name": "Ada", "age": 36}')).passed
    failed = evaluate(check, answer('{"name": "Ada", "age": "old"}'))
    assert not failed.passed
    assert "at age" in failed.message and "integer" in failed.message
    missing = evaluate(check, answer('{"age": 1}'))
    assert not missing.passed and "'name' is a required property" in missing.message


def test_a_python_check_runs_in_the_sandbox_not_in_workbench(tmp_path):
    marker = tmp_path / "written"
    check = parse_check(f"python:open({str(marker)!r}, 'w').write('x') > 0")
    result = evaluate(check, answer("anything"))
    assert not marker.exists()
    assert not result.passed  # the write fails inside the sandbox


def test_a_failed_run_fails_every_check():
    run = answer("", state="failed")
    run.error = {"title": "Model failed", "message": "worker died"}
    for kind in ("contains:x", "json", "max-tokens:5"):
        result = evaluate(parse_check(kind), run)
        assert not result.passed and "worker died" in result.message


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("contain:x", "unknown check 'contain'. Did you mean 'contains'?"),
        ("contains", "needs a value"),
        ("regex:([", "bad regular expression"),
        ("python:1 +", "bad Python expression"),
        ("max-tokens:-3", "positive number"),
        ("max-tokens:2.5", "positive number"),
        ("max-seconds:soon", "positive number"),
        ("json:/no/such/schema.json", "cannot read the schema"),
    ],
)
def test_bad_checks_are_usage_errors(typed, words):
    with pytest.raises(UsageError) as caught:
        parse_check(typed)
    assert words in caught.value.message
    assert f"--check {typed}" in caught.value.message


def test_a_check_is_named_for_reports():
    assert parse_check("contains:def add").name == "contains:def add"
    assert Assertion("json").name == "json"
    assert make_assertion("json", {"type": "object"}, where="x").name == "json:schema"


def test_check_lines_of_the_tests_box_are_split_from_the_tests():
    tests, checks = split_checks(
        "# check: contains:def add\nassert add(1, 2) == 3\n  #check:max-tokens:50\n# a note\n"
    )
    assert [c.name for c in checks] == ["contains:def add", "max-tokens:50"]
    assert tests == "assert add(1, 2) == 3\n# a note\n"
    only, checks = split_checks("# check: json\n# just a comment\n")
    assert only == "" and [c.kind for c in checks] == ["json"]
    with pytest.raises(UsageError, match="line 2: --check regex:\\(: bad regular expression"):
        split_checks("assert True\n# check: regex:(\n")


def test_an_answer_passes_when_its_tests_and_every_check_pass():
    run = answer("```python\ndef add(a, b):\n    return a + b\n```\n", tokens=12)
    both = Checker.from_text("assert add(1, 2) == 3\n# check: contains:def add\n", "chat")
    result = both.check(run)
    assert result.passed and result.what == "tests and 1 check"
    assert run.info["checks"] == [
        {"name": "contains:def add", "passed": True, "message": "found: 'def add'"}
    ]
    strict = Checker.from_text("assert add(1, 2) == 3\n# check: max-tokens:5\n", "chat")
    failed = strict.check(run)
    assert failed.status == "failed" and failed.message == "max-tokens:5: 12 output tokens (max 5)"
    wrong = Checker.from_text("assert add(1, 2) == 4\n# check: max-tokens:50\n", "chat")
    assert wrong.check(run).status == "failed"  # the tests' own failure comes first
    only = Checker.from_text("# check: regex:return a \\+ b\n", "chat")
    checked = only.check(run)
    assert checked.passed and checked.what == "1 check" and checked.sandbox is None
    assert Checker.from_text("# only a comment\n", "chat") is None
