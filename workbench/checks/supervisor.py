"""The sandbox's parent side: start the bootstrap, collect its output, kill leftovers.

``supervise(spec, token, timeout, cap)`` starts ``python -I -S`` running
``sandbox_child.bootstrap`` in a session of its own, hands it the spec on stdin,
reads the code's output (the last ``cap`` bytes of each stream) and the status
messages until the code has exited or the timeout passes, then SIGKILLs the
process group and whatever still runs with the sandbox's uid or marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

MARKER = "WORKBENCH_SANDBOX"
#: The sandbox's uid/gid is drawn from here (no distribution hands out uids this high).
UID_RANGE = (1_900_000_000, 2_000_000_000)
#: After the code exits, output still in the pipes is read for at most this long.
_DRAIN_S = 0.5
#: How long the cleanup keeps looking for leftovers.
_CLEANUP_S = 3.0


class SandboxError(WorkbenchError):
    """The sandbox itself could not run (never raised for what the code does)."""

    title = "Sandbox"


class Tail:
    """The last ``cap`` bytes of a stream, and how many there were in all."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.cap:  # trim now and then, not on every chunk
            del self.data[: len(self.data) - self.cap]

    def text(self) -> str:
        data = bytes(self.data[-self.cap :]) if self.cap else b""
        return data.decode("utf-8", errors="replace")


@dataclass
class Outcome:
    """What the supervision saw: output, status messages merged, timing, leftovers."""

    out: Tail
    err: Tail
    info: dict[str, Any]
    timed_out: bool
    duration_s: float
    leftovers_killed: int


def supervise(spec: dict[str, Any], token: str, timeout: float, cap: int) -> Outcome:
    status_r, status_w = os.pipe()
    spec["status_fd"] = status_w
    # The bootstrap imports its module from the package's folder (-S: no site-packages).
    package_root = str(Path(__file__).resolve().parents[2])
    bootstrap = (
        f"import sys; sys.path[:0] = [{package_root!r}]; "
        "from workbench.checks.sandbox_child import bootstrap; bootstrap()"
    )
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", bootstrap],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,
            env=spec["env"],
            cwd=spec["workdir"],
        )
    except OSError as exc:
        os.close(status_r)
        os.close(status_w)
        raise SandboxError(f"Cannot start the sandbox: {exc}.") from None
    os.close(status_w)
    try:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(json.dumps(spec).encode())
            proc.stdin.close()
        out, err, messages, timed_out, ended = _collect(proc, status_r, started + timeout, cap)
    finally:
        # The bootstrap is not reaped yet, so its pid (the group's id) cannot be reused.
        killed = _kill_all(proc.pid, spec["uid"], token)
        proc.wait()
        os.close(status_r)
    info: dict[str, Any] = {}
    for message in messages:
        info.update(message)
    duration = (ended or time.monotonic()) - started
    return Outcome(out, err, info, timed_out, duration, killed)


def _collect(proc: subprocess.Popen, status_r: int, deadline: float, cap: int):
    """Read output and status messages until all pipes close, the code has exited and
    its output drained, or the deadline passes."""
    out, err, status = Tail(cap), Tail(cap), bytearray()
    assert proc.stdout is not None and proc.stderr is not None
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err, status_r: None}
    messages: list[dict[str, Any]] = []
    ended: float | None = None
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            limit = deadline if ended is None else min(deadline, ended + _DRAIN_S)
            if now >= limit:
                timed_out = ended is None
                break
            for key, _ in selector.select(limit - now):
                fd = key.fd
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(fd)
                    continue
                sink = sinks[fd]
                if sink is not None:
                    sink.add(chunk)
                    continue
                status += chunk
                while b"\n" in status:
                    line, _, rest = status.partition(b"\n")
                    status[:] = rest
                    message = json.loads(line)
                    messages.append(message)
                    if "exit" in message and ended is None:
                        ended = time.monotonic()
    return out, err, messages, timed_out, ended


def _kill_all(pgid: int, uid: int | None, token: str) -> int:
    """SIGKILL the group, then whatever still runs as the sandbox's uid or with its marker."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    killed: set[int] = set()
    give_up = time.monotonic() + _CLEANUP_S
    while time.monotonic() < give_up:
        found = [(pid, group) for pid, group in _sandbox_pids(pgid, uid, token) if pid != pgid]
        if not found:
            break
        for pid, group in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                if group != pgid:  # it had left the group: the killpg above missed it
                    killed.add(pid)
        time.sleep(0.02)
    return len(killed)


def _sandbox_pids(pgid: int, uid: int | None, token: str) -> list[tuple[int, int]]:
    """(pid, process group) of live (non-zombie) processes of the group, the uid, or
    carrying the marker; none where there is no /proc (macOS: the group kill only)."""
    marker = f"{MARKER}={token}".encode()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            fields = stat.rpartition(")")[2].split()
            if fields[0] in ("Z", "X"):
                continue
            group = int(fields[2])
            ours = group == pgid
            if not ours and uid is not None:
                ours = uid in _uids(name)
            elif not ours:
                ours = marker in Path(f"/proc/{name}/environ").read_bytes()
            if ours:
                found.append((int(name), group))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found


def _uids(pid: str) -> set[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(x) for x in line.split()[1:]}
    return set()


def free_uid() -> int:
    """A uid from ``UID_RANGE`` that no process uses (that none is seen to use, where
    there is no /proc: the range is still one no account has)."""
    used: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        names = []
    for name in names:
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                used |= _uids(name)
    while True:
        uid = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
        if uid not in used:
            return uid
