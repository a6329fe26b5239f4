"""Hostile generated code in the sandbox: each run ends within its timeout plus a second,
leaves no process behind, sees no secret, reaches no network and changes no host file.

The fork bomb is first run bounded (at most 200 forks) and at full strength only
once the bounded run showed that the process limit holds.
"""

from __future__ import annotations

import ast
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import NOTES, needs_linux, needs_root, record, survivors

from workbench.checks.sandbox import SandboxResult, run_python

pytestmark = [needs_linux, needs_root]

TIMEOUT = 2.0
SYSTEM_PYTHON = "/usr/bin/python3"


def timed(name: str, code: str, **options) -> SandboxResult:
    options.setdefault("timeout", TIMEOUT)
    started = time.monotonic()
    result = run_python(textwrap.dedent(code), **options)
    record(name, options["timeout"], time.monotonic() - started)
    return result


def test_a_plain_program_passes_in_the_namespaces():
    result = timed("plain", "print('hello')")
    assert result.status == "passed", result
    assert result.stdout == "hello\n"
    assert result.isolation == "namespaces"
    assert survivors(result) == []


def test_infinite_loop_that_ignores_signals_is_stopped():
    result = timed(
        "infinite loop",
        """
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            pass
        """,
    )
    assert result.status == "timeout"
    assert result.summary == "timed out after 2 s"
    assert survivors(result) == []


_BOUNDED_FORKS_HELD = False


def test_forks_are_capped_by_the_process_limit():
    """The bounded version first: 200 forks of sleeping children."""
    global _BOUNDED_FORKS_HELD
    needle = f"wb-bounded-{secrets.token_hex(4)}"
    result = timed(
        "bounded forks",
        f"""
        import os, time
        made = 0
        for _ in range(200):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                os.execv("/bin/sleep", ["{needle}", "30"])
            made += 1
        print("forked", made)
        """,
        max_processes=16,
    )
    assert result.status == "passed", result
    made = int(result.stdout.split()[1])
    assert 0 < made < 16, result.stdout  # the limit counts the program itself
    assert survivors(result, needle) == []
    _BOUNDED_FORKS_HELD = True


def test_fork_bomb_is_contained_and_the_machine_stays_responsive():
    if not _BOUNDED_FORKS_HELD:
        pytest.skip("the bounded fork test did not show the limit holding")
    needle = f"wb-bomb-{secrets.token_hex(4)}"
    lateness: list[float] = []
    done = threading.Event()

    def tick() -> None:  # how late a 50 ms sleep wakes up while the bomb runs
        while not done.is_set():
            before = time.monotonic()
            time.sleep(0.05)
            lateness.append(time.monotonic() - before - 0.05)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        result = timed(
            "fork bomb",
            f"""
            import os
            NEEDLE = "{needle}"
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
            """,
            max_processes=16,
        )
    finally:
        done.set()
        ticker.join()
    NOTES.append(
        f"fork bomb: a 50 ms sleep in the test process woke at most {max(lateness) * 1000:.0f} ms"
        f" late ({len(lateness)} ticks)"
    )
    assert result.status == "timeout"
    assert survivors(result, needle) == []
    assert max(lateness) < 1.0, f"the test process stalled {max(lateness):.2f} s"


def test_memory_bomb_at_once_is_a_memory_error():
    result = timed("memory bomb (one block)", "x = bytearray(8 * 1024**3)", memory_mb=256)
    assert result.status == "error"
    assert result.error == "MemoryError"
    assert survivors(result) == []


def test_memory_bomb_that_grows_is_a_memory_error():
    result = timed(
        "memory bomb (growing)",
        """
        blocks = []
        while True:
            blocks.append(b"x" * (32 * 1024 * 1024))
        """,
        memory_mb=256,
    )
    assert result.status == "error"
    assert result.error == "MemoryError"
    assert result.max_rss_mb is not None and result.max_rss_mb < 300


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


def test_grandchild_that_outlives_its_parent_is_killed():
    needle = f"wb-grandchild-{secrets.token_hex(4)}"
    result = timed("grandchild (code ends)", GRANDCHILD.format(needle=needle, tail=""))
    assert result.status == "passed"
    assert result.stdout == "parent done\n"
    assert survivors(result, needle) == []


def test_grandchild_is_killed_with_a_program_that_times_out():
    needle = f"wb-grandchild-{secrets.token_hex(4)}"
    code = GRANDCHILD.format(needle=needle, tail="while True: pass")
    result = timed("grandchild (timeout)", code)
    assert result.status == "timeout"
    assert survivors(result, needle) == []


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on the host's 127.0.0.1 that records every connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[1])
            except OSError:
                continue

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        server.close()


