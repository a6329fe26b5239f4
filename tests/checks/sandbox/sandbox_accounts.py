"""Run the sandbox as root or as an ordinary account, from a test that runs as root.

CI runs as root, but workbench's users are not: ``Box`` runs ``run_python`` in this
process (root) or in a child process that has dropped to an unprivileged account
(created once with ``useradd`` if missing), and hands back the same ``SandboxResult``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from workbench.checks.sandbox import SandboxResult, run_python

ACCOUNT = "wbsandbox"
#: The account cannot read root's pyenv: it runs the system's interpreter.
SYSTEM_PYTHON = "/usr/bin/python3"
REPO = str(Path(__file__).resolve().parents[3])
#: add_key(2)'s system call number on this machine.
ADD_KEY = {"x86_64": 248, "aarch64": 217, "riscv64": 217}.get(os.uname().machine, -1)

#: Runs one program in the sandbox and prints its result as JSON (stdin: code, options).
RUNNER = textwrap.dedent(
    f"""
    import json, sys, time
    ADD_KEY = {ADD_KEY}
    sys.path.insert(0, {REPO!r})
    from workbench.checks.sandbox import isolation_report, run_python
    job = json.loads(sys.stdin.read())
    if job.get("session_key"):  # a secret in workbench's session keyring
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        name, payload = job["session_key"]
        libc.syscall(ADD_KEY, b"user", name.encode(), payload.encode(), len(payload), -3)
    report = isolation_report().to_dict() if job.get("report") else None
    started = time.monotonic()
    result = run_python(job["code"], **job["options"])
    elapsed = time.monotonic() - started
    print(json.dumps({{"result": result.to_dict(), "elapsed": elapsed, "report": report}}))
    """
)


def add_session_key(name: str, payload: str) -> None:
    """A "user" key in this process's session keyring (add_key(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    key = libc.syscall(ADD_KEY, b"user", name.encode(), payload.encode(), len(payload), -3)
    assert key > 0, os.strerror(ctypes.get_errno())


@functools.cache
def account() -> pwd.struct_passwd | None:
    """The unprivileged account (made with useradd when missing); None without root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(ACCOUNT)
    if shutil.which("useradd") is None:
        return None
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/usr/sbin/nologin", ACCOUNT],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(ACCOUNT)


@functools.cache
def user_namespaces_work() -> str:
    """ "" when the account can make the namespaces itself, else why not."""
    user = account()
    if user is None:
        return "no unprivileged account (needs root and useradd)"
    drop = ["setpriv", "--reuid", str(user.pw_uid), "--regid", str(user.pw_gid), "--clear-groups"]
    probe = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount", "true"]
    done = subprocess.run(
        [*drop, *probe],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else done.stderr.strip() or "unshare failed"


def as_account(argv: list[str], **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    """``argv`` run as the account, with a plain environment (plus ``env``)."""
    user = account()
    assert user is not None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": user.pw_dir, "LANG": "C.UTF-8"}
    env.update(kwargs.pop("env", {}))
    spawn = kwargs.pop("spawn", False)
    options = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=user.pw_dir, env=env)
    if spawn:
        return subprocess.Popen(argv, **options, **kwargs)
    return subprocess.run(argv, **options, **kwargs)


@dataclass
class Box:
    """The sandbox in one mode, run by root or by the account."""

    mode: str
    as_user: bool
    env: dict[str, str] = field(default_factory=dict)
    #: Run workbench where no further user namespace may be made (as in a container
    #: without CLONE_NEWUSER): inside one whose max_user_namespaces is used up.
    restricted: bool = False
    #: isolation_report() as the runner saw it, after each run (with ``report=True``).
    report: dict | None = None

    @property
    def name(self) -> str:
        return f"{'user' if self.as_user else 'root'}:{self.mode}"

    @property
    def account_uid(self) -> int | None:
        user = account()
        return user.pw_uid if self.as_user and user else None

    def run(
        self, code: str, report: bool = False, session_key: tuple[str, str] | None = None, **options
    ) -> tuple[SandboxResult, float]:
        """The result, and the seconds ``run_python`` took (as measured where it ran);
        ``session_key`` (name, secret) is added to workbench's session keyring first."""
        options.setdefault("isolation", self.mode)
        if not self.as_user:
            if session_key:
                add_session_key(*session_key)
            started = time.monotonic()
            result = run_python(code, **options)
            return result, time.monotonic() - started
        job = json.dumps(
            {"code": code, "options": options, "report": report, "session_key": session_key}
        )
        done = as_account(
            [*self._prefix(), SYSTEM_PYTHON, "-I", "-c", RUNNER],
            input=job,
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
        )
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        self.report = data["report"]
        names = {f.name for f in fields(SandboxResult)}
        result = SandboxResult(**{k: v for k, v in data["result"].items() if k in names})
        return result, data["elapsed"]

    def _prefix(self) -> list[str]:
        if not self.restricted:
            return []
        user = account()
        assert user is not None
        inner = (
            "echo 1 > /proc/sys/user/max_user_namespaces && exec unshare --user "
            f'--map-user={user.pw_uid} --map-group={user.pw_gid} "$@"'
        )
        return ["unshare", "--user", "--map-root-user", "sh", "-c", inner, "sh"]

    def spawn(self, code: str, timeout: float) -> subprocess.Popen:
        """workbench running one program, as a process the test can kill."""
        job = json.dumps({"code": code, "options": {"timeout": timeout, "isolation": self.mode}})
        pipe = subprocess.PIPE
        if self.as_user:
            proc = as_account([SYSTEM_PYTHON, "-I", "-c", RUNNER], spawn=True, stdin=pipe)
        else:
            proc = subprocess.Popen([sys.executable, "-c", RUNNER], cwd=REPO, stdin=pipe)
        assert proc.stdin is not None
        proc.stdin.write(job.encode())
        proc.stdin.close()
        return proc
