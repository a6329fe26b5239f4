"""The basic mode (no namespaces) as root and as an ordinary account, and which mode a
machine gets and why: the reason on every result where user namespaces are refused."""

from __future__ import annotations

import secrets
import shutil
import textwrap

import pytest
from sandbox_accounts import SYSTEM_PYTHON, Box, account, user_namespaces_work
from sandbox_helpers import GRANDCHILD, needs_linux, needs_root, record, survivors

from workbench.checks.sandbox import SandboxResult, run_python

pytestmark = [needs_linux, needs_root]

TIMEOUT = 2.0


def timed(name: str, code: str, **options) -> SandboxResult:
    options.setdefault("timeout", TIMEOUT)
    box = Box("basic", False)
    result, elapsed = box.run(textwrap.dedent(code), **options)
    record(name, options["timeout"], elapsed)
    return result


@pytest.fixture(scope="module")
def user() -> Box:
    if account() is None:
        pytest.skip("no unprivileged account (needs root and useradd)")
    return Box("basic", True)


def test_basic_isolation_as_root_drops_to_its_own_uid():
    code = "import os; print(os.getuid(), sorted(os.environ))"
    result = timed("basic: plain", code, isolation="basic", python=SYSTEM_PYTHON)
    assert result.status == "passed", result
    assert result.isolation == "basic"
    uid = int(result.stdout.split()[0])
    assert uid == result.uid and uid > 1_000_000


def test_basic_isolation_kills_a_grandchild_that_left_the_group():
    needle = f"wb-basic-{secrets.token_hex(4)}"
    code = GRANDCHILD.format(needle=needle, tail="")
    result = timed("basic: grandchild", code, isolation="basic", python=SYSTEM_PYTHON)
    assert result.status == "passed", result
    assert result.leftovers_killed >= 1  # found by its uid, outside the group
    assert survivors(result, needle) == []


def test_basic_isolation_stops_an_infinite_loop():
    result = timed("basic: loop", "while True: pass", isolation="basic", python=SYSTEM_PYTHON)
    assert result.status == "timeout"
    assert survivors(result) == []


def test_basic_isolation_as_an_ordinary_user_finds_escapers_by_marker(user: Box):
    """Forced to basic as the account: the marker scan finds the setsid grandchild."""
    needle = f"wb-nonroot-{secrets.token_hex(4)}"
    result, elapsed = user.run(GRANDCHILD.format(needle=needle, tail=""), timeout=TIMEOUT)
    record("basic, user: grandchild", TIMEOUT, elapsed)
    assert (result.status, result.isolation, result.uid) == ("passed", "basic", None)
    assert result.isolation_note == ""  # asked for by name
    assert result.leftovers_killed >= 1
    assert survivors(needle=needle, uid=account().pw_uid) == []


def test_an_ordinary_user_gets_the_namespaces_by_default(user: Box):
    if why := user_namespaces_work():
        pytest.skip(f"user namespaces do not work here: {why}")
    box = Box("auto", True)
    result, _ = box.run("import os; print(os.getuid())", report=True, timeout=5)
    assert result.status == "passed", result
    assert result.isolation == "namespaces"
    assert int(result.stdout) == account().pw_uid
    assert result.isolation_note == ""
    assert box.report["mode"] == "namespaces"
    assert (box.report["reason"], box.report["hint"]) == ("", "")


def test_where_user_namespaces_are_refused_checks_say_why_on_every_result(user: Box):
    """Inside a user namespace whose quota of further ones is used up (a container
    without CLONE_NEWUSER, seen from inside): neither the namespaces nor bwrap can
    start, so checks run in basic, and every result and the report say why and how
    to get better."""
    if user_namespaces_work():
        pytest.skip("no user namespaces at all here: cannot make a restricted one")
    box = Box("auto", True, restricted=True)
    notes = set()
    for _ in range(2):
        result, _ = box.run("print('ran')", report=True, timeout=5)
        assert result.status == "passed", result
        assert result.isolation == "basic"
        notes.add(result.isolation_note)
    (note,) = notes
    report = box.report
    assert report["mode"] == "basic"
    assert "namespaces refused" in report["reason"]
    assert "No space left on device" in report["reason"]
    tried = {c["mode"]: c for c in report["tried"]}
    assert not tried["namespaces"]["works"]
    if shutil.which("bwrap"):
        assert not tried["bwrap"]["works"] and "bwrap" in tried["bwrap"]["why"]
    else:
        assert tried["bwrap"]["why"] == "bubblewrap (bwrap) is not installed"
    assert "user namespaces" in report["hint"]
    assert note == f"{report['reason']} {report['hint']}"


def test_a_forced_mode_is_used_and_not_explained(user: Box):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    box = Box("auto", True, env={"WORKBENCH_ISOLATION": "bwrap"})
    result, _ = box.run("print('ran')", report=True, timeout=5)
    assert (result.status, result.isolation, result.isolation_note) == ("passed", "bwrap", "")
    assert box.report["forced"] is True and box.report["mode"] == "bwrap"


def test_a_bad_forced_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch):
    from workbench.checks import sandbox
    from workbench.checks.supervisor import SandboxError

    monkeypatch.setenv("WORKBENCH_ISOLATION", "chroot")
    monkeypatch.setattr(sandbox, "_REPORT", None)
    try:
        with pytest.raises(SandboxError, match="WORKBENCH_ISOLATION='chroot'"):
            run_python("print(1)")
    finally:
        sandbox._REPORT = None
