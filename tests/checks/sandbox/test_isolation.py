"""Which isolation each platform gets, how it is forced, and the command lines made for
bubblewrap and macOS's sandbox-exec (pure functions: no sandbox runs here, except where
a platform without a sandbox must refuse to run one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.checks import isolation as modes
from workbench.checks import sandbox
from workbench.checks.isolation import Candidate
from workbench.checks.supervisor import SandboxError


@pytest.fixture
def fresh_report() -> Iterator[None]:
    """isolation_report() is cached per process: start and end with none."""
    sandbox._REPORT = None
    yield
    sandbox._REPORT = None


@pytest.mark.parametrize(
    ("raw", "name"),
    [("linux", "linux"), ("darwin", "macos"), ("win32", "windows"), ("cygwin", "windows")],
)
def test_platform_names(raw: str, name: str):
    assert modes.platform_name(raw) == name


def test_candidates_per_platform():
    assert modes.candidates("linux", root=False) == ("namespaces", "bwrap", "basic")
    assert modes.candidates("linux", root=True) == ("namespaces", "bwrap", "basic")
    assert modes.candidates("macos", root=False) == ("sandbox-exec", "basic")
    assert modes.candidates("windows", root=False) == ()


def test_the_forcing_variable():
    assert modes.requested_mode({}) == "auto"
    assert modes.requested_mode({"WORKBENCH_ISOLATION": " BWRAP "}) == "bwrap"
    with pytest.raises(ValueError, match="WORKBENCH_ISOLATION='jail'"):
        modes.requested_mode({"WORKBENCH_ISOLATION": "jail"})


def test_windows_has_no_sandbox_and_says_so(monkeypatch: pytest.MonkeyPatch, fresh_report):
    monkeypatch.setattr(modes, "platform_name", lambda platform=None: "windows")
    report = sandbox.isolation_report()
    assert report.mode == "unavailable"
    assert "Windows" in report.reason and "WSL" in report.hint
    assert report.protects == "nothing: checks do not run"
    with pytest.raises(SandboxError, match="Windows has none"):
        sandbox.run_python("print(1)")
    with pytest.raises(SandboxError, match="Windows has none"):
        sandbox.run_python("print(1)", isolation="basic")


def test_macos_offers_sandbox_exec_then_basic_never_namespaces(
    monkeypatch: pytest.MonkeyPatch, fresh_report
):
    monkeypatch.setattr(modes, "platform_name", lambda platform=None: "macos")
    with pytest.raises(SandboxError, match="'namespaces' does not exist on macos"):
        sandbox.run_python("print(1)", isolation="namespaces")
    # No /usr/bin/sandbox-exec here: the report says so before anything runs.
    assert sandbox._try("sandbox-exec", "macos") == "/usr/bin/sandbox-exec is missing"
    tried = (Candidate("sandbox-exec", False, "missing"), Candidate("basic", True))
    assert "network is reachable" in modes.hint_for("macos", tried)
    tried = (Candidate("sandbox-exec", True),)
    assert "Linux VM" in modes.hint_for("macos", tried)


def test_hints_on_linux():
    works = (Candidate("namespaces", True),)
    assert modes.hint_for("linux", works) == ""
    refused = Candidate("namespaces", False, "namespaces refused (Operation not permitted)")
    no_bwrap = Candidate("bwrap", False, "bubblewrap (bwrap) is not installed")
    hint = modes.hint_for("linux", (refused, no_bwrap, Candidate("basic", True)))
    assert "install bubblewrap" in hint and "user namespaces" in hint
    assert modes.hint_for("linux", (refused, Candidate("bwrap", True))) == ""
    apparmor = Candidate("namespaces", False, "refused by AppArmor")
    assert "apparmor_restrict_unprivileged_userns" in modes.hint_for(
        "linux", (apparmor, no_bwrap, Candidate("basic", True))
    )


def test_the_report_explains_a_weaker_mode(monkeypatch: pytest.MonkeyPatch, fresh_report):
    """With the namespaces refused and bwrap missing, the report says basic, why, and
    how to do better; the note every result carries is both."""
    monkeypatch.setattr(modes, "bwrap_path", lambda: None)
    real_try = sandbox._try
    monkeypatch.setattr(
        sandbox,
        "_try",
        lambda mode, platform: (
            "namespaces refused (EPERM)" if mode == "namespaces" else real_try(mode, platform)
        ),
    )
    monkeypatch.setattr(modes, "platform_name", lambda platform=None: "linux")
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    report = sandbox.isolation_report()
    assert report.mode == "basic"
    assert report.reason == (
        "Checks run in basic isolation (namespaces: namespaces refused (EPERM); "
        "bwrap: bubblewrap (bwrap) is not installed)."
    )
    assert "install bubblewrap" in report.hint
    assert report.note == f"{report.reason} {report.hint}"
    assert "can reach the network" in report.protects


def test_bwrap_command_line_for_an_ordinary_user():
    argv = modes.bwrap_argv(
        "/usr/bin/bwrap",
        workdir="/tmp/workbench-sandbox-x",
        workdir_mb=8,
        keep=("/home/ann/.venv/lib", "/home/ann/.venv/lib/python3.11", "/usr/lib"),
        user_namespace=True,
        command=["python3", "-I", "-S", "-c", "init()"],
    )
    text = " ".join(argv)
    assert argv[0] == "/usr/bin/bwrap" and "--unshare-user" in argv
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"):
        assert flag in argv
    assert "--ro-bind / /" in text
    assert "--tmpfs /home" in text and "--remount-ro /home" in text
    # The kept folder under /home is shown again read-only, its parents made passable.
    assert "--perms 0755 --dir /home/ann --perms 0755 --dir /home/ann/.venv" in text
    assert "--ro-bind /home/ann/.venv/lib /home/ann/.venv/lib" in text
    assert "python3.11" not in text  # inside a kept folder already
    assert "/usr/lib" not in text  # not hidden: no bind needed
    tail = argv[argv.index("--") - 8 : argv.index("--")]
    assert tail == [
        "--perms", "0700", "--size", str(8 << 20), "--tmpfs", "/tmp/workbench-sandbox-x",
        "--chdir", "/tmp/workbench-sandbox-x",
    ]  # fmt: skip
    assert argv[argv.index("--") + 1 :] == ["python3", "-I", "-S", "-c", "init()"]
    assert text.index("--tmpfs /home") < text.index("--ro-bind /home/ann")
    assert text.index("--ro-bind /home/ann") < text.index("--remount-ro /home")


def test_bwrap_as_root_makes_no_user_namespace():
    argv = modes.bwrap_argv(
        "bwrap", workdir="/tmp/w", workdir_mb=8, keep=(), user_namespace=False, command=["x"]
    )
    assert "--unshare-user" not in argv and "--unshare-net" in argv


def test_seatbelt_profile_denies_the_network_and_writes_elsewhere():
    profile = modes.seatbelt_profile('/private/var/folders/x/a"b')
    assert "(deny network*)" in profile
    assert "(deny file-write*)" in profile
    assert '(subpath "/private/var/folders/x/a\\"b")' in profile
    assert profile.count("(") == profile.count(")")
