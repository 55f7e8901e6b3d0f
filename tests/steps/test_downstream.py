"""The downstream stage: dependents updated by one commit and one PR each, then tested."""

from __future__ import annotations

import base64
import re

import pytest

from releaser.errors import ReleaserError
from releaser.step import Status
from tests.sandbox.helpers import make_repo
from tests.steps.downstream_helpers import (
    APP,
    FAST,
    add_user,
    admin_actions,
    make_app,
    publish,
    repo_writes,
)

FINAL, RC = "v1.2.0", "v1.2.0-rc1"


def released(project, tag: str) -> None:
    project.run_stage(tag, "start")
    publish(project, tag)


def by_step(results) -> dict:
    return {r.step: r for r in results}


def branch_head(project, repo: str, branch: str):
    return project.gh.get_repo(repo).get_branch(branch).commit


def test_dry_run_names_every_write_then_one_commit_one_pr_and_a_rerun_writes_nothing(
    make_project,
) -> None:
    project = make_project(extra=APP + FAST)
    add_user(project, "alice")
    make_app(project)
    released(project, FINAL)
    main = project.gh.get_repo("acme/app").get_branch("main").commit.sha

    mark = len(project.requests())
    results = by_step(project.run_stage(FINAL, "downstream", dry_run=True))
    assert project.writes_since(mark) == []
    out = project.output()
    assert results["update-dependents"].status == "planned"
    assert f"would commit to acme/app: one commit on {main[:7]} (main head)" in out
    assert "- example==1.1.0" in out and "+ example==1.2.0" in out
    assert "+ ARG EXAMPLE=1.2.0  # releaser: example-version" in out
    assert 'would create pull request acme/app update-to-v1.2.0 -> main: "Update example to' in out
    assert "would request reviews on that pull request: alice" in out
    assert "would dispatch workflow test.yml in acme/app on update-to-v1.2.0" in out

    mark = len(project.requests())
    results = by_step(project.run_stage(FINAL, "downstream"))
    assert results["update-dependents"].status is Status.DONE
    assert results["dependent-tests"].status is Status.DONE
    assert repo_writes(project.requests()[mark:], "acme/app") == [
        "POST /api/v3/repos/acme/app/git/trees",
        "POST /api/v3/repos/acme/app/git/commits",
        "POST /api/v3/repos/acme/app/git/refs",
        "POST /api/v3/repos/acme/app/pulls",
        "POST /api/v3/repos/acme/app/pulls/1/requested_reviewers",
        "POST /api/v3/repos/acme/app/actions/workflows/test.yml/dispatches",
    ]
    app = project.gh.get_repo("acme/app")
    head = branch_head(project, "acme/app", "update-to-v1.2.0")
    assert [p.sha for p in head.parents] == [main]  # one commit, on main's head
    assert "Releaser-Step: update-dependents" in head.commit.message
    assert sorted(f.filename for f in head.files) == ["Dockerfile", "requirements.txt"]
    text = app.get_contents("requirements.txt", ref="update-to-v1.2.0").decoded_content.decode()
    assert text == "example==1.2.0\nrequests==2.31.0\n"
    [pull] = list(app.get_pulls(state="all"))
    assert pull.title == "Update example to v1.2.0" and pull.base.ref == "main"
    assert "/acme/example/releases/tag/v1.2.0" in pull.body  # the release
    issue = next(i for i in project.repo.get_issues(state="all") if i.title == "Release v1.2.0")
    assert issue.html_url in pull.body  # and the tracking issue
    assert [u.login for u in pull.get_review_requests()[0]] == ["alice"]
    assert results["update-dependents"].evidence == pull.html_url
    [run] = list(app.get_workflow_runs(event="workflow_dispatch"))
    assert run.head_branch == "update-to-v1.2.0" and run.conclusion == "success"
    assert results["dependent-tests"].evidence == run.html_url

    mark = len(project.requests())
    again = by_step(project.run_stage(FINAL, "downstream"))
    assert project.writes_since(mark) == []
    assert again["update-dependents"].status is Status.DONE


