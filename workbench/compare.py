"""One comparison end to end: a session opened, the runner run, the file kept current.

The CLI and the TUI both call ``run_comparison``; neither saves by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.config import ModelSpec
from workbench.events import Event
from workbench.request import Request
from workbench.runner import Listener, Runner, new_run
from workbench.sessions import Session, SessionRecorder, SessionStore


def open_session(
    store: SessionStore,
    specs: Sequence[ModelSpec],
    requests: dict[str, Request] | Request,
    *,
    schedule: str,
    parent: Session | None = None,
    rerun_of: str | None = None,
) -> SessionRecorder:
    """Create the session (saved at once) with one queued run per model."""
    first = requests if isinstance(requests, Request) else requests[specs[0].name]
    runs = [
        new_run(spec, requests if isinstance(requests, Request) else requests[spec.name])
        for spec in specs
    ]
    session = Session.start(first, schedule=schedule, runs=runs, parent=parent, rerun_of=rerun_of)
    return SessionRecorder(store, session)


async def run_comparison(
    runner: Runner,
    store: SessionStore,
    specs: Sequence[ModelSpec],
    requests: dict[str, Request] | Request,
    *,
    schedule: str = "parallel",
    listener: Listener | None = None,
    parent: Session | None = None,
    rerun_of: str | None = None,
    recorder: SessionRecorder | None = None,
) -> SessionRecorder:
    """Run ``requests`` on ``specs``, saving the session as it goes; return its recorder.

    Pass a ``recorder`` from ``open_session`` to know the session's path before
    the run starts (the TUI shows it at once).
    """
    recorder = recorder or open_session(
        store, specs, requests, schedule=schedule, parent=parent, rerun_of=rerun_of
    )
    runs = {run.model: run for run in recorder.session.runs}

    def both(event: Event) -> None:
        recorder(event)
        if listener is not None:
            listener(event)

    try:
        await runner.run(specs, requests, schedule, runs=runs, listener=both)
    finally:
        recorder.save(complete=True)
    return recorder
