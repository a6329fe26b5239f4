"""``workbench sessions`` in an 80-column terminal prints every id whole.

The id is what ``show``, ``diff``, ``score`` … take; it was cut to
``20261206-214700-1…`` at 80 columns, and the part left matched several sessions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.core.record import ModelRun
from workbench.models.request import Request
from workbench.store.sessions import Session, SessionStore


def test_every_id_is_printed_whole_at_80_columns(tmp_path: Path):
    store = SessionStore(tmp_path / "s")
    ids = []
    for prompt in ("Write a Python function is_prime(n). Only code, no prose at all.", "hi"):
        runs = [ModelRun(model="smollm2"), ModelRun(model="gemma3")]
        session = Session.start(Request.chat(prompt), schedule="parallel", runs=runs)
        store.save(session)
        ids.append(session.id)
    env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "sessions", "--sessions", str(store.root)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for session_id in ids:
        assert session_id in done.stdout, done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