def test_no_network_not_even_loopback(listener):
    port, accepted = listener
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # the host itself can connect
    time.sleep(0.2)
    assert len(accepted) == 1
    result = timed(
        "socket connect",
        f"""
        import socket
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", {port}))
            print("CONNECTED")
        except OSError as exc:
            print("refused", exc.errno)
        print(sorted(name for _, name in socket.if_nameindex()))
        """,
    )
    assert "CONNECTED" not in result.stdout
    assert result.stdout.startswith("refused")
    assert "['lo']" in result.stdout
    assert len(accepted) == 1


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"canary-{secrets.token_hex(8)}"
    monkeypatch.setenv("WORKBENCH_TEST_SECRET", value)
    monkeypatch.setenv("OPENAI_API_KEY", value)
    return value


def test_environment_holds_no_secret(canary):
    result = timed(
        "read os.environ",
        """
        import os
        print(dict(os.environ))
        for path in ("/proc/self/environ", "/proc/1/environ", f"/proc/{os.getppid()}/environ"):
            try:
                print(open(path, "rb").read())
            except OSError as exc:
                print(path, exc)
        """,
    )
    assert result.status == "passed", result
    assert canary not in result.stdout + result.stderr
    environ = ast.literal_eval(result.stdout.splitlines()[0])
    assert set(environ) == {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "WORKBENCH_SANDBOX"}


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A root-owned 0755 folder outside every scratch folder, with one 0644 file."""
    base = "/run" if os.access("/run", os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="wb-host-", dir=base))
    folder.chmod(0o755)
    (folder / "keep.txt").write_text("original\n")
    (folder / "keep.txt").chmod(0o644)
    try:
        yield folder
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.name: (p.stat().st_mode, p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()
    }


def test_writing_outside_its_folder_changes_nothing(host_dir):
    before = snapshot(host_dir)
    escape = f"wb-escape-{secrets.token_hex(4)}"
    mounts = Path("/proc/self/mountinfo").read_text()
    result = timed(
        "write outside",
        f"""
        import os
        target = "{host_dir}/keep.txt"
        attempts = [
            lambda: open(target, "a").write("pwned"),
            lambda: open(target, "w").write("pwned"),
            lambda: os.chmod(target, 0o777),
            lambda: os.unlink(target),
            lambda: open("{host_dir}/new.txt", "w").write("pwned"),
            lambda: os.rename(target, "{host_dir}/moved.txt"),
            lambda: os.setuid(0),
        ]
        for attempt in attempts:
            try:
                attempt()
                print("DONE")
            except OSError as exc:
                print("denied", type(exc).__name__)
        # Scratch folders are writable, but private to the sandbox.
        open("/tmp/{escape}", "w").write("x")
        open("/dev/shm/{escape}", "w").write("x")
        open("{escape}", "w").write("x")  # its own folder
        print("wrote scratch")
        """,
    )
    assert result.status == "passed", result
    assert "DONE" not in result.stdout
    assert result.stdout.count("denied") == 7
    assert snapshot(host_dir) == before
    assert not Path(f"/tmp/{escape}").exists()
    assert not Path(f"/dev/shm/{escape}").exists()
    assert Path("/proc/self/mountinfo").read_text() == mounts  # no mount leaked to the host


ESCAPE = """
wrap = [c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == "_wrap_close"][0]
g = wrap.__init__.__globals__  # the os module's globals: system, popen, environ, sys
print("ENV", dict(g["environ"]))
print("SHELL", g["popen"]("env; id -u").read())
g["system"]("echo pwned >> HOST/keep.txt 2>/dev/null || echo write-denied")
g["system"]("cat /proc/*/environ 2>/dev/null | tr '\\\\0' '\\\\n' | sort -u")
with open("net.py", "w") as handle:
    handle.write(
        "import socket\\n"
        "try:\\n"
        "    socket.create_connection(('127.0.0.1', PORT), 1)\\n"
        "    print('CONNECTED')\\n"
        "except OSError as exc:\\n"
        "    print('net-denied', exc)\\n"
    )
