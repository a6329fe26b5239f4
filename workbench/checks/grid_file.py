"""A grid file: prompts × models × settings, repeated, each answer checked.

::

    name = "string-tools"              # default: the file's name
    models = ["smollm2", "gemma3"]     # default: every configured model (or -m)
    repeat = 2                         # runs per cell (speed statistics, pass rates)
    schedule = "parallel"              # or "sequential"
    mode = "chat"                      # or "completion"; a prompt may say otherwise
    timeout = 10                       # seconds per check

    [settings]                         # each a list of values: the grid is their product
    temperature = [0, 0.7]
    max_tokens = [128]
    system = ["", "Answer with code only."]

    [[prompts]]
    name = "reverse"
    prompt = "Write a Python function reverse(s) that reverses a string."
    tests = "assert reverse('ab') == 'ba'"
    checks = [{ type = "contains", value = "def reverse" }, { type = "max-tokens", value = 200 }]

Read strictly: an unknown key, a wrong type or a bad check names the file and line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.checks.assertions import Assertion, make_assertion
from workbench.checks.codecheck import tests_problem
from workbench.errors import ConfigError, UsageError
from workbench.models.config import SAMPLING_KEYS, SCHEDULES, TomlChecker
from workbench.models.request import Request, Sampling

MODES = ("chat", "completion")
MAX_REPEAT = 100

_TOP = {
    "name": ((str,), "a string"),
    "models": ((list,), "a list of model names"),
    "repeat": ((int,), "an integer"),
    "schedule": ((str,), "a string"),
    "mode": ((str,), "a string"),
    "timeout": ((int, float), "a number of seconds"),
    "settings": ((dict,), "a table"),
    "prompts": ((list,), "an array of tables ([[prompts]])"),
}
_PROMPT = {
    "name": ((str,), "a string"),
    "prompt": ((str,), "a string"),
    "mode": ((str,), "a string"),
    "tests": ((str,), "Python tests as a string"),
    "checks": ((list,), "a list of checks ({ type = …, value = … })"),
}
#: Settings a grid may vary: the sampling keys and the system prompt.
_SETTINGS = {key: ((list,), "a list of values") for key in (*SAMPLING_KEYS, "system")}
_CHECK = {"type": ((str,), "a string"), "value": ((str, int, float, dict), "a value")}


@dataclass(frozen=True)
class GridPrompt:
    name: str
    text: str
    mode: str
    tests: str | None
    checks: tuple[Assertion, ...]


@dataclass(frozen=True)
class Combo:
    """One point of the settings grid: sampling values and a system prompt."""

    values: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        """``temperature=0 max_tokens=128``, how a column is named ("default" when empty)."""
        parts = [f"{key}={_short(value)}" for key, value in self.values]
        return " ".join(parts) or "default"

    @property
    def system(self) -> str | None:
        return dict(self.values).get("system") or None

    def sampling(self, repeat: int) -> Sampling:
        """The sampling of repeat ``repeat`` (0-based): a seed given is shifted by the
        repeat, so repeats at a temperature above 0 are not copies of each other."""
        values = {key: value for key, value in self.values if key != "system"}
        if "seed" in values:
            values["seed"] += repeat
        elif values.get("temperature"):
            values["seed"] = 1 + repeat
        return Sampling(**values)


@dataclass(frozen=True)
class Grid:
    name: str
    path: Path
    models: tuple[str, ...]
    repeat: int
    schedule: str | None
    timeout: float
    combos: tuple[Combo, ...]
    prompts: tuple[GridPrompt, ...] = field(default_factory=tuple)

    def request(self, prompt: GridPrompt, combo: Combo, repeat: int) -> Request:
        sampling = combo.sampling(repeat)
        if prompt.mode == "completion":
            return Request.completion(prompt.text, sampling=sampling)
        return Request.chat(prompt.text, system=combo.system, sampling=sampling)

    def varying(self, combo: Combo) -> str:
        """The settings of ``combo`` that differ between columns ("" with one column)."""
        keys = self._varying_keys()
        return " ".join(f"{k}={_short(v)}" for k, v in combo.values if k in keys)

    def constant(self) -> str:
        """The settings that every column shares, e.g. ``max_tokens=128``."""
        keys = self._varying_keys()
        return " ".join(f"{k}={_short(v)}" for k, v in self.combos[0].values if k not in keys)

    def _varying_keys(self) -> set[str]:
        points = [dict(combo.values) for combo in self.combos]
        return {key for key in points[0] if len({point[key] for point in points}) > 1}

    def cell_key(self, prompt: GridPrompt, combo: Combo) -> str:
        """What a saved answer must match to count for this cell on a resume: the prompt,
        its mode and the settings (an edited prompt is a new cell)."""
        data = [prompt.text, prompt.mode, list(combo.values)]
        digest = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return digest[:12]


def load_grid(path: Path) -> Grid:
    """Read and check a grid file; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the grid {path}: {exc.strerror or exc}.") from None
    return parse_grid(text, path)


