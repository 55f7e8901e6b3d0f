"""No promise without an effect: every releaser.toml table and key is read by something.

- every table is read by the machinery (``MACHINERY_TABLES``), or acted on by a step that
  names it in ``configured_by``, or listed in ``NOT_ACTED_ON_YET`` (which the commands then
  report) and acted on by no step: the list is exact, so a step landing for a table removes
  it from there;
- every key's name is read somewhere in the code outside the config's own modules (an
  attribute ``.key`` or a string ``"key"``); a key nobody reads is a promise without an effect.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releaser.config_schema import KIND_KEYS, MACHINERY_TABLES, NOT_ACTED_ON_YET, TABLES
from steps import PLANS

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MODULES = {"config.py", "config_schema.py", "config_rules.py", "init.py"}


def claimed() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for steps in PLANS.values():
        for step in steps:
            for table in step.configured_by:
                out.setdefault(table, []).append(step.name)
    return out


def test_every_table_is_read_or_listed_as_not_acted_on_yet() -> None:
    names = {t.name for t in TABLES}
    steps = claimed()
    assert set(steps) <= names, f"configured_by names unknown tables: {set(steps) - names}"
    unread = sorted(names - set(MACHINERY_TABLES) - set(steps))
    assert unread == sorted(NOT_ACTED_ON_YET), (
        "NOT_ACTED_ON_YET must list exactly the tables no step acts on: "
        f"unread {unread}, listed {sorted(NOT_ACTED_ON_YET)}"
    )


def _code() -> str:
    texts = []
    for package in ("releaser", "steps"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name in CONFIG_MODULES or "sandbox" in path.parts:
                continue
            texts.append(path.read_text())
    return "\n".join(texts)


@pytest.mark.parametrize(
    "table, key",
    [
        (t.name, k.name)
        for t in TABLES
        if t.name not in NOT_ACTED_ON_YET
        for k in t.keys
        if k not in KIND_KEYS  # only/skip: read by Section.applies() for every table
    ],
)
def test_every_key_is_read(table: str, key: str) -> None:
    code = _code()
    pattern = rf"\.{re.escape(key)}\b|[\"']{re.escape(key)}[\"']"
    assert re.search(pattern, code), f"[{table}] {key} is read by nothing outside the config"


def test_commands_say_when_a_configured_table_is_not_acted_on(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from releaser.cli import app

    if not NOT_ACTED_ON_YET:
        pytest.skip("every table is acted on")
    table = NOT_ACTED_ON_YET[0]
    config = tmp_path / "releaser.toml"
    required = {
        "publish.docker": '[[publish.docker]]\nimage = "acme/x"\ntags = ["v{version}"]\n',
        "promote.matrix": '[[promote.matrix]]\nhomeserver = "https://m.example"\nroom = "#r:m"\n',
    }
    config.write_text('[project]\nname = "X"\nrepo = "acme/x"\n\n' + required.get(table, ""))
    if table not in required:
        pytest.skip(f"no sample for {table}")
    result = CliRunner().invoke(app, ["--config", str(config), "plan", "v1.0.0"])
    assert result.exit_code == 0, result.output
    assert f"[{table}] is configured, but no step acts on it yet" in result.output
