"""The commands but checks work where POSIX is missing (Windows): ``workbench run`` on the
real SmolLM2, ``sessions`` and ``show``, in an interpreter that lacks fcntl, termios,
resource, the POSIX-only signals and os functions and the event loop's signal
handlers (filelock keeps its lock primitive: on Windows it has its own)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli import make_env
from without_posix import WITH_FILELOCK

ROOT = Path(__file__).resolve().parents[2]


def workbench_without_posix(*args: str, cwd: Path, env: dict[str, str]):
    script = WITH_FILELOCK + textwrap.dedent(
        f"""
        import runpy
        sys.argv = ["workbench", *{list(args)!r}]
        sys.path.insert(0, {str(ROOT)!r})
        runpy.run_module("workbench", run_name="__main__")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


@pytest.mark.slow
def test_run_sessions_and_show_work_without_posix(model_cache, tmp_path):
    env = make_env(model_cache, tmp_path)
    sessions = tmp_path / "sessions"
    done = workbench_without_posix(
        "run", "Say hi.", "-m", "smollm2", "--max-tokens", "4", "--seed", "1", "--json",
        "--sessions", str(sessions), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    (run,) = data["runs"]
    assert run["error"] is None and run["text"].strip()
    listed = workbench_without_posix("sessions", "--sessions", str(sessions), cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    shown = workbench_without_posix(
        "show", Path(data["session"]).stem, "--sessions", str(sessions), cwd=tmp_path, env=env
    )
    assert shown.returncode == 0 and run["text"].strip()[:10] in shown.stdout
    assert sorted(p.name for p in sessions.iterdir() if p.name.endswith(".lock")) == []
