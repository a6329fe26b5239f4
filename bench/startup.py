"""Start-up: ``workbench --help`` and the TUI's first frame, each beside its baseline.

- ``workbench --help`` versus ``python -c pass`` (the same interpreter): the
  median wall time of each, rounds alternating. Goal: ≤ 0.25 s over the baseline.
- The TUI's first frame, no model loaded: ``workbench`` runs in a pseudo-terminal
  (200x50, ``pty.fork``), and the clock stops when the output holds a full
  frame (the header's "workbench" and the footer's "palette", the last thing a
  frame draws); then ctrl+q quits it. Baseline: a minimal Textual app (a Header
  titled "workbench" and a Footer) in the same harness. Goal: ≤ 1 s.

Both run from a temporary folder with the user's config, data and state dirs
pointed at it (XDG_*), so no workbench.toml, no sessions and no saved UI
state of this machine take part. The console script next to this
interpreter is used, not a pyenv shim (a shim's own start-up is not workbench's).

    python bench/startup.py [--rounds 7] [--size 200x50]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from _common import median, report

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    TITLE = "workbench"
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("No answers yet.")
        yield Footer()

Minimal().run()
"""

#: Strips CSI, OSC and the short escape sequences from the terminal output.
ESCAPES = re.compile(
    rb"\x1b\[[0-9;?<>=!]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    rb"|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHM]"  # charsets, keypad, save/restore, resets
)
MARKERS = ("workbench", "palette")


def workbench_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m workbench``."""
    script = Path(sys.executable).with_name("workbench")
    if script.is_file():
        return [str(script)]
    found = shutil.which("workbench")
    return [found] if found else [sys.executable, "-m", "workbench"]


def isolated_env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[var] = home
    env.pop("TEXTUAL", None)  # no devtools
    return env


def wall(command: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def first_frame(command: list[str], env: dict[str, str], cwd: str, size: tuple[int, int]) -> float:
    """Seconds from the fork until a full first frame is in the pty's output."""
    columns, rows = size
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of the right size, then the program
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.chdir(cwd)
            os.execvpe(command[0], command, env)
        finally:
            os._exit(127)
    output = bytearray()
    seen = None
    try:
        deadline = start + 30
        while seen is None and time.perf_counter() < deadline:
            data = _read(fd, 0.5)
            if data is None:
                break
            output += data
            text = ESCAPES.sub(b"", bytes(output)).decode("utf-8", "replace")
            if all(marker in text for marker in MARKERS):
                seen = time.perf_counter() - start
        if seen is None:
            tail = ESCAPES.sub(b"", bytes(output[-2000:])).decode("utf-8", "replace")
            raise SystemExit(f"{' '.join(command)}: no full frame within 30 s. Output: {tail}")
        os.write(fd, b"\x11")  # ctrl+q
        _drain_until_exit(pid, fd, 10)
    finally:
        _reap(pid)
        os.close(fd)
    return seen


def _read(fd: int, timeout: float) -> bytes | None:
    """What the pty has within ``timeout`` (b"" for nothing yet); None once it closed."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        data = os.read(fd, 1 << 16)
    except OSError:  # EIO: the child closed the terminal
        return None
    return data or None


def _drain_until_exit(pid: int, fd: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        if _read(fd, 0.05) is None:
            os.waitpid(pid, 0)
            return
    raise SystemExit("the app did not quit on ctrl+q within 10 s")


def _reap(pid: int) -> None:
    """End the child we forked if it is still there (only ever this pid)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        os.kill(pid, signal.SIGTERM)
        for _ in range(40):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", default="200x50")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    command = workbench_command()
    python = [sys.executable]
    rounds: dict[str, list[float]] = {"pass": [], "help": [], "minimal_tui": [], "tui": []}
    with tempfile.TemporaryDirectory() as home:
        env = isolated_env(home)
        # Warm-up: the page cache and any .pyc files still to write.
        wall([*command, "--help"], env, home)
        wall([*python, "-c", "pass"], env, home)
        first_frame([*python, "-c", MINIMAL_APP], env, home, (width, height))
        first_frame(command, env, home, (width, height))
        for index in range(args.rounds):
            pairs = [
                ("pass", lambda: wall([*python, "-c", "pass"], env, home)),
                ("help", lambda: wall([*command, "--help"], env, home)),
                (
                    "minimal_tui",
                    lambda: first_frame([*python, "-c", MINIMAL_APP], env, home, (width, height)),
                ),
                ("tui", lambda: first_frame(command, env, home, (width, height))),
            ]
            if index % 2:
                pairs = [pairs[1], pairs[0], pairs[3], pairs[2]]
            for name, measure in pairs:
                rounds[name].append(measure())
    base, ours = median(rounds["pass"]), median(rounds["help"])
    over = ours - base
    tui_base, tui = median(rounds["minimal_tui"]), median(rounds["tui"])
    rows = [
        {
            "measure": "`workbench --help`, wall s (median)",
            "baseline": f"{base:.3f} (python -c pass)",
            "workbench": f"{ours:.3f}",
            "ratio": f"+{over:.3f} s",
            "goal": "<= +0.25 s",
            "met": over <= 0.25,
        },
        {
            "measure": f"TUI first full frame, no model loaded, {args.size} pty, s (median)",
            "baseline": f"{tui_base:.3f} (minimal Textual app)",
            "workbench": f"{tui:.3f}",
            "ratio": f"{tui / tui_base:.2f} (+{tui - tui_base:.3f} s)",
            "goal": "<= 1 s",
            "met": tui <= 1.0,
        },
    ]
    raw = {"command": command, "python": sys.executable, "rounds": rounds}
    report("startup", rows, raw)


if __name__ == "__main__":
    main()
