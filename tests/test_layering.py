"""Nothing below ui/ imports Textual; backends are imported only when used."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import workbench

# ``workbench.__main__`` runs the CLI when imported; it is the entry point, not a layer.
ENTRY_POINTS = {"workbench.__main__"}


def core_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(workbench.__path__, prefix="workbench.")
        if info.name != "workbench.ui"
        and not info.name.startswith("workbench.ui.")
        and info.name not in ENTRY_POINTS
    ]
    return sorted(names)


def imported_after(modules: list[str]) -> set[str]:
    """The names in sys.modules of a fresh interpreter after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_walk_finds_the_core():
    names = core_modules()
    for expected in (
        "workbench.models.config",
        "workbench.core.runner",
        "workbench.store.sessions",
        "workbench.core.metrics",
        "workbench.cli.main",
        "workbench.models.backends.llamacpp",
        "workbench.models.backends.llamacpp_worker",
    ):
        assert expected in names
    assert not any(name.startswith("workbench.ui") for name in names)


def test_no_textual_below_ui():
    modules = core_modules()
    loaded = imported_after(modules)
    assert set(modules) <= loaded
    assert "textual" not in loaded, "a module outside workbench/ui imports Textual"


def test_config_and_runner_do_not_import_llama_cpp():
    loaded = imported_after(
        [
            "workbench.models.config",
            "workbench.core.runner",
            "workbench.store.comparison",
            "workbench.store.sessions",
        ]
    )
    assert "llama_cpp" not in loaded
    assert "workbench.models.backends.llamacpp" not in loaded


def test_the_cli_module_does_not_import_llama_cpp():
    loaded = imported_after(["workbench.cli.main", "workbench.cli.run"])
    assert "llama_cpp" not in loaded
    assert "textual" not in loaded


def test_the_import_contracts_hold():
    """The layers and forbidden imports of pyproject.toml, as import-linter checks them."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as lint;"
            " sys.exit(lint())",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
