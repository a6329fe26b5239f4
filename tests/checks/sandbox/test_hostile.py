"""Hostile generated code in the sandbox: each run ends within its timeout plus a second,
leaves no process behind, sees no secret, reaches no network and changes no host file.

The whole corpus runs three times: as root in the namespaces, and as an ordinary
account (dropped to from root) in the user-namespace and bubblewrap modes, with the
same outcomes asserted. The fork bomb is first run bounded (at most 200 forks) and at
full strength only once the bounded run showed that the process limit holds.
"""

from __future__ import annotations

import ast
import os
import secrets
import shutil
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_accounts import Box, account, user_namespaces_work
from sandbox_helpers import GRANDCHILD, NOTES, needs_linux, needs_root, record, survivors

from workbench.checks.sandbox import SandboxResult

pytestmark = [needs_linux, needs_root]

TIMEOUT = 2.0
BOXES = ("root:namespaces", "user:namespaces", "user:bwrap")


@pytest.fixture(params=BOXES, scope="module")
def box(request: pytest.FixtureRequest) -> Box:
    who, mode = request.param.split(":")
    if who == "user":
        why = user_namespaces_work() if mode == "namespaces" else ""
        if account() is None or why:
            pytest.skip(f"no unprivileged account with user namespaces: {why}")
    if mode == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (.ci/run installs it)")
    return Box(mode, who == "user")


def timed(box: Box, name: str, code: str, **options) -> SandboxResult:
    options.setdefault("timeout", TIMEOUT)
    result, elapsed = box.run(textwrap.dedent(code), **options)
    record(f"{box.name} {name}", options["timeout"], elapsed)
    assert result.isolation == box.mode
    return result


def left(box: Box, result: SandboxResult | None = None, needle: str | None = None) -> list[str]:
    """What still runs of the sandbox (or, as the account, of anything it started)."""
    return survivors(result, needle, uid=box.account_uid)


def test_a_plain_program_passes_in_the_namespaces(box):
    result = timed(box, "plain", "print('hello')")
    assert result.status == "passed", result
    assert result.stdout == "hello\n"
    assert result.isolation_note == ""  # asked for by name: no weaker mode to explain
    assert left(box, result) == []


