"""Permissions before the first write, with the sandbox's users and roles: a read-only
user's token stops every stage having written nothing (one message, exit 2); a user with
write access drives (ledger, claims); a protected branch needs an admin; dispatching needs
the workflow scope."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from releaser.errors import ReleaserError
from releaser.sandbox.admin_client import SandboxAdmin
from releaser.stages import STAGES
from tests.steps.conftest import make_project  # noqa: F401  (the fixture)
from tests.steps.release_helpers import make_version_branch

FINAL = "v1.2.0"
EVERYTHING = """
[promote.tracking_issue]
message = "v{version} is out: {release_url}"

[next.tracking_issue]

[next.changelog]
path = "docs/changelogs/v{major}.{next_minor}.md"

[engine]
poll_interval = 1
wait_timeout = 120
"""


def user(project: Any, login: str, role: str | None, scopes: str | None = None) -> str:
    with SandboxAdmin(project.info["admin_url"]) as admin:
        token = str(admin.create_user(login, scopes=scopes)["token"])
        if role is not None:
            admin.add_collaborator("acme/example", login, role)
    return token


def cli(project: Any, stage: str, token: str | None = None) -> Any:
    return project.cli("--non-interactive", "--yes", stage, FINAL, token=token)


def ledger(project: Any, tag: str = FINAL) -> list[dict[str, Any]]:
    """The release's ledger, read from the forge."""
    headers = {"Authorization": f"token {project.token}"}
    api = f"{project.info['api_url']}/repos/acme/example"
    tip = httpx.get(f"{api}/git/ref/releaser/{tag}", headers=headers, timeout=30).json()
    sha = tip["object"]["sha"]
    file = httpx.get(
        f"{api}/contents/ledger.json", params={"ref": sha}, headers=headers, timeout=30
    )
    return list(json.loads(base64.b64decode(file.json()["content"]))["entries"])


@pytest.mark.slow
def test_a_read_only_token_stops_every_stage_before_its_first_write(make_project) -> None:  # noqa: F811
    project = make_project(extra=EVERYTHING)
    reader = user(project, "reader", "read")
    refused = []
    for stage in STAGES:
        mark = len(project.requests())
        result = cli(project, stage, reader)
        assert project.writes_since(mark) == [], f"{stage}: wrote as a reader"
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            refused.append(stage)
            out = result.output
            assert out.count("error:") == 1, out
            assert "reader (the token in SANDBOX_TOKEN) lacks what this command's writes" in out
            assert "write on acme/example (reader has read)" in out
            assert "refs/releaser/v1.2.0" in out
            assert "ask an admin of acme/example" in out and "nothing was written" in out
        else:  # nothing for it to write at this point (waiting on the build, no steps)
            assert result.exit_code == 0 and stage in ("build", "downstream"), result.output
        done = cli(project, stage)
        assert done.exit_code == 0, f"{stage}: {done.output[-3000:]}"
    assert refused == [s for s in STAGES if s not in ("build", "downstream")]
    # every stage ran to its end as release-bot: the reader changed nothing on the way
    assert project.git("tag", "--list").split() == ["v1.1.0", "v1.2.0"]


def test_a_read_only_token_stops_the_first_stage_with_one_message(make_project) -> None:  # noqa: F811
    project = make_project()
    reader = user(project, "reader", "read")
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "prepare", token=reader)
    assert err.value.exit_code == 2
    assert "write on acme/example (reader has read)" in err.value.message
    assert "commit the version bump to release-v1.2" in err.value.message
    assert project.writes_since(mark) == []
    # a dry run says the same, and exits 1 like every dry run that would stop
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "prepare", token=reader, dry_run=True)
    assert err.value.exit_code == 1 and "permissions failed" in err.value.message
    assert "would stop before the first write" in project.output()


def test_a_user_with_write_access_drives_claims_and_writes_the_ledger(make_project) -> None:  # noqa: F811
    project = make_project()
    writer = user(project, "writer", "write")
    for stage in ("start", "prepare", "tag"):
        project.run_stage(FINAL, stage, token=writer)
    entries = ledger(project)
    claims = [e for e in entries if e["type"] == "claim"]
    assert claims and {e["login"] for e in claims} == {"writer"}
    assert [e["stage"] for e in entries if e["type"] == "stage"] == ["start", "prepare", "tag"]
    assert project.git("rev-parse", f"{FINAL}^{{commit}}").strip()


