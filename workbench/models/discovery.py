"""Models on this machine and on the servers named in config.

GGUF files are found in the usual places and described from their header alone
(``workbench.models.gguf``), matched to a preset, and listed beside the models
the configured servers offer. A file that is not a GGUF, is truncated or corrupt
becomes a problem entry with a clear message; discovery itself never fails
because of one file, nor a listing because of one server.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench.errors import BackendError, WorkbenchError
from workbench.models.config import Config, ModelSpec
from workbench.models.gguf import GGUFError, GGUFInfo, read_gguf
from workbench.models.presets import find_preset
from workbench.models.templates import chat_template

__all__ = [
    "MAX_DEPTH",
    "SERVER_TIMEOUT_S",
    "DiscoveredModel",
    "Discovery",
    "DiscoveryProblem",
    "ListedModel",
    "Server",
    "ServerListing",
    "default_folders",
    "describe",
    "discover",
    "gguf_files",
    "list_server",
    "list_servers",
    "servers_in_config",
]

# -- finding GGUF files ------------------------------------------------------------------

_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_PRUNE = {"node_modules", "__pycache__"}
MAX_DEPTH = 8


def default_folders(
    env: Mapping[str, str] | None = None, home: Path | None = None
) -> list[tuple[str, Path]]:
    """The usual places, labelled; those that do not exist are simply not searched."""
    env = os.environ if env is None else env
    home = home or Path.home()
    cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    hf_home = Path(env.get("HF_HOME") or cache / "huggingface")
    if env.get("LLAMA_CACHE"):
        llama = Path(env["LLAMA_CACHE"])
    elif sys.platform == "darwin":
        llama = home / "Library" / "Caches" / "llama.cpp"
    elif sys.platform == "win32":
        llama = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "llama.cpp"
    else:
        llama = cache / "llama.cpp"
    return [
        ("Hugging Face cache", Path(env.get("HF_HUB_CACHE") or hf_home / "hub")),
        ("LM Studio", home / ".lmstudio" / "models"),
        ("LM Studio", home / ".cache" / "lm-studio" / "models"),
        ("llama.cpp cache", llama),
        ("~/models", home / "models"),
    ]


def gguf_files(folder: Path, on_error: Callable[[OSError], None] | None = None) -> Iterator[Path]:
    """``*.gguf`` under ``folder`` (symlinked files included, as in the HF cache)."""
    root_depth = len(folder.parts)
    for here, dirs, files in os.walk(folder, onerror=on_error, followlinks=False):
        depth = len(Path(here).parts) - root_depth
        # The HF cache's blobs are reached through its snapshots' symlinks, by file name.
        hf_repo = "snapshots" in dirs
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _PRUNE
            and not d.startswith(".")
            and not (hf_repo and d == "blobs")
            and depth < MAX_DEPTH
        )
        for name in sorted(files):
            if name.lower().endswith(".gguf"):
                yield Path(here) / name


@dataclass(frozen=True)
class DiscoveredModel:
    """A GGUF found on disk, described and ready to be run as ``spec``."""

    spec: ModelSpec
    info: GGUFInfo
    folder: Path
    preset: str | None
    #: Why that preset: "general.name 'deepseek-coder-6.7b-instruct'".
    evidence: str | None
    #: Where the chat template would come from ("preset:llama3 (by …)", "gguf", "none (…)").
    template: str

    def row(self) -> dict[str, Any]:
        """One line of ``workbench models``."""
        return {
            "name": self.spec.name,
            "origin": self.spec.origin,
            "path": str(self.info.path),
            "architecture": self.info.architecture,
            "parameters": self.info.size_label,
            "quantization": self.info.quantization,
            "context_length": self.info.context_length,
            "has_template": self.info.has_template,
            "template": self.template,
            "preset": self.preset,
        }


@dataclass(frozen=True)
class DiscoveryProblem:
    path: Path
    folder: Path
    title: str
    message: str
    #: Not an error: a file that is not a model to chat with (a split's later part, …).
    skipped: bool = False


@dataclass(frozen=True)
class Discovery:
    models: tuple[DiscoveredModel, ...] = ()
    problems: tuple[DiscoveryProblem, ...] = ()
    #: The folders that were searched (those that exist).
    folders: tuple[Path, ...] = ()

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        return tuple(m.spec for m in self.models)


def discover(
    folders: Sequence[str | os.PathLike[str]] = (),
    *,
    defaults: bool = True,
    base: Path | None = None,
    taken: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Discovery:
    """Find and describe the GGUFs in ``folders`` (config's, relative to ``base``) and,
    with ``defaults``, in the usual places. ``taken`` are names already in use."""
    roots: list[tuple[Path, bool]] = []
    for folder in folders:
        path = Path(folder).expanduser()
        roots.append(((base or Path.cwd()) / path if not path.is_absolute() else path, True))
    if defaults:
        roots += [(path, False) for _, path in default_folders(env, home)]
    models: list[DiscoveredModel] = []
    problems: list[DiscoveryProblem] = []
    searched: list[Path] = []
    seen: set[str] = set()
    names = set(taken)
    for root, named in roots:
        if not root.is_dir():
            if named:
                problems.append(
                    DiscoveryProblem(root, root, "Folder not found", f"{root} is not a folder.")
                )
            continue
        if root in searched:
            continue
        searched.append(root)
        for path in gguf_files(root, _reporter(problems, root)):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            found = describe(path, root, names)
            if isinstance(found, DiscoveredModel):
                names.add(found.spec.name)
                models.append(found)
            else:
                problems.append(found)
    return Discovery(tuple(models), tuple(problems), tuple(searched))


def _reporter(problems: list[DiscoveryProblem], root: Path) -> Callable[[OSError], None]:
    """Turns a folder that cannot be listed into a problem entry (os.walk skips it)."""

    def report(exc: OSError) -> None:
        where = Path(exc.filename or root)
        reason = exc.strerror or str(exc)
        problems.append(DiscoveryProblem(where, root, "Folder not readable", f"{where}: {reason}."))

    return report


def describe(
    path: Path, folder: Path, taken: Iterable[str] = ()
) -> DiscoveredModel | DiscoveryProblem:
    """One file as a model entry, or as a problem entry that says what is wrong."""
    part = _SPLIT_PART.search(path.name)
    if part and int(part.group(1)) > 1:
        return DiscoveryProblem(
            path, folder, "Split part", "a later part of a split GGUF (the first part is listed).",
            skipped=True,
        )  # fmt: skip
    try:
        info = read_gguf(path)
    except GGUFError as exc:
        return DiscoveryProblem(path, folder, exc.title, exc.message)
    kind = info.kind
    if info.architecture == "clip" or kind in ("adapter", "mmproj"):
        return DiscoveryProblem(
            path, folder, "Not a chat model",
            f"a {kind or 'vision projector'} GGUF, used beside a model.", skipped=True,
        )  # fmt: skip
    if info.tensor_count == 0:
        return DiscoveryProblem(
            path, folder, "No weights", "a vocabulary-only GGUF (no tensors).", skipped=True
        )
    match = find_preset(info.metadata, str(path))
    try:
        template = chat_template(info.metadata, None, filename=str(path)).source
    except WorkbenchError as exc:
        template = f"none ({exc.title.lower()}: completion mode only)"
    name = _unique(path.name.removesuffix(".gguf").removesuffix(".GGUF"), taken)
    context = info.context_length
    spec = ModelSpec(
        name=name,
        backend="llamacpp",
        path=str(path),
        n_ctx=min(context, 4096) if context else 4096,
        origin=f"discovered:{folder}",
    )
    return DiscoveredModel(
        spec,
        info,
        folder,
        match.preset.name if match else None,
        match.evidence if match else None,
        template,
    )


def _unique(name: str, taken: Iterable[str]) -> str:
    used = set(taken)
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


# -- servers -----------------------------------------------------------------------------

SERVER_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Server:
    backend: str  # "openai" or "ollama"
    url: str
    api_key_env: str | None = None


@dataclass(frozen=True)
class ListedModel:
    spec: ModelSpec
    preset: str | None


@dataclass(frozen=True)
class ServerListing:
    server: Server
    models: tuple[ListedModel, ...] = ()
    #: Set when the server could not be listed; the other servers' listings stand.
    error: WorkbenchError | None = None


def servers_in_config(config: Config) -> list[Server]:
    """The distinct servers the configured models point at."""
    servers: dict[tuple[str, str], Server] = {}
    for spec in config.models:
        if spec.backend in ("openai", "ollama") and spec.url:
            key = (spec.backend, spec.url.rstrip("/"))
            servers.setdefault(key, Server(spec.backend, key[1], spec.api_key_env))
    return list(servers.values())


async def list_server(server: Server, timeout: float = SERVER_TIMEOUT_S) -> ServerListing:
    """One server's models; any failure becomes the listing's ``error``."""
    try:
        ids = await asyncio.wait_for(_model_ids(server), timeout)
    except TimeoutError:
        error: WorkbenchError = BackendError(
            f"{server.url} did not list its models within {timeout:g} s.",
            title="Server did not answer",
        )
        return ServerListing(server, error=error)
    except WorkbenchError as exc:
        return ServerListing(server, error=exc)
    except Exception as exc:  # a listing must never take the others down
        error = BackendError(f"{server.url}: {type(exc).__name__}: {exc}", title="Listing failed")
        return ServerListing(server, error=error)
    origin = f"server:{server.url}"
    models = tuple(
        ListedModel(
            ModelSpec(
                name=model_id,
                backend=server.backend,
                url=server.url,
                model=model_id,
                api_key_env=server.api_key_env,
                origin=origin,
            ),
            (match.preset.name if (match := find_preset({}, None, model_id)) else None),
        )
        for model_id in ids
    )
    return ServerListing(server, models)


async def _model_ids(server: Server) -> list[str]:
    if server.backend == "ollama":
        from workbench.models.backends.ollama import list_models

        return await list_models(server.url)
    from workbench.models.backends.openai import list_models as list_openai

    return await list_openai(server.url, server.api_key_env)


async def list_servers(
    servers: Sequence[Server], *, taken: Iterable[str] = (), timeout: float = SERVER_TIMEOUT_S
) -> list[ServerListing]:
    """Every server's listing, fetched at once; names made unique against ``taken``."""
    listings = await asyncio.gather(*(list_server(s, timeout) for s in servers))
    used = set(taken)
    out: list[ServerListing] = []
    for listing in listings:
        renamed = []
        for item in listing.models:
            name = item.spec.name
            if name in used:
                host = urlsplit(listing.server.url).netloc or listing.server.url
                name = _unique(f"{name}@{host}", used)
            used.add(name)
            spec = item.spec if name == item.spec.name else replace(item.spec, name=name)
            renamed.append(ListedModel(spec, item.preset))
        out.append(ServerListing(listing.server, tuple(renamed), listing.error))
    return out
