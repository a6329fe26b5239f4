"""Turn the editor's contents into one Request per model, first turn or follow-up.

Plain Python (no Textual) so the rules are tested on their own:
- sampling: a request carries what the user typed; the runner fills the rest per
  model (preset < config defaults < model config < typed, ``workbench.models.settings``)
  and records every value it sent, the seed included;
- a follow-up turn continues each model's own conversation: its earlier
  messages, its answer (even a partial one), then the new user message; in raw
  completion mode the new text is appended to the earlier prompt and answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.models.config import ModelSpec
from workbench.models.request import Message, Request, Sampling
from workbench.store.sessions import Session


@dataclass
class Thread:
    """The comparison on screen: its models, its mode and its latest turn."""

    models: tuple[str, ...]
    mode: str
    session: Session

    @property
    def turn(self) -> int:
        return self.session.turn

    def continues(self, models: Sequence[str], mode: str) -> bool:
        """Whether a prompt to ``models`` in ``mode`` is a follow-up of this thread."""
        return set(models) == set(self.models) and mode == self.mode


def first_requests(
    specs: Sequence[ModelSpec],
    text: str,
    *,
    mode: str,
    system: str | None,
    typed: Sampling,
) -> dict[str, Request]:
    """The first turn of a comparison: the same prompt for every model."""
    requests = {}
    for spec in specs:
        sampling = typed
        if mode == "completion":
            requests[spec.name] = Request.completion(text, sampling=sampling)
        else:
            requests[spec.name] = Request.chat(text, system=system or None, sampling=sampling)
    return requests


def follow_up_requests(
    specs: Sequence[ModelSpec],
    text: str,
    previous: Session,
    *,
    typed: Sampling,
) -> dict[str, Request]:
    """The next turn: each model continues its own conversation from ``previous``."""
    requests = {}
    for spec in specs:
        run = previous.run(spec.name)
        sampling = typed
        if previous.mode == "completion":
            requests[spec.name] = Request.completion(
                run.prompt + run.text + text, sampling=sampling
            )
            continue
        messages = tuple(Message(m["role"], m["content"]) for m in run.conversation)  # type: ignore[arg-type]
        messages += (Message("assistant", run.text), Message("user", text))
        requests[spec.name] = Request(mode="chat", messages=messages, sampling=sampling)
    return requests
