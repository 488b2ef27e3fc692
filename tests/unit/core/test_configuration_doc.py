"""docs/configuration.md documents every setting with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from foureyes.core.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| `(FOUREYES_[A-Z0-9_]+)` \| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_row(name: str) -> None:
    assert f"FOUREYES_{name.upper()}" in _rows(), f"docs/configuration.md lacks FOUREYES_{name.upper()}"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_default_matches(name: str) -> None:
    default = Settings.model_fields[name].default
    cell = _rows()[f"FOUREYES_{name.upper()}"]
    if default is None:
        assert cell.startswith("unset")
    elif isinstance(default, bool):
        assert f"`{str(default).lower()}`" in cell
    elif isinstance(default, Path):
        assert f"`./{default}`" in cell
    else:
        assert f"`{default}`" in cell, (name, default, cell)


def test_no_rows_for_settings_that_do_not_exist() -> None:
    known = {f"FOUREYES_{n.upper()}" for n in Settings.model_fields}
    assert set(_rows()) <= known
