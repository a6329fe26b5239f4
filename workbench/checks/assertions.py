"""Checks of an answer besides its tests: contains, regex, JSON, a Python expression, limits.

promptfoo calls these assertions. Each is one ``Assertion`` with a kind and a value,
written ``KIND`` or ``KIND:VALUE`` on the command line (``--check contains:def ``)
and as a table in TOML (``{ type = "regex", value = "^def " }``). ``evaluate`` gives
a pass or fail with a message that says what was looked for and what was found.

The ``python`` kind evaluates an expression over ``output`` (the answer's text) in
the sandbox, since the expression is the user's but it may call into the answer.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.checks.sandbox import run_python
from workbench.core.metrics import figures
from workbench.core.record import ModelRun
from workbench.errors import UsageError

KINDS = ("contains", "not-contains", "regex", "json", "python", "max-tokens", "max-seconds")
#: The kinds whose value may be left out.
_OPTIONAL_VALUE = {"json"}
_PYTHON_TIMEOUT_S = 5.0
_CHECK_LINE = re.compile(r"^\s*#\s*check:\s*(\S.*)$")

# The program the ``python`` kind runs: the answer and the expression come as files, so
# nothing the user wrote is pasted into code.
_EXPRESSION_HARNESS = """\
import json, re
output = open("output.txt", encoding="utf-8").read()
expression = open("expression.txt", encoding="utf-8").read()
value = eval(compile(expression, "<check>", "eval"), {"output": output, "json": json, "re": re})
print("workbench-check:", "pass" if value else "fail", repr(value)[:200])
"""


@dataclass(frozen=True)
class Assertion:
    """One check of an answer: its kind and what it compares with."""

    kind: str
    value: Any = None

    @property
    def name(self) -> str:
        """How the check is named in reports and JUnit test cases."""
        if self.value is None:
            return self.kind
        shown = self.value if isinstance(self.value, str | int | float) else "schema"
        return f"{self.kind}:{shown}"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value}


@dataclass(frozen=True)
class AssertionResult:
    name: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


def parse_check(text: str) -> Assertion:
    """``KIND`` or ``KIND:VALUE`` from the command line; a bad one is a ``UsageError``."""
    kind, sep, value = text.partition(":")
    kind = kind.strip()
    if not sep:
        return make_assertion(kind, None, where=f"--check {text}")
    if kind == "json" and value:
        return make_assertion(kind, _schema_file(value), where=f"--check {text}")
    return make_assertion(kind, value, where=f"--check {text}")


def split_checks(text: str) -> tuple[str, list[Assertion]]:
    """The tests box (or a ``--tests`` file): its ``# check: KIND[:VALUE]`` lines as checks
    (comments to Python, so the rest still parses), and the rest as the tests ("" when no
    code is left). A bad check line is a ``UsageError`` that names its line."""
    tests, checks = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        found = _CHECK_LINE.match(line)
        if found is None:
            tests.append(line)
            continue
        try:
            checks.append(parse_check(found.group(1).strip()))
        except UsageError as exc:
            raise UsageError(f"line {number}: {exc.message}") from None
    code = "\n".join(tests)
    has_code = any(s.strip() and not s.lstrip().startswith("#") for s in tests)
    return (code + "\n" if has_code else ""), checks


def make_assertion(kind: str, value: Any, *, where: str) -> Assertion:
    """An ``Assertion`` with its value checked for its kind; ``where`` names the source
    in the error (a file and line, or the flag)."""
    if kind not in KINDS:
        near = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise UsageError(
            f"{where}: unknown check {kind!r}.{hint} The kinds are {', '.join(KINDS)}."
        )
    if value is None:
        if kind not in _OPTIONAL_VALUE:
            raise UsageError(f"{where}: the check {kind!r} needs a value ({kind}:VALUE).")
        return Assertion(kind)
    if kind in ("contains", "not-contains", "python", "regex"):
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: the check {kind!r} takes a non-empty string.")
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                raise UsageError(f"{where}: bad regular expression {value!r}: {exc}.") from None
        if kind == "python":
            try:
                compile(value, "<check>", "eval")
            except SyntaxError as exc:
                raise UsageError(f"{where}: bad Python expression {value!r}: {exc.msg}.") from None
    elif kind in ("max-tokens", "max-seconds"):
        number = _number(value, integer=kind == "max-tokens")
        if number is None or number <= 0:
            raise UsageError(f"{where}: the check {kind!r} takes a positive number.")
        value = number
    elif kind == "json":
        if not isinstance(value, Mapping):
            raise UsageError(f"{where}: the check 'json' takes a JSON Schema (a table).")
        _check_schema(dict(value), where)
        value = dict(value)
    return Assertion(kind, value)


def evaluate(assertion: Assertion, run: ModelRun) -> AssertionResult:
    """Does ``run``'s answer pass ``assertion``? A run without an answer fails."""
    name = assertion.name
    if run.state != "done":
        why = run.error["message"] if run.error else run.state
        return AssertionResult(name, False, f"no answer to check: {why}")
    kind, value, text = assertion.kind, assertion.value, run.text
    if kind == "contains":
        ok = value in text
        return AssertionResult(name, ok, f"{'found' if ok else 'not found'}: {value!r}")
    if kind == "not-contains":
        ok = value not in text
        where = "" if ok else f" at character {text.index(value)}"
        return AssertionResult(name, ok, f"{'absent' if ok else 'present'}: {value!r}{where}")
    if kind == "regex":
        match = re.search(value, text, re.MULTILINE)
        if match is None:
            return AssertionResult(name, False, f"no match for /{value}/")
        return AssertionResult(name, True, f"matched {match.group(0)[:60]!r}")
    if kind == "json":
        return _json(name, value, text)
    if kind == "python":
        return _python(name, value, text)
    if kind == "max-tokens":
        tokens = run.output_tokens
        if tokens is None:
            return AssertionResult(name, False, "the backend reported no output token count")
        return AssertionResult(name, tokens <= value, f"{tokens} output tokens (max {value})")
    seconds = figures(run).total_s
    if seconds is None:
        return AssertionResult(name, False, "no total time was recorded")
    return AssertionResult(name, seconds <= value, f"{seconds:.2f} s in all (max {value:g} s)")


