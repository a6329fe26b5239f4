"""Bare ``workbench`` with a bad ``workbench.toml`` opens the app (with the bundled
models and the error shown, as the README says) instead of exiting with status 2.

``main`` loaded the config for every command before it looked at the command, so
the app's own fallback (``run_app``) was never reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli import main as cli
from workbench.ui import app as ui_app


def test_a_bad_config_still_opens_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bad = tmp_path / "workbench.toml"
    bad.write_text("[defaults.sampling]\ntemprature = 0.2\n")
    opened: list[tuple[object, object]] = []
    monkeypatch.setattr(
        ui_app, "run_app", lambda config, sessions: opened.append((config, sessions)) or 0
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    assert opened == [(None, None)]


def test_a_bad_config_still_stops_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    (tmp_path / "workbench.toml").write_text("[defaults.sampling]\ntemprature = 0.2\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sessions"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # unwrapped
    assert "workbench.toml:2: unknown key 'temprature'" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_and_sessions_count_before_or_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, where: str
):
    # A command's own --config had a default, which overwrote one given before it.
    bad = tmp_path / "elsewhere.toml"
    bad.write_text("[defaults]\nswa_full = 'yes'\n")
    monkeypatch.chdir(tmp_path)
    options = ["--config", str(bad)]
    argv = [*options, "models"] if where == "before" else ["models", *options]
    assert cli.main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "elsewhere.toml:2: 'swa_full' must be true or false" in err
    options = ["--sessions", "kept"]
    argv = [*options, "sessions"] if where == "before" else ["sessions", *options]
    assert cli.build_parser().parse_args(argv).sessions == Path("kept")