@pytest.mark.slow
def test_release_candidates_update_only_the_dependents_that_ask_for_them(make_project) -> None:
    finals_only = APP.replace("acme/app", "acme/finals").replace('only = ["rc", "final"]\n', "")
    project = make_project(extra=APP + finals_only + FAST)
    make_app(project)
    make_app(project, "acme/finals")
    released(project, RC)
    mark = len(project.requests())
    project.run_stage(RC, "downstream")
    assert repo_writes(project.requests()[mark:], "acme/app")
    assert repo_writes(project.requests()[mark:], "acme/finals") == []  # finals only: default
    released(project, FINAL)
    mark = len(project.requests())
    project.run_stage(FINAL, "downstream")
    assert repo_writes(project.requests()[mark:], "acme/finals")


def test_auto_merge_waits_for_the_dependents_checks(make_project) -> None:
    project = make_project(extra=APP.replace("reviewers", "auto_merge = true\nreviewers") + FAST)
    make_app(project, allow_auto_merge=True)
    app = project.gh.get_repo("acme/app")
    app.get_branch("main").edit_protection(strict=False, contexts=["ci"])
    released(project, FINAL)
    project.run_stage(FINAL, "downstream", only="update-dependents")
    [pull] = list(app.get_pulls(state="all"))
    assert pull.state == "open" and pull.raw_data["auto_merge"]["merge_method"] == "squash"

    app.get_commit(pull.head.sha).create_status("success", context="ci")  # the forge merges
    assert app.get_pull(pull.number).merged
    mark = len(project.requests())
    result = by_step(project.run_stage(FINAL, "downstream", only="update-dependents"))
    assert project.writes_since(mark) == []
    assert "PR #1 merged" in result["update-dependents"].detail


def test_a_new_release_on_a_reused_branch_moves_our_commit_and_the_same_pr(make_project) -> None:
    project = make_project(extra=APP.replace("[[downstream]]", '[[downstream]]\nbranch = "bump"'))
    make_app(project)
    released(project, RC)
    project.run_stage(RC, "downstream", only="update-dependents")
    released(project, "v1.2.0-rc2")
    mark = len(project.requests())
    project.run_stage("v1.2.0-rc2", "downstream", only="update-dependents")
    writes = repo_writes(project.requests()[mark:], "acme/app")
    assert "PATCH /api/v3/repos/acme/app/git/refs/heads/bump" in writes
    assert not [w for w in writes if w.endswith("/pulls")]  # no second PR
    app = project.gh.get_repo("acme/app")
    [pull] = list(app.get_pulls(state="all"))
    assert pull.title == "Update example to v1.2.0-rc2" and "v1.2.0-rc2" in pull.body
    head = branch_head(project, "acme/app", "bump")
    assert [p.sha for p in head.parents] == [app.get_branch("main").commit.sha]  # still one
    assert (
        "example==1.2.0-rc2"
        in app.get_contents("requirements.txt", ref="bump").decoded_content.decode()
    )


def test_a_branch_a_maintainer_pushed_to_is_never_forced(make_project) -> None:
    project = make_project(extra=APP.replace("[[downstream]]", '[[downstream]]\nbranch = "bump"'))
    make_app(project)
    released(project, RC)
    project.run_stage(RC, "downstream", only="update-dependents")
    app = project.gh.get_repo("acme/app")
    readme = app.get_contents("README.md", ref="bump")
    app.update_file("README.md", "Say more", "# app\n\nMore.\n", readme.sha, branch="bump")
    theirs = app.get_branch("bump").commit.sha
    released(project, "v1.2.0-rc2")
    mark = len(project.requests())
    with pytest.raises(ReleaserError, match="commits not made by releaser"):
        project.run_stage("v1.2.0-rc2", "downstream", only="update-dependents")
    assert repo_writes(project.requests()[mark:], "acme/app") == []
    assert app.get_branch("bump").commit.sha == theirs


def test_a_pr_a_maintainer_closed_is_reported_not_reopened(make_project) -> None:
    project = make_project(extra=APP)
    make_app(project)
    released(project, FINAL)
    project.run_stage(FINAL, "downstream", only="update-dependents")
    app = project.gh.get_repo("acme/app")
    [pull] = list(app.get_pulls(state="all"))
    pull.edit(state="closed")
    mark = len(project.requests())
    result = by_step(project.run_stage(FINAL, "downstream", only="update-dependents"))[
        "update-dependents"
    ]
    assert project.writes_since(mark) == []
    assert result.status is Status.DONE and "closed unmerged by a maintainer" in result.detail
    assert [p.state for p in app.get_pulls(state="all")] == ["closed"]


