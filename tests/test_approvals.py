"""Approvals with several forge users (the sandbox's users, org, team and collaborators):
`push-tag` needs an approval by a member of @acme/release other than the driver, of the very
commit it tags. Everything runs through the CLI, each user with their own token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from releaser.sandbox.admin_client import SandboxAdmin
from tests.steps.conftest import make_project  # noqa: F401  (the fixture)

RC = "v1.2.0-rc1"
GATES = """
[gates]
approve = ["push-tag"]
approvers = ["@acme/release"]

[engine]
poll_interval = 1
wait_timeout = 120
"""


def people(project: Any) -> dict[str, str]:
    """alice drives (write, in the team), bob approves (in the team), carol has write but
    isn't an approver, dave is in the team for now; login -> token."""
    with SandboxAdmin(project.info["admin_url"]) as admin:
        tokens = {
            login: admin.create_user(login)["token"] for login in ("alice", "bob", "carol", "dave")
        }
        for login in ("alice", "carol"):
            admin.add_collaborator("acme/example", login, "write")
        admin.create_team(
            "acme",
            "release",
            members=["alice", "bob", "dave"],
            repos={"acme/example": "write"},
        )
    return tokens


def run(project: Any, token: str, *args: str) -> Any:
    return project.cli("--non-interactive", "--yes", *args, token=token)


def status(project: Any, token: str | None = None) -> dict[str, Any]:
    """``status --json`` (default: as release-bot, an owner of acme, who sees its teams)."""
    result = project.cli("status", RC, "--json", token=token)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def tags(project: Any) -> list[str]:
    return project.git("tag", "--list").split()


def approval_of(data: dict[str, Any], step: str = "push-tag") -> dict[str, Any]:
    return next(a for a in data["approvals"] if a["step"] == step)


@pytest.mark.slow
def test_push_tag_waits_for_a_second_maintainer_of_exactly_that_commit(make_project) -> None:  # noqa: F811
    project = make_project(extra=GATES)
    token = people(project)
    alice, bob, carol, dave = (token[n] for n in ("alice", "bob", "carol", "dave"))

    # A drives: the release stops before the tag, exit 3, saying who approves and how.
    result = run(project, alice, "release", RC)
    assert result.exit_code == 3, result.output[-3000:]
    out = result.output
    assert "push-tag" in out and "a member of @acme/release" in out and "alice" in out
    assert f"releaser approve {RC[1:]} push-tag" in out
    assert RC not in tags(project)
    head = project.repo.get_branch("release-v1.2").commit.sha
    data = status(project)
    pending = approval_of(data)
    assert pending["state"] == "pending" and pending["subject"] == f"tag {RC} on {head}"
    assert data["next"] == f"releaser approve {RC[1:]} push-tag"

    # C (write access, not an approver) is refused: nothing recorded, nothing unblocked.
    mark = len(project.requests())
    result = run(project, carol, "approve", RC, "push-tag")
    assert result.exit_code == 2, result.output
    assert "carol may not approve push-tag" in result.output
    assert "Traceback" not in result.output
    assert project.writes_since(mark) == []
    assert run(project, alice, "tag", RC).exit_code == 3

    # A approving their own release doesn't count.
    result = run(project, alice, "approve", RC, "push-tag")
    assert result.exit_code == 0, result.output
    result = run(project, alice, "tag", RC)
    assert result.exit_code == 3 and "by the driver themselves" in result.output

    # B approves that commit; then the version branch moves: B's approval names another
    # commit and doesn't count.
    result = run(project, bob, "approve", RC, "push-tag")
    assert result.exit_code == 0, result.output
    assert f"tag {RC} on {head}" in result.output and "member of @acme/release" in result.output
    given = approval_of(status(project))
    assert given["state"] == "given"
    assert [g["login"] for g in given["given"] if g["counts"]] == ["bob"]
    project.repo.create_file("FIX.md", "A fix for the rc", "fixed\n", branch="release-v1.2")
    moved = project.repo.get_branch("release-v1.2").commit.sha
    result = run(project, alice, "tag", RC)
    assert result.exit_code == 3, result.output
    assert "approves another subject" in result.output and head in result.output
    assert RC not in tags(project)

    # dave (in the team when he approves, removed since) doesn't count either: the driver
    # checks the approver's rights again, with its own token.
    assert run(project, dave, "approve", RC, "push-tag").exit_code == 0
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.set_team_member("acme", "release", "dave", None)
    result = run(project, alice, "tag", RC)
    assert result.exit_code == 3 and "dave is not one of @acme/release" in result.output

    # B approves the commit as it is now: A finishes the release, tagging exactly it.
    result = run(project, bob, "approve", RC, "push-tag")
    assert result.exit_code == 0 and moved in result.output
    result = run(project, alice, "release", RC)
    assert result.exit_code == 0, result.output[-3000:]
    assert "approved" in result.output and "by bob (member of @acme/release)" in result.output
    assert project.git("rev-parse", f"{RC}^{{commit}}").strip() == moved
    final = status(project)
    approval = approval_of(final)
    assert approval["state"] == "given" and approval["subject"] == f"tag {RC} on {moved}"
    assert {(g["login"], g["counts"]) for g in approval["given"]} == {
        ("bob", True),
        ("bob", False),
        ("alice", False),  # alice drove the release (the latest claim is hers)
        ("dave", False),
    }
    text = project.cli("status", RC).output
    assert f"approval of push-tag (tag {RC} on {moved}): given" in text and "bob at" in text
    # carol, outside the org, can't see the team: status says why it can't count them
    outside = approval_of(status(project, carol))
    assert outside["state"] == "done"  # tagged, without an approval carol can verify
    assert "can't see @acme/release" in outside["given"][0]["reason"]


