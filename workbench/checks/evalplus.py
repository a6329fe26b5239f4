"""EvalPlus-format tasks (HumanEval+, MBPP+) checked the EvalPlus way.

An EvalPlus task carries ``canonical_solution``, ``base_input`` and ``plus_input``
(lists of argument lists) and ``atol``. A solution passes **base** when, on every
base input, its output equals the canonical solution's output on the same input,
and **plus** when it passes base and every plus input too (EvalPlus reports the two
as HumanEval and HumanEval+). Floats (and lists of floats) are compared with
``atol`` and a relative tolerance of 1e-7 (EvalPlus: ``atol`` 0 means 1e-6 for
floats); everything else must be equal. The canonical outputs are computed in the
same sandboxed program, before the candidate is called with a fresh copy of each
input, so a candidate that mutates its arguments cannot change the reference.

Not reproduced: EvalPlus's per-task special oracles (a handful of tasks such as
``find_zero`` accept any valid root) and its per-input time limits (one timeout
covers the whole program here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Printed by the program once every base input passed (plus comes after).
BASE_PASSED = "workbench: evalplus base passed"

_HARNESS = """\
import copy as _copy
import json as _json
import math as _math

_ENTRY = {entry!r}
_ATOL = {atol!r} or 1e-6
_reference = {{"__name__": "reference"}}
exec(compile({reference!r}, "reference.py", "exec"), _reference)
_candidate = globals()[_ENTRY]


def _floats(value):
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(item, float) for item in value)
    return False


def _close(a, b):
    return _math.isclose(a, b, rel_tol=1e-7, abs_tol=_ATOL) or (a != a and b != b)


def _same(got, expected):
    if _floats(expected):
        if isinstance(expected, float):
            return isinstance(got, (int, float)) and _close(got, expected)
        return (
            isinstance(got, (list, tuple))
            and len(got) == len(expected)
            and all(isinstance(g, (int, float)) and _close(g, e) for g, e in zip(got, expected))
        )
    return got == expected


def _run(inputs, label):
    for number, args in enumerate(inputs):
        expected = _reference[_ENTRY](*_copy.deepcopy(args))
        got = _candidate(*_copy.deepcopy(args))
        assert _same(got, expected), (
            f"{{label}} input {{number}}: {{_ENTRY}}(*{{args!r:.120}}) returned {{got!r:.80}}, "
            f"expected {{expected!r:.80}}"
        )


_run(_json.loads({base!r}), "base")
print({marker!r}, flush=True)
_run(_json.loads({plus!r}), "plus")
"""


@dataclass(frozen=True)
class EvalPlusData:
    """The EvalPlus part of a task."""

    canonical_solution: str
    base_input: tuple[Any, ...]
    plus_input: tuple[Any, ...]
    atol: float = 0.0

    def tests(self, prompt: str, entry_point: str) -> str:
        """The tests program (run in the solution's namespace, as HumanEval's are)."""
        return _HARNESS.format(
            entry=entry_point,
            atol=float(self.atol),
            reference=prompt + self.canonical_solution,
            base=json.dumps(list(self.base_input)),
            plus=json.dumps(list(self.plus_input)),
            marker=BASE_PASSED,
        )


def is_evalplus(task: dict[str, Any]) -> bool:
    return "base_input" in task and "plus_input" in task


def evalplus_data(task: dict[str, Any], where: str) -> EvalPlusData:
    """The EvalPlus fields of one task; a ValueError that says which is wrong."""
    canonical = task.get("canonical_solution")
    if not isinstance(canonical, str):
        raise ValueError(f"{where}: 'canonical_solution' must be a string.")
    inputs = []
    for key in ("base_input", "plus_input"):
        value = task.get(key)
        if not isinstance(value, list) or not all(isinstance(args, list) for args in value):
            raise ValueError(f"{where}: {key!r} must be a list of argument lists.")
        inputs.append(tuple(value))
    atol = task.get("atol", 0) or 0
    if isinstance(atol, bool) or not isinstance(atol, int | float):
        raise ValueError(f"{where}: 'atol' must be a number.")
    return EvalPlusData(canonical, inputs[0], inputs[1], float(atol))


def base_passed(status: str, stdout: str) -> bool:
    """Whether the base inputs passed, from a finished check's status and output."""
    return status == "passed" or BASE_PASSED in stdout
