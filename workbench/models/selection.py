"""Which models a list of names means: configured ones, discovered ones, or GGUF paths.

Configured models come first and keep their names. A name that is not
configured is looked up among the GGUFs discovery finds (the usual folders and
``[discovery] folders``); a path to a ``.gguf`` file is taken as it is, so a
model works the moment its file is on disk.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from workbench.errors import UsageError
from workbench.models.config import Config, ModelSpec


def resolve(config: Config, names: Sequence[str]) -> list[ModelSpec]:
    """The specs for ``names`` (every configured model when there are none)."""
    if not names:
        return list(config.models)
    configured = {spec.name: spec for spec in config.models}
    specs: list[ModelSpec] = []
    missing: list[str] = []
    for name in names:
        if name in configured:
            specs.append(configured[name])
        elif name.lower().endswith(".gguf") and Path(name).expanduser().is_file():
            path = Path(name).expanduser().resolve()
            specs.append(
                ModelSpec(
                    name=path.stem,
                    backend="llamacpp",
                    path=str(path),
                    origin="path",
                    llama=config.llama,  # [defaults]' llama.cpp settings
                )
            )
        else:
            specs.append(None)  # type: ignore[arg-type]  # filled in below
            missing.append(name)
    if missing:
        found = discovered(config)
        for index, name in enumerate(names):
            if specs[index] is None:
                if name not in found:
                    raise _unknown(name, [*configured, *found])
                specs[index] = found[name]
    return specs


def discovered(config: Config) -> dict[str, ModelSpec]:
    """The GGUFs on this machine, by the names discovery gives them."""
    from workbench.models.discovery import discover

    base = config.path.parent if config.path else None
    found = discover(config.discovery_folders, base=base, taken=[m.name for m in config.models])
    # A found GGUF loads with [defaults]' llama.cpp settings, as a configured one would.
    return {spec.name: replace(spec, llama=config.llama) for spec in found.specs}


def _unknown(name: str, known: list[str]) -> UsageError:
    listed = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
    if name.lower().endswith(".gguf"):  # meant as a path: say which file is missing
        where = Path(name).expanduser()
        what = "is a folder" if where.is_dir() else "does not exist"
        return UsageError(f"No GGUF file at {name!r}: it {what}. Known models: {listed or 'none'}.")
    hint = difflib.get_close_matches(name, known, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    return UsageError(
        f"No model named {name!r}.{extra} Known models: {listed or 'none'}. "
        "A path to a .gguf file works too."
    )
