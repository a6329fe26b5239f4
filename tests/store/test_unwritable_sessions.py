"""A sessions folder workbench cannot write is a clear message, not "Unexpected error".

Found as an ordinary account in a clone owned by root (its ``sessions/`` is the
project's): ``workbench run`` ended with "Unexpected error: PermissionError: …
.lock". Here the folder is a plain file, which fails for root as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import SessionError
from workbench.models.config import ModelSpec
from workbench.models.request import Request
from workbench.store.comparison import open_session
from workbench.store.sessions import SessionStore


def test_open_session_in_a_folder_that_cannot_be_written(tmp_path: Path):
    blocked = tmp_path / "sessions"
    blocked.write_text("a file where the folder should be")
    store = SessionStore(blocked)
    spec = ModelSpec(name="m", backend="scripted")
    with pytest.raises(SessionError) as raised:
        open_session(store, [spec], Request.chat("hi"), schedule="parallel")
    assert raised.value.title == "Cannot save the session"
    assert str(blocked) in raised.value.message and "--sessions DIR" in raised.value.message
