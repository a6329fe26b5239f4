"""The app shows the runner's memory plan as a notification, and the groups run in turn.

The plan is fixed here (scripted models have no GGUF to estimate); the rules
themselves are tested with the real models in tests/core/test_memory_groups.py.
"""

from __future__ import annotations

from ui_helpers import SIZE, compare_screen, finished, send, wait_for

from workbench.core import runner as runner_module
from workbench.core.admission import Admission

PLAN = "2 models need ≈ 31 GB, 22 GB free: 1 at a time (alpha | beta), unloading between groups."


async def test_the_memory_plan_is_a_notification(make_app, monkeypatch):
    order: list[str] = []

    async def plan(pool, specs, cap):
        admission = Admission(
            [["alpha"], ["beta"]], {"alpha": 1, "beta": 1}, 1, pool.residents, pool.unload
        )
        enter = admission.enter

        async def entering(name: str) -> None:
            await enter(name)
            order.append(name)

        admission.enter = entering
        return admission, PLAN

    monkeypatch.setattr(runner_module, "plan_memory", plan)
    app = make_app("alpha", "beta")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_for(pilot, lambda: finished(app))
        screen = compare_screen(app)
        assert screen.panes["alpha"].state == "done"
        assert screen.panes["beta"].state == "done"
        notes = [n for n in app._notifications if n.message == PLAN]
        assert len(notes) == 1 and notes[0].title == "Memory"
        assert order == ["alpha", "beta"]
        # beta's group made room: alpha (the least recently used) was unloaded.
        assert app.runner.pool.loaded("alpha") is None
