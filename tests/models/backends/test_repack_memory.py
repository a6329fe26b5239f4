"""The remembered repacking decision: per CPU model and llama.cpp build, written atomically."""

from __future__ import annotations

import json

import pytest

from workbench.models.backends import repack


@pytest.fixture
def cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_nothing_remembered_means_repacking_on(cache) -> None:
    assert repack.remembered() is None
    assert repack.resolve("auto") is True
    assert repack.describe().startswith("on")


def test_a_remembered_crash_turns_auto_off_but_not_an_explicit_choice(cache) -> None:
    repack.remember_crash("killed by signal SIGSEGV")
    assert repack.resolve("auto") is False
    assert repack.resolve(True) is True and repack.resolve(False) is False
    assert "killed by signal SIGSEGV" in repack.describe()
    assert [p.name for p in cache.iterdir()] == [repack.FILE_NAME]  # no temporary left


def test_other_machines_decisions_are_kept_and_not_applied(cache, monkeypatch) -> None:
    cache.mkdir(parents=True)
    other = {"Other CPU | llama-cpp-python 0.3.1 (x)": {"repack": False, "reason": "r"}}
    (cache / repack.FILE_NAME).write_text(json.dumps(other))
    assert repack.resolve("auto") is True
    repack.remember_crash("killed by signal SIGILL")
    data = json.loads((cache / repack.FILE_NAME).read_text())
    assert set(data) == {*other, repack.machine_key()}
    # Another CPU model (or build) is another key: the decision does not follow it.
    monkeypatch.setattr(repack, "cpu", lambda: {"model": "New CPU", "features": []})
    assert repack.resolve("auto") is True


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"key": "not a table"}'])
def test_a_damaged_file_is_read_as_nothing_remembered(cache, text) -> None:
    cache.mkdir(parents=True)
    (cache / repack.FILE_NAME).write_text(text)
    assert repack.resolve("auto") is True
    repack.remember_crash("killed by signal SIGBUS")  # and is replaced by a good one
    assert repack.resolve("auto") is False


def test_the_notice_names_amx_only_on_an_amx_cpu(monkeypatch) -> None:
    monkeypatch.setattr(repack, "cpu", lambda: {"model": "x", "features": ["amx_int8"]})
    assert repack.notice() == (
        "llama.cpp crashed repacking weights for this CPU (AMX); loaded without repacking"
    )
    monkeypatch.setattr(repack, "cpu", lambda: {"model": "x", "features": ["avx2"]})
    assert "(AMX)" not in repack.notice()