def test_infinite_loop_that_ignores_signals_is_stopped(box):
    result = timed(
        box,
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
    assert left(box, result) == []


_BOUNDED_FORKS_HELD = False


def test_forks_are_capped_by_the_process_limit(box):
    """The bounded version first: 200 forks of sleeping children."""
    global _BOUNDED_FORKS_HELD
    needle = f"wb-bounded-{secrets.token_hex(4)}"
    result = timed(
        box,
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
    assert left(box, result, needle) == []
    _BOUNDED_FORKS_HELD = True


def test_fork_bomb_is_contained_and_the_machine_stays_responsive(box):
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
            box,
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
    assert left(box, result, needle) == []
    assert max(lateness) < 1.0, f"the test process stalled {max(lateness):.2f} s"


def test_memory_bomb_at_once_is_a_memory_error(box):
    result = timed(box, "memory bomb (one block)", "x = bytearray(8 * 1024**3)", memory_mb=256)
    assert result.status == "error"
    assert result.error == "MemoryError"
    assert left(box, result) == []


def test_memory_bomb_that_grows_is_a_memory_error(box):
    result = timed(
        box,
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


def test_grandchild_that_outlives_its_parent_is_killed(box):
    needle = f"wb-grandchild-{secrets.token_hex(4)}"
    result = timed(box, "grandchild (code ends)", GRANDCHILD.format(needle=needle, tail=""))
    assert result.status == "passed"
    assert result.stdout == "parent done\n"
    assert left(box, result, needle) == []


def test_grandchild_is_killed_with_a_program_that_times_out(box):
    needle = f"wb-grandchild-{secrets.token_hex(4)}"
    code = GRANDCHILD.format(needle=needle, tail="while True: pass")
    result = timed(box, "grandchild (timeout)", code)
    assert result.status == "timeout"
    assert left(box, result, needle) == []


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


def test_no_network_not_even_loopback(box, listener):
    port, accepted = listener
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # the host itself can connect
    time.sleep(0.2)
    assert len(accepted) == 1
    result = timed(
        box,
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


KEYRING = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
found = [line.split()[0] for line in open("/proc/keys") if "NAME" in line]
for key in found:
    buffer = ctypes.create_string_buffer(200)
    size = libc.syscall(250, 11, int(key, 16), buffer, 200)  # keyctl(KEYCTL_READ)
    print("read", size, buffer.raw[: max(size, 0)])
print("found", len(found))
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="keyctl numbers for x86_64 only")
def test_workbench_session_keyring_is_out_of_reach(box):
    """A secret in workbench's session keyring (a Kerberos ticket, a tool's token): the
    code joins a fresh session keyring, so it cannot read it (at most see its name)."""
    name, secret = f"wb-key-{secrets.token_hex(4)}", f"s3cret-{secrets.token_hex(8)}"
    code = KEYRING.replace("NAME", name)
    result, elapsed = box.run(code, session_key=(name, secret), timeout=TIMEOUT)
    record(f"{box.name} session keyring", TIMEOUT, elapsed)
    assert result.status == "passed", result
    assert secret not in result.stdout + result.stderr
    assert "read -1" in result.stdout or "found 0" in result.stdout


@pytest.fixture
def canary(box: Box, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A secret in workbench's environment (the test's own, or the account's runner's)."""
    value = f"canary-{secrets.token_hex(8)}"
    secrets_env = {"WORKBENCH_TEST_SECRET": value, "OPENAI_API_KEY": value}
    for name, text in secrets_env.items():
        monkeypatch.setenv(name, text)
    box.env.update(secrets_env)
    try:
        yield value
    finally:
        for name in secrets_env:
            box.env.pop(name, None)


def test_environment_holds_no_secret(box, canary):
    result = timed(
        box,
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


def owned_folder(parent: Path, owner: int) -> Path:
    """A 0755 folder with one 0644 file, both owned by ``owner``."""
    folder = Path(tempfile.mkdtemp(prefix="wb-host-", dir=parent))
    (folder / "keep.txt").write_text("original\n")
    for path, mode in ((folder, 0o755), (folder / "keep.txt", 0o644)):
        path.chmod(mode)
        os.chown(path, owner, owner)
    return folder


@pytest.fixture
def host_dirs(box: Box) -> Iterator[list[Path]]:
    """Folders of the account that runs workbench, which the code's writes must not
    reach: one in its home, one outside it where a project's sessions folder might be
    (root's folders for root, the ordinary account's own for it)."""
    user = account() if box.as_user else None
    home = Path(user.pw_dir) if user else Path("/root")
    owner = user.pw_uid if user else 0
    outside = next(Path(p) for p in ("/srv", "/opt", "/var/lib") if os.path.isdir(p))
    folders = [owned_folder(home, owner), owned_folder(outside, owner)]
    try:
        yield folders
    finally:
        for folder in folders:
            shutil.rmtree(folder)


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.name: (p.stat().st_mode, p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()
    }


def test_writing_outside_its_folder_changes_nothing(box, host_dirs):
    before = [snapshot(folder) for folder in host_dirs]
    escape = f"wb-escape-{secrets.token_hex(4)}"
    mounts = Path("/proc/self/mountinfo").read_text()
    result = timed(
        box,
        "write outside",
        f"""
        import os
        attempts = [lambda: os.setuid(0)]
        for folder in {[str(f) for f in host_dirs]!r}:
            target = folder + "/keep.txt"
            attempts += [
                lambda: open(target, "a").write("pwned"),
                lambda: open(target, "w").write("pwned"),
                lambda: os.chmod(target, 0o777),
                lambda: os.unlink(target),
                lambda: open(folder + "/new.txt", "w").write("pwned"),
                lambda: os.rename(target, folder + "/moved.txt"),
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
    assert result.stdout.count("denied") == 1 + 6 * len(host_dirs)
    assert [snapshot(folder) for folder in host_dirs] == before
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


def test_escape_through_subclasses_is_held_by_the_os(box, canary, host_dirs, listener):
    """The code reaches os.system and os.popen through object.__subclasses__(); it runs,
    but the network, the environment and the host's files are still out of reach."""
    port, accepted = listener
    host_dir = host_dirs[1]  # the one outside the home folder: visible, read-only
    before = snapshot(host_dir)
    code = ESCAPE.replace("HOST", str(host_dir)).replace("PORT", str(port))
    result = timed(box, "__subclasses__ escape", code)
    out = result.stdout + result.stderr
    assert "SHELL" in out and "write-denied" in out and "net-denied" in out, out
    assert canary not in out
    assert "CONNECTED" not in out
    assert len(accepted) == 0
    assert snapshot(host_dir) == before
    assert left(box, result) == []


def test_cpu_limit_kills_a_busy_loop_before_the_wall_clock(box):
    """Killed (not timed out) means the CPU limit came first. At nice 0: on a loaded
    machine a nice 10 loop may not get a second of CPU in five seconds."""
    code = "while True: pass"
    result = timed(box, "CPU limit (1 s)", code, timeout=10, cpu_seconds=1, nice=0)
    assert result.status == "killed", result
    assert result.signal in ("SIGXCPU", "SIGKILL")
    assert result.cpu_s is not None and 0.9 < result.cpu_s < 2.5


def test_a_crash_is_reported_as_killed(box):
    result = timed(box, "segfault", "import ctypes; ctypes.string_at(0)")
    assert result.status == "killed"
    assert result.signal == "SIGSEGV"


def test_output_flood_is_capped(box):
    result = timed(box, "output flood", "while True: print('x' * 1000)", output_bytes=4096)
    assert result.status == "timeout"
    assert len(result.stdout) <= 4096
    assert result.stdout_bytes > 100_000


def test_the_sandbox_dies_with_workbench(box):
    """workbench killed with SIGKILL mid-run: the sandbox's processes go too."""
    needle = f"wb-orphan-{secrets.token_hex(4)}"
    parent = box.spawn(f"import os; os.execv('/bin/sleep', ['{needle}', '60'])", timeout=60)
    deadline = time.monotonic() + 10
    while not survivors(needle=needle) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(needle=needle), "the sandboxed sleep never started"
    parent.kill()
    parent.wait()
    killed = time.monotonic()
    # Dead means not running: a zombie is gone but for its pid, which the host's init
    # reaps in its own time (the final check gives it a few seconds).
    while time.monotonic() < killed + 2:
        running = survivors(needle=needle, zombie_grace=0, uid=box.account_uid)
        if all(" Z " in line for line in running):
            break
        time.sleep(0.02)
    record(f"{box.name} workbench killed (dies within)", 0.5, time.monotonic() - killed)
    assert left(box, needle=needle) == []
