"""``[ui] layout``: how answer panes share the screen, checked like the rest of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.models.config import load_config


def _load(tmp_path: Path, text: str):
    path = tmp_path / "workbench.toml"
    path.write_text(text, encoding="utf-8")
    return path, load_config(path)


def test_layout_defaults_to_auto_and_takes_columns_or_rows(tmp_path):
    assert _load(tmp_path, '[ui]\ntheme = "workbench-dark"\n')[1].layout == "auto"
    for layout in ("auto", "columns", "rows"):
        assert _load(tmp_path, f'[ui]\nlayout = "{layout}"\n')[1].layout == layout


@pytest.mark.parametrize("value", ['"grid"', "2", '"Rows"'])
def test_a_bad_layout_names_its_file_and_line(tmp_path, value):
    path = tmp_path / "workbench.toml"
    path.write_text(f'[ui]\ntheme = "workbench-dark"\nlayout = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == 3
    assert f"{path}:3:" in str(info.value) and "layout" in str(info.value)
