"""Machine facts and llama.cpp settings kept with the figures: sessions record them,
exports carry them, the leaderboard can keep one machine's votes apart."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from workbench.core.record import ModelRun
from workbench.models import machine
from workbench.models.request import Request
from workbench.store.export import export
from workbench.store.sessions import Session, SessionStore
from workbench.store.votes import add_vote, collect

SETTINGS = {"n_gpu_layers": 0, "offload": "none", "flash_attn": True, "cache_type_k": "f16",
            "cache_type_v": "q8_0", "n_ctx": 4096, "n_batch": 2048, "n_ubatch": 512,
            "repack": False, "rope_freq_base": 0.0}  # fmt: skip


def started(runs: list[ModelRun]) -> Session:
    return Session.start(Request.chat("Write add()"), schedule="parallel", runs=runs)


def test_a_session_records_this_machine(tmp_sessions: SessionStore) -> None:
    session = started([ModelRun("a", state="done", text="x")])
    tmp_sessions.save(session)
    saved = tmp_sessions.load(session.id).machine
    cpu = machine.cpu()
    assert saved["cpu"] == cpu["model"] and saved["features"] == cpu["features"]
    assert saved["llama_build"].startswith("llama-cpp-python ")
    assert saved["cores"] and saved["ram_total"] > 0
    assert saved["label"] == machine.machine_label(saved)
    assert str(saved["cores"]) in saved["label"]


def test_exports_carry_the_machine_and_the_effective_settings(tmp_sessions) -> None:
    local = ModelRun("local", state="done", text="x", info={"llama": SETTINGS, "warmup_ms": 3})
    server = ModelRun("server", state="done", text="y")
    session = started([local, server])
    rows = [json.loads(line) for line in export([session], "jsonl").splitlines()]
    assert {row["machine"] for row in rows} == {session.machine["label"]}
    carried = json.loads(rows[0]["llama_settings"])
    assert carried == {k: v for k, v in SETTINGS.items() if k != "rope_freq_base"}
    assert rows[1]["llama_settings"] == ""
    table = list(csv.DictReader(io.StringIO(export([session], "csv"))))
    assert table[0]["machine"] == session.machine["label"]
    assert json.loads(table[0]["llama_settings"])["cache_type_v"] == "q8_0"


def test_an_older_session_still_gets_a_machine_label() -> None:
    old = Session(id="20260101-000000-aaaaaa", created="2026-01-01T00:00:00+00:00",
                  mode="chat", prompt="p", runs=[ModelRun("a", state="done")],
                  machine={"cores": 8, "platform": "Linux"})  # fmt: skip
    (row,) = [json.loads(line) for line in export([old], "jsonl").splitlines()]
    assert "8 cores" in row["machine"]


def test_the_leaderboard_keeps_one_machine_apart(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    facts = {"xeon": "Intel(R) Xeon(R) Platinum 8480+", "epyc": "AMD EPYC 9654"}
    for index, (name, cpu) in enumerate(facts.items()):
        session = Session(
            id=f"20260101-00000{index}-abcdef",
            created="2026-01-01T00:00:00+00:00",
            mode="chat",
            prompt="p",
            runs=[ModelRun("a", state="done", text="1"), ModelRun("b", state="done", text="2")],
            machine={"cpu": cpu, "cores": 2, "llama_build": "llama-cpp-python 0.3.36 (ab)"},
        )
        store.save(session)
        add_vote(store, session.id, "a", "b", "a" if name == "xeon" else "b")
    everything, _, _ = collect(store)
    assert len(everything) == 2
    xeon, _, _ = collect(store, machine="platinum 8480")
    assert [vote.outcome for vote in xeon] == ["a"]
    epyc, _, _ = collect(store, machine="EPYC")
    assert [vote.outcome for vote in epyc] == ["b"]
    assert collect(store, machine="M3 Max")[0] == []
