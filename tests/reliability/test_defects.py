"""Nothing lost, nobody trampled: each defect an adversarial trial found, kept from coming
back (one test each, named after what it guards)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from releaser.ledger import live_claim
from releaser.sandbox.admin_client import SandboxAdmin
from tests.machines import Machine, ledger_entries, output, requests_since, visible
from tests.steps.conftest import Project

FAST = "\n[engine]\npoll_interval = 0.5\nwait_timeout = 120\n"
RC = "v1.2.0-rc1"


def writes_by(project: Project, mark: int, user: str) -> list[dict[str, Any]]:
    return [e for e in requests_since(project, mark) if e.get("write") and e.get("user") == user]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text.replace("error:", ""), text[-2000:]


# -- 1. a take-over fences the running driver --------------------------------------------------


@pytest.mark.slow
def test_a_take_over_stops_the_running_driver_within_one_write(
    make_project: Any, tmp_path: Any
) -> None:
    project = make_project(extra=FAST)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desk-b")
    # every write of alice's is slow, so bob's take-over lands in the middle of her release
    # (one rule per method: a rule's method is a name, not a pattern)
    project.faults(
        *(
            {"method": m, "path": "/api/", "action": "delay", "ms": 400}
            for m in ("POST", "PATCH", "PUT")
        )
    )
    mark = len(project.requests())
    proc = alice.spawn("--yes", "release", RC)
    deadline = time.monotonic() + 120
    while len(writes_by(project, mark, "alice")) < 8:
        assert time.monotonic() < deadline and proc.poll() is None, output(proc)[-3000:]
        time.sleep(0.1)
    taken = bob.cli("--yes", "release", RC, "--take-over")
    alice_code = proc.wait(120)
    project.clear_faults()
    said = output(proc)
    assert alice_code == 1, said[-3000:]
    assert "bob on desk-b took over this release at" in said
    assert "nothing more was written" in said
    # after bob's claim landed, at most one visible write of alice's (the one in flight)
    log = requests_since(project, mark)
    claims = [
        i
        for i, e in enumerate(log)
        if e.get("user") == "bob" and e.get("write") and "refs/releaser" in e["path"]
    ]
    assert claims, "bob claimed the release"
    after = [e for e in log[claims[0] + 1 :] if e.get("user") == "alice" and visible(e)]
    assert len(after) <= 1, after
    assert taken.exit_code == 0, taken.output[-3000:]


# -- 2. a version below the latest of its line is refused ----------------------------------------


def test_a_version_below_the_latest_of_its_line_is_refused(make_project: Any) -> None:
    project = make_project(extra=FAST)
    done = project.cli("--yes", "release", "v1.2.0")
    assert done.exit_code == 0, done.output[-3000:]
    mark = len(project.requests())
    older = project.cli("--yes", "release", "v1.2.0-rc2")
    assert older.exit_code == 2, older.output[-2000:]
    assert "v1.2.0-rc2 is below v1.2.0, the latest release of the 1.2 line" in older.output
    assert "--allow-older" in older.output
    assert project.writes_since(mark) == []
    asked = project.cli("release", "v1.2.0-rc2", "--allow-older", "-n")
    assert asked.exit_code == 3 and "--allow-older --yes" in asked.output  # it asks first
    assert project.writes_since(mark) == []


# -- 3. a version tagged outside releaser ---------------------------------------------------------


def test_a_version_tagged_elsewhere_is_said_and_written_nothing_unless_adopted(
    make_project: Any,
) -> None:
    project = make_project(extra=FAST)  # the seed tagged v1.1.0 itself, long ago
    mark = len(project.requests())
    refused = project.cli("--yes", "release", "v1.1.0")
    assert refused.exit_code == 2, refused.output[-2000:]
    assert "v1.1.0 is already tagged" in refused.output and "released elsewhere" in refused.output
    assert "--adopt" in refused.output
    assert project.writes_since(mark) == []

    adopted = project.cli("--yes", "release", "v1.1.0", "--adopt")
    assert adopted.exit_code == 0, adopted.output[-3000:]
    assert "prepare: skipped" in adopted.output and "tag: skipped" in adopted.output
    branches = {b.name for b in project.repo.get_branches()}
    assert "release-v1.1" not in branches  # nothing cut from main for an old tag
    assert any(e["type"] == "adopt" for e in ledger_entries(project, "v1.1.0"))
    mark = len(project.requests())
    again = project.cli("--yes", "release", "v1.1.0")  # remembered: no --adopt needed
    assert again.exit_code == 0, again.output[-3000:]
    assert project.writes_since(mark) == []


# -- 4. a token with a newline, or characters a header can't carry --------------------------------


def test_a_token_with_a_trailing_newline_works_and_never_shows(project: Project) -> None:
    from typer.testing import CliRunner

    from releaser.cli import app

    runner = CliRunner()
    import contextlib

    with contextlib.chdir(project.work):
        ok = runner.invoke(app, ["-v", "status", RC], env={"SANDBOX_TOKEN": project.token + "\n"})
        assert ok.exit_code == 0, ok.output[-2000:]
        assert project.token not in ok.output
        bad = runner.invoke(app, ["status", RC], env={"SANDBOX_TOKEN": "ghp_tökén€xyz"})
    assert bad.exit_code == 2, bad.output
    assert "SANDBOX_TOKEN holds characters a token can't have" in bad.output
    assert "tökén" not in bad.output and "Traceback" not in bad.output


# -- 5. mistyped step names ------------------------------------------------------------------


def test_mistyped_step_names_are_errors_with_the_closest_name(project: Project) -> None:
    mark = len(project.requests())
    for args in (["--only", "no-such-step"], ["--skip", "push_tag"]):
        result = project.cli("release", RC, "-n", *args)
        assert result.exit_code == 2, result.output
        assert "no step is named" in result.output
    assert "did you mean 'push-tag'" in project.cli("release", RC, "--skip", "push_tag").output
    config = project.config_path.read_text() + "\n[steps.push_tag]\nenabled = false\n"
    project.config_path.write_text(config)
    planned = project.cli("plan", RC)
    assert planned.exit_code == 2 and "[steps.push_tag]" in planned.output
    assert "did you mean 'push-tag'" in planned.output
    assert project.writes_since(mark) == []


# -- 6. a long rate limit is said, with when to re-run -------------------------------------------


def test_a_rate_limit_longer_than_the_wait_exits_4_saying_when(project: Project) -> None:
    project.faults(
        {"method": "GET", "path": "/api/v3/repos/", "action": "rate_limit", "retry_after": 3600}
    )
    started = time.monotonic()
    result = project.cli("status", RC)
    project.clear_faults()
    assert time.monotonic() - started < 20
    assert result.exit_code == 4, result.output[-2000:]
    assert "rate limit" in result.output and "re-run the same command after" in result.output


# -- 7. a driver stopped by another's claim writes nothing ----------------------------------------


def test_a_blocked_driver_writes_nothing(make_project: Any) -> None:
    project = make_project(extra=FAST)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desk-b")
    assert alice.cli("--yes", "start", RC).exit_code == 0
    alice.context(RC).ledger.claim("prepare")  # alice is in the middle of prepare
    mark = len(project.requests())
    blocked = bob.cli("--yes", "prepare", RC)
    assert blocked.exit_code == 1 and "alice on laptop-a holds the release" in blocked.output
    asked = bob.cli("prepare", RC, "--take-over")
    assert asked.exit_code == 3, asked.output[-2000:]
    assert writes_by(project, mark, "bob") == []


# -- 8. a claim can't be taken by setting names in the environment -------------------------------


def test_the_same_labels_do_not_make_a_claim_yours(make_project: Any) -> None:
    project = make_project(extra=FAST)
    one = Machine(project, "one", "alice", "laptop")
    two = Machine(project, "two", "alice", "laptop")  # same driver and host labels
    two.token = one.token  # the same person, even: another run
    held = one.context(RC).ledger.claim("start")
    assert held.run
    result = two.cli("--yes", "start", RC)
    assert result.exit_code == 1, result.output[-2000:]
    assert "another run of yours" in result.output


# -- 9. validation holes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, says",
    [
        (("[engine]\n", "[engine]\npoll_interval = inf\n"), "finite number"),
        (('checksums = "SHA256SUMS"', 'checksums = "../../evil"'), "plain file name"),
        (("[engine]\n", "[forge_]\n"), "forge_"),
    ],
)
def test_bad_config_values_are_refused_before_anything(
    project: Project, change: tuple[str, str], says: str
) -> None:
    text = project.config_path.read_text()
    if change[0] not in text:
        text += "\n" + change[0]
    project.config_path.write_text(text.replace(change[0], change[1], 1))
    mark = len(project.requests())
    result = project.cli("release", RC, "--yes")
    assert result.exit_code == 2, result.output[-2000:]
    assert says in result.output
    assert project.writes_since(mark) == []


def test_a_sandbox_dir_that_does_not_exist_is_refused_not_made(project: Project) -> None:
    missing = project.root / "no" / "such" / "forge"
    text = project.config_path.read_text()
    start, end = text.index("[forge]"), text.index("\n\n", text.index("[forge]"))
    project.config_path.write_text(text[:start] + f'[forge]\nsandbox = "{missing}"' + text[end:])
    result = project.cli("status", RC)
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not missing.exists()


def test_a_mistyped_workflow_is_found_before_the_first_write(make_project: Any) -> None:
    project = make_project(extra=FAST)
    text = project.config_path.read_text().replace('file = "build.yml"', 'file = "nope.yml"')
    project.config_path.write_text(text)
    mark = len(project.requests())
    result = project.cli("--yes", "release", RC)
    assert result.exit_code == 2, result.output[-2000:]
    assert "file = 'nope.yml'" in result.output and "no such workflow" in result.output
    assert project.writes_since(mark) == []
    checked = project.cli("plan", RC, "--check")
    assert checked.exit_code == 2 and "nope.yml" in checked.output


@pytest.mark.parametrize("version", ["v1.2.0-rc", "v1.2.0-rc0", "v1.2.0-RC1", "v1.2.0-rc1-"])
def test_undocumented_version_forms_are_refused(project: Project, version: str) -> None:
    mark = len(project.requests())
    result = project.cli("--yes", "start", version)
    assert result.exit_code == 2, result.output
    assert "accepted forms" in result.output
    assert project.writes_since(mark) == []


# -- 10. a malformed ledger ---------------------------------------------------------------


def test_a_malformed_ledger_is_reported_as_such(project: Project) -> None:
    assert project.cli("--yes", "start", RC).exit_code == 0
    ref = f"refs/releaser/{RC}"
    repo = project.repo
    tip = repo.get_git_ref(ref[5:])
    bad = json.dumps({"release": RC, "entries": [{"type": "claim", "driver": "x"}]})
    blob = repo.create_git_blob(bad, "utf-8")
    from github import InputGitTreeElement

    tree = repo.create_git_tree(
        [InputGitTreeElement("ledger.json", "100644", "blob", sha=blob.sha)]
    )
    commit = repo.create_git_commit("hand edit", tree, [repo.get_git_commit(tip.object.sha)])
    tip.edit(commit.sha)
    result = project.cli("--yes", "prepare", RC)
    assert result.exit_code == 1, result.output[-2000:]
    assert (
        f"the ledger {ref} at {commit.sha[:12]} is malformed: entry 0 (claim) lacks"
        in result.output
    )
    assert f"git fetch origin {ref}" in result.output
    assert "re-run the command (it is safe)" not in result.output
    no_traceback(result.output)


# -- 11. a dead run's claim -----------------------------------------------------------------


def test_a_dead_runs_claim_is_released_by_a_run_finding_all_done_and_shown_stale(
    make_project: Any,
) -> None:
    project = make_project(extra=FAST + "claim_ttl = 600\n")
    alice = Machine(project, "a", "alice", "laptop-a")
    assert alice.cli("--yes", "start", RC).exit_code == 0
    alice.context(RC).ledger.claim("start")  # a run of alice's that then died
    again = alice.cli("--yes", "start", RC)  # alice again: everything is done
    assert again.exit_code == 0, again.output[-2000:]
    assert "released the claim alice" in again.output
    assert live_claim(ledger_entries(project, RC)) is None

    alice.context(RC).ledger.claim("start")  # another dead run; its lease expires
    with SandboxAdmin(project.info["admin_url"]) as admin:
        admin.advance(601)
    data = json.loads(alice.cli("status", RC, "--json").stdout)
    assert data["claim"] is None and data["stale_claim"]["driver"] == "alice"
    assert "stale" in alice.cli("status", RC).output


def test_the_request_log_names_who_made_each_request(project: Project) -> None:
    mark = len(project.requests())
    httpx.get(
        project.info["api_url"] + "/user",
        headers={"Authorization": f"token {project.token}"},
        timeout=30,
    )
    assert project.requests()[mark]["user"] == "release-bot"


# -- 12. a driver taken over by one who already finished -------------------------------------


def test_a_driver_taken_over_by_one_who_finished_writes_nothing_more(make_project: Any) -> None:
    """Found by the reliability trial: alice's fence saw the ledger move, found no live claim
    (bob had taken over, finished and released his) and claimed the release again, writing
    on; and her stage record was appended after bob's take-over."""
    from releaser.ledger import claimed_since_mine

    project = make_project(extra=FAST)
    alice = Machine(project, "a", "alice", "laptop-a")
    bob = Machine(project, "b", "bob", "desk-b")
    assert alice.cli("--yes", "start", RC).exit_code == 0
    ctx = alice.context(RC)
    ledger = ctx.ledger
    ledger.claim("prepare")  # alice is in the middle of prepare
    taken = bob.cli("--yes", "prepare", RC, "--take-over")  # bob takes over and finishes
    assert taken.exit_code == 0, taken.output[-2000:]
    entries = ledger_entries(project, RC)
    assert live_claim(entries) is None  # bob released his claim
    assert claimed_since_mine(entries, ledger.run) is not None
    mark = len(project.requests())
    with pytest.raises(Exception, match="took over this release"):
        ledger.fence()  # before her next write
    ledger.release_claim({"type": "stage", "stage": "prepare", "outcome": "done"})
    assert writes_by(project, mark, "alice") == []  # not even her stage record
