"""Theme files (``themes/*.toml``) turned into Textual themes.

A theme file names Textual's colours (primary, background, …) and, under
``[variables]``, extra variables the stylesheets use, such as the diff colours.
Unknown keys and unreadable colours are errors naming the file, like the config.
"""

from __future__ import annotations

import difflib
import sys
import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from workbench.errors import WorkbenchError
from workbench.paths import user_config_dir

DEFAULT_THEME = "workbench-dark"

#: Variables every theme has (a Textual built-in theme gets these values), so a
#: stylesheet that uses them never fails to parse whichever theme is chosen.
VARIABLE_DEFAULTS: dict[str, str] = {
    "diff-added-background": "#2ea04340",
    "diff-added-foreground": "#3fb950",
    "diff-removed-background": "#f8514940",
    "diff-removed-foreground": "#f85149",
    "diff-changed-background": "#d2992240",
    "diff-changed-foreground": "#d29922",
}

_COLOURS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_NUMBERS = ("luminosity_spread", "text_alpha")
_KNOWN = ("name", "dark", "variables", *_COLOURS, *_NUMBERS)


class ThemeError(WorkbenchError):
    title = "Bad theme"


def theme_dirs() -> list[Path]:
    """Where theme files are read from: the project's ``themes/``, then the user's."""
    project = Path(__file__).resolve().parents[2] / "themes"
    installed = Path(sys.prefix) / "share" / "workbench" / "themes"  # non-editable install
    return [project if project.is_dir() else installed, user_config_dir() / "themes"]


def parse_theme(text: str, name: str) -> Theme:
    """Parse one theme file's text; ``name`` is the file's stem (the default theme name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{name}: not valid TOML: {exc}") from None
    for key in data:
        if key not in _KNOWN:
            hint = difflib.get_close_matches(key, _KNOWN, n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ThemeError(f"{name}: unknown key {key!r}.{extra}")
    if "primary" not in data:
        raise ThemeError(f"{name}: a theme needs 'primary'.")
    colours = {key: _colour(name, key, data[key]) for key in _COLOURS if key in data}
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{name}: [variables] must be a table.")
    for key, value in variables.items():
        _colour(name, f"variables.{key}", value)
    numbers = {}
    for key in _NUMBERS:
        if key in data:
            if not isinstance(data[key], int | float) or isinstance(data[key], bool):
                raise ThemeError(f"{name}: {key!r} must be a number.")
            numbers[key] = float(data[key])
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{name}: 'dark' must be true or false.")
    theme_name = data.get("name", name)
    if not isinstance(theme_name, str) or not theme_name:
        raise ThemeError(f"{name}: 'name' must be a non-empty string.")
    return Theme(
        name=theme_name,
        dark=dark,
        variables={**VARIABLE_DEFAULTS, **{str(k): str(v) for k, v in variables.items()}},
        **colours,
        **numbers,
    )


def _colour(name: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(f'{name}: {key!r} must be a colour string like "#336699".')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{name}: {key!r} is not a colour: {value!r}.") from None
    return value


def load_themes(dirs: list[Path] | None = None) -> tuple[list[Theme], list[ThemeError]]:
    """Every theme in ``dirs`` (later folders override earlier ones by name), and the errors."""
    found: dict[str, Theme] = {}
    errors: list[ThemeError] = []
    for folder in theme_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = parse_theme(path.read_text(encoding="utf-8"), path.stem)
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(ThemeError(f"{path}: cannot read: {exc}"))
                continue
            except ThemeError as exc:
                errors.append(ThemeError(str(exc).replace(path.stem, str(path), 1)))
                continue
            found[theme.name] = theme
    return list(found.values()), errors
