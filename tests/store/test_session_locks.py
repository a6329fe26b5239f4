"""Session locks: exclusive across processes, and no lock file left in the store."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from without_posix import BLOCKER

from workbench.core.record import ModelRun
from workbench.models.request import Request, Sampling
from workbench.store.locks import lock_path, session_lock
from workbench.store.sessions import Session, SessionStore
from workbench.store.votes import add_score

ROOT = Path(__file__).resolve().parents[2]


def saved_session(store: SessionStore) -> Session:
    request = Request.chat("hi", sampling=Sampling(max_tokens=4))
    session = Session.start(request, schedule="parallel", runs=[ModelRun(model="m", text="hi")])
    store.save(session)
    return session


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".lock"))


def test_rating_and_deleting_leave_no_lock_file(tmp_sessions: SessionStore):
    session = saved_session(tmp_sessions)
    for score in (3, 4, 5):
        add_score(tmp_sessions, session.id, "m", score)
    assert len(tmp_sessions.load(session.id).ratings["scores"]) == 3
    assert hidden_files(tmp_sessions.root) == []
    tmp_sessions.delete(session.id)
    assert hidden_files(tmp_sessions.root) == []


def _add_scores(root: str, session_id: str, count: int, start: multiprocessing.Event) -> None:
    store = SessionStore(Path(root))
    start.wait()
    for _ in range(count):
        add_score(store, session_id, "m", 4)


def test_two_processes_rating_at_once_lose_no_score(tmp_sessions: SessionStore):
    """Each process adds 25 scores under the lock; a lost update would show as fewer."""
    session = saved_session(tmp_sessions)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_add_scores, args=(str(tmp_sessions.root), session.id, 25, start))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(tmp_sessions.load(session.id).ratings["scores"]) == 50
    assert hidden_files(tmp_sessions.root) == []


def test_a_waiter_gets_the_lock_after_its_file_was_removed(tmp_path: Path):
    """The holder removes the file before letting go: the waiter, blocked on the removed
    file, must notice and lock the path's new file, never hold a stale one beside a
    newer holder."""
    inside = 0
    most = 0
    guard = threading.Lock()

    def hold(pause: float) -> None:
        nonlocal inside, most
        with session_lock(tmp_path, "s1"):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(pause)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=hold, args=(0.01,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert not lock_path(tmp_path, "s1").exists()


def test_every_module_imports_without_posix_only_modules(tmp_path: Path):
    """No fcntl, termios, resource, pwd or grp, no POSIX-only signal or os name at
    import time (the package imports on Windows); the session store lists without them."""
    script = BLOCKER + textwrap.dedent(
        f"""
        import importlib, pkgutil
        import workbench
        names = [m.name for m in pkgutil.walk_packages(workbench.__path__, "workbench.")]
        names = [n for n in names if "__main__" not in n]
        for name in names:
            importlib.import_module(name)
        from workbench.store.sessions import SessionStore
        from workbench.checks.sandbox import isolation_report
        store = SessionStore(__import__("pathlib").Path({str(tmp_path)!r}))
        print(len(names), "modules;", store.list())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "modules; ([], [])" in done.stdout


def test_the_blocker_really_blocks_fcntl():
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import fcntl"], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "simulated Windows" in done.stderr


def test_lock_files_are_private_to_the_user(tmp_path: Path):
    with session_lock(tmp_path, "s2"):
        mode = os.stat(lock_path(tmp_path, "s2")).st_mode & 0o777
    assert mode & 0o077 == 0


def test_listing_sweeps_lock_files_left_by_earlier_versions_but_not_a_held_one(
    tmp_sessions: SessionStore,
):
    first, second = saved_session(tmp_sessions), saved_session(tmp_sessions)
    for session in (first, second):
        lock_path(tmp_sessions.root, session.id).write_text("")  # as earlier versions left them
    with session_lock(tmp_sessions.root, second.id):
        summaries, errors = tmp_sessions.list()
        assert hidden_files(tmp_sessions.root) == [f".{second.id}.lock"]  # held: kept
    assert len(summaries) == 2 and errors == []
    assert hidden_files(tmp_sessions.root) == []  # its holder removed it
