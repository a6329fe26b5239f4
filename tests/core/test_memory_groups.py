"""Admission and eviction with the real bundled models under a small ``memory`` cap.

The caps are computed from the models' own estimates, so the rules are tested, not
this machine's free memory: a cap that fits one model but not both runs them one
group at a time and unloads between; a cap smaller than a model fails that model
before any worker starts; loaded workers are unloaded least recently used first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys

import pytest

from workbench.core.admission import model_estimate
from workbench.core.events import Finished, Loading, Notice
from workbench.core.runner import Runner
from workbench.models.request import Request, Sampling

DEADLINE_S = 240
REQUEST = Request.completion("The capital of France is", sampling=Sampling(max_tokens=2, seed=1))


def need(runner, spec) -> int:
    return model_estimate(runner.pool.get(spec), spec).total


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is not a live worker
        return handle.read().split(")")[-1].split()[0] != "Z"


async def run(runner, specs, events=None):
    listener = events.append if events is not None else None
    return await asyncio.wait_for(runner.run(specs, REQUEST, listener=listener), DEADLINE_S)


@pytest.mark.slow
async def test_a_cap_for_one_model_runs_them_one_group_at_a_time(bundled):
    specs = [bundled.model("smollm2"), bundled.model("gemma3")]
    probe = Runner()
    small, large = sorted(need(probe, spec) for spec in specs)
    runner = Runner(memory=large + small // 2)  # either alone, not both
    events: list = []
    pids: dict[str, int] = {}

    def listener(event):
        events.append(event)
        if isinstance(event, Finished):
            pids[event.model] = runner.pool.loaded(event.model)._proc.pid

    try:
        results = await asyncio.wait_for(runner.run(specs, REQUEST, listener=listener), DEADLINE_S)
        assert [r.state for r in results] == ["done", "done"], [r.error for r in results]
        kinds = [(type(e).__name__, e.model) for e in events]
        notices = [e for e in events if isinstance(e, Notice)]
        assert len(notices) == 1
        assert "2 models need ≈" in notices[0].text
        assert "1 at a time (smollm2 | gemma3)" in notices[0].text
        assert "allowed by [defaults] memory" in notices[0].text
        first_load = next(i for i, e in enumerate(events) if isinstance(e, Loading))
        assert events.index(notices[0]) < first_load  # said before anything loads
        # The second group starts loading only once the first has finished.
        assert kinds.index(("Finished", "smollm2")) < kinds.index(("Loading", "gemma3"))
        # smollm2 was unloaded to make room: its worker is gone, gemma3's stays loaded.
        assert runner.pool.loaded("smollm2") is None
        assert not alive(pids["smollm2"])
        assert alive(pids["gemma3"])
        assert list(runner.pool.residents.held) == ["gemma3"]
    finally:
        await runner.pool.close()
        await probe.pool.close()


@pytest.mark.slow
async def test_a_model_too_big_alone_fails_before_loading(bundled):
    specs = [bundled.model("smollm2"), bundled.model("gemma3")]
    probe = Runner()
    small, large = sorted(need(probe, spec) for spec in specs)
    runner = Runner(memory=(small + large) // 2)  # smollm2 fits, gemma3 does not
    events: list = []
    try:
        smollm2, gemma3 = await run(runner, specs, events)
        assert smollm2.state == "done", smollm2.error
        assert gemma3.state == "failed"
        assert gemma3.error["title"] == "Not enough memory"
        assert gemma3.error["type"] == "NotEnoughMemory"
        message = gemma3.error["message"]
        assert message.startswith("gemma3 needs ≈")
        assert "KV cache" in message and "[defaults] memory" in message
        assert "It was not loaded." in message
        # No worker was started for it: no Loading event, nothing in the pool loaded.
        assert not [e for e in events if isinstance(e, Loading) and e.model == "gemma3"]
        assert getattr(runner.pool.loaded("gemma3"), "_proc", None) is None
        assert not [e for e in events if isinstance(e, Notice)]  # one group: nothing to say
    finally:
        await runner.pool.close()
        await probe.pool.close()


@pytest.mark.slow
async def test_workers_are_unloaded_least_recently_used_first(bundled):
    base = dataclasses.replace(bundled.model("smollm2"), n_ctx=512)
    a, b, c = (dataclasses.replace(base, name=name) for name in "abc")
    probe = Runner()
    one = need(probe, a)
    runner = Runner(memory=2 * one + one // 2)  # two loaded at once, not three
    try:
        for specs in ([a], [b], [a]):  # a is used again after b: b is now the oldest
            [result] = await run(runner, specs)
            assert result.state == "done", result.error
        pid = {name: runner.pool.loaded(name)._proc.pid for name in "ab"}
        assert list(runner.pool.residents.held) == ["b", "a"]
        [result] = await run(runner, [c])
        assert result.state == "done", result.error
        assert runner.pool.loaded("b") is None and not alive(pid["b"])
        assert runner.pool.loaded("a")._proc.pid == pid["a"] and alive(pid["a"])
        assert list(runner.pool.residents.held) == ["a", "c"]
    finally:
        await runner.pool.close()
        await probe.pool.close()


@pytest.mark.slow
def test_cli_prints_the_plan_on_stderr(bundled, model_cache, tmp_path):
    probe = Runner()
    specs = [bundled.model("smollm2"), bundled.model("gemma3")]
    small, large = sorted(need(probe, spec) for spec in specs)
    (tmp_path / "workbench.toml").write_text(
        f'[defaults]\nmemory = "{(large + small // 2) // 10**6}MB"\n'
    )
    env = dict(
        os.environ,
        WORKBENCH_CACHE=str(model_cache),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        COLUMNS="160",
    )
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "workbench", "run", "--json", "--completion", "The sky is"),
            *("-m", "smollm2", "-m", "gemma3", "--max-tokens", "2"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 models need ≈" in proc.stderr and "1 at a time" in proc.stderr
    assert "models need" not in proc.stdout  # the JSON on stdout stays clean