def parse_grid(text: str, path: Path) -> Grid:
    where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    check = TomlChecker(text, where)
    check.table(data, _TOP, ())
    mode = data.get("mode", "chat")
    _one_of(check, mode, MODES, (), "mode")
    schedule = data.get("schedule")
    if schedule is not None:
        _one_of(check, schedule, SCHEDULES, (), "schedule")
    repeat = data.get("repeat", 1)
    if not 1 <= repeat <= MAX_REPEAT:
        check.fail(f"'repeat' must be between 1 and {MAX_REPEAT}.", (), "repeat")
    timeout = data.get("timeout", 10)
    if timeout <= 0:
        check.fail("'timeout' must be positive.", (), "timeout")
    models = data.get("models", [])
    if not all(isinstance(m, str) and m for m in models):
        check.fail("'models' must be a list of model names.", (), "models")
    prompts = [_prompt(check, p, i, mode) for i, p in enumerate(data.get("prompts", []))]
    if not prompts:
        check.fail("a grid needs at least one [[prompts]] table with a 'prompt'.", ())
    names = [p.name for p in prompts]
    for name in names:
        if names.count(name) > 1:
            check.fail(f"two prompts are named {name!r}; names must differ.", ("prompts",))
    return Grid(
        name=data.get("name") or path.stem,
        path=path,
        models=tuple(models),
        repeat=repeat,
        schedule=schedule,
        timeout=float(timeout),
        combos=_combos(check, data.get("settings", {})),
        prompts=tuple(prompts),
    )


def _prompt(check: TomlChecker, data: Any, index: int, mode: str) -> GridPrompt:
    where: tuple[str | int, ...] = ("prompts", index)
    if not isinstance(data, dict):
        check.fail("each [[prompts]] entry must be a table.", ("prompts",))
    check.table(data, _PROMPT, where)
    if not data.get("prompt"):
        check.fail('a prompt needs its text: prompt = "…".', where)
    mode = data.get("mode", mode)
    _one_of(check, mode, MODES, where, "mode")
    tests = data.get("tests")
    if tests is not None:
        problem = tests_problem(tests)
        if problem:
            check.fail(f"the tests do not parse: {problem}.", where, "tests")
    checks = []
    for item in data.get("checks", []):
        if not isinstance(item, dict):
            check.fail('a check is a table: { type = "contains", value = "…" }.', where, "checks")
        check.table(item, _CHECK, where)
        line = check.locate(where, "checks")
        try:
            checks.append(
                make_assertion(
                    item.get("type", ""), item.get("value"), where=f"{check.path}:{line}"
                )
            )
        except UsageError as exc:
            raise ConfigError(exc.message.split(": ", 1)[1], path=check.path, line=line) from None
    return GridPrompt(
        name=data.get("name") or f"prompt {index + 1}",
        text=data["prompt"],
        mode=mode,
        tests=tests,
        checks=tuple(checks),
    )


def _combos(check: TomlChecker, settings: dict[str, Any]) -> tuple[Combo, ...]:
    where = ("settings",)
    lists = {key: value if isinstance(value, list) else [value] for key, value in settings.items()}
    check.table(lists, _SETTINGS, where)
    for key, values in lists.items():
        if not values:
            check.fail(f"{key!r} needs at least one value.", where, key)
        for value in values:
            if key == "system":
                ok = isinstance(value, str)
            else:
                ok = isinstance(value, SAMPLING_KEYS[key][0]) and not isinstance(value, bool)
            if not ok:
                what = "a string" if key == "system" else SAMPLING_KEYS[key][1]
                check.fail(f"each value of {key!r} must be {what}, not {value!r}.", where, key)
            if key != "system":
                check.sampling({key: value}, where)  # its range
    keys = list(lists)
    return tuple(
        Combo(tuple(zip(keys, point, strict=True)))
        for point in itertools.product(*(lists[key] for key in keys))
    )


def _one_of(check: TomlChecker, value: Any, allowed: tuple[str, ...], where, key: str) -> None:
    if value not in allowed:
        check.fail(f"{key!r} must be one of {', '.join(allowed)}, not {value!r}.", where, key)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)  # strings quoted: an empty system shows as ""
    return text if len(text) <= 32 else text[:31] + "…"