def test_approve_refuses_clearly(make_project) -> None:  # noqa: F811
    project = make_project(extra=GATES)
    token = people(project)
    # nothing to approve yet: the version branch (the commit to tag) doesn't exist
    result = run(project, token["bob"], "approve", RC, "push-tag")
    assert result.exit_code == 1 and "nothing to approve yet" in result.output
    # a step that needs no approval
    result = run(project, token["bob"], "approve", RC, "version-bump")
    assert result.exit_code == 2 and "needs no approval" in result.output
    result = run(project, token["bob"], "approve", RC, "no-such-step")
    assert result.exit_code == 2 and "no step named" in result.output
    assert "Traceback" not in result.output


def test_unknown_step_in_gates_approve_is_a_config_error(make_project) -> None:  # noqa: F811
    project = make_project(extra='\n[gates]\napprove = ["push-tags"]\n')
    mark = len(project.requests())
    result = run(project, project.token, "tag", RC)
    assert result.exit_code == 2 and "[gates] approve names no step: push-tags" in result.output
    assert project.writes_since(mark) == []


def test_the_gate_stops_before_any_write_and_a_dry_run_says_so(make_project) -> None:  # noqa: F811
    from releaser.commands.approve import approve_step
    from releaser.errors import InputNeeded
    from releaser.step import Status
    from tests.steps.release_helpers import make_version_branch

    project = make_project(extra=GATES)
    token = people(project)
    head = make_version_branch(project)
    mark = len(project.requests())
    results = {r.step: r for r in project.run_stage(RC, "tag", token=token["alice"], dry_run=True)}
    assert results["push-tag"].status == "planned"
    assert "would stop:" in project.output() and "needs an approval" in project.output()
    with pytest.raises(InputNeeded) as err:
        project.run_stage(RC, "tag", token=token["alice"])
    assert err.value.exit_code == 3 and head in err.value.message
    assert project.writes_since(mark) == [], "no claim, no ledger entry: nothing written"

    ctx = project.context(RC, token=token["bob"])
    try:
        approve_step(ctx, "push-tag")
    finally:
        ctx.close()
    assert [w["path"] for w in project.writes_since(mark)][-1].startswith(
        "/api/v3/repos/acme/example/git/ref"
    ), "one ledger append"
    ctx = project.context(RC, token=token["bob"])
    mark = len(project.requests())
    try:
        approve_step(ctx, "push-tag")  # again: already recorded, nothing written
    finally:
        ctx.close()
    assert project.writes_since(mark) == []
    assert "had already approved" in project.output()
    results = {r.step: r for r in project.run_stage(RC, "tag", token=token["alice"])}
    assert results["push-tag"].status is Status.DONE


def test_plan_marks_gated_steps_and_doctor_checks_the_approvers(make_project) -> None:  # noqa: F811
    project = make_project(extra=GATES)
    token = people(project)
    plan = project.cli("plan", RC).output
    [line] = [line for line in plan.splitlines() if "push-tag:" in line]
    assert "needs an approval" in line
    doctor = project.cli("doctor").output
    assert "approvers @acme/release" in doctor and "the team is visible" in doctor
    outside = project.cli("doctor", token=token["carol"]).output
    assert "this token can't see the team" in " ".join(outside.split())
