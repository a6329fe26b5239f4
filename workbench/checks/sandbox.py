"""Run generated Python in a child process that cannot do much harm: opt-in, Linux.

Nothing here runs unless a caller asks (``workbench suite`` and answer checks do).
``run_python(code)`` writes ``code`` to ``main.py`` in a fresh folder, runs it with
``python -I`` and returns a ``SandboxResult``: passed, failed (an assertion or a
non-zero exit), error (any other exception), timeout (our wall clock) or killed (a
signal: the CPU limit, a crash), with the tails of its output and the failing line.

How (three processes: a root-owned bootstrap, an init, the code)::

    workbench ── bootstrap (own session and process group, dies with workbench)
                   └─ init  (as root: PID 1 of new PID, network, mount, IPC, UTS namespaces)
                        └─ python -I main.py  (unprivileged uid, rlimits, no_new_privs)

- **Whole group killed**: the bootstrap starts a new session; at the timeout the
  whole process group gets SIGKILL. When init ends (its child exited, or it was
  killed), the kernel kills every process left in its PID namespace, including
  grandchildren that called ``setsid`` to leave the group. Afterwards a ``/proc``
  scan kills anything still running with the sandbox's uid (or, without root,
  carrying its marker variable ``WORKBENCH_SANDBOX`` in its environment).
- **Unprivileged**: as root, the code runs as a fresh uid/gid picked at random from
  a high range no account uses (not ``nobody``: a uid of its own means
  ``RLIMIT_NPROC`` counts only this sandbox's processes, which root's never are,
  and a scan by uid finds exactly its processes). ``PR_SET_NO_NEW_PRIVS`` stops
  setuid programs from giving root back.
- **Limits** (``resource.setrlimit``): address space, CPU seconds, open files,
  processes/threads, file size, no core files; ``nice`` 10.
- **Folders**: as root, a private mount namespace: the working folder is an empty
  size-limited tmpfs; ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` are
  fresh small tmpfs; ``/root`` and ``/home`` are hidden behind empty read-only
  tmpfs (the interpreter is bound back read-only if it lives there); ``/proc``
  shows only the sandbox's processes. Everything it writes vanishes with it;
  elsewhere the dropped uid may write only where any user may.
- **No network**: a new network namespace has only a loopback that is down, so
  even ``127.0.0.1`` is unreachable.
- **Environment**: ``PATH=/usr/local/bin:/usr/bin:/bin``, ``LANG``/``LC_ALL``,
  ``HOME`` and ``TMPDIR`` (the working folder) and the marker; nothing else.
  ``-I`` also makes Python ignore ``PYTHON*`` variables and the user site folder.

Without root (or where namespaces are refused) the sandbox falls back to
``isolation="basic"``: own session, rlimits (``RLIMIT_NPROC`` counted over all the
user's processes), the scrubbed environment, a temporary folder and the marker
scan, but the network is reachable, the code runs as the user, and a grandchild
that leaves the group and clears its environment can outlive the run.

What it does NOT protect against (it is not a VM or a container runtime):

- kernel bugs: the code shares the host kernel, and one exploit is root;
- reading whatever any user may read: world-readable files outside ``/root`` and
  ``/home`` (``/etc``, ``/opt``, project folders, session files if they are
  world-readable) and the interpreter's own ``site-packages``;
- using the CPU and memory the limits allow: each process may take ``memory_mb``
  of address space (``max_processes`` of them at once) and the CPU for up to the
  timeout, so a shared machine feels it; tmpfs contents count towards RAM;
- timing and cache side channels, ``/sys`` information, devices any user may open;
- anything in ``basic`` isolation beyond what is listed for it above.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

STATUSES = ("passed", "failed", "error", "timeout", "killed")
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


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program in the sandbox."""

    status: str
    #: The code's exit status, or minus the signal that ended it; None on a timeout.
    exit_code: int | None
    #: The name of that signal ("SIGXCPU", …), or None.
    signal: str | None
    #: The last ``output_bytes`` of each stream (decoded as UTF-8, errors replaced).
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    duration_s: float
    #: The exception line of the last traceback ("AssertionError: …"), if any.
    error: str | None = None
    #: Where it was raised: "tests.py:3 in check".
    where: str | None = None
    #: The source line there ("assert candidate(2) == 4").
    source_line: str | None = None
    #: "namespaces" or "basic" (see the module docstring).
    isolation: str = "basic"
    uid: int | None = None
    cpu_s: float | None = None
    max_rss_mb: float | None = None
    #: Processes that had left the process group and were found (by uid or marker) and
    #: killed by the cleanup; in the namespaces the kernel usually got them first.
    leftovers_killed: int = 0
    timeout_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def summary(self) -> str:
        """One line for a pane or a table: what failed, and where."""
        if self.status == "passed":
            return "passed"
        if self.status == "timeout":
            return f"timed out after {self.timeout_s:g} s"
        if self.status == "killed":
            why = {
                "SIGXCPU": " (CPU time limit)",
                "SIGXFSZ": " (file size limit)",
                "SIGKILL": " (a limit, or out of memory)",
            }
            return f"killed by {self.signal}{why.get(self.signal or '', '')}"
        if self.error is None:
            return f"exit code {self.exit_code}"
        head = self.error
        if self.source_line and self.error.split(":")[0] == "AssertionError":
            head = self.source_line + ("" if self.error == "AssertionError" else f"  ({head})")
            return f"{self.where}: {head}" if self.where else head
        return f"{head} (at {self.where})" if self.where else head

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


