"""The admission rules alone: grouping, the notice, least-recently-used unloading, turns."""

from __future__ import annotations

import asyncio

import pytest

from workbench.core.admission import Admission, NotEnoughMemory, Residents, plan_groups, plan_notice
from workbench.models.request import Request

GB = 10**9


def test_models_that_fit_together_make_one_group():
    assert plan_groups({"a": 2 * GB, "b": 3 * GB}, 6 * GB) == ([["a", "b"]], [])


def test_groups_that_fit_keep_the_users_order():
    needs = {"a": 8 * GB, "b": 8 * GB, "c": 8 * GB, "d": 7 * GB}
    groups, too_big = plan_groups(needs, 22 * GB)
    assert groups == [["a", "b"], ["c", "d"]]
    assert too_big == []


def test_first_fit_fills_an_earlier_group_with_room():
    groups, _ = plan_groups({"big": 5 * GB, "big2": 5 * GB, "small": 1 * GB}, 6 * GB)
    assert groups == [["big", "small"], ["big2"]]


def test_a_model_too_big_alone_is_set_apart():
    groups, too_big = plan_groups({"a": 1 * GB, "huge": 40 * GB, "b": 2 * GB}, 4 * GB)
    assert groups == [["a", "b"]]
    assert too_big == ["huge"]


def test_a_model_exactly_the_budget_fits():
    assert plan_groups({"a": 4 * GB}, 4 * GB) == ([["a"]], [])


def test_nothing_to_plan():
    assert plan_groups({}, 4 * GB) == ([], [])


def test_notice_says_how_many_at_a_time():
    needs = {"a": 8 * GB, "b": 8 * GB, "c": 8 * GB, "d": 7 * GB}
    groups, _ = plan_groups(needs, 22 * GB)
    text = plan_notice(needs, 22 * GB, groups, capped=False)
    assert text.startswith("4 models need ≈ 31 GB, 22 GB free: 2 at a time (a, b | c, d)")
    uneven = {"a": 5 * GB, "b": 5 * GB, "c": 1 * GB}
    groups, _ = plan_groups(uneven, 6 * GB)
    text = plan_notice(uneven, 6 * GB, groups, capped=True)
    assert "allowed by [defaults] memory: in 2 groups (a, c | b)" in text


def test_residents_are_least_recently_used_first():
    residents = Residents()
    for name in ("a", "b", "c"):
        residents.use(name, 1)
    residents.use("a", 1)
    assert list(residents.held) == ["b", "c", "a"]
    assert residents.total(exclude={"c"}) == 2


async def test_groups_take_turns_and_unload_least_recently_used_first():
    residents = Residents()
    for name, need in (("old", 3), ("older_used_again", 3)):
        residents.use(name, need)
    residents.use("old", 3)  # now "older_used_again" is the least recently used
    unloaded: list[str] = []

    async def unload(name: str) -> None:
        unloaded.append(name)

    needs = {"a": 4, "b": 4}
    admission = Admission([["a"], ["b"]], needs, 8, residents, unload)
    await admission.enter("a")  # needs 4: 6 resident + 4 > 8, one must go
    assert unloaded == ["older_used_again"]
    admission.loaded("a")
    waiting = asyncio.create_task(admission.enter("b"))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # b's group waits for a's to end
    await admission.leave("a")
    await asyncio.wait_for(waiting, 1)
    # b needs 4: "old" (3) and "a" (4) are resident; the least recently used goes first.
    assert unloaded == ["older_used_again", "old"]
    assert list(residents.held) == ["a"]


async def test_a_cancelled_group_does_not_block_the_next():
    async def unload(name: str) -> None:
        pass

    admission = Admission([["a"], ["b"], ["c"]], {"a": 1, "b": 1, "c": 1}, 1, Residents(), unload)
    await admission.leave("b")  # b was cancelled while it waited
    await admission.enter("a")
    third = asyncio.create_task(admission.enter("c"))
    await asyncio.sleep(0.01)
    assert not third.done()
    await admission.leave("a")
    await asyncio.wait_for(third, 1)


async def test_a_model_too_big_alone_fails_on_entry():
    async def unload(name: str) -> None:
        raise AssertionError("nothing is unloaded for a model that cannot fit")

    error = NotEnoughMemory("huge needs more")
    admission = Admission([], {}, 1, Residents(), unload, errors={"huge": error})
    with pytest.raises(NotEnoughMemory):
        await admission.enter("huge")
    await admission.enter("server")  # not planned: never waits


async def test_a_cancel_while_the_run_plans_its_memory_is_kept(scripted, monkeypatch):
    from workbench.core import runner as runner_module
    from workbench.core.runner import Runner

    planning = asyncio.Event()
    real_plan = runner_module.plan_memory

    async def slow_plan(pool, specs, cap):
        planning.set()
        await asyncio.sleep(0.2)  # a first GGUF header read on a busy machine
        return await real_plan(pool, specs, cap)

    monkeypatch.setattr(runner_module, "plan_memory", slow_plan)
    runner = Runner(cores=2)
    specs = [scripted.spec("a"), scripted.spec("b")]
    run = asyncio.create_task(runner.run(specs, Request.chat("hi")))
    await planning.wait()
    await runner.cancel()
    results = await asyncio.wait_for(run, 5)
    assert [r.state for r in results] == ["cancelled", "cancelled"]
    # The next run is not cancelled by it.
    results = await asyncio.wait_for(runner.run(specs, Request.chat("hi")), 5)
    assert [r.state for r in results] == ["done", "done"]
