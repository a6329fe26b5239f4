"""A suite killed half-way (SIGKILL of the process) continues from its saved sessions
and asks no model again for an answer that was saved and checked.

The models are scripted (the kill is the fault injected); the checks run in the real
sandbox and the sessions are real files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sandbox_helpers import needs_linux

from workbench.checks.suite import load_suite
from workbench.checks.suite_run import SuiteRun, SuiteSettings
from workbench.core.runner import Runner
from workbench.models.backends import base
from workbench.models.config import ModelSpec
from workbench.store.sessions import SessionStore

pytestmark = needs_linux

TASKS = 8

# Registers "slow": a scripted model that answers a completion by the model's name,
# counting every request it gets in the file COUNT (one line per request).
BACKEND = """
import json, os
from workbench.models.backends import base
from workbench.models.backends.scripted import ScriptedBackend

ANSWERS = {"right": "    return x * 2\\n", "wrong": "    return x + 2\\n"}

class Counting(ScriptedBackend):
    async def stream(self, request):
        with open(os.environ["COUNT"], "a") as out:
            out.write(json.dumps([self.spec.name, request.prompt]) + "\\n")
        self.text = ANSWERS[self.spec.name]
        async for chunk in super().stream(request):
            yield chunk

base.register_backend("slow", lambda spec: Counting(spec, delay=float(os.environ["DELAY"])))
"""

CHILD = (
    BACKEND
    + """
import asyncio, sys
from workbench.checks.suite import load_suite
from workbench.checks.suite_run import SuiteRun, SuiteSettings
from workbench.core.runner import Runner
from workbench.models.config import ModelSpec
from workbench.store.sessions import SessionStore

async def main():
    specs = [ModelSpec(name=n, backend="slow", origin="test") for n in ("right", "wrong")]
    runner = Runner(cores=2)
    run = SuiteRun(load_suite(sys.argv[1]), specs, runner, SessionStore(sys.argv[2]),
                   SuiteSettings(timeout=10, protocol="completion"))
    await run.run()

asyncio.run(main())
"""
)


def _suite(path: Path) -> Path:
    lines = []
    for i in range(TASKS):
        task = {
            "task_id": f"T/{i}",
            "prompt": f'def double(x):\n    """Task {i}: double x."""\n',
            "test": "def check(candidate):\n    assert candidate(3) == 6\n",
            "entry_point": "double",
        }
        lines.append(json.dumps(task))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _complete_sessions(folder: Path) -> int:
    done = 0
    for file in folder.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            done += bool(json.loads(file.read_text()).get("complete"))
    return done


def _checked_answers(folder: Path) -> int:
    """Answers saved with their model done and their check stored."""
    found = 0
    for file in folder.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            for run in json.loads(file.read_text())["runs"]:
                found += run["state"] == "done" and "check" in run["info"]
    return found


def _asked(count: Path) -> list[tuple[str, str]]:
    if not count.exists():
        return []
    return [tuple(json.loads(line)) for line in count.read_text().splitlines()]


def test_resume_after_a_kill_asks_nothing_already_saved(tmp_path, monkeypatch):
    suite_file = _suite(tmp_path / "double.jsonl")
    sessions = tmp_path / "sessions"
    count = tmp_path / "asked.jsonl"
    env = {**os.environ, "COUNT": str(count), "DELAY": "0.05"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(suite_file), str(sessions)],
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while _complete_sessions(sessions) < 3 and time.monotonic() < deadline:
        if child.poll() is not None:
            pytest.fail(f"the suite ended before the kill: {child.stderr.read().decode()}")
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = _asked(count)
    saved = _checked_answers(sessions)
    assert 4 <= saved < 2 * TASKS, "the kill must land half-way"

    # Resume in this process with the same models, counting what they are asked.
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    namespace: dict = {}
    monkeypatch.setenv("COUNT", str(count))
    monkeypatch.setenv("DELAY", "0")
    exec(textwrap.dedent(BACKEND), namespace)
    specs = [ModelSpec(name=n, backend="slow", origin="test") for n in ("right", "wrong")]
    store = SessionStore(sessions)

    settings = SuiteSettings(timeout=10, protocol="completion")

    async def resume():
        runner = Runner(cores=2)
        try:
            return await SuiteRun(load_suite(suite_file), specs, runner, store, settings).run()
        finally:
            await runner.pool.close()

    report = asyncio.run(resume())
    after = _asked(count)[len(before) :]
    # Every answer a complete session saved was taken as it was.
    assert report.reused == saved
    assert report.reused + report.ran == 2 * TASKS
    assert len(after) == report.ran
    # Nothing was asked twice in the resumed run, and each model was asked for exactly
    # the tasks it had no checked answer for.
    assert len(after) == len(set(after))
    assert len(before) + len(after) >= 2 * TASKS
    for model in ("right", "wrong"):
        assert [report.cell(model, f"T/{i}").n for i in range(TASKS)] == [1] * TASKS
    assert report.pass_at("right", 1) == 1.0 and report.pass_at("wrong", 1) == 0.0
    # A second resume asks nothing at all.
    report = asyncio.run(resume())
    assert report.ran == 0 and report.reused == 2 * TASKS
    assert len(_asked(count)) == len(before) + len(after)
