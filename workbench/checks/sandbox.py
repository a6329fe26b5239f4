"""Run generated Python in a child process that cannot do much harm: opt-in.

Nothing here runs unless a caller asks (``workbench suite`` and answer checks do).
``run_python(code)`` writes ``code`` to ``main.py`` in a fresh folder, runs it with
``python -I`` and returns a ``SandboxResult``: passed, failed (an assertion or a
non-zero exit), error (any other exception), timeout (our wall clock) or killed (a
signal: the CPU limit, a crash), with the tails of its output and the failing line.
``isolation_report()`` says which isolation this machine gives and why.

How (three processes: a bootstrap, an init, the code)::

    workbench ── bootstrap (own session and process group, dies with workbench)
                   └─ init  (PID 1 of new PID, network, mount, IPC, UTS namespaces)
                        └─ python -I main.py  (no capabilities, rlimits, no_new_privs)

The modes (``workbench.checks.isolation``; ``auto`` takes the best that works here):

- **namespaces**, as root: the namespaces above, and the code runs as a fresh uid
  drawn at random from a high range no account uses (``RLIMIT_NPROC`` then counts only
  this sandbox's processes, and a scan by uid finds exactly them).
- **namespaces**, as an ordinary user: the same inside a user namespace where the
  user's uid maps to itself; the namespace's capabilities serve the setup and are
  gone at ``exec`` (a non-zero uid, ``PR_SET_NO_NEW_PRIVS``). The code runs with the
  user's uid, so what it can touch is what the mounts below leave visible.
- **bwrap**: bubblewrap makes the same namespaces and mounts (for machines where user
  namespaces are refused to python but allowed to bwrap); our init runs inside it.
- **basic** (and macOS's **sandbox-exec**): own session, rlimits (``RLIMIT_NPROC``
  counted over all the user's processes), the scrubbed environment, a temporary folder
  and the marker scan; the network is reachable (denied by sandbox-exec on macOS), the
  code runs as the user, and a grandchild that leaves the group and clears its
  environment can outlive the run. Every result says why (``isolation_note``).

In the namespaces and bwrap:

- **Whole group killed**: at the timeout the process group gets SIGKILL; when init
  ends, the kernel kills every process left in its PID namespace, including
  grandchildren that called ``setsid``. A ``/proc`` scan then kills anything still
  running with the sandbox's uid or its marker variable ``WORKBENCH_SANDBOX``.
- **Files**: every host mount read-only; ``/root``, ``/home`` and ``/run`` (users'
  secrets, session and D-Bus sockets) hidden behind empty read-only tmpfs (the
  interpreter is bound back read-only if it lives there); ``/tmp``, ``/var/tmp`` and
  ``/dev/shm`` fresh small tmpfs; the working folder an empty size-limited tmpfs;
  ``/proc`` shows only the sandbox's processes. Everything it writes vanishes with it.
- **No network**: a new network namespace has only a loopback that is down, so even
  ``127.0.0.1`` is unreachable (and abstract Unix sockets are per namespace).
- **Limits** (``resource.setrlimit``): address space, CPU seconds, open files,
  processes/threads, file size, no core files; ``nice`` 10.
- **Keys**: the code joins a new, empty session keyring (in every mode), so the
  keys workbench's session holds are not its to read.
- **Environment**: ``PATH=/usr/local/bin:/usr/bin:/bin``, ``LANG``/``LC_ALL``,
  ``HOME`` and ``TMPDIR`` (the working folder) and the marker; nothing else.
  ``-I`` also makes Python ignore ``PYTHON*`` variables and the user site folder.

What it does NOT protect against (it is not a VM):

- kernel bugs: the code shares the host kernel, and one exploit is root (a user
  namespace exposes more of the kernel to the code than root's mode does);
- reading whatever the code's uid may read outside the hidden folders (``/etc``,
  ``/opt``, project folders, session files: as an ordinary user, the user's own
  files there, and keys in the user's own user or persistent kernel keyring) and
  the interpreter's own ``site-packages``;
- using the CPU and memory the limits allow: each process may take ``memory_mb``
  of address space (``max_processes`` of them at once) and the CPU for up to the
  timeout, so a shared machine feels it; tmpfs contents count towards RAM;
- timing and cache side channels, ``/sys`` information, devices any user may open;
- anything in ``basic`` isolation beyond what is listed for it above.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.checks import isolation as modes
from workbench.checks.isolation import Candidate, IsolationReport
from workbench.checks.supervisor import MARKER, SandboxError, free_uid, supervise
from workbench.checks.tracebacks import parse_traceback

STATUSES = ("passed", "failed", "error", "timeout", "killed")


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
    #: "namespaces", "bwrap", "sandbox-exec" or "basic" (see the module docstring).
    isolation: str = "basic"
    #: Why not a better isolation, and how to get one ("" when it is the best).
    isolation_note: str = ""
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
    anything the code does, only ``SandboxError`` when the sandbox itself cannot start
    (on Windows, or when a mode that was asked for does not work here).

    ``isolation`` is "auto" (the best mode that works: ``isolation_report()``) or one
    of ``isolation.MODES``, which must then work (``WORKBENCH_ISOLATION`` forces one
    for "auto").
    ``cpu_seconds`` defaults to the timeout, rounded up. ``python`` is the interpreter
    for the code (default: this one's real binary, so a venv's packages are not visible).
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    files = {"main.py": code, **(files or {})}
    for name in files:
        if not re.fullmatch(r"[\w.-]+", name) or name.startswith("."):
            raise ValueError(f"file name {name!r}: a plain name is expected")
    if isolation != "auto" and isolation not in modes.MODES:
        raise ValueError(f"unknown isolation {isolation!r}")
    if isolation == "auto":
        report = isolation_report()
        if report.mode == "unavailable":
            raise SandboxError(f"{report.reason} {report.hint}".strip())
        mode, note = report.mode, report.note
    else:
        _check_platform(isolation)
        mode, note = isolation, ""
    limits = {
        "memory_mb": memory_mb,
        "cpu_seconds": math.ceil(cpu_seconds if cpu_seconds is not None else timeout),
        "max_processes": max_processes,
        "max_open_files": max_open_files,
        "max_file_mb": max_file_mb,
        "workdir_mb": workdir_mb,
        "nice": nice,
    }
    return _run(mode, note, files, limits, timeout, output_bytes, python)


def _run(mode, note, files, limits, timeout, output_bytes, python) -> SandboxResult:
    root = os.geteuid() == 0
    token = secrets.token_hex(8)
    uid = free_uid() if root and mode in ("namespaces", "bwrap", "basic") else None
    # In the namespaces and bwrap the same path is an empty tmpfs under a private /tmp.
    linux = modes.platform_name() == "linux"
    workdir = os.path.realpath(
        tempfile.mkdtemp(prefix="workbench-sandbox-", dir="/tmp" if linux else None)
    )
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        MARKER: token,
    }
    interpreter = os.path.realpath(python or sys.executable)
    argv = [interpreter, "-I", "main.py"]
    if mode == "sandbox-exec":
        argv = [modes.SANDBOX_EXEC, "-p", modes.seatbelt_profile(workdir), *argv]
    package_root = str(Path(__file__).resolve().parents[2])
    # Shown even under a hidden folder: the code's interpreter and our own (init runs it).
    own = os.path.realpath(sys.base_prefix)
    keep = sorted({own, os.path.dirname(interpreter)})
    spec: dict[str, Any] = {
        "parent": os.getpid(),
        "isolation": mode,
        "user_namespace": not root,
        "uid": uid,
        "workdir": workdir,
        "files": files,
        "argv": argv,
        "env": env,
        "keep": keep,
        "limits": limits,
    }
    if mode == "bwrap":
        init = (
            f"import sys; sys.path[:0] = [{package_root!r}]; "
            "from workbench.checks.sandbox_child import bwrap_init; bwrap_init()"
        )
        spec["bwrap_argv"] = modes.bwrap_argv(
            modes.bwrap_path() or "bwrap",
            workdir=workdir,
            workdir_mb=limits["workdir_mb"],
            keep=(*keep, package_root, os.path.dirname(os.path.realpath(sys.executable))),
            user_namespace=not root,
            command=[os.path.realpath(sys.executable), "-I", "-S", "-c", init],
        )
    try:
        seen = supervise(spec, token, timeout, output_bytes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _result(seen, spec, timeout, note)


def _result(seen, spec: dict[str, Any], timeout: float, note: str) -> SandboxResult:
    info = seen.info
    if "setup_error" in info:
        raise SandboxError(
            f"The sandbox ({spec['isolation']}) could not start: {info['setup_error']}"
        )
    common: dict[str, Any] = {
        "stdout": seen.out.text(),
        "stderr": seen.err.text(),
        "stdout_bytes": seen.out.total,
        "stderr_bytes": seen.err.total,
        "duration_s": seen.duration_s,
        "isolation": info.get("isolation", spec["isolation"]),
        "isolation_note": note,
        "uid": spec["uid"],
        "leftovers_killed": seen.leftovers_killed,
        "timeout_s": timeout,
    }
    if seen.timed_out:
        return SandboxResult("timeout", None, None, **common)
    if "exit" not in info:
        detail = seen.err.text()[-500:].strip()
        raise SandboxError(
            f"The sandbox ({spec['isolation']}) ended without a result. {detail}".strip()
        )
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


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --- which isolation ------------------------------------------------------------------

_REPORT: IsolationReport | None = None
_REPORT_LOCK = threading.Lock()


def isolation_report(*, refresh: bool = False) -> IsolationReport:
    """Which isolation checks get on this machine, why not a better one, and a one-line
    hint to get it. Each mode is tried for real once per process (a trivial program
    in the sandbox, ~0.1 s); ``WORKBENCH_ISOLATION`` forces one. Never raises."""
    global _REPORT
    with _REPORT_LOCK:
        if _REPORT is None or refresh:
            _REPORT = _detect()
        return _REPORT


def _detect() -> IsolationReport:
    platform = modes.platform_name()
    try:
        forced = modes.requested_mode()
    except ValueError as exc:
        return IsolationReport("unavailable", str(exc), "", platform, forced=True)
    if platform not in ("linux", "macos"):
        reason = modes.unavailable_reason(platform)
        return IsolationReport("unavailable", reason, modes.hint_for(platform, ()), platform)
    order = modes.candidates(platform, os.geteuid() == 0)
    if forced != "auto":
        order = (forced,)
    tried: list[Candidate] = []
    for mode in order:
        why = _try(mode, platform)
        tried.append(Candidate(mode, not why, why))
        if not why:
            break
    chosen = next((c for c in tried if c.works), None)
    if chosen is None:
        reason = f"{forced} (forced by {modes.ISOLATION_ENV}) does not work here: {tried[-1].why}"
        return IsolationReport("unavailable", reason, "", platform, True, tuple(tried))
    failed = "; ".join(f"{c.mode}: {c.why}" for c in tried if not c.works)
    reason = f"Checks run in {chosen.mode} isolation ({failed})." if failed else ""
    hint = modes.hint_for(platform, tuple(tried)) if forced == "auto" else ""
    return IsolationReport(chosen.mode, reason, hint, platform, forced != "auto", tuple(tried))


def _check_platform(mode: str) -> None:
    platform = modes.platform_name()
    if platform not in ("linux", "macos"):
        raise SandboxError(modes.unavailable_reason(platform))
    allowed = modes.candidates(platform, os.geteuid() == 0)
    if mode not in allowed:
        raise SandboxError(
            f"Isolation {mode!r} does not exist on {platform}; try {', '.join(allowed)}."
        )


def _try(mode: str, platform: str) -> str:
    """Why ``mode`` does not work here ("" when a trivial program ran in it)."""
    if mode not in modes.candidates(platform, os.geteuid() == 0):
        return f"not available on {platform}"
    if mode == "bwrap" and modes.bwrap_path() is None:
        return "bubblewrap (bwrap) is not installed"
    if mode == "sandbox-exec" and not os.access(modes.SANDBOX_EXEC, os.X_OK):
        return f"{modes.SANDBOX_EXEC} is missing"
    try:
        result = run_python("print('ok')", timeout=10, isolation=mode)
    except SandboxError as exc:
        return re.sub(
            r"^The sandbox \(\S+\) (could not start: |ended without a result\. ?)", "", str(exc)
        )
    except OSError as exc:
        return str(exc)
    if result.status != "passed" or result.stdout != "ok\n":
        return f"a trivial program {result.summary} ({result.stderr.strip()[-200:]})"
    return ""
