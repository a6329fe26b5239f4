"""Tests attached to a prompt: run an answer's code against them, count pass@k.

A prompt's tests are Python: ``assert`` lines, ``def test_…()`` functions (each is
called), or a HumanEval task's ``test`` (a ``check(candidate)`` function, called with
the task's ``entry_point``). ``check_answer`` takes the code out of an answer (the
fenced Python blocks in chat mode; the prompt plus the completion in completion
mode), writes it as ``solution.py`` beside ``tests.py`` and runs both in the sandbox
(``workbench.checks.sandbox``): the tests run in the solution's namespace, as if appended
to it, which is how HumanEval builds its programs. The solution runs with
``__name__ == "solution"``, so an ``if __name__ == "__main__":`` demo that reads
input does not run.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.checks.sandbox import SandboxResult, run_python
from workbench.store.diff import extract_code_blocks

PYTHON_FENCES = {None, "python", "py", "python3", "py3"}

# Runs solution.py, then tests.py in its namespace, then every test_ function tests.py
# defined. Paths are absolute so tracebacks show the source lines.
_HARNESS = """\
import os, sys

def _compile(name):
    path = os.path.abspath(name)
    with open(path, encoding="utf-8") as handle:
        return compile(handle.read(), path, "exec")

_ns = {"__name__": "solution", "__builtins__": __builtins__}
exec(_compile("solution.py"), _ns)
_tests = _compile("tests.py")
exec(_tests, _ns)
_ran = 0
for _name, _value in list(_ns.items()):
    if (
        _name.startswith("test_")
        and callable(_value)
        and getattr(getattr(_value, "__code__", None), "co_filename", None) == _tests.co_filename
    ):
        _value()
        _ran += 1
print(f"workbench: tests passed ({_ran} test functions)")
"""


@dataclass(frozen=True)
class Tests:
    """What answers to one prompt are checked against."""

    __test__ = False  # not a pytest test class, despite the name

    #: Python run after the solution: asserts, ``def test_…`` functions, or HumanEval's
    #: ``test`` (which defines ``check``).
    code: str
    #: HumanEval: the tests end with ``check(<entry_point>)``.
    entry_point: str | None = None
    #: The prompt: in completion mode the answer continues it, so it is part of the
    #: program; in chat mode a HumanEval prompt gives its imports (or the signature,
    #: when the answer is only a body).
    prompt: str = ""

    @classmethod
    def humaneval(cls, task: Mapping[str, Any]) -> Tests:
        """From a HumanEval-format task (``prompt``, ``test``, ``entry_point``)."""
        return cls(code=task["test"], entry_point=task["entry_point"], prompt=task["prompt"])

    def program(self) -> str:
        """tests.py"""
        if self.entry_point:
            return f"{self.code.rstrip()}\n\n\ncheck({self.entry_point})\n"
        return self.code


@dataclass(frozen=True)
class CheckResult:
    """Did an answer pass its tests: what a pane shows and a session stores."""

    status: str  # passed | failed | error | timeout | killed
    #: One line: "passed", the failing assertion and where, the error, the timeout.
    message: str
    #: The solution that was run (what ``distinct_answers`` compares).
    code: str
    sandbox: SandboxResult | None = None
    #: What was checked, for "✔ … passed": "tests", "2 checks", "tests and 2 checks".
    what: str = "tests"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """Small enough for every run's ``info["check"]`` in a session file."""
        data: dict[str, Any] = {"status": self.status, "passed": self.passed}
        data["message"] = self.message
        if self.what != "tests":
            data["what"] = self.what
        box = self.sandbox
        if box is not None:
            data.update(
                duration_s=round(box.duration_s, 3),
                exit_code=box.exit_code,
                error=box.error,
                where=box.where,
                source_line=box.source_line,
                isolation=box.isolation,
                stdout=box.stdout[-2000:],
                stderr=box.stderr[-2000:],
            )
            if box.isolation_note:  # a weaker isolation than the namespaces: why, and the fix
                data["isolation_note"] = box.isolation_note
        return data


