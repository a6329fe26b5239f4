"""Saving under faults: a writer killed at random points, a full disk, failing fsync or
rename, and another instance rating the session while it is still being recorded.

Promises: every file loads; nothing acknowledged (a save that returned) is lost;
a failed save leaves the previous file intact and the recorder says so.
"""

from __future__ import annotations

import collections
import errno
import multiprocessing
import os
import random
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from reliability_helpers import current_test, figure

from workbench.core.events import Delta
from workbench.core.record import ModelRun
from workbench.core.runner import Runner
from workbench.models.request import Request, Sampling
from workbench.store import sessions as sessions_module
from workbench.store.comparison import open_session, run_comparison
from workbench.store.recorder import SessionRecorder
from workbench.store.sessions import Session, SessionStore, parse_session
from workbench.store.votes import add_vote

KILLS = 1000
FILES = 3
SEED = 1234


def small_session(index: int) -> Session:
    session = Session.start(
        Request.chat(f"prompt {index}", sampling=Sampling(max_tokens=8)),
        schedule="parallel",
        runs=[ModelRun("alpha", state="streaming"), ModelRun("beta", state="streaming")],
    )
    session.id = f"20260808-000000-{index:06x}"
    return session


def _writer(recorders: list[SessionRecorder], ack_fd: int, seed: int, first: int) -> None:
    """The child: saves the sessions round-robin, forever, acknowledging each save on a pipe.

    A save is acknowledged once ``SessionRecorder.save`` has returned without an
    error, which is when workbench would tell anyone it is saved.
    """
    rng = random.Random(seed)
    sequence = first  # above any earlier child's, acknowledged or not
    os.write(ack_fd, b"ready\n")
    while True:
        sequence += 1
        recorder = recorders[sequence % len(recorders)]
        session = recorder.session
        session.tags = [f"seq-{sequence}"]
        session.runs[0].text = f"seq {sequence} " + "é" * rng.randrange(0, 6000)
        session.runs[0].chunks = [(0.01 * n, "x") for n in range(rng.randrange(0, 50))]
        started = time.monotonic()
        recorder.save()
        if recorder.save_error is None:
            took = time.monotonic() - started
            os.write(ack_fd, f"{session.id} {sequence} {took:.6f}\n".encode())


def _sequence_on_disk(path: Path) -> int:
    session = parse_session(path.read_bytes(), path.name)
    return int(session.tags[0].removeprefix("seq-")) if session.tags else 0