def run_python(
    code: str,
    *,
    timeout: float = 10,
    memory_mb: int = 512,
    files: dict[str, str] | None = None,
    cpu_seconds: float | None = None,
    max_processes: int = 16,
    max_open_files: int = 64,
    max_file_mb: int = 16,
    workdir_mb: int = 64,
    output_bytes: int = 16_384,
    nice: int = 10,
    isolation: str = "auto",
    python: str | None = None,
) -> SandboxResult:
    """Run ``code`` as ``main.py`` (beside ``files``) in the sandbox; never raises for
    anything the code does, only ``SandboxError`` when the sandbox itself cannot start.

    ``isolation`` is "auto" (namespaces as root, else basic), "namespaces" (the same,
    but an error when they are not available) or "basic". ``cpu_seconds`` defaults to
    the timeout, rounded up. ``python`` is the interpreter for the code (default: this
    one's real binary, so a venv's packages are not visible).
    """
    if not sys.platform.startswith("linux"):
        raise SandboxError("Running generated code needs Linux (namespaces, /proc).")
    if isolation not in ("auto", "namespaces", "basic"):
        raise ValueError(f"unknown isolation {isolation!r}")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    files = {"main.py": code, **(files or {})}
    for name in files:
        if not re.fullmatch(r"[\w.-]+", name) or name.startswith("."):
            raise ValueError(f"file name {name!r}: a plain name is expected")
    root = os.geteuid() == 0
    wanted = "basic" if isolation == "basic" or not root else "namespaces"
    if isolation == "namespaces" and not root:
        raise SandboxError("Namespaces need root; run as root or use isolation='basic'.")
    token = secrets.token_hex(8)
    uid = _free_uid() if root else None
    # In the namespaces the same path is an empty tmpfs under a private /tmp.
    workdir = tempfile.mkdtemp(prefix="workbench-sandbox-", dir="/tmp" if root else None)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        MARKER: token,
    }
    interpreter = os.path.realpath(python or sys.executable)
    spec = {
        "parent": os.getpid(),
        "isolation": wanted,
        "strict": isolation == "namespaces",
        "uid": uid,
        "workdir": workdir,
        "files": files,
        "argv": [interpreter, "-I", "main.py"],
        "env": env,
        "prefix": os.path.realpath(sys.base_prefix) if python is None else None,
        "limits": {
            "memory_mb": memory_mb,
            "cpu_seconds": math.ceil(cpu_seconds if cpu_seconds is not None else timeout),
            "max_processes": max_processes,
            "max_open_files": max_open_files,
            "max_file_mb": max_file_mb,
            "workdir_mb": workdir_mb,
            "nice": nice,
        },
    }
    try:
        return _supervise(spec, token, timeout, output_bytes)
    finally:
        _remove(workdir)