def solution_code(answer: str, mode: str, tests: Tests) -> str:
    """The program an answer stands for (without the tests); "" when there is none."""
    if mode == "completion":
        return tests.prompt + answer
    if mode != "chat":
        raise ValueError(f"unknown mode {mode!r} (expected 'chat' or 'completion')")
    blocks = [b.code for b in extract_code_blocks(answer) if _is_python(b.language)]
    code = "\n\n".join(blocks)
    if not code.strip() and _parses(answer) and re.search(r"^\s*(def|class|import) ", answer, re.M):
        code = answer  # a bare code answer without fences
    if not code.strip() or not tests.entry_point:
        return code
    if re.search(rf"^\s*def\s+{re.escape(tests.entry_point)}\s*\(", code, re.M):
        return _imports(tests.prompt) + code
    # The answer is only the function's body: it continues the prompt's signature.
    return tests.prompt + code


def check_answer(
    answer_text: str,
    mode: str,
    tests: str | Tests,
    *,
    timeout: float = 10,
    **sandbox: Any,
) -> CheckResult:
    """Run the code of ``answer_text`` against ``tests`` in the sandbox.

    ``mode`` is "chat" or "completion"; ``tests`` is Python (asserts or test
    functions) or a ``Tests``. Extra keyword arguments go to ``run_python``.
    """
    if isinstance(tests, str):
        tests = Tests(code=tests)
    code = solution_code(answer_text, mode, tests)
    if not code.strip():
        return CheckResult("error", "No Python code in the answer (no fenced block).", code)
    return check_program(code, tests.program(), timeout=timeout, **sandbox)


def check_program(code: str, tests: str, *, timeout: float = 10, **sandbox: Any) -> CheckResult:
    """Run the program ``code`` (solution.py), then ``tests`` in its namespace, in the
    sandbox: the program is taken as it is (HumanEval's protocols build their own)."""
    result = run_python(
        _HARNESS, files={"solution.py": code, "tests.py": tests}, timeout=timeout, **sandbox
    )
    return CheckResult(result.status, result.summary, code, result)


def _is_python(language: str | None) -> bool:
    return (language.lower() if language else None) in PYTHON_FENCES


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _imports(prompt: str) -> str:
    lines = [line for line in prompt.splitlines() if re.match(r"(import|from)\s+\w", line)]
    return "\n".join(lines) + "\n\n" if lines else ""


def tests_problem(code: str) -> str | None:
    """Why ``code`` cannot be a prompt's tests (it does not parse), or None."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


# --- counting --------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator 1 − C(n−c, k) / C(n, k) (Chen et al. 2021) for ``c``
    correct answers out of ``n``, as the product ∏ (1 − k/i) for i in n−c+1…n, which
    stays exact where the binomials would overflow a float."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"pass@k needs 0 ≤ c ≤ n and 1 ≤ k ≤ n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def normalize_code(code: str) -> str:
    """``code`` with comments and spacing gone (indentation kept as structure), so that
    answers differing only in those count as one."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    parts = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in skip:
                continue
            if token.type == tokenize.NEWLINE:
                parts.append(";")
            elif token.type == tokenize.INDENT:
                parts.append("{")
            elif token.type == tokenize.DEDENT:
                parts.append("}")
            else:
                parts.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Not Python that tokenizes: drop # comments and blank space line by line.
        lines = (re.sub(r"#.*", "", line).strip() for line in code.splitlines())
        return "\n".join(" ".join(line.split()) for line in lines if line)
    return " ".join(parts)


def distinct_answers(texts: Iterable[str]) -> Counter[str]:
    """How many times each distinct answer occurs, answers compared by ``normalize_code``:
    ``len()`` of the result is the number of distinct answers."""
    return Counter(normalize_code(text) for text in texts)
