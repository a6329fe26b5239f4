"""Remembered weight-repacking decisions, per llama.cpp build and CPU model.

llama.cpp repacks weights at load into CPU "extra buffer types" (AMX, AVX-512
layouts); on some CPUs (Sapphire Rapids Xeons, upstream ggml-org/llama.cpp#20824)
the first matrix multiply then crashes. When a load crashes that way, workbench
loads again without repacking and writes the decision here, so later loads on
the same CPU and build skip the crash. A small JSON file in the user cache dir,
written atomically; a damaged file is read as empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.models.machine import cpu, has_amx, llama_build

FILE_NAME = "repack.json"
NOTICE = "llama.cpp crashed repacking weights for this CPU{amx}; loaded without repacking"


def decisions_file() -> Path:
    from workbench.paths import user_cache_dir

    return user_cache_dir() / FILE_NAME


def machine_key() -> str:
    """This CPU model and llama.cpp build: where a decision holds."""
    return f"{cpu()['model']} | {llama_build()}"


def read_all(path: Path | None = None) -> dict[str, Any]:
    try:
        data = json.loads((path or decisions_file()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered(path: Path | None = None) -> dict[str, Any] | None:
    """The decision for this machine and build (``{"repack": False, …}``), if any."""
    entry = read_all(path).get(machine_key())
    return entry if isinstance(entry, dict) and isinstance(entry.get("repack"), bool) else None


def resolve(setting: bool | str) -> bool:
    """Whether to repack: the config's true/false, else ("auto") on unless it crashed here."""
    if isinstance(setting, bool):
        return setting
    decision = remembered()
    return decision["repack"] if decision is not None else True


def remember_crash(reason: str, path: Path | None = None) -> None:
    """Record that repacking crashed on this machine and build (atomic write)."""
    path = path or decisions_file()
    data = read_all(path)
    data[machine_key()] = {
        "repack": False,
        "reason": reason,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".repack-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def notice() -> str:
    return NOTICE.format(amx=" (AMX)" if has_amx(cpu()["features"]) else "")


def describe() -> str:
    """For ``workbench doctor``: what loads will do on this machine and why."""
    decision = remembered()
    if decision is None:
        return "on (no crash recorded for this CPU and llama.cpp build)"
    return (
        f"off: {decision.get('reason', 'it crashed')} (recorded {decision.get('when', '?')} "
        f"in {decisions_file()})"
    )
