"""The rules of several samples (workbench.checks.samples), shared by the suite, ``run
--samples`` and the app: settings per sample, sessions and tags, stopping, tallies."""

from __future__ import annotations

import asyncio

import pytest

from workbench.checks.samples import (
    Checker,
    SampleRun,
    Tally,
    pass_rates,
    sample_sampling,
    samples_problem,
    summary_text,
)
from workbench.core.runner import Runner
from workbench.models.request import Request, Sampling
from workbench.store.comparison import open_session, run_comparison

GOOD = "```python\ndef add(a, b):\n    return a + b\n```\n"
TESTS = "assert add(2, 3) == 5\n"


def test_one_sample_is_left_as_asked():
    asked = Sampling(temperature=None, top_p=0.9, seed=None)
    assert sample_sampling(asked, 1, 0) is asked


def test_several_samples_get_their_own_seed_and_a_sampling_temperature():
    settings = [sample_sampling(Sampling(max_tokens=32), 3, i) for i in range(3)]
    assert [s.seed for s in settings] == [1, 2, 3]
    assert {s.temperature for s in settings} == {0.8}
    assert {s.max_tokens for s in settings} == {32}
    asked = Sampling(temperature=0.3, seed=10)
    assert sample_sampling(asked, 4, 2) == Sampling(temperature=0.3, seed=12)


@pytest.mark.parametrize(
    ("samples", "maximum", "problem"),
    [
        (1, 20, None),
        (20, 20, None),
        (0, 20, "samples must be between 1 and 20, not 0."),
        (21, 20, "samples must be between 1 and 20, not 21."),
        (500, None, None),
        (0, None, "samples must be at least 1, not 0."),
    ],
)
def test_samples_problem(samples, maximum, problem):
    assert samples_problem(samples, maximum) == problem


def test_tally_and_its_line():
    tally = Tally()
    for code, passed in [("a = 1", True), ("a  =  1  # same", False), ("b = 2", True)]:
        tally.add(code, {"status": "passed" if passed else "failed", "passed": passed})
    assert (tally.n, tally.c, tally.distinct) == (3, 2, 2)
    assert tally.pass_at(1) == pytest.approx(2 / 3) and tally.pass_at(3) == 1.0
    assert tally.pass_at(4) is None
    summary = tally.summary([1, 3])
    assert summary == {
        "answers": 3,
        "distinct": 2,
        "passed": 2,
        "checked": 3,
        "pass_at": {"1": pytest.approx(2 / 3), "3": 1.0},
    }
    line = summary_text(summary, 3)
    assert line == "passed 2/3 · pass@1 67% · pass@3 100% · 2 distinct of 3 answers"
    unchecked = Tally()
    unchecked.add("x")
    assert summary_text(unchecked.summary([1, 4]), 4) == (
        "1 distinct of 1 answer · stopped: 1 of 4 answered"
    )


def run_samples(sample_run: SampleRun):
    async def go():
        try:
            return await sample_run.run()
        finally:
            await sample_run.runner.pool.close()

    return asyncio.run(go())


def test_one_session_per_sample_tagged_as_a_group_and_checked(scripted, tmp_sessions):
    specs = [scripted.spec("good", text=GOOD), scripted.spec("prose", text="No code.")]

    def requests(index: int) -> Request:
        return Request.chat("Write add", sampling=sample_sampling(Sampling(), 3, index))

    run = SampleRun(
        Runner(),
        tmp_sessions,
        specs,
        requests,
        samples=3,
        schedule="parallel",
        checker=Checker(TESTS, "chat", "Write add"),
    )
    report = run_samples(run)
    assert report.done == 3 and len(report.recorders) == 3
    sessions = [tmp_sessions.load(r.path) for r in report.recorders]
    assert report.group == sessions[0].id
    assert [s.tags for s in sessions] == [
        [f"sample:{i}", f"group:{report.group}"] for i in (1, 2, 3)
    ]
    assert [s.sampling["seed"] for s in sessions] == [1, 2, 3]
    for session in sessions:
        assert [run.model for run in session.runs] == ["good", "prose"]
        assert session.run("good").info["check"]["status"] == "passed"
        assert session.run("prose").info["check"]["status"] == "error"
    good, prose = report.summary("good"), report.summary("prose")
    assert good["passed"] == 3 and good["pass_at"] == {"1": 1.0, "3": 1.0}
    assert good["distinct"] == 1
    assert prose["passed"] == 0 and prose["checked"] == 3
    # A sample starts once every model of the one before it has ended.
    ends, ends_before_start = 0, []
    for event, _ in scripted.activity.log:
        if event == "end":
            ends += 1
        else:
            ends_before_start.append(ends)
    assert [min(ends_before_start[i : i + 2]) for i in (0, 2, 4)] == [0, 2, 4]


def test_a_cancelled_model_gets_no_more_samples(scripted, tmp_sessions):
    specs = [
        scripted.spec("slow", text="tick " * 200, delay=0.01),
        scripted.spec("fast", text=GOOD),
    ]
    runner = Runner()
    run = SampleRun(
        runner,
        tmp_sessions,
        specs,
        lambda i: Request.chat("hi", sampling=sample_sampling(Sampling(), 3, i)),
        samples=3,
        schedule="parallel",
    )

    async def go():
        task = asyncio.create_task(run.run())
        while "slow" not in scripted.activity.running:
            await asyncio.sleep(0.01)
        await runner.cancel("slow")
        try:
            return await task
        finally:
            await runner.pool.close()

    report = asyncio.run(go())
    assert report.done == 3
    models = [[r.model for r in rec.session.runs] for rec in report.recorders]
    assert models == [["slow", "fast"], ["fast"], ["fast"]]
    assert report.summary("slow") == {"model": "slow", "answers": 0, "distinct": 0}
    assert report.summary("fast")["answers"] == 3


def test_stop_ends_the_run_after_the_sample_going_on(scripted, tmp_sessions):
    specs = [scripted.spec("a", text="same answer")]
    run = SampleRun(
        Runner(),
        tmp_sessions,
        specs,
        lambda i: Request.chat("hi"),
        samples=5,
        schedule="sequential",
    )

    class StopAfterTwo:
        async def opened(self, index, recorder):
            if index == 1:
                run.stop()

        def checking(self, *a): ...
        def checked(self, *a): ...
        def finished(self, *a): ...

    async def go():
        try:
            return await run.run(hooks=StopAfterTwo())
        finally:
            await run.runner.pool.close()

    report = asyncio.run(go())
    assert report.done == 2
    assert report.summary("a") == {"model": "a", "answers": 2, "distinct": 1}


def test_pass_rates_count_every_stored_check(scripted, tmp_sessions):
    spec = scripted.spec("m", text=GOOD)

    async def one(check: dict | None) -> None:
        recorder = open_session(tmp_sessions, [spec], Request.chat("x"), schedule="parallel")
        await run_comparison(Runner(), tmp_sessions, [spec], Request.chat("x"), recorder=recorder)
        if check is not None:
            recorder.session.runs[0].info["check"] = check
            recorder.session.tags.append("checked")
        recorder.save()

    asyncio.run(one({"status": "passed", "passed": True}))
    asyncio.run(one({"status": "failed", "passed": False}))
    asyncio.run(one(None))
    assert pass_rates(tmp_sessions) == {"m": (1, 2)}
    assert pass_rates(tmp_sessions, tag="nothing") == {}