COMMAND = """
[[downstream]]
repo = "acme/desktop"
command = "printf 'example %s\\n' \\"$RELEASER_VERSION\\" > VERSION && env > env.txt"
branch = "example-{version}"
"""


def test_a_command_runs_without_credentials_and_its_changes_are_one_commit(make_project) -> None:
    project = make_project(extra=COMMAND)
    make_repo(project.server, "acme/desktop", {"VERSION": "example 1.1.0\n", "README.md": "x\n"})
    released(project, FINAL)
    mark = len(project.requests())
    update = by_step(project.run_stage(FINAL, "downstream"))["update-dependents"]
    assert update.status is Status.DONE
    desktop = project.gh.get_repo("acme/desktop")
    head = branch_head(project, "acme/desktop", "example-1.2.0")
    assert sorted(f.filename for f in head.files) == ["VERSION", "env.txt"]
    env = desktop.get_contents("env.txt", ref="example-1.2.0").decoded_content.decode()
    assert project.token not in env and "SANDBOX_TOKEN" not in env
    assert (
        desktop.get_contents("VERSION", ref="example-1.2.0").decoded_content == b"example 1.2.0\n"
    )
    assert (
        len([w for w in repo_writes(project.requests()[mark:], "acme/desktop") if "commits" in w])
        == 1
    )
    mark = len(project.requests())
    project.run_stage(FINAL, "downstream")
    assert project.writes_since(mark) == []


def test_a_command_that_changes_nothing_opens_no_pr(make_project) -> None:
    project = make_project(extra=COMMAND.replace("&& env > env.txt", ""))
    make_repo(project.server, "acme/desktop", {"VERSION": "example 1.2.0\n"})
    released(project, FINAL)
    update = by_step(project.run_stage(FINAL, "downstream"))["update-dependents"]
    assert update.status is Status.DONE and "changes nothing" in update.detail
    assert list(project.gh.get_repo("acme/desktop").get_pulls(state="all")) == []
    mark = len(project.requests())
    project.run_stage(FINAL, "downstream")
    assert project.writes_since(mark) == []  # the ledger remembers it


def test_a_broken_dependent_does_not_hold_the_others_back(make_project) -> None:
    broken = APP.replace("acme/app", "acme/broken")
    project = make_project(extra=broken + APP)
    make_repo(project.server, "acme/broken", {"README.md": "no requirements here\n"})
    make_app(project)
    released(project, FINAL)
    with pytest.raises(ReleaserError, match=r"requirements\.txt does not exist on main"):
        project.run_stage(FINAL, "downstream", only="update-dependents")
    assert len(list(project.gh.get_repo("acme/app").get_pulls(state="all"))) == 1


def test_a_token_that_may_not_write_a_dependent_stops_before_the_first_write(
    make_project,
) -> None:
    """Write on the project but only read on the dependent: the stage stops before writing
    anything (exit 2), naming the dependent, the permission and why."""
    from releaser.sandbox.admin_client import SandboxAdmin

    project = make_project(extra=APP + FAST)
    make_app(project)
    add_user(project, "alice")
    released(project, FINAL)
    with SandboxAdmin(project.info["admin_url"]) as admin:
        token = str(admin.create_user("carol")["token"])
        admin.add_collaborator("acme/example", "carol", "write")
        admin.add_collaborator("acme/app", "carol", "read")
    mark = len(project.requests())
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "downstream", token=token)
    assert err.value.exit_code == 2
    message = err.value.message
    assert "write on acme/app (carol has read), for the update's branch" in message, message
    assert "dispatch test.yml" in message
    assert project.writes_since(mark) == []