def _supervise(spec: dict[str, Any], token: str, timeout: float, cap: int) -> SandboxResult:
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
    if "setup_error" in info:
        raise SandboxError(f"The sandbox could not start: {info['setup_error']}")
    duration = (ended or time.monotonic()) - started
    common = {
        "stdout": _text(out),
        "stderr": _text(err),
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
        "duration_s": duration,
        "isolation": info.get("isolation", spec["isolation"]),
        "uid": spec["uid"],
        "leftovers_killed": killed,
        "timeout_s": timeout,
    }
    if timed_out:
        return SandboxResult("timeout", None, None, **common)
    if "exit" not in info:
        raise SandboxError(f"The sandbox ended without a result. {_text(err)[-500:]}".strip())
    common["cpu_s"] = info.get("cpu_s")
    common["max_rss_mb"] = info.get("max_rss_mb")
    raw = info["exit"]
    if os.WIFSIGNALED(raw):
        number = os.WTERMSIG(raw)
        return SandboxResult("killed", -number, _signal_name(number), **common)
    code = os.WEXITSTATUS(raw)
    error, where, source = parse_traceback(common["stderr"])
    if code == 0:
        status = "passed"
    elif error is None or error.split(":")[0] == "AssertionError":
        status = "failed"
    else:
        status = "error"
    return SandboxResult(status, code, None, error=error, where=where, source_line=source, **common)


class _Tail:
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

    def bytes(self) -> bytes:
        return bytes(self.data[-self.cap :]) if self.cap else b""


def _collect(proc: subprocess.Popen, status_r: int, deadline: float, cap: int):
    """Read output and status messages until all pipes close, the code has exited and
    its output drained, or the deadline passes."""
    out, err, status = _Tail(cap), _Tail(cap), bytearray()
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
    carrying the marker."""
    marker = f"{MARKER}={token}".encode()
    found = []
    for name in os.listdir("/proc"):
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


def _free_uid() -> int:
    """A uid from ``UID_RANGE`` that no process uses."""
    used: set[int] = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                used |= _uids(name)
    while True:
        uid = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
        if uid not in used:
            return uid


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _text(tail: _Tail) -> str:
    return tail.bytes().decode("utf-8", errors="replace")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --- tracebacks ------------------------------------------------------------------------

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")


def parse_traceback(stderr: str) -> tuple[str | None, str | None, str | None]:
    """(exception line, "file:line in function", source line) of the last traceback in
    ``stderr``; Nones where there is none. Handles the header-less SyntaxError format."""
    lines = stderr.splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback (")), default=-1)
    frame: re.Match[str] | None = None
    source: str | None = None
    error: str | None = None
    i = start + 1 if start >= 0 else 0
    while i < len(lines):
        line = lines[i]
        match = _FRAME.match(line)
        if match:
            frame, source = match, None
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if following.startswith("    ") and not _FRAME.match(following):
                source = following.strip()
                i += 1
            error = None  # a deeper frame: its exception line follows
        elif frame is not None and error is None and _EXCEPTION.match(line):
            error = line.strip()  # the first line only of a multi-line message
        i += 1
    if frame is None:
        return error, None, None
    where = f"{os.path.basename(frame['file'])}:{frame['line']}"
    if frame["func"] and frame["func"] != "<module>":
        where += f" in {frame['func']}"
    return error, where, source
