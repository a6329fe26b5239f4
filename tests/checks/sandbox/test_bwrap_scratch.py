"""bubblewrap's sandbox when workbench itself lives under /tmp (a clone or a venv there).

/tmp is a fresh tmpfs inside the sandbox, so the package folder bound there for init
vanished under it: every check failed with "No module named 'workbench'" (found in
a clean clone in /tmp/qa/clone, where tests/checks/sandbox/test_basic_mode.py failed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.checks import isolation as modes


def test_a_kept_folder_under_tmp_is_bound_back_after_the_scratch_tmpfs():
    argv = modes.bwrap_argv(
        "bwrap",
        workdir="/tmp/workbench-sandbox-x",
        workdir_mb=8,
        keep=("/tmp/qa/clone", "/tmp/qa/clone/workbench", "/usr/lib"),
        user_namespace=True,
        command=["python3"],
    )
    text = " ".join(argv)
    scratch = text.index("--tmpfs /tmp ")
    bind = text.index("--ro-bind /tmp/qa/clone /tmp/qa/clone")
    assert scratch < bind < text.index("--tmpfs /tmp/workbench-sandbox-x")
    assert "--perms 0755 --dir /tmp/qa --ro-bind" in text  # its parent made passable
    assert "/tmp/qa/clone/workbench" not in text  # inside a kept folder already


@pytest.mark.skipif(modes.bwrap_path() is None, reason="bubblewrap is not installed")
def test_bwrap_runs_checks_for_a_package_that_lives_under_tmp(tmp_path: Path):
    assert str(tmp_path.resolve()).startswith("/tmp/")
    package = Path(modes.__file__).resolve().parents[1]
    shutil.copytree(package, tmp_path / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    program = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from workbench.checks.sandbox import run_python; "
        "r = run_python('assert 1 + 1 == 2', isolation='bwrap', timeout=20); "
        "print(json.dumps([r.status, r.isolation, r.stderr]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["passed", "bwrap", ""]
