"""``workbench run`` with a sessions folder it cannot write: one clear line, status 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_run_names_the_folder_it_cannot_write(tmp_path: Path):
    blocked = tmp_path / "sessions"
    blocked.write_text("a file where the folder should be")
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "run", "hi", "-m", "smollm2", "--sessions", blocked],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    err = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stderr
    assert "Cannot save the session:" in err and str(blocked) in err
    assert "Unexpected error" not in err and "Traceback" not in err