async def apply_checks(runs: Sequence[ModelRun], checks: Sequence[Assertion]) -> None:
    """Check each run that was not cancelled; keep the results in ``run.info["checks"]``
    (a ``python`` check runs in the sandbox, off the event loop)."""
    for run in runs:
        if run.state == "cancelled":
            continue
        results = []
        for check in checks:
            if check.kind == "python":
                results.append(await asyncio.to_thread(evaluate, check, run))
            else:
                results.append(evaluate(check, run))
        run.info["checks"] = [result.to_dict() for result in results]


def stored_results(run: ModelRun) -> list[dict[str, Any]]:
    """What a saved run's answer passed: its tests (as one check named "tests"), then its
    checks, each ``{"name", "passed", "message"}``."""
    out = []
    tests = run.info.get("check")
    if isinstance(tests, dict):
        passed, message = bool(tests.get("passed")), tests.get("message", "")
        out.append({"name": "tests", "passed": passed, "message": message})
    for item in run.info.get("checks") or []:
        if isinstance(item, dict) and "passed" in item:
            out.append(item)
    return out


def _json(name: str, schema: dict[str, Any] | None, text: str) -> AssertionResult:
    body = _json_text(text)
    try:
        data = json.loads(body)
    except ValueError as exc:
        return AssertionResult(name, False, f"not valid JSON: {exc}")
    if schema is None:
        return AssertionResult(name, True, "valid JSON")
    import jsonschema  # only the schema kind needs it (and its import costs ~50 ms)

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=str)
    if not errors:
        return AssertionResult(name, True, "valid JSON, matches the schema")
    first = errors[0]
    path = "/".join(str(p) for p in first.absolute_path) or "(top)"
    return AssertionResult(name, False, f"schema: at {path}: {first.message}")


def _json_text(text: str) -> str:
    """The JSON of an answer: all of it, or its one fenced block (```json … ```)."""
    fence = re.fullmatch(r"\s*```[\w-]*\n(.*?)\n?```\s*", text, re.DOTALL)
    return fence.group(1) if fence else text


def _python(name: str, expression: str, text: str) -> AssertionResult:
    result = run_python(
        _EXPRESSION_HARNESS,
        files={"output.txt": text, "expression.txt": expression},
        timeout=_PYTHON_TIMEOUT_S,
    )
    verdict = re.search(r"^workbench-check: (pass|fail) (.*)$", result.stdout, re.MULTILINE)
    if result.status != "passed" or verdict is None:
        return AssertionResult(name, False, f"the expression did not run: {result.summary}")
    passed = verdict.group(1) == "pass"
    return AssertionResult(name, passed, f"{expression} → {verdict.group(2)}")


def _number(value: Any, *, integer: bool) -> float | int | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if integer:
        return int(number) if number == int(number) else None
    return number


def _schema_file(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--check json:{path}: cannot read the schema: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--check json:{path}: a JSON Schema is an object.")
    return data


def _check_schema(schema: dict[str, Any], where: str) -> None:
    import jsonschema  # see _json

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UsageError(f"{where}: not a valid JSON Schema: {exc.message}") from None