g["system"](g["sys"].executable + " net.py")
"""


def test_escape_through_subclasses_is_held_by_the_os(canary, host_dir, listener):
    """The code reaches os.system and os.popen through object.__subclasses__(); it runs,
    but the network, the environment and the host's files are still out of reach."""
    port, accepted = listener
    before = snapshot(host_dir)
    code = ESCAPE.replace("HOST", str(host_dir)).replace("PORT", str(port))
    result = timed("__subclasses__ escape", code)
    out = result.stdout + result.stderr
    assert "SHELL" in out and "write-denied" in out and "net-denied" in out, out
    assert canary not in out
    assert "CONNECTED" not in out
    assert len(accepted) == 0
    assert snapshot(host_dir) == before
    assert survivors(result) == []


def test_cpu_limit_kills_a_busy_loop_before_the_wall_clock():
    result = timed("CPU limit (1 s)", "while True: pass", timeout=5, cpu_seconds=1)
    assert result.status == "killed"
    assert result.signal in ("SIGXCPU", "SIGKILL")
    assert result.duration_s < 4


def test_a_crash_is_reported_as_killed():
    result = timed("segfault", "import ctypes; ctypes.string_at(0)")
    assert result.status == "killed"
    assert result.signal == "SIGSEGV"


def test_output_flood_is_capped():
    result = timed("output flood", "while True: print('x' * 1000)", output_bytes=4096)
    assert result.status == "timeout"
    assert len(result.stdout) <= 4096
    assert result.stdout_bytes > 100_000


def test_the_sandbox_dies_with_workbench():
    """workbench killed with SIGKILL mid-run: the sandbox's processes go too."""
    needle = f"wb-orphan-{secrets.token_hex(4)}"
    code = f"import os; os.execv('/bin/sleep', ['{needle}', '60'])"
    script = f"from workbench.checks.sandbox import run_python; run_python({code!r}, timeout=60)"
    root = str(Path(__file__).resolve().parents[3])
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    deadline = time.monotonic() + 10
    while not survivors(needle=needle) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(needle=needle), "the sandboxed sleep never started"
    parent.kill()
    parent.wait()
    killed = time.monotonic()
    while survivors(needle=needle) and time.monotonic() < killed + 2:
        time.sleep(0.02)
    record("workbench killed (dies within)", 0.5, time.monotonic() - killed)
    assert survivors(needle=needle) == []


# --- basic isolation (no namespaces): the fallback for machines without root ----------


def test_basic_isolation_as_root_drops_to_its_own_uid():
    result = timed(
        "basic: plain",
        "import os; print(os.getuid(), sorted(os.environ))",
        isolation="basic",
        python=SYSTEM_PYTHON,
    )
    assert result.status == "passed", result
    assert result.isolation == "basic"
    uid = int(result.stdout.split()[0])
    assert uid == result.uid and uid > 1_000_000


def test_basic_isolation_kills_a_grandchild_that_left_the_group():
    needle = f"wb-basic-{secrets.token_hex(4)}"
    result = timed(
        "basic: grandchild",
        GRANDCHILD.format(needle=needle, tail=""),
        isolation="basic",
        python=SYSTEM_PYTHON,
    )
    assert result.status == "passed", result
    assert result.leftovers_killed >= 1  # found by its uid, outside the group
    assert survivors(result, needle) == []


def test_basic_isolation_stops_an_infinite_loop():
    result = timed("basic: loop", "while True: pass", isolation="basic", python=SYSTEM_PYTHON)
    assert result.status == "timeout"
    assert survivors(result) == []


def test_basic_isolation_without_root_finds_escapers_by_marker(tmp_path: Path):
    """As an unprivileged user (nobody): the marker scan finds the setsid grandchild."""
    needle = f"wb-nonroot-{secrets.token_hex(4)}"
    root = str(Path(__file__).resolve().parents[3])
    code = GRANDCHILD.format(needle=needle, tail="")
    script = (
        f"import sys, time; sys.path.insert(0, {root!r})\n"
        "from workbench.checks.sandbox import run_python\n"
        "started = time.monotonic()\n"
        f"r = run_python({code!r}, timeout={TIMEOUT})\n"
        "print(r.status, r.isolation, r.uid, r.leftovers_killed, time.monotonic() - started)\n"
    )
    tmp_path.chmod(0o777)
    done = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", script],
        user=65534,
        group=65534,
        extra_groups=[],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    status, isolation, uid, killed, elapsed = done.stdout.split()
    record("basic, non-root: grandchild", TIMEOUT, float(elapsed))
    assert (status, isolation, uid) == ("passed", "basic", "None")
    assert int(killed) >= 1
    assert survivors(needle=needle) == []
