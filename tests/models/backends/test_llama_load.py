"""The worker's load path on the real bundled models: settings read back from llama.cpp,
the warm-up, and the fallback when repacked weights crash (a test-only switch)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from workbench.errors import ModelLoadError
from workbench.models.backends import llama_params
from workbench.models.backends import repack as repack_memory
from workbench.models.backends.llamacpp import LlamaCppBackend
from workbench.models.backends.llamacpp_worker import CRASH_ON_REPACK_ENV
from workbench.models.llama_settings import LlamaSettings
from workbench.models.request import Request, Sampling, Usage

DEADLINE_S = 240
MAIN = "import sys; from workbench.cli.main import main; sys.exit(main(sys.argv[1:]))"


def test_the_hook_point_is_where_workbench_expects_it() -> None:
    """Fails loudly when a llama-cpp-python upgrade moves what params_hook relies on."""
    import llama_cpp

    llama_params.check_hook()
    fields = dict(llama_cpp.llama_model_params._fields_)
    assert "use_extra_bufts" in fields
    assert "flash_attn_type" in dict(llama_cpp.llama_context_params._fields_)


def test_a_moved_hook_point_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_params.inspect, "getsource", lambda _obj: "def __init__(): pass")
    with pytest.raises(llama_params.HookMoved, match=r"internals\.LlamaModel"):
        llama_params.check_hook()


async def load(spec) -> LlamaCppBackend:
    backend = LlamaCppBackend(spec)
    await asyncio.wait_for(backend.load(lambda _p: None), DEADLINE_S)
    return backend


async def answer(backend: LlamaCppBackend, **sampling) -> tuple[str, Usage]:
    text, usage = "", None
    request = Request.completion("def add(a, b):", sampling=Sampling(max_tokens=8, **sampling))
    async for chunk in backend.stream(request):
        if isinstance(chunk, Usage):
            usage = chunk
        else:
            text += chunk.text
    assert usage is not None
    return text, usage


@pytest.mark.slow
async def test_every_setting_reaches_llama_cpp(bundled) -> None:
    import llama_cpp

    settings = LlamaSettings(
        n_gpu_layers=3,
        flash_attn=False,
        cache_type_k="q8_0",
        cache_type_v="f16",
        n_batch=256,
        n_ubatch=128,
        use_mmap=False,
        use_mlock=True,
        main_gpu=0,
        tensor_split=(1.0,),
        rope_freq_base=50000.0,
        rope_freq_scale=0.5,
        repack=False,
    )
    backend = await load(replace(bundled.model("smollm2"), llama=settings, n_ctx=1024))
    try:
        got = backend.info["llama"]
        offload = llama_cpp.llama_supports_gpu_offload()
        assert got["n_gpu_layers"] == (3 if offload else 0)
        assert got["offload"] == ("partial" if offload else "none")
        assert got["flash_attn"] is False
        assert (got["cache_type_k"], got["cache_type_v"]) == ("q8_0", "f16")
        assert (got["n_ctx"], got["n_batch"], got["n_ubatch"]) == (1024, 256, 128)
        assert (got["use_mmap"], got["use_mlock"]) == (False, True)
        assert got["main_gpu"] == 0
        assert got["tensor_split"] == [1.0] + [0.0] * (llama_cpp.LLAMA_MAX_DEVICES - 1)
        assert (got["rope_freq_base"], got["rope_freq_scale"]) == (50000.0, 0.5)
        assert got["repack"] is False and got["repacked"] is False
        assert backend.info["warmup_ms"] > 0
        text, usage = await answer(backend, temperature=0.0)
        assert usage.output_tokens and text  # it still answers with all of that
        assert usage.info["llama"] == got
    finally:
        await backend.close()


@pytest.mark.slow
async def test_defaults_resolve_auto_and_repacking_reaches_llama_cpp(bundled) -> None:
    """Gemma 3's Q4_K weights have a repacked layout on x86 CPUs with AVX2: repack on
    makes llama.cpp use it, repack off does not."""
    import llama_cpp

    system = llama_cpp.llama_print_system_info().decode()
    spec = bundled.model("gemma3")
    on = await load(replace(spec, llama=LlamaSettings(repack=True), n_ctx=512))
    off = await load(replace(spec, llama=LlamaSettings(repack=False), n_ctx=512))
    try:
        got = on.info["llama"]
        assert got["flash_attn"] in (True, False)  # "auto", resolved by llama.cpp
        assert (got["n_batch"], got["n_ubatch"]) == (512, 512)  # n_batch ≤ n_ctx
        assert got["cache_type_k"] == got["cache_type_v"] == "f16"
        assert got["n_gpu_layers"] == (got["n_layer"] + 1 if got["offload"] != "none" else 0)
        assert got["repack"] is True and off.info["llama"]["repack"] is False
        assert off.info["llama"]["repacked"] is False
        if "REPACK = 1" in system and "AVX2 = 1" in system:
            assert got["repacked"] is True
    finally:
        await on.close()
        await off.close()


@pytest.mark.slow
async def test_top_k_reaches_the_sampler(bundled) -> None:
    """top_k = 1 makes a hot temperature greedy: two seeds then give the same text."""
    backend = await load(replace(bundled.model("smollm2"), llama=LlamaSettings(repack=False)))
    try:
        greedy = {(await answer(backend, temperature=1.5, top_k=1, seed=s))[0] for s in (1, 2, 3)}
        assert len(greedy) == 1
        free = [(await answer(backend, temperature=1.5, top_k=0, min_p=0.0, seed=s))[0]
                for s in range(1, 7)]  # fmt: skip
        assert len(set(free)) > 1
    finally:
        await backend.close()


@pytest.fixture
def crashing_repack(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The worker's warm-up crashes (SIGSEGV) while repacking is on; decisions in tmp."""
    monkeypatch.setenv(CRASH_ON_REPACK_ENV, "1")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / repack_memory.FILE_NAME


