"""Facts about this machine that decide a model's speed: CPU, memory, llama.cpp build, devices.

Sessions record ``session_facts()`` (cheap: no llama.cpp import), so that figures
from different hardware never mix silently; ``workbench doctor`` adds what needs
llama.cpp loaded (``llama_facts()``: its system info and GPU devices).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
from pathlib import Path
from typing import Any

#: CPU flags that matter to llama.cpp's CPU kernels, as /proc/cpuinfo names them.
FEATURES = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
            "amx_int8", "amx_bf16", "asimd", "sve")  # fmt: skip
GGML_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "iGPU", 3: "accelerator"}


@functools.cache
def cpu() -> dict[str, Any]:
    """``{"model": "Intel(R) Xeon(R) …", "features": ["avx2", "amx_int8", …]}``."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if not model:
        model = platform.processor() or platform.machine() or "unknown CPU"
    return {"model": model, "features": [name for name in FEATURES if name in flags]}


def has_amx(features: list[str]) -> bool:
    return any(name.startswith("amx") for name in features)


def memory() -> dict[str, int | None]:
    """Total and available RAM in bytes (None where the system does not say)."""
    info: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                info[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if "MemTotal" not in info:
        try:
            info["MemTotal"] = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            info["MemAvailable"] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    return {"total": info.get("MemTotal"), "available": info.get("MemAvailable")}


def llama_cpp_dir() -> Path | None:
    """Where llama-cpp-python is installed, found without importing it (0.1 s+)."""
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def llama_build() -> str:
    """``"llama-cpp-python 0.3.36 (3f2a91c0)"``: the version and a fingerprint of its
    compiled libraries (two builds of one version differ in their CPU backend)."""
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return "llama-cpp-python not installed"
    folder = llama_cpp_dir()
    digest = hashlib.sha256()
    for lib in sorted((folder / "lib").glob("*.so*")) if folder else ():
        with _suppressed():
            stat = lib.stat()
            digest.update(f"{lib.name}:{stat.st_size}".encode())
    return f"llama-cpp-python {version} ({digest.hexdigest()[:8]})"


def _suppressed():
    import contextlib

    return contextlib.suppress(OSError)


@functools.cache
def session_facts() -> dict[str, Any]:
    """What each session records about the machine: enough to keep figures apart."""
    facts = cpu()
    facts = {
        "cpu": facts["model"],
        "features": facts["features"],
        "cores": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "ram_total": memory()["total"],
        "llama_build": llama_build(),
    }
    facts["label"] = machine_label(facts)
    return facts


def machine_label(facts: dict[str, Any]) -> str:
    """A short name that tells machines apart: ``Xeon Gold 6430 · 2 cores · 0.3.36 (3f2a91c0)``."""
    cpu_name = str(facts.get("cpu", "?"))
    for noise in ("(R)", "(TM)", " CPU", "Intel ", " Processor"):
        cpu_name = cpu_name.replace(noise, "")
    build = str(facts.get("llama_build", "")).removeprefix("llama-cpp-python ")
    return f"{' '.join(cpu_name.split())} · {facts.get('cores')} cores · {build}"


def label_of(facts: dict[str, Any]) -> str:
    """A session's machine label; sessions older than the label get one from their facts."""
    return str(facts.get("label") or machine_label(facts))


def llama_facts() -> dict[str, Any]:
    """What llama.cpp says about itself and the devices it sees (imports llama_cpp)."""
    try:
        import llama_cpp
    except ImportError as exc:
        return {"error": f"llama-cpp-python cannot be imported: {exc}"}
    llama_cpp.llama_backend_init()
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    return {
        "version": getattr(llama_cpp, "__version__", "?"),
        "build": llama_build(),
        "system_info": info,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "devices": devices(),
    }


def devices() -> list[dict[str, Any]] | None:
    """ggml's backend devices (name, kind, free and total memory); None if unreachable.

    llama-cpp-python does not bind ggml's device API, so it is called in the
    libggml that llama_cpp already loaded.
    """
    folder = llama_cpp_dir()
    if folder is None:
        return None
    try:
        ggml = ctypes.CDLL(str(folder / "lib" / "libggml.so"))
        base = ctypes.CDLL(str(folder / "lib" / "libggml-base.so"))
        ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
            getattr(base, name).restype = ctypes.c_char_p
            getattr(base, name).argtypes = [ctypes.c_void_p]
        base.ggml_backend_dev_type.restype = ctypes.c_int
        base.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        base.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p] + [
            ctypes.POINTER(ctypes.c_size_t)
        ] * 2
    except (OSError, AttributeError):
        return None
    found = []
    for index in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(
            {
                "name": (base.ggml_backend_dev_name(dev) or b"").decode(),
                "description": (base.ggml_backend_dev_description(dev) or b"").decode(),
                "type": GGML_DEVICE_TYPES.get(base.ggml_backend_dev_type(dev), "other"),
                "free": free.value,
                "total": total.value,
            }
        )
    return found
