"""One comparison end to end: a session opened, the runner run, the file kept current.

The CLI and the TUI both call ``run_comparison``; neither saves by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.core.events import Event
from workbench.core.metrics import figures
from workbench.core.runner import Listener, Runner, new_run
from workbench.errors import SessionError
from workbench.models.config import ModelSpec
from workbench.models.request import Message, Request, Sampling
from workbench.store.diff import diff_lines
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session, SessionStore


def open_session(
    store: SessionStore,
    specs: Sequence[ModelSpec],
    requests: dict[str, Request] | Request,
    *,
    schedule: str,
    parent: Session | None = None,
    rerun_of: str | None = None,
) -> SessionRecorder:
    """Create the session (saved at once) with one queued run per model; a
    ``SessionError`` when it cannot be saved."""
    first = requests if isinstance(requests, Request) else requests[specs[0].name]
    runs = [
        new_run(spec, requests if isinstance(requests, Request) else requests[spec.name])
        for spec in specs
    ]
    session = Session.start(first, schedule=schedule, runs=runs, parent=parent, rerun_of=rerun_of)
    try:
        return SessionRecorder(store, session)
    except OSError as exc:  # before any model runs: a folder the user cannot write
        raise SessionError(
            f"Cannot write sessions in {store.root}: {exc.strerror or exc}. Choose a folder "
            "you can write with --sessions DIR (or sessions_dir in workbench.toml).",
            title="Cannot save the session",
        ) from None


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
        # Written off the event loop, fsynced; the run returns once it is on disk.
        await recorder.save_async(complete=True)
    return recorder


def rerun_requests(session: Session, names: Sequence[str]) -> dict[str, Request]:
    """The request each model gets: what the saved run was sent (its whole conversation on
    a follow-up turn) with the settings it used (the seed included), so a greedy or seeded
    local run gives the same text again; a model new to it gets the first run's prompt
    and the session's asked-for settings."""
    requests = {}
    for name in names:
        run = next((r for r in session.runs if r.model == name), None)
        sampling = _sampling_of(run.sampling if run and run.sampling else session.sampling)
        run = run or (session.runs[0] if session.runs else None)
        if session.mode == "completion":
            prompt = run.prompt if run is not None and run.prompt else session.prompt
            requests[name] = Request.completion(prompt, sampling=sampling)
        elif run is not None and run.conversation:
            messages = tuple(Message(m["role"], m["content"]) for m in run.conversation)  # type: ignore[arg-type]
            requests[name] = Request(mode="chat", messages=messages, sampling=sampling)
        else:
            requests[name] = Request.chat(session.prompt, system=session.system, sampling=sampling)
    return requests


def _sampling_of(values: dict[str, Any]) -> Sampling:
    """A saved settings table as ``Sampling`` (a field this version lacks is left out)."""
    known = set(Sampling.__dataclass_fields__)
    return Sampling(**{k: v for k, v in values.items() if k in known})


def compare_runs(old: Session, new: Session) -> list[dict[str, Any]]:
    """Per model present in both: how similar the texts are and how the figures moved."""
    changes = []
    old_runs = {run.model: run for run in old.runs}
    for run in new.runs:
        before = old_runs.get(run.model)
        if before is None:
            continue
        a, b = figures(before), figures(run)
        changes.append(
            {
                "model": run.model,
                "similarity": diff_lines(before.text, run.text).similarity,
                "ttft_s": [a.ttft_s, b.ttft_s],
                "gen_tokens_per_s": [a.gen_tokens_per_s, b.gen_tokens_per_s],
                "output_tokens": [a.output_tokens, b.output_tokens],
            }
        )
    return changes
