"""The sandbox's child side: the bootstrap and init processes of ``workbench.checks.sandbox``.

It runs as ``python -I -S -c "from workbench.checks.sandbox_child import bootstrap; …"``
with the spec (JSON) on stdin, in a process of its own: it makes the namespaces,
mounts, limits and uid that ``workbench.checks.sandbox`` describes (or hands the
namespaces to bubblewrap, whose init is ``bwrap_init``), then execs the code. It
reports setup to the parent on the status pipe, never by raising. Standard library
only (no site-packages here); nothing Linux-only runs on macOS.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the child imports little: it starts once per check
    from typing import Any

_LINUX = sys.platform.startswith("linux")


def bootstrap() -> None:
    """The bootstrap: read the spec, make the namespaces, fork init, wait for it
    (in the bwrap mode: become bubblewrap, whose init is ``bwrap_init``)."""
    spec = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    status = spec["status_fd"]
    os.set_inheritable(status, False)  # init keeps it (fork); the code never sees it (exec)
    libc = None
    if _LINUX:
        from workbench.checks import sandbox_mounts as mounts

        libc = mounts.Libc()
        libc.prctl(mounts.PR_SET_PDEATHSIG, signal.SIGKILL)  # workbench gone: the sandbox too
    if os.getppid() != spec["parent"]:
        os._exit(1)
    import resource  # noqa: F401  (now: the code's process needs it once the mounts hide it)

    # Counted before any namespace: what RLIMIT_NPROC sees where it counts all of them.
    spec["host_tasks"] = _tasks_of(os.getuid()) if spec["uid"] is None else 0
    mode = spec["isolation"]
    try:
        if mode == "bwrap":
            _become_bwrap(spec, status)
        if mode == "namespaces":
            flags = mounts.CLONE_NEWPID | mounts.CLONE_NEWNET | mounts.CLONE_NEWNS
            flags |= mounts.CLONE_NEWIPC | mounts.CLONE_NEWUTS
            if spec["user_namespace"]:
                mounts.enter_user_namespace(libc, flags)
            else:
                libc.unshare(flags)
    except OSError as exc:
        _report(status, {"setup_error": f"{mode} refused ({exc})"})
        os._exit(1)
    _report(status, {"isolation": mode})
    pid = os.fork()
    if pid == 0:
        _init(spec, libc, status)
    # Only the code's processes may hold the output pipes: their end means its end.
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.waitpid(pid, 0)
    os._exit(0)


def _become_bwrap(spec: dict[str, Any], status: int) -> None:
    """Exec bubblewrap with the spec on its stdin and the status pipe kept open; its
    command is ``bwrap_init`` (never returns; raises OSError when bwrap cannot start)."""
    held = os.memfd_create("workbench-spec", 0)
    os.write(held, json.dumps(spec).encode())
    os.lseek(held, 0, os.SEEK_SET)
    os.dup2(held, 0)
    os.set_inheritable(status, True)
    os.execv(spec["bwrap_argv"][0], spec["bwrap_argv"])


def bwrap_init() -> None:
    """Init inside bubblewrap (whose PID 1 reaps orphans and ends the namespace)."""
    spec = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    status = spec["status_fd"]
    os.set_inheritable(status, False)
    from workbench.checks import sandbox_mounts as mounts

    _report(status, {"isolation": "bwrap"})
    _init(spec, mounts.Libc(), status)


def _init(spec: dict[str, Any], libc: Any, status: int) -> None:
    """PID 1 of the namespaces (or a plain parent in the other modes): prepare the
    folder, start the code, reap orphans, report the code's exit status. Never returns."""
    try:
        if libc is not None:
            from workbench.checks import sandbox_mounts as mounts

            libc.prctl(mounts.PR_SET_PDEATHSIG, signal.SIGKILL)
        workdir, uid = spec["workdir"], spec["uid"]
        if spec["isolation"] == "namespaces":
            limit = spec["limits"]["workdir_mb"]
            mounts.private_mounts(libc, workdir, limit, spec["keep"])
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
        # ru_maxrss is in KiB on Linux, in bytes on macOS.
        rss = usage.ru_maxrss / (1024 if _LINUX else 1024 * 1024)
        cpu = usage.ru_utime + usage.ru_stime
        _report(status, {"exit": raw, "cpu_s": cpu, "max_rss_mb": rss})
        os._exit(0)
    except BaseException as exc:  # the parent turns this into a SandboxError
        _report_quietly(status, {"setup_error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)


def _exec_code(spec: dict[str, Any], libc: Any, status: int) -> None:
    """The code's process: limits, fewer privileges, then exec. Never returns."""
    import resource

    try:
        limits, uid = spec["limits"], spec["uid"]
        mb = 1024 * 1024
        cpu = limits["cpu_seconds"]
        nproc = limits["max_processes"]
        if uid is None:  # no uid of its own: RLIMIT_NPROC counts this user's tasks too
            nproc += _counted_tasks(spec)
        for which, soft, hard in (
            (resource.RLIMIT_AS, limits["memory_mb"] * mb, None),
            (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL after
            (resource.RLIMIT_NOFILE, limits["max_open_files"], None),
            (resource.RLIMIT_NPROC, nproc, None),
            (resource.RLIMIT_FSIZE, limits["max_file_mb"] * mb, None),
            (resource.RLIMIT_CORE, 0, None),
        ):
            try:
                resource.setrlimit(which, (soft, soft if hard is None else hard))
            except (OSError, ValueError):
                if _LINUX:  # macOS refuses some (RLIMIT_AS): the timeout still holds
                    raise
        os.nice(limits["nice"])
        if libc is not None:
            from workbench.checks import sandbox_mounts as mounts

            libc.prctl(mounts.PR_SET_NO_NEW_PRIVS, 1)
            libc.new_session_keyring()
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(spec["workdir"])
        argv = spec["argv"]
        os.execve(argv[0], argv, spec["env"])
    except BaseException as exc:  # the status pipe is still open until exec
        who = f" as uid {spec['uid']}" if spec["uid"] is not None else ""
        _report_quietly(status, {"setup_error": f"cannot start {spec['argv'][0]}{who}: {exc}"})
        os._exit(126)


def _counted_tasks(spec: dict[str, Any]) -> int:
    """The tasks RLIMIT_NPROC counts beside the code's. Since Linux 5.14 it counts per
    user namespace, so inside one only the sandbox's own (visible in its /proc)."""
    if spec["isolation"] in ("namespaces", "bwrap") and _kernel_at_least(5, 14):
        return _tasks_of(os.getuid()) - 1  # not the code's own: max_processes includes it
    return spec["host_tasks"]


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        found = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return found >= (major, minor)


def _tasks_of(uid: int) -> int:
    """Threads of ``uid``'s processes (from /proc; processes from ``ps`` on macOS)."""
    if not os.path.isdir("/proc/self"):
        import subprocess

        try:
            out = subprocess.run(["ps", "-ax", "-o", "uid="], capture_output=True, text=True)
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(1 for line in out.stdout.split() if line.strip() == str(uid))
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                status = handle.read()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, ValueError, KeyError):
            continue  # gone meanwhile
    return count


def _report(fd: int, message: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(message) + "\n").encode())


def _report_quietly(fd: int, message: dict[str, Any]) -> None:
    """Report a setup failure; if even that fails, the missing result says enough."""
    try:
        _report(fd, message)
    except BaseException:  # (not contextlib.suppress: one import fewer per check)
        return
