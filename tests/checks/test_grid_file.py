"""Grid files: read strictly, each mistake named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.checks.grid_file import parse_grid
from workbench.errors import ConfigError

GOOD = """\
name = "tools"
models = ["smollm2", "gemma3"]
repeat = 2

[settings]
temperature = [0, 0.7]
max_tokens = [64]
system = ["", "Answer with code only."]

[[prompts]]
name = "add"
prompt = "Write add(a, b)."
tests = "assert add(1, 2) == 3"
checks = [{ type = "contains", value = "def add" }, { type = "max-tokens", value = 64 }]

[[prompts]]
prompt = "def fib(n):"
mode = "completion"
"""


def test_a_grid_is_the_product_of_its_settings():
    grid = parse_grid(GOOD, Path("tools.toml"))
    assert grid.name == "tools" and grid.models == ("smollm2", "gemma3") and grid.repeat == 2
    assert len(grid.combos) == 4
    assert [p.name for p in grid.prompts] == ["add", "prompt 2"]
    assert grid.prompts[1].mode == "completion"
    assert [c.name for c in grid.prompts[0].checks] == ["contains:def add", "max-tokens:64"]
    assert grid.constant() == "max_tokens=64"
    assert grid.varying(grid.combos[1]) == 'temperature=0 system="Answer with code only."'


def test_requests_carry_the_settings_and_shift_the_seed_per_repeat():
    grid = parse_grid(GOOD, Path("tools.toml"))
    warm = next(c for c in grid.combos if dict(c.values)["temperature"] == 0.7)
    first, second = (grid.request(grid.prompts[0], warm, r) for r in (0, 1))
    assert first.sampling.temperature == 0.7 and first.sampling.max_tokens == 64
    assert first.sampling.seed != second.sampling.seed
    greedy = grid.request(grid.prompts[0], grid.combos[0], 1)
    assert greedy.sampling.seed is None  # nothing to vary at temperature 0
    completion = grid.request(grid.prompts[1], grid.combos[0], 0)
    assert completion.mode == "completion" and completion.prompt == "def fib(n):"


def test_the_cell_key_changes_with_the_prompt_text():
    grid = parse_grid(GOOD, Path("a.toml"))
    edited = parse_grid(
        GOOD.replace("Write add(a, b).", "Write add(a, b) in Python."), Path("a.toml")
    )
    assert grid.cell_key(grid.prompts[0], grid.combos[0]) != edited.cell_key(
        edited.prompts[0], edited.combos[0]
    )
    assert grid.cell_key(grid.prompts[1], grid.combos[0]) == edited.cell_key(
        edited.prompts[1], edited.combos[0]
    )


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("repeat = 2", "repaet = 2"), 3, "unknown key 'repaet'. Did you mean 'repeat'?"),
        (("repeat = 2", "repeat = 0"), 3, "'repeat' must be between 1 and 100"),
        (("temperature = [0, 0.7]", "temperature = [0, 9]"), 6, "'temperature' must be between"),
        (("temperature = [0, 0.7]", "temprature = [0]"), 6, "Did you mean 'temperature'?"),
        (("max_tokens = [64]", 'max_tokens = ["64"]'), 7, "must be an integer"),
        (('type = "contains"', 'type = "contain"'), 14, "unknown check 'contain'"),
        (('{ type = "max-tokens", value = 64 }', '{ type = "max-tokens" }'), 14, "needs a value"),
        (('tests = "assert add(1, 2) == 3"', 'tests = "assert add(1,"'), 13, "do not parse"),
        (('mode = "completion"', 'mode = "fim"'), 18, "'mode' must be one of chat, completion"),
    ],
)
def test_mistakes_name_the_file_and_line(change, line, words):
    text = GOOD.replace(*change)
    with pytest.raises(ConfigError) as caught:
        parse_grid(text, Path("tools.toml"))
    assert caught.value.line == line, caught.value.message
    assert caught.value.path == "tools.toml"
    assert words in caught.value.message


def test_a_grid_needs_prompts():
    with pytest.raises(ConfigError, match="at least one"):
        parse_grid('name = "x"\n', Path("x.toml"))
