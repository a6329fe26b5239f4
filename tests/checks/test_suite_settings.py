"""A suite's requests carry only what was asked: the config's defaults are a layer of the
runner's resolver, under each model's own settings (workbench.models.settings)."""

from __future__ import annotations

from workbench.checks.suite import load_suite
from workbench.checks.suite_run import SuiteRun, SuiteSettings
from workbench.core.runner import Runner
from workbench.models.config import ModelSpec
from workbench.models.request import Sampling
from workbench.models.settings import resolve

SUITE = """
name = "tiny"
max_tokens = 64

[[task]]
id = "add"
prompt = "Write add(a, b)."
tests = "assert add(1, 2) == 3"
"""


def test_config_defaults_do_not_override_a_models_own_settings(tmp_path, tmp_sessions):
    path = tmp_path / "suite.toml"
    path.write_text(SUITE, encoding="utf-8")
    spec = ModelSpec(name="m", backend="scripted", sampling=Sampling(temperature=0.7))
    defaults = Sampling(temperature=0.1, top_p=0.5)
    runner = Runner(cores=1)
    run = SuiteRun(load_suite(path), [spec], runner, tmp_sessions, SuiteSettings(defaults=defaults))
    request = run.request(run.suite.tasks[0], 0, "m")
    # Before, the defaults were merged into the request, the highest layer: 0.1 won.
    assert request.sampling.temperature is None and request.sampling.max_tokens == 64
    effective = resolve(request.sampling, model=spec.sampling, defaults=runner.defaults)
    assert effective.sampling.temperature == 0.7  # the model's own
    assert effective.sampling.top_p == 0.5  # the config's default, where the model says none
