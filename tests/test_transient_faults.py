"""Transient faults: 5xx and rate limits on reads are retried (with Retry-After honoured);
the command still completes, and nothing is written twice."""

from __future__ import annotations

import time

from tests.steps.conftest import Project


def test_status_survives_5xx_and_a_rate_limit(project: Project) -> None:
    project.run_stage("v1.2.0-rc1", "start")
    project.faults(
        {"method": "GET", "path": r"/issues$", "action": "error", "status": 502, "times": 2},
        {
            "method": "GET",
            "path": r"/repos/acme/example$",
            "nth": 1,
            "action": "rate_limit",
            "status": 429,
            "retry_after": 1,
        },
    )
    started = time.monotonic()
    result = project.cli("status", "v1.2.0-rc1", "--json")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1  # Retry-After was honoured
    assert '"tracking-issue"' in result.output


def test_a_stage_completes_through_transient_read_faults(project: Project) -> None:
    project.faults(
        {
            "method": "GET",
            "path": r"/git/ref/",
            "action": "error",
            "status": 503,
            "times": 2,
            "retry_after": 1,
        },
        {"method": "GET", "path": r"/contents/", "action": "error", "status": 500, "times": 1},
    )
    mark = len(project.requests())
    result = project.cli("--non-interactive", "prepare", "v1.2.0-rc1")
    assert result.exit_code == 0, result.output
    created = [
        e
        for e in project.writes_since(mark)
        if e["method"] == "POST" and e["path"].endswith("/pulls")
    ]
    assert len(created) == 2  # the release PR and the next-dev PR, once each