def test_failed_tests_are_reported_once_on_the_tracking_issue_and_fail_the_step(
    make_project,
) -> None:
    project = make_project(extra=APP + FAST)
    make_app(project)
    admin_actions(project, "acme/app", "test.yml", duration=0.5, conclusion="failure")
    released(project, FINAL)
    with pytest.raises(ReleaserError) as err:
        project.run_stage(FINAL, "downstream")
    message = err.value.message
    assert "dependent-tests" in message and "acme/app" in message
    assert "/acme/app/actions/runs/" in message and "failed jobs: e2e" in message
    issue = next(i for i in project.repo.get_issues(state="all") if i.title == "Release v1.2.0")
    [report] = [c.body for c in issue.get_comments() if "releaser:dependent-tests" in c.body]
    assert "The tests of acme/app against v1.2.0 failed: http" in report
    assert "Nothing was reverted" in report
    assert len(list(project.gh.get_repo("acme/app").get_pulls(state="all"))) == 1  # kept

    mark = len(project.requests())
    with pytest.raises(ReleaserError, match="failed jobs: e2e"):
        project.run_stage(FINAL, "downstream")
    assert project.writes_since(mark) == []  # reported once, dispatched once


def test_tests_of_a_dependent_without_pr_run_on_its_default_branch(make_project) -> None:
    companion = """
[[downstream]]
repo = "acme/companion"
workflow = "test.yml"
inputs = { example-version = "v{version}" }
"""
    project = make_project(extra=companion + FAST)
    make_app(project, "acme/companion")
    released(project, FINAL)
    [tests] = [r for r in project.run_stage(FINAL, "downstream") if r.status != "skipped"]
    assert tests.step == "dependent-tests" and tests.status is Status.DONE
    [run] = list(project.gh.get_repo("acme/companion").get_workflow_runs())
    assert run.head_branch == "main" and run.event == "workflow_dispatch"


def test_blocked_until_the_release_is_published(make_project) -> None:
    project = make_project(extra=APP)
    make_app(project)
    project.run_stage(FINAL, "start")
    with pytest.raises(ReleaserError, match=r"no GitHub release for v1\.2\.0 yet"):
        project.run_stage(FINAL, "downstream")


@pytest.mark.slow
def test_ten_repositories_of_five_files_make_ten_commits_and_ten_prs(make_project) -> None:
    repos = [f"acme/dep{i}" for i in range(10)]
    files = [f"conf/{n}.env" for n in range(5)]
    entries = "".join(
        f'\n[[downstream]]\nrepo = "{repo}"\nfiles = {files!r}\n'.replace("'", '"')
        + 'marker = "releaser: example"\n'
        for repo in repos
    )
    project = make_project(extra=entries)
    for repo in repos:
        make_repo(
            project.server,
            repo,
            {path: "EXAMPLE=1.1.0  # releaser: example\nOTHER=3\n" for path in files},
        )
    released(project, FINAL)
    mark = len(project.requests())
    update = by_step(project.run_stage(FINAL, "downstream"))["update-dependents"]
    assert update.status is Status.DONE
    writes = project.writes_since(mark)
    dependents = [w for w in writes if re.search(r"/repos/acme/dep\d/", w["path"])]
    commits = [w for w in dependents if w["path"].endswith("/git/commits")]
    pulls = [w for w in dependents if w["path"].endswith("/pulls")]
    assert len(commits) == 10 and len(pulls) == 10
    assert not [w for w in dependents if "/contents/" in w["path"]]
    for repo in repos:
        head = branch_head(project, repo, "update-to-v1.2.0")
        assert sorted(f.filename for f in head.files) == files
    out = project.output()
    assert all(f"acme/dep{i}: PR open" in out for i in range(10))  # the progress lines
    mark = len(project.requests())
    project.run_stage(FINAL, "downstream")
    assert project.writes_since(mark) == []


def test_the_ui_shows_no_progress_board_in_status(make_project) -> None:
    project = make_project(extra=APP + FAST)
    make_app(project)
    released(project, FINAL)
    project.run_stage(FINAL, "downstream")
    result = project.cli("status", "v1.2.0", "--json")
    assert result.exit_code == 0, result.output
    assert "· acme/app" not in result.output  # boards are the engine's, not status's
    import json

    steps = {s["step"]: s for stage in json.loads(result.output)["stages"] for s in stage["steps"]}
    assert steps["update-dependents"]["status"] == "done"
    assert steps["dependent-tests"]["status"] == "done"


