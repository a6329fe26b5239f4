"""``workbench doctor``: what this machine offers the models, and what each model needs.

CPU model and features, cores (and how many are free now), RAM, the llama.cpp
build with its system info and devices, the weight-repacking decision, the
sandbox's isolation, and per configured model its file, quantization and
estimated memory. ``--json`` prints the same as one object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from workbench.errors import WorkbenchError
from workbench.models.config import Config, ModelSpec
from workbench.store.sessions import SessionStore

#: How long doctor watches /proc/stat to tell the free cores.
CORE_WINDOW_S = 0.5


def add_parser(commands: Any, common: Any) -> None:
    doctor = commands.add_parser("doctor", help="what this machine offers and what models need")
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="print one JSON object")


def gather(config: Config) -> dict[str, Any]:
    """Every fact doctor reports, as plain data."""
    from workbench.models import machine
    from workbench.models.backends import repack

    cpu = machine.cpu()
    llama = machine.llama_facts()
    return {
        "cpu": {**cpu, "amx": machine.has_amx(cpu["features"])},
        "cores": _cores(),
        "memory": machine.memory(),
        "llama_cpp": llama,
        "repack": {"decision": repack.describe(), "remembered": repack.remembered()},
        "sandbox": _sandbox(),
        "models": [_model(spec) for spec in config.models],
    }


def _cores() -> dict[str, Any]:
    from workbench.core.cpu import available_cores, busy_elsewhere, free_cores, sample

    cores = available_cores()
    before = sample()
    time.sleep(CORE_WINDOW_S)
    busy = busy_elsewhere(before, sample())
    return {
        "total": os.cpu_count(),
        "usable": cores,
        "free": free_cores(cores, busy),
        "busy_elsewhere": round(busy, 2) if busy is not None else None,
    }


def _sandbox() -> dict[str, Any]:
    """The sandbox's own answer for the isolation it would use (never raises)."""
    from workbench.checks import sandbox

    report_of = getattr(sandbox, "isolation_report", None)
    if report_of is None:  # an older sandbox: its rule for "auto"
        mode = "namespaces" if os.geteuid() == 0 else "basic"
        return {"mode": mode, "reason": "the sandbox's default for this user", "hint": ""}
    try:
        report = report_of()
    except Exception as exc:  # doctor reports; it must not fail on one part
        return {"mode": "unknown", "reason": f"{type(exc).__name__}: {exc}", "hint": ""}
    return {
        "mode": getattr(report, "mode", str(report)),
        "reason": getattr(report, "reason", ""),
        "hint": getattr(report, "hint", ""),
    }


def _model(spec: ModelSpec) -> dict[str, Any]:
    row: dict[str, Any] = {"name": spec.name, "backend": spec.backend}
    if spec.backend != "llamacpp":
        row["where"] = spec.url or ""
        return row
    from workbench.models.backends.llamacpp import LlamaCppBackend
    from workbench.models.gguf import read_gguf

    try:
        path = LlamaCppBackend(spec).model_path()
        info = read_gguf(path)
    except WorkbenchError as exc:
        row["error"] = exc.message
        return row
    row.update(file=str(path), size=info.size_bytes, quantization=info.quantization)
    row["settings"] = spec.llama.to_dict()
    row["memory"] = _estimate(info, spec)
    return row


def _estimate(info: Any, spec: ModelSpec) -> dict[str, Any] | None:
    """The memory estimate of ``workbench.models.memory`` (issue 12's part 4), when present."""
    try:
        from workbench.models.memory import estimate_for
    except ImportError:  # not there yet: doctor lists the models without it
        return None
    try:
        estimate = estimate_for(info, spec.n_ctx, spec.llama)
    except Exception as exc:  # a header the estimate cannot read: say so, go on
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {**estimate.to_dict(), "described": estimate.describe()}


def size(value: int | None) -> str:
    if value is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def doctor_command(args: argparse.Namespace, config: Config, store: SessionStore) -> int:
    facts = gather(config)
    if args.json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return 0
    Console().print(render(facts))
    return 0


def render(facts: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    cpu = facts["cpu"]
    features = " ".join(cpu["features"]) or "none known"
    table.add_row("CPU", f"{cpu['model']}\n{features}" + ("" if cpu["amx"] else " (no AMX)"))
    cores = facts["cores"]
    busy = cores["busy_elsewhere"]
    table.add_row(
        "cores",
        f"{cores['usable']} usable, {cores['free']} free now"
        + (f" ({busy} busy elsewhere)" if busy else ""),
    )
    memory = facts["memory"]
    table.add_row("memory", f"{size(memory['available'])} free of {size(memory['total'])}")
    llama = facts["llama_cpp"]
    if "error" in llama:
        table.add_row("llama.cpp", Text(llama["error"], style="yellow"))
    else:
        table.add_row("llama.cpp", f"{llama['build']}\n{llama['system_info']}")
        gpus = [d for d in llama["devices"] or () if d["type"] != "CPU"]
        if not llama["gpu_offload"]:
            table.add_row("GPU", "no GPU offload in this build")
        elif llama["devices"] is None:
            table.add_row("GPU", "offload supported; devices not reachable")
        else:
            lines = [f"{d['name']}: {d['description']} ({size(d['free'])} free of "
                     f"{size(d['total'])})" for d in gpus]  # fmt: skip
            table.add_row("GPU", "\n".join(lines) or "offload supported; no GPU found")
    table.add_row("repacking", facts["repack"]["decision"])
    sandbox = facts["sandbox"]
    table.add_row(
        "sandbox",
        sandbox["mode"]
        + (f" — {sandbox['reason']}" if sandbox["reason"] else "")
        + (f"\n{sandbox['hint']}" if sandbox["hint"] else ""),
    )
    for model in facts["models"]:
        table.add_row(f"model {model['name']}", _model_line(model))
    return table


def _model_line(model: dict[str, Any]) -> Text | str:
    if model["backend"] != "llamacpp":
        return f"{model['backend']} {model.get('where', '')}"
    if "error" in model:
        return Text(model["error"], style="yellow")
    estimate = model["memory"]
    if estimate is None:
        need = "memory estimate not available"
    elif "error" in estimate:
        need = f"memory estimate failed: {estimate['error']}"
    else:
        need = f"needs {estimate['described']}"
    return (
        f"{model['file']}\n{model['quantization'] or '?'} · {size(model['size'])} on disk · {need}"
    )


HANDLERS = {"doctor": doctor_command}
