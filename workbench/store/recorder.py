"""The recorder: a session kept on disk while its run goes on.

It listens to the runner's events, saves the session at once, about once a second
while text streams and when a model ends, on a thread of its own, so a crash loses
at most a second and the event loop never waits for the disk.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.events import Cancelled, Event, Failed, Finished
from workbench.errors import SessionError, UsageError
from workbench.store.sessions import Session, SessionStore, atomic_write, encode_session

#: Steps in which a streaming session's new chunks are encoded ahead of its next save.
ENCODE_STEPS = 10


@dataclass
class _Snapshot:
    """A session as it was at one moment, copied so that a thread can encode and write it
    while the event loop goes on changing the session."""

    sequence: int
    data: dict[str, Any]
    rows: list[list[str]]
    #: When it was taken (``time.monotonic()``): the moment the file describes.
    taken: float


class SessionRecorder:
    """Listens to the runner and keeps the session file up to date.

    Saves at once when created, at most about once a second while text
    streams, and whenever a model ends, so a crash loses at most a second.

    The saves while it streams are written by a thread of the recorder's own: the
    event loop only takes a snapshot (the session's data without timelines, and the
    timelines' rows encoded ahead); the file lock, the encoding, the write and its
    two fsyncs happen off the loop, where they held a key press for milliseconds on
    a busy disk. A newer snapshot replaces one still waiting, so a slow disk falls
    behind by one save at most, never a queue. :meth:`save` writes in the caller's
    thread and returns once the file is on disk (fsynced); :meth:`save_async` does
    the same for a coroutine without blocking the loop (the final save).
    """

    def __init__(
        self,
        store: SessionStore,
        session: Session,
        interval: float = 1.0,
        *,
        background: bool = True,
    ) -> None:
        self.store = store
        self.session = session
        self.interval = interval
        #: Write the saves while streaming in a thread; False writes them on the caller's
        #: thread (the event loop), as before: the benchmark's baseline.
        self.background = background
        self.path = store.path_for(session.id)
        self.save_error: str | None = None
        #: One write at a time; it guards everything below it.
        self._write_lock = threading.Lock()
        #: The file as this recorder last wrote it (mtime_ns, size): unchanged means
        #: nobody added ratings since, so there is nothing to merge.
        self._written: tuple[int, int] | None = None
        self._written_sequence = 0
        #: Ratings another window added to the file while this one recorded, by kind and id.
        self._from_disk: dict[str, dict[Any, dict[str, Any]]] = {"scores": {}, "votes": {}}
        #: The same ratings, waiting to join ``session.ratings`` on the loop's side.
        self._adopt: list[tuple[str, dict[str, Any]]] = []
        self._adopt_lock = threading.Lock()
        #: The writer thread's state: the snapshot it will write next, and whether it runs.
        self._wake = threading.Condition()
        self._waiting: _Snapshot | None = None
        self._writing = False
        self._sequence = 0
        self._write(self._snapshot())  # at once, and an OSError goes to the caller
        self._last_save = self._last_encode = time.monotonic()

    def __call__(self, event: Event) -> None:
        # A model that ended is saved at once; streaming text about once a second.
        ended = isinstance(event, Finished | Failed | Cancelled)
        now = time.monotonic()
        if ended or now - self._last_save >= self.interval:
            if self.background:
                self._hand_over(self._snapshot())
                self._last_save = self._last_encode = now
            else:
                self.save()
        elif not self.session.complete and now - self._last_encode >= self.interval / ENCODE_STEPS:
            # Four fast models stream thousands of chunks a second: encoded all at the
            # save, they held the event loop (and a key press) for 10 ms and more.
            self.store.encode_ahead(self.session)
            self._last_encode = now

    def save(self, *, complete: bool | None = None) -> None:
        """Write the session now and return once it is on disk; compact while it streams,
        indented once it is complete. A failure is kept in ``save_error``."""
        self._write_reporting(self._take_over(complete))
        self._last_save = self._last_encode = time.monotonic()

    async def save_async(self, *, complete: bool | None = None) -> None:
        """:meth:`save` from a coroutine: the snapshot on the loop, the write in a thread.

        Shielded: a cancel while it writes stops the wait, not the write.
        """
        snapshot = self._take_over(complete)
        await asyncio.shield(asyncio.to_thread(self._write_reporting, snapshot))
        self._last_save = self._last_encode = time.monotonic()

    def wait_written(self, timeout: float | None = None) -> bool:
        """Wait until the writer thread has written what it was handed (tests, shutdown)."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._writing, timeout)

    # -- the loop's side ----------------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        """The session as it is now, safe to write from another thread."""
        with self._adopt_lock:
            adopt, self._adopt = self._adopt, []
        for kind, item in adopt:
            mine = self.session.ratings.setdefault(kind, [])
            if all(m.get("id") != item.get("id") for m in mine):
                mine.append(item)
        rows = [list(run_rows) for run_rows in self.store.encode_ahead(self.session)]
        data = copy.deepcopy(self.session.to_dict(chunks=False))
        self._sequence += 1
        return _Snapshot(self._sequence, data, rows, time.monotonic())

    def _take_over(self, complete: bool | None) -> _Snapshot:
        """A snapshot to write now; one waiting for the thread is older, so it is dropped."""
        if complete is not None:
            self.session.complete = complete
        snapshot = self._snapshot()
        with self._wake:
            self._waiting = None
        return snapshot

    def _hand_over(self, snapshot: _Snapshot) -> None:
        """Give the writer thread the newest snapshot, starting it when it is idle."""
        with self._wake:
            self._waiting = snapshot
            if not self._writing:
                self._writing = True
                name = f"save {self.session.id}"
                threading.Thread(target=self._writer, name=name, daemon=True).start()

    # -- the writer's side --------------------------------------------------------------------

    def _writer(self) -> None:
        """Write snapshots until none waits, then end (the next save starts a new thread)."""
        while True:
            with self._wake:
                snapshot, self._waiting = self._waiting, None
                if snapshot is None:
                    self._writing = False
                    self._wake.notify_all()
                    return
            self._write_reporting(snapshot)

    def _write_reporting(self, snapshot: _Snapshot) -> None:
        try:
            self._write(snapshot)
            self.save_error = None
        except OSError as exc:
            # The previous file is intact (atomic write); tell the user, keep running.
            self.save_error = f"Could not save session {self.session.id}: {exc}"

    def _write(self, snapshot: _Snapshot) -> None:
        """Merge other windows' ratings, encode and write ``snapshot`` atomically (fsynced),
        unless a newer snapshot is on disk already."""
        with self._write_lock:
            if snapshot.sequence < self._written_sequence:
                return
            with self.store.locked(self.session.id):
                if _file_mark(self.path) != self._written:
                    self._read_ratings_from_disk()
                self._add_ratings_from_disk(snapshot.data)
                data = snapshot.data
                payload = encode_session(data, compact=not data["complete"], rows=snapshot.rows)
                atomic_write(self.path, payload)
                self._written = _file_mark(self.path)
            self._written_sequence = snapshot.sequence

    def _read_ratings_from_disk(self) -> None:
        """Keep ratings another window added while this run was still streaming."""
        try:
            on_disk = self.store.load(self.session.id)
        except (SessionError, UsageError):
            return
        for kind, known in self._from_disk.items():
            for item in on_disk.ratings.get(kind, []):
                if item.get("id") not in known:
                    known[item.get("id")] = item
                    with self._adopt_lock:
                        self._adopt.append((kind, item))

    def _add_ratings_from_disk(self, data: dict[str, Any]) -> None:
        ratings = data.setdefault("ratings", {})
        for kind, known in self._from_disk.items():
            mine = ratings.setdefault(kind, [])
            ids = {item.get("id") for item in mine}
            mine.extend(copy.deepcopy(item) for key, item in known.items() if key not in ids)


def _file_mark(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
