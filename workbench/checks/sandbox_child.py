"""The sandbox's child side: the bootstrap and init processes of ``workbench.checks.sandbox``.

It runs as ``python -I -S -c "from workbench.checks.sandbox_child import bootstrap; …"``
with the spec (JSON) on stdin, in a process of its own: it makes the
namespaces, mounts, limits and uid that ``workbench.checks.sandbox`` describes, then
execs the code. It reports setup to the parent on the status pipe, never by
raising. Standard library only (no site-packages here).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

#: Directories any user may write to; private, small tmpfs in the namespaces.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
#: Directories hidden behind an empty tmpfs in the namespaces (users' secrets live there).
HIDDEN_DIRS = ("/root", "/home")
SCRATCH_MB = 16

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38


class _Libc:
    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(flags), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data=None):
        enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
        self._check(self.lib.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")

    def prctl(self, option: int, value: int) -> None:
        self._check(self.lib.prctl(option, value, 0, 0, 0), "prctl")


def bootstrap() -> None:
    """The bootstrap: read the spec, make the namespaces, fork init, wait for it."""
    spec = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    status = spec["status_fd"]
    os.set_inheritable(status, False)  # init keeps it (fork); the code never sees it (exec)
    libc = _Libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # workbench gone: the sandbox goes too
    if os.getppid() != spec["parent"]:
        os._exit(1)
    mode = spec["isolation"]
    if mode == "namespaces":
        try:
            libc.unshare(
                _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWUTS
            )
        except OSError as exc:
            if spec["strict"]:
                _report(status, {"setup_error": f"namespaces refused ({exc})"})
                os._exit(1)
            mode = "basic"
    _report(status, {"isolation": mode})
    pid = os.fork()
    if pid == 0:
        _init(spec, mode, libc, status)
    # Only the code's processes may hold the output pipes: their end means its end.
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.waitpid(pid, 0)
    os._exit(0)


def _init(spec: dict[str, Any], mode: str, libc: _Libc, status: int) -> None:
    """PID 1 of the namespaces (or a plain parent in basic mode): prepare the folder,
    start the code, reap orphans, report the code's exit status. Never returns."""
    try:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        workdir, uid = spec["workdir"], spec["uid"]
        if mode == "namespaces":
            _private_mounts(spec, libc)
        for name, text in spec["files"].items():
            path = os.path.join(workdir, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            if uid is not None:
                os.chown(path, uid, uid)
        if uid is not None:
            os.chown(workdir, uid, uid)
            os.chmod(workdir, 0o700)
        child = os.fork()
        if child == 0:
            _exec_code(spec, libc, status)
        while True:
            pid, raw, usage = os.wait4(-1, 0)
            if pid == child:
                break
        _report(
            status,
            {
                "exit": raw,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "max_rss_mb": usage.ru_maxrss / 1024,
            },
        )
        os._exit(0)
    except BaseException as exc:  # the parent turns this into a SandboxError
        with contextlib.suppress(BaseException):
            _report(status, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)


def _private_mounts(spec: dict[str, Any], libc: _Libc) -> None:
    """Inside the new mount namespace (nothing here reaches the host's mounts)."""
    libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # first: no propagation to the host
    safe = _MS_NOSUID | _MS_NODEV
    prefix = spec["prefix"]
    keep = os.open(prefix, os.O_PATH) if prefix else None
    for hidden in HIDDEN_DIRS:
        if not os.path.isdir(hidden) or os.path.islink(hidden):
            continue
        libc.mount("tmpfs", hidden, "tmpfs", safe, "size=1m,mode=0755")
        if prefix and keep is not None and prefix.startswith(hidden + "/"):
            # The interpreter lives under a hidden folder: bind it back, read-only.
            os.makedirs(prefix, exist_ok=True)
            libc.mount(f"/proc/self/fd/{keep}", prefix, None, _MS_BIND | _MS_REC)
            libc.mount(None, prefix, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | safe)
        libc.mount(None, hidden, None, _MS_REMOUNT | _MS_RDONLY | safe, "size=1m,mode=0755")
    if keep is not None:
        os.close(keep)
    for scratch in SCRATCH_DIRS:
        if os.path.isdir(scratch) and not os.path.islink(scratch):
            libc.mount("tmpfs", scratch, "tmpfs", safe, f"size={SCRATCH_MB}m,mode=1777")
    workdir = spec["workdir"]
    os.makedirs(workdir, exist_ok=True)
    size = spec["limits"]["workdir_mb"]
    libc.mount("tmpfs", workdir, "tmpfs", safe, f"size={size}m,mode=0700")
    libc.mount("proc", "/proc", "proc", safe | _MS_NOEXEC)  # this PID namespace's only


def _exec_code(spec: dict[str, Any], libc: _Libc, status: int) -> None:
    """The code's process: limits, fewer privileges, then exec. Never returns."""
    import resource

    try:
        limits, uid = spec["limits"], spec["uid"]
        mb = 1024 * 1024
        cpu = limits["cpu_seconds"]
        nproc = limits["max_processes"]
        if uid is None:  # no uid of its own: RLIMIT_NPROC counts all of this user's tasks
            nproc += _tasks_of(os.getuid())
        for which, soft, hard in (
            (resource.RLIMIT_AS, limits["memory_mb"] * mb, None),
            (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL after
            (resource.RLIMIT_NOFILE, limits["max_open_files"], None),
            (resource.RLIMIT_NPROC, nproc, None),
            (resource.RLIMIT_FSIZE, limits["max_file_mb"] * mb, None),
            (resource.RLIMIT_CORE, 0, None),
        ):
            resource.setrlimit(which, (soft, soft if hard is None else hard))
        os.nice(limits["nice"])
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(spec["workdir"])
        argv = spec["argv"]
        os.execve(argv[0], argv, spec["env"])
    except BaseException as exc:  # the status pipe is still open until exec
        with contextlib.suppress(BaseException):
            who = f" as uid {spec['uid']}" if spec["uid"] is not None else ""
            _report(status, {"setup_error": f"cannot start {spec['argv'][0]}{who}: {exc}"})
        os._exit(126)


def _tasks_of(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            status = Path(f"/proc/{name}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
    return count


def _report(fd: int, message: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())
