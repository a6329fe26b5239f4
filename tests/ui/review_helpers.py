"""Helpers of the review-screen tests: saved sessions made by hand, and the screens' states."""

from __future__ import annotations

from workbench.core.record import ModelRun
from workbench.store.sessions import Session, SessionStore
from workbench.ui.screens.sessions import SessionsScreen

#: Two answers with four changed hunks: one is whitespace only, two are in code.
LEFT = (
    "Intro line one.\n\n"
    "```python\ndef add(a, b):\n    return a + b\n```\n\n"
    "Middle text stays.\nMore shared prose here.\n\n"
    "```python\ndef sub(a, b):\n    return a - b\n```\n\n"
    "The end.\n"
)
RIGHT = (
    "Intro line two.\n\n"
    "```python\ndef add(a, b):\n        return a + b\n```\n\n"
    "Middle text stays.\nMore shared prose here.\n\n"
    "```python\ndef sub(x, y):\n    return x - y\n```\n\n"
    "A different end.\n"
)


def run(model: str, text: str, *, step: float = 0.01, start: float = 0.05, **kw) -> ModelRun:
    """A finished run whose text arrived word by word, ``step`` seconds apart."""
    words = text.split(" ")
    pieces = [w + " " for w in words[:-1]] + [words[-1]]
    chunks = [(round(start + i * step, 6), piece) for i, piece in enumerate(pieces) if piece]
    last = chunks[-1][0] if chunks else None
    fields = {
        "state": "done",
        "text": text,
        "chunks": chunks,
        "first_token_s": start if chunks else None,
        "last_token_s": last,
        "total_s": (last or 0) + 0.01,
        "prompt_tokens": 7,
        "output_tokens": len(chunks),
        "finish_reason": "stop",
        "identity": {"backend": "scripted", "name": model},
        "conversation": [{"role": "user", "content": "prompt"}],
    }
    fields.update(kw)
    return ModelRun(model=model, **fields)


def save_session(
    store: SessionStore,
    session_id: str,
    prompt: str,
    runs: list[ModelRun],
    *,
    created: str | None = None,
    **kw,
) -> Session:
    """Save a finished session with a fixed id and creation time."""
    created = created or f"{session_id[:4]}-{session_id[4:6]}-{session_id[6:8]}T10:00:00+00:00"
    session = Session(
        id=session_id,
        created=created,
        mode=kw.pop("mode", "chat"),
        prompt=prompt,
        runs=runs,
        complete=True,
        sampling={"temperature": 0.2, "max_tokens": 64, "seed": 1},
        **kw,
    )
    store.save(session)
    return session


def browser(app) -> SessionsScreen:
    return next(s for s in app.screen_stack if isinstance(s, SessionsScreen))


def shown_ids(app) -> list[str]:
    return [row.id for row in browser(app).session_list.rows]


def settled(app) -> bool:
    """The browser has read the store and no typed text waits for the filter."""
    screen = browser(app)
    return screen.loaded and not screen.filtering
