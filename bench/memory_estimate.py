"""Memory: the estimate from each GGUF header against the real worker's resident memory.

For both bundled models at n_ctx 512, 4,096 and 32,768: load the model in
workbench's own worker process (the bundled settings), run one completion with
a prompt of about 400 tokens and 16 tokens out, then read the worker's
``/proc/PID/status``: VmRSS (resident now) and VmHWM (the peak). The estimate
(``workbench.models.memory``) is compared with both; goal: within ±20 %.

What RSS counts: the weights are mapped from the GGUF file, and mapped pages
count in RSS once touched (a first prompt touches every layer; the file was
read into the page cache by the load); the KV cache is allocated and cleared
whole at load; the compute buffers llama.cpp reserves for the worst case
(``n_ubatch`` rows of logits, a full context of attention scores) count only
where a prompt touched them, so the estimate counts what a prompt of up to one
micro-batch touches, and reports separately what a full context would add.
RSS also counts the worker's Python and llama.cpp's shared libraries.

    python bench/memory_estimate.py [--ctx 512,4096,32768]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
from pathlib import Path

from _common import report

from workbench.core.admission import model_estimate
from workbench.models.backends.llamacpp import LlamaCppBackend
from workbench.models.config import bundled_models
from workbench.models.request import Request, Sampling

MIB = 1 << 20
PROMPT = " ".join(f"Line {i}: the quick brown fox jumps over the lazy dog." for i in range(30))


def status(pid: int) -> dict[str, int]:
    text = Path(f"/proc/{pid}/status").read_text()
    fields = re.findall(r"(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+)", text)
    return {key: int(kib) * 1024 for key, kib in fields}


async def measure(spec) -> dict:
    backend = LlamaCppBackend(spec)
    estimate = model_estimate(backend, spec)
    try:
        await backend.load(lambda _p: None)
        pid = backend._proc.pid
        loaded = status(pid)
        request = Request.completion(PROMPT, sampling=Sampling(max_tokens=16, temperature=0))
        prompt_tokens = 0
        async for chunk in backend.stream(request):
            prompt_tokens = getattr(chunk, "prompt_tokens", prompt_tokens)
        generated = status(pid)
    finally:
        await backend.close()
    return {
        "estimate": estimate.to_dict(),
        "loaded": loaded,
        "generated": generated,
        "prompt_tokens": prompt_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctx", default="512,4096,32768", help="n_ctx values, comma-separated")
    args = parser.parse_args()
    contexts = [int(x) for x in args.ctx.split(",")]
    rows, raw = [], {}
    for base in bundled_models():
        for n_ctx in contexts:
            spec = dataclasses.replace(base, n_ctx=n_ctx)
            found = asyncio.run(measure(spec))
            raw[f"{spec.name}@{n_ctx}"] = found
            total = found["estimate"]["total"]
            for label, key in (("RSS after a generation", "VmRSS"), ("peak RSS (VmHWM)", "VmHWM")):
                measured = found["generated"][key]
                ratio = total / measured
                rows.append(
                    {
                        "measure": f"{spec.name} n_ctx {n_ctx}: estimate / {label} (MiB)",
                        "baseline": f"{measured / MIB:.0f}",
                        "workbench": f"{total / MIB:.0f}",
                        "ratio": f"{ratio:.2f}",
                        "goal": "0.80-1.20",
                        "met": 0.8 <= ratio <= 1.2,
                    }
                )
    report("memory_estimate", rows, raw)


if __name__ == "__main__":
    main()
