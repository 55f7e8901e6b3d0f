"""`releaser demo`: a whole rehearsal from nothing, then again on the same directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from releaser.cli import app


def test_demo_releases_then_converges_on_a_rerun(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    first = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    out = first.output
    assert "Released v1.2.0" in out
    for stage in ("start", "prepare", "tag", "build", "publish", "merge", "next"):
        assert f"{stage} v1.2.0-rc1" in out and f"{stage} v1.2.0" in out
    assert "example-1.2.0.tar.gz" in out and "SHA256SUMS" in out
    assert "(closed)" in out  # the tracking issue
    assert f"cd {tmp_path / 'work'} && releaser status v1.2.0" in out

    log = tmp_path / "forge" / "requests.log"
    before = len(log.read_text().splitlines())
    again = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "from an earlier demo" in again.output
    entries = [json.loads(line) for line in log.read_text().splitlines()[before:]]
    assert entries  # the second run read the forge
    assert [e for e in entries if e["write"]] == []  # and wrote nothing
