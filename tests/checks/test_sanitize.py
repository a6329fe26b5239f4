"""Sanitizing a chat answer's code the EvalPlus way: imports and what the entry point
needs stay; top-level tests, prints and demos go."""

from __future__ import annotations

from workbench.checks.sanitize import extract_code, fenced_blocks, longest_parsing_span, sanitize

ANSWER = """Here is the solution:

```python
import math
from typing import List

LIMIT = 10

def helper(x):
    return math.sqrt(x)

def unused(y):
    return y

def solve(values: List[int]) -> float:
    return sum(helper(v) for v in values[:LIMIT])

print(solve([1, 4]))
assert solve([4]) == 2
if __name__ == "__main__":
    print(input())
```

It works because …
"""


def test_keeps_imports_and_what_the_entry_point_reaches():
    code = sanitize(extract_code(ANSWER), "solve")
    assert code.splitlines()[:2] == ["import math", "from typing import List"]
    assert "LIMIT = 10" in code and "def helper(x):" in code and "def solve(" in code
    assert "def unused" not in code
    assert "print(" not in code and "assert" not in code and "__main__" not in code
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["solve"]([1, 4]) == 3.0


def test_without_an_entry_point_every_definition_stays():
    code = sanitize(extract_code(ANSWER))
    assert "def unused" in code and "print(" not in code


def test_first_definition_wins_and_stubs_are_not_definitions():
    code = "def f(x):\n    pass\n\ndef f(x):\n    return 1\n\ndef f(x):\n    return 2\n"
    assert sanitize(code, "f") == "def f(x):\n    return 1"


def test_decorators_and_classes_follow_their_definition():
    code = (
        "import functools\n\nclass Box:\n    def get(self):\n        return 1\n\n"
        "@functools.cache\ndef g(n):\n    return Box().get() + n\n\nprint(g(1))\n"
    )
    kept = sanitize(code, "g")
    assert "@functools.cache\ndef g(n):" in kept and "class Box:" in kept
    assert "print" not in kept


def test_prose_around_bare_code_is_dropped():
    text = "Sure! Here you go\ndef add(a, b):\n    return a + b\nThis adds them."
    assert longest_parsing_span(text) == "def add(a, b):\n    return a + b"
    assert sanitize(text, "add") == "def add(a, b):\n    return a + b"


def test_fences_of_other_languages_are_skipped_and_an_open_fence_counts():
    text = "```bash\npip install x\n```\n```python\ndef f():\n    return 1\n"
    assert fenced_blocks(text) == ["def f():\n    return 1\n"]
    assert extract_code(text).strip() == "def f():\n    return 1"


def test_blocks_that_only_parse_apart_give_the_longest():
    text = "```python\ndef f():\n    return 1\n```\n```python\nx = (\n```"
    assert extract_code(text).strip() == "def f():\n    return 1"


def test_no_code_is_empty():
    assert sanitize("I cannot help with that.", "f") == ""
    assert extract_code("") == ""


def test_prose_inside_the_prefilled_fence_still_finds_the_code():
    from workbench.checks.humaneval import CHAT_PREFILL

    answer = (
        "Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
        "And a test:\n\n```python\nassert add(2, 2) == 4\n```\n"
    )
    assert sanitize(extract_code(CHAT_PREFILL + answer), "add") == (
        "def add(a, b):\n    return a + b"
    )