@pytest.mark.slow
async def test_a_repack_crash_loads_again_without_and_is_remembered(
    bundled, crashing_repack
) -> None:
    spec = replace(bundled.model("smollm2"), llama=LlamaSettings(repack="auto"))
    assert repack_memory.remembered() is None
    backend = await load(spec)
    try:
        assert backend.info["llama"]["repack"] is False
        decision = json.loads(crashing_repack.read_text())[repack_memory.machine_key()]
        assert decision["repack"] is False
        assert "SIGSEGV" in decision["reason"]
        _, first = await answer(backend, temperature=0.0)
        assert first.info["notice"].startswith("llama.cpp crashed repacking weights for this CPU")
        assert first.info["notice"].endswith("loaded without repacking")
        _, second = await answer(backend, temperature=0.0)
        assert "notice" not in second.info  # said once
    finally:
        await backend.close()
    # A later load remembers: it goes without repacking at once (with repacking, the
    # switch would crash it again), and has nothing to say.
    again = await load(spec)
    try:
        assert again.info["llama"]["repack"] is False
        _, usage = await answer(again, temperature=0.0)
        assert "notice" not in usage.info
    finally:
        await again.close()


@pytest.mark.slow
async def test_repack_true_is_obeyed_and_its_crash_explained(bundled, crashing_repack) -> None:
    spec = replace(bundled.model("smollm2"), llama=LlamaSettings(repack=True))
    with pytest.raises(ModelLoadError) as info:
        await load(spec)
    assert "SIGSEGV" in info.value.message
    assert 'repack = "auto" or false' in info.value.message
    assert not crashing_repack.exists()  # the user's explicit choice is not overruled


@pytest.mark.slow
def test_the_cli_says_it_on_stderr_once(tmp_path, crashing_repack) -> None:
    env = {**os.environ, "NO_COLOR": "1", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    command = [sys.executable, "-c", MAIN, "run", "-m", "smollm2",
               "--max-tokens", "4", "--sessions", str(tmp_path / "s"),
               "hello"]  # fmt: skip
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=DEADLINE_S, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    said = "smollm2: llama.cpp crashed repacking weights for this CPU"
    assert done.stderr.count(said) == 1, done.stderr
    assert said not in done.stdout
    assert crashing_repack.exists()
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=DEADLINE_S, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert "crashed repacking" not in again.stderr