def test_a_protected_branch_needs_an_admin_named_with_who_has_it(make_project) -> None:  # noqa: F811
    project = make_project()
    writer = user(project, "writer", "write")
    make_version_branch(project)
    httpx.put(
        f"{project.info['api_url']}/repos/acme/example/branches/release-v1.2/protection",
        json={
            "required_status_checks": {"strict": False, "contexts": ["ci"]},
            "enforce_admins": False,
            "required_pull_request_reviews": None,
            "restrictions": None,
        },
        headers={"Authorization": f"token {project.token}"},
        timeout=30,
    ).raise_for_status()
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "prepare", token=writer)
    message = err.value.message
    assert err.value.exit_code == 2
    assert "admin on acme/example (writer has write)" in message
    assert "protected release-v1.2 requires ci" in message
    assert "admin or more: release-bot" in message
    assert project.writes_since(mark) == []
    # the admin's run bypasses the required check, as the forge lets admins
    project.run_stage(FINAL, "prepare")


def test_dispatching_needs_the_workflow_scope(make_project) -> None:  # noqa: F811
    extra = '\n[[build.workflows]]\nfile = "build.yml"\non = "dispatch"\nstage = "publish"\n'
    project = make_project(extra=extra)
    narrow = user(project, "narrow", "write", scopes="repo")
    for stage in ("start", "prepare", "tag"):
        project.run_stage(FINAL, stage)
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "publish", token=narrow)
    assert err.value.exit_code == 2
    assert "the token scope workflow (it has: repo), for dispatch build.yml" in err.value.message
    assert project.writes_since(mark) == []


def test_a_reader_can_neither_confirm_nor_approve_and_writes_nothing(make_project) -> None:  # noqa: F811
    project = make_project(extra='\n[gates]\napprove = ["push-tag"]\napprovers = ["@reader"]\n')
    reader = user(project, "reader", "read")
    make_version_branch(project)
    mark = len(project.requests())
    result = project.cli(
        "confirm", FINAL, "push-tag", "--evidence", "https://example.org/x", token=reader
    )
    assert result.exit_code == 2, result.output
    assert "reader may not record an answer" in result.output
    assert "has read access" in result.output and "Traceback" not in result.output
    result = project.cli("approve", FINAL, "push-tag", token=reader)
    assert result.exit_code == 2, result.output
    assert "@reader is listed but has read access" in result.output
    assert project.writes_since(mark) == []


def test_an_app_token_that_is_no_user_still_drives(make_project, tmp_path) -> None:  # noqa: F811
    """GitHub answers `GET /user` 403 for an app's installation token (the Actions job's
    token). The sandbox has no such tokens: a proxy in front of it answers that one request
    as GitHub does; everything else reaches the sandbox."""
    from urllib.parse import urlsplit

    from tests.services.proxy import FlakyProxy

    project = make_project()
    api = urlsplit(project.info["api_url"])
    proxy = FlakyProxy(str(api.hostname), int(api.port or 80))
    proxy.fail(
        "status",
        "GET",
        "/api/v3/user",
        times=99,
        status=403,
        headers={"Content-Type": "application/json"},
        body=b'{"message": "Resource not accessible by integration"}',
    )
    config = tmp_path / "proxied" / "releaser.toml"
    config.parent.mkdir()
    config.write_text(
        project.config_path.read_text().replace(project.info["api_url"], f"{proxy.url}/api/v3")
    )
    project.config_path = config
    try:
        results = {r.step: r for r in project.run_stage(FINAL, "start")}
    finally:
        proxy.close()
    assert results["tracking-issue"].acted
    assert proxy.requests("GET", "/api/v3/user"), "the proxy answered for the app token"
    claims = [e for e in ledger(project) if e["type"] == "claim"]
    assert claims and all("login" not in e for e in claims)
