"""Helpers for the sandbox tests: what is left running, and the timing margins seen."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from workbench.checks.sandbox import SandboxResult

ROOT = os.geteuid() == 0
#: The bound from the spec: every run ends within its timeout plus this.
SLACK_S = 1.0
#: (test, timeout, elapsed) of every timed run, printed at the end of the session.
MARGINS: list[tuple[str, float, float]] = []
#: Other figures worth seeing at the end (the fork bomb's effect on the test process).
NOTES: list[str] = []

#: A program whose grandchild leaves the process group (twice) and sleeps on.
GRANDCHILD = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()  # leave the process group
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sleep", ["{needle}", "60"])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.2)
print("parent done")
{tail}
"""

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
needs_root = pytest.mark.skipif(not ROOT, reason="namespaces and a uid of its own need root")


def processes() -> list[dict[str, object]]:
    """Every process: pid, state, uids, command line, environment (when readable)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            environ = b""
        found.append(
            {
                "pid": int(name),
                "state": fields["State"].split()[0],
                "uids": {int(x) for x in fields["Uid"].split()},
                "cmdline": cmdline.decode(errors="replace"),
                "environ": environ,
            }
        )
    return found


def survivors(
    result: SandboxResult | None = None,
    needle: str | None = None,
    zombie_grace: float = 3.0,
    uid: int | None = None,
) -> list[str]:
    """Processes (zombies included) of the sandbox's uid (or ``uid``: the account that
    ran workbench) or whose command line or environment holds ``needle``. Zombies get
    ``zombie_grace`` seconds to be reaped: in basic isolation a killed grandchild is
    the host init's to reap, not ours."""
    deadline = time.monotonic() + zombie_grace
    while True:
        left = []
        for proc in processes():
            if proc["pid"] == os.getpid():
                continue
            mine = result is not None and result.uid is not None and result.uid in proc["uids"]
            mine = mine or (uid is not None and uid in proc["uids"])
            if needle:
                mine = mine or needle in proc["cmdline"] or needle.encode() in proc["environ"]
            if mine:
                left.append(f"{proc['pid']} {proc['state']} {proc['cmdline']}")
        if not left or time.monotonic() > deadline or any(" Z " not in p for p in left):
            return left
        time.sleep(0.05)


def record(name: str, timeout: float, elapsed: float) -> None:
    MARGINS.append((name, timeout, elapsed))
    assert elapsed < timeout + SLACK_S, f"{name}: {elapsed:.2f} s for a {timeout:g} s timeout"