def test_writer_killed_at_random_points_a_thousand_times(tmp_path: Path):
    root = tmp_path / "sessions"
    store = SessionStore(root)
    recorders = [SessionRecorder(store, small_session(i), interval=0) for i in range(FILES)]
    # Kills are drawn over the time of a few saves on this disk, so they land anywhere
    # in a save: serialising, writing, fsync, rename, the folder's fsync, or between.
    timings = []
    for recorder in recorders * 5:
        save_started = time.monotonic()
        recorder.save()
        timings.append(time.monotonic() - save_started)
    # The disk's speed changes as other programs use it: the kill delays follow the
    # save times the children report.
    recent = collections.deque(timings, maxlen=50)
    rng = random.Random(SEED)
    acknowledged: dict[str, int] = {}
    acks_total = 0
    unacked_newer = 0
    started = time.monotonic()
    for kill in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write until killed, never return into pytest
            try:
                os.close(read_fd)
                _writer(recorders, write_fd, SEED + kill, kill * 1_000_000)
            finally:
                os._exit(1)
        os.close(write_fd)
        pipe = os.fdopen(read_fd, "rb")
        assert pipe.readline() == b"ready\n"
        # The kill comes after the child's first acknowledged save, however slow the
        # machine: every kill then falls among saves (in a later one, or between two),
        # never before the first, without counting on timing.
        first_ack = pipe.readline()
        save_s = sorted(recent)[len(recent) // 2]
        time.sleep(rng.uniform(0.0, 2 * save_s))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        with pipe:
            for ack in [first_ack.decode(), *pipe.read().decode().splitlines()]:
                session_id, sequence, took = ack.split()
                recent.append(float(took))
                acknowledged[session_id] = int(sequence)
                acks_total += 1
        # Every file loads, and holds at least the last save that was acknowledged.
        newer = False
        for session_id, sequence in acknowledged.items():
            on_disk = _sequence_on_disk(store.path_for(session_id))
            assert on_disk >= sequence, (kill, session_id, on_disk, sequence)
            newer |= on_disk > sequence and on_disk >= kill * 1_000_000
        unacked_newer += newer  # this child died between a save's rename and its ack
    elapsed = time.monotonic() - started

    leftovers = sorted(p for p in root.iterdir() if p.name.endswith(".tmp"))
    # Listing sweeps the temporaries of dead writers once they are old (an hour), and
    # leaves a young one alone: it may belong to a save going on right now.
    young = leftovers[0] if leftovers else None
    for path in leftovers[1:]:
        os.utime(path, (time.time() - 2 * 3600,) * 2)
    summaries, errors = store.list()
    assert errors == []
    assert len(summaries) == FILES
    assert sorted(p for p in root.iterdir() if p.name.endswith(".tmp")) == (
        [young] if young else []
    )
    # What must hold is checked after every kill above: each file loads and holds its last
    # acknowledged save. How many saves a child made before its kill is the machine's
    # speed, not a promise; each made at least one (the kill waited for it).
    assert acks_total >= KILLS
    figure(
        current_test(),
        f"{KILLS} kills in {elapsed:.1f} s (a save took {save_s * 1000:.1f} ms at the end), "
        f"{acks_total} saves acknowledged; every file "
        f"loaded every time and held its last acknowledged save ({unacked_newer} kills fell "
        f"between a save's rename and its ack); {len(leftovers)} temporary files left "
        "by killed writers (hidden; swept by the store once an hour old)",
    )


# --- a full disk, a failing fsync or rename ---------------------------------------------------

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class Fault:
    """Makes one call of the save path fail with ENOSPC while ``on`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
        self.on = False
        self.failures = 0
        self.where = where
        targets = {
            "fsync": (sessions_module.os, "fsync"),
            "rename": (sessions_module.os, "replace"),
            "create": (tempfile, "mkstemp"),
            "write": (sessions_module.os, "fdopen"),
        }
        owner, name = targets[where]
        real = getattr(owner, name)

        def faulty(*args, **kwargs):
            if not self.on:
                return real(*args, **kwargs)
            self.failures += 1
            if where == "write":  # the file opens; writing it runs out of space
                return _FullFile(real(*args, **kwargs))
            raise OSError(ENOSPC.errno, ENOSPC.strerror)

        monkeypatch.setattr(owner, name, faulty)


class _FullFile:
    """A file whose writes fail as on a full disk (and which still closes)."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()

    def write(self, data) -> int:
        raise OSError(ENOSPC.errno, ENOSPC.strerror)

    def __getattr__(self, name):
        return getattr(self._handle, name)


@pytest.mark.parametrize("where", ["create", "write", "fsync", "rename"])
async def test_full_disk_keeps_the_previous_file_and_tells_the_user(
    scripted, tmp_sessions, monkeypatch, where
):
    text = " ".join(f"w{n}" for n in range(60))
    specs = [scripted.spec("a", text=text, delay=0.003), scripted.spec("b", text=text, delay=0.004)]
    request = Request.chat("go")
    recorder = open_session(tmp_sessions, specs, request, schedule="parallel")
    recorder.interval = 0.02
    fault = Fault(monkeypatch, where)
    errors_seen: list[str] = []
    snapshots: list[bytes] = []

    def listener(event) -> None:
        if recorder.save_error:
            errors_seen.append(recorder.save_error)
        if isinstance(event, Delta) and not fault.on and len(event.text) and snapshots == []:
            # The disk fills up once something streamed: keep what is on disk now.
            recorder.save()
            snapshots.append(recorder.path.read_bytes())
            fault.on = True

    await run_comparison(
        Runner(), tmp_sessions, specs, request, recorder=recorder, listener=listener
    )
    # The run went on to the end in memory; every save since the disk filled failed.
    assert [run.state for run in recorder.session.runs] == ["done", "done"]
    assert fault.failures >= 3
    # The user is told, with the reason and the session.
    assert recorder.save_error is not None
    assert "No space left on device" in recorder.save_error
    assert recorder.session.id in recorder.save_error
    assert errors_seen and all("No space left" in e for e in errors_seen)
    # The previous file is intact: byte for byte what was saved before the disk filled.
    assert recorder.path.read_bytes() == snapshots[0]
    before = tmp_sessions.load(recorder.path)
    assert not before.complete
    # No temporary file is left behind.
    assert sorted(p.name for p in tmp_sessions.root.iterdir() if not p.name.endswith(".lock")) == [
        recorder.path.name
    ]
    # Space again: the next save writes everything, and the error is cleared.
    fault.on = False
    recorder.save(complete=True)
    assert recorder.save_error is None
    after = tmp_sessions.load(recorder.path)
    assert after.complete and [r.text for r in after.runs] == [text, text]
    figure(
        current_test(),
        f"{where} failing: {fault.failures} saves failed, previous file intact "
        f"({len(snapshots[0])} B), user told: {recorder.save_error or errors_seen[-1]!r:.80}",
    )


# --- another instance rates the session while it is being recorded ------------------------

VOTES = 40


def _vote_loop(root: str, session_id: str, count: int) -> None:
    store = SessionStore(Path(root))
    for n in range(count):
        add_vote(store, session_id, "a", "b", ("a", "b", "tie", "bad")[n % 4])


async def test_votes_from_another_instance_survive_a_recording_run(scripted, tmp_sessions):
    """A second window votes on a session while the first is still streaming and saving
    it every few milliseconds: the recorder merges them, and no vote is lost."""
    text = " ".join(f"w{n}" for n in range(400))
    specs = [scripted.spec("a", text=text, delay=0.004), scripted.spec("b", text=text)]
    request = Request.chat("go")
    recorder = open_session(tmp_sessions, specs, request, schedule="parallel")
    recorder.interval = 0.0  # save at every event: the most chances to lose a vote
    context = multiprocessing.get_context("spawn")
    voter = context.Process(
        target=_vote_loop, args=(str(tmp_sessions.root), recorder.session.id, VOTES)
    )
    saves = Counter()
    real_save = recorder.save

    def counting_save(**kwargs) -> None:
        saves["saves"] += 1
        real_save(**kwargs)

    recorder.save = counting_save  # type: ignore[method-assign]
    voter.start()
    started = time.monotonic()
    await run_comparison(Runner(), tmp_sessions, specs, request, recorder=recorder)
    # Keep recording (as a long run would) until the other window is done voting.
    while voter.is_alive() and time.monotonic() - started < 60:
        recorder.save()
        time.sleep(0.002)
    voter.join(timeout=60)
    assert voter.exitcode == 0
    recorder.save(complete=True)
    saved = tmp_sessions.load(recorder.path)
    votes = saved.ratings["votes"]
    assert len(votes) == VOTES
    assert len({v["id"] for v in votes}) == VOTES
    assert Counter(v["outcome"] for v in votes) == {"a": 10, "b": 10, "tie": 10, "bad": 10}
    assert [r.text for r in saved.runs] == [text, text]
    figure(
        current_test(),
        f"{VOTES}/{VOTES} votes kept while the recorder saved {saves['saves']} times "
        f"({time.monotonic() - started:.1f} s)",
    )
