"""Fixtures for presets and discovery: real vocab-only GGUFs, and GGUF files we write.

The vocab GGUFs come from the llama-cpp-python source distribution on PyPI (the
version installed here), fetched once with pip and kept in pytest's cache folder,
so nothing large is stored in git and the hub is never asked.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gguf_files import write_gguf

VOCABS = ("llama-bpe", "deepseek-coder", "qwen2", "llama-spm")


def _fetch_vocabs(folder: Path, version: str, scratch: Path) -> None:
    """Download the sdist with pip and extract only the vocab files we need."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", f"llama-cpp-python=={version}", "-d", str(scratch),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not run pip download for the llama-cpp-python sdist: {exc}")
    sdists = sorted(scratch.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not sdists:
        pytest.skip(
            f"could not download the llama-cpp-python {version} sdist from PyPI: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    wanted = {f"vendor/llama.cpp/models/ggml-vocab-{name}.gguf" for name in VOCABS}
    with tarfile.open(sdists[0], "r:gz") as tar:
        for member in tar:
            inner = member.name.split("/", 1)[-1]
            if member.isfile() and inner in wanted:
                source = tar.extractfile(member)
                assert source is not None
                target = folder / Path(inner).name
                partial = target.with_suffix(".part")
                with source, open(partial, "wb") as out:
                    shutil.copyfileobj(source, out)
                os.replace(partial, target)


@pytest.fixture(scope="session")
def vocab_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the four vocab GGUFs (``WORKBENCH_TEST_VOCAB`` may point at one)."""
    override = os.environ.get("WORKBENCH_TEST_VOCAB")
    version = importlib.metadata.version("llama_cpp_python")
    if override:
        folder = Path(override)
    elif getattr(request.config, "cache", None) is not None:
        folder = Path(request.config.cache.mkdir(f"workbench-test-vocab-{version}"))
    else:
        folder = tmp_path_factory.mktemp("vocab")
    names = [folder / f"ggml-vocab-{name}.gguf" for name in VOCABS]
    if not all(path.is_file() for path in names):
        _fetch_vocabs(folder, version, tmp_path_factory.mktemp("sdist"))
    missing = [path.name for path in names if not path.is_file()]
    if missing:
        pytest.fail(f"the llama-cpp-python {version} sdist has no {', '.join(missing)}")
    return folder


@pytest.fixture(scope="session")
def vocab(vocab_dir: Path) -> Iterator[Callable[[str], Any]]:
    """``vocab("llama-bpe")``: a vocab-only ``Llama``, loaded once per session."""
    from llama_cpp import Llama

    loaded: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in loaded:
            path = vocab_dir / f"ggml-vocab-{name}.gguf"
            loaded[name] = Llama(model_path=str(path), vocab_only=True, verbose=False)
        return loaded[name]

    yield get
    for llm in loaded.values():
        llm.close()


# --- GGUF files written by the test --------------------------------------------------------


@pytest.fixture
def gguf_writer() -> Callable[..., Path]:
    return write_gguf