def test_verbose_output_never_holds_the_token(make_project) -> None:
    project = make_project(extra=COMMAND)
    make_repo(project.server, "acme/desktop", {"VERSION": "example 1.1.0\n"})
    released(project, FINAL)
    project.run_stage(FINAL, "downstream", verbose=True)
    out = project.output()
    assert project.token not in out
    assert base64.b64encode(f"x-access-token:{project.token}".encode()).decode() not in out
    assert "git fetch" in out  # -v narrated the checkout, without the credential


# -- docs/examples/kubo.toml ---------------------------------------------------------------------

KUBO_DEPENDENTS = {
    "ipfs/ipfs-companion": {
        ".github/workflows/e2e.yml": "name: e2e\non:\n  workflow_dispatch:\n    inputs:\n"
        "      kubo-version: {required: true}\njobs:\n  e2e: {runs-on: ubuntu-latest}\n"
    },
    "ipfs/ipfs-desktop": {
        "package.json": '{"dependencies": {"kubo": "0.17.0"}}\n',
        "package-lock.json": '{"packages": {"node_modules/kubo": {"version": "0.17.0"}}}\n',
    },
    "ipfs/interop": {
        "package.json": '{"devDependencies": {"kubo": "^0.17.0"}}\n',
        "package-lock.json": '{"packages": {"node_modules/kubo": {"version": "0.17.0"}}}\n',
    },
    "ipfs/ipfs-docs": {
        ".github/workflows/update-on-new-ipfs-tag.yml": "name: update\non: workflow_dispatch\n"
        "jobs:\n  update: {runs-on: ubuntu-latest}\n"
    },
}


def kubo_project(make_project):
    """ipfs/kubo and its four dependents on the sandbox, with docs/examples/kubo.toml as is
    but for its [forge] table (the sandbox's)."""
    from pathlib import Path

    project = make_project(full_name="ipfs/kubo")
    for repo, files in KUBO_DEPENDENTS.items():
        make_repo(project.server, repo, files)
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "examples" / "kubo.toml").read_text()
    forge = (
        f'[forge]\napi_url = "{project.info["api_url"]}"\ngit_url = "{project.info["git_url"]}"\n'
        'token_env = "SANDBOX_TOKEN"\n'
    )
    assert '[forge]\ntoken_env = "GITHUB_TOKEN"\n' in text
    project.config_path = project.work / "kubo.toml"
    project.config_path.write_text(text.replace('[forge]\ntoken_env = "GITHUB_TOKEN"\n', forge))
    return project


def test_the_kubo_example_plans_and_dry_runs_its_four_dependents(make_project) -> None:
    project = kubo_project(make_project)
    result = project.cli("--config", str(project.config_path), "plan", "v0.18.0")
    assert result.exit_code == 0, result.output
    assert "update-dependents" in result.output and "dependent-tests" in result.output
    assert "[downstream] is configured, but no step acts on it yet" not in result.output

    publish(project, "v0.18.0")
    mark = len(project.requests())
    # published outside releaser here (no ledger): the downstream stage runs adopted
    results = by_step(project.run_stage("v0.18.0", "downstream", dry_run=True, adopt=True))
    assert project.writes_since(mark) == []
    assert results["update-dependents"].status == "planned"
    assert results["dependent-tests"].status == "planned"
    out = project.output()
    for repo, branch, title in (
        ("ipfs/ipfs-desktop", "update-kubo-v0.18.0", "Update Kubo to v0.18.0"),
        ("ipfs/interop", "update-to-v0.18.0", "Update Kubo to v0.18.0"),
    ):
        assert f"would commit to {repo}: one commit on " in out
        assert "with package.json, package-lock.json" in out
        assert f"run `npm install kubo@0.18.0` in a shallow checkout of {repo}@main" in out
        assert f'would create pull request {repo} {branch} -> main: "{title}"' in out
    assert "would dispatch workflow e2e.yml in ipfs/ipfs-companion on main" in out
    assert "kubo-version=v0.18.0" in out
    assert "would dispatch workflow update-on-new-ipfs-tag.yml in ipfs/ipfs-docs on main" in out

    publish(project, "v0.18.0-rc1")
    project.run_stage("v0.18.0-rc1", "downstream", dry_run=True, adopt=True)
    out = project.output()
    assert "ipfs/ipfs-desktop" in out and "ipfs/ipfs-companion" in out  # only = ["rc", "final"]
    assert "ipfs/interop" not in out and "ipfs/ipfs-docs" not in out  # finals only
