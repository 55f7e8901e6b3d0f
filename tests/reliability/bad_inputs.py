"""Bad inputs: each one exits with its documented code, prints exactly one ``error:`` line and
a hint naming the fix, no traceback, and writes nothing (the forge's request log shows no
write, not even a refused one).

Each case starts from a copy of the reference release (tests/reliability/crash.py) at a
stage (``at``: "start" is a fresh project, "promote" one published, "end" a finished v1.2.0),
changes one thing (the config, a credential, the forge) and runs one command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.crash import Reference, copy_of
from tests.reliability.rig import VERSION, Rig

RC = "v1.2.0-rc1"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: str  # in the error or its hint: the fix (or what to fix) named
    edit: tuple[str, str] | None = None  # (old, new) in releaser.toml; old "" appends new
    env: dict[str, str] = field(default_factory=dict)
    at: str = "start"
    setup: str = ""  # the name of a function of this module preparing the forge


def release(version: str = RC, *more: str) -> tuple[str, ...]:
    return ("--non-interactive", "release", version, "--yes", *more)


def stage(name: str, version: str = VERSION, *more: str) -> tuple[str, ...]:
    return ("--non-interactive", name, version, "--yes", *more)


VERSIONS = [
    "v1.2",
    "1.2.0.0",
    "v1.2.0-rc",
    "v1.2.0-rc0",
    "v1.2.0-RC1",
    "v1.2.0-rc1-",
    "vv1.2.0",
    "v1.2.0-beta",
    "latest",
    "v1.2.x",
]
CONFIG: list[tuple[str, tuple[str, str], str]] = [
    ("poll-inf", ("poll_interval = 0.2", "poll_interval = inf"), "finite number"),
    ("poll-negative", ("poll_interval = 0.2", "poll_interval = -1"), "poll_interval"),
    ("poll-type", ("poll_interval = 0.2", 'poll_interval = "fast"'), "poll_interval"),
    ("wait-type", ("wait_timeout = 120", "wait_timeout = [1]"), "wait_timeout"),
    ("unknown-table", ("[engine]", "[engine_]"), "engine_"),
    ("unknown-key", ('name = "example"', 'name = "example"\nnmae = "x"'), "nmae"),
    ("repo-no-owner", ('repo = "acme/example"', 'repo = "example"'), "repo"),
    ("tag-no-version", ('tag = "v{version}"', 'tag = "release"'), "{version}"),
    ("branch-unknown-field", ("release-v{major}.{minor}", "release-{nope}"), "nope"),
    ("labels-type", ('labels = ["release"]', 'labels = "release"'), "labels"),
    (
        "pattern-no-group",
        ('"__version__ = \\"(?P<version>[^\\"]+)\\""', '"__version__"'),
        "version",
    ),
    (
        "pattern-bad-regex",
        ('"__version__ = \\"(?P<version>[^\\"]+)\\""', '"(?P<version>["'),
        "pattern",
    ),
    ("version-file-absolute", ('path = "example/__init__.py"', 'path = "/etc/passwd"'), "path"),
    ("workflow-on", ('on = "tag"', 'on = "sometimes"'), "sometimes"),
    (
        "checksums-path",
        ('assets_from = "artifacts"', 'assets_from = "artifacts"\nchecksums = "../../evil"'),
        "plain file name",
    ),
    ("toml-syntax", ("[engine]", "[engine"), "releaser.toml"),
    (
        "duplicate-key",
        ("poll_interval = 0.2", "poll_interval = 0.2\npoll_interval = 0.3"),
        "not valid TOML",
    ),
    ("discourse-url", ('url = "http://127.0.0.1', 'url = "ftp://127.0.0.1'), "url"),
    ("discourse-pin-type", ("pin = true", 'pin = "yes"'), "pin"),
    ("pypi-dist-from", ('dist_from = "release"', 'dist_from = "somewhere"'), "dist_from"),
    (
        "downstream-no-edit",
        ('files = ["requirements.txt", "Dockerfile"]\n', ""),
        "downstream[0].files",
    ),
    ("downstream-bad-repo", ('repo = "acme/example-app"', 'repo = "example-app"'), "repo"),
    ("steps-unknown", ("", "\n[steps.push_tag]\nenabled = false\n"), "push-tag"),
    ("steps-enabled-type", ("", '\n[steps.push-tag]\nenabled = "no"\n'), "enabled"),
    ("steps-only-kind", ("", '\n[steps.push-tag]\nonly = ["nightly"]\n'), "nightly"),
    ("token-env-empty", ('token_env = "SANDBOX_TOKEN"', 'token_env = ""'), "token_env"),
]
CASES: list[Case] = [
    *(Case(f"version-{v or 'empty'}", release(v), 2, "accepted forms") for v in VERSIONS),
    *(Case(f"config-{name}", ("plan", RC), 2, says, edit=edit) for name, edit, says in CONFIG),
    # the same config errors stop a stage before it reads the forge
    Case("config-stage-poll", release(), 2, "finite number", edit=CONFIG[0][1]),
    Case("config-stage-unknown", release(), 2, "engine_", edit=CONFIG[4][1]),
    # command-line usage
    Case("only-unknown", release(RC, "--only", "no-such-step"), 2, "no step is named"),
    Case("skip-typo", release(RC, "--skip", "push_tag"), 2, "did you mean 'push-tag'"),
    Case("only-other-stage", stage("tag", RC, "--only", "tracking-issue"), 2, "tracking-issue"),
    Case("unknown-option", ("release", RC, "--frobnicate"), 2, "--frobnicate"),
    Case("unknown-command", ("relase", RC), 2, "release"),
    Case("missing-version", ("release",), 2, "VERSION"),
    Case("config-missing", ("--config", "nope.toml", "plan", RC), 2, "nope.toml"),
    Case("confirm-unknown-step", ("confirm", RC, "no-such-step", "--retry"), 2, "no step"),
    Case(
        "confirm-evidence-not-url",
        ("confirm", RC, "tracking-issue", "--evidence", "done"),
        2,
        "https://",
    ),
    Case("approve-unknown-step", ("approve", RC, "no-such-step"), 2, "no step"),
    Case(
        "timeout-env", release(), 2, "RELEASER_HTTP_TIMEOUT", env={"RELEASER_HTTP_TIMEOUT": "soon"}
    ),
    # credentials
    Case("token-missing", release(), 2, "SANDBOX_TOKEN", env={"SANDBOX_TOKEN": ""}),
    Case("token-blank", release(), 2, "SANDBOX_TOKEN", env={"SANDBOX_TOKEN": "   "}),
    Case("token-non-latin1", release(), 2, "SANDBOX_TOKEN", env={"SANDBOX_TOKEN": "ghp_tökén€"}),
    Case("token-inner-newline", release(), 2, "SANDBOX_TOKEN", env={"SANDBOX_TOKEN": "ghp_ab\ncd"}),
    Case("token-refused", release(), 2, "SANDBOX_TOKEN", env={"SANDBOX_TOKEN": "ghp_" + "x" * 36}),
    Case("token-no-repo-scope", release(), 2, "repo", setup="no_repo_scope"),
    Case("token-reader", release(), 2, "write", setup="reader_token"),
    Case(
        "matrix-token-missing",
        stage("promote"),
        2,
        "SANDBOX_MATRIX_TOKEN",
        env={"SANDBOX_MATRIX_TOKEN": ""},
        at="promote",
    ),
    Case(
        "discourse-key-missing",
        stage("promote"),
        2,
        "SANDBOX_DISCOURSE_API_KEY",
        env={"SANDBOX_DISCOURSE_API_KEY": ""},
        at="promote",
    ),
    Case(
        "discord-webhook-missing",
        stage("promote"),
        2,
        "SANDBOX_DISCORD_WEBHOOK_URL",
        env={"SANDBOX_DISCORD_WEBHOOK_URL": ""},
        at="promote",
    ),
    Case(
        "pypi-token-missing",
        stage("publish"),
        2,
        "SANDBOX_PYPI_TOKEN",
        env={"SANDBOX_PYPI_TOKEN": ""},
        at="publish",
    ),
    # the remote state
    Case(
        "workflow-missing",
        release(),
        2,
        "fix releaser.toml",
        edit=('file = "build.yml"', 'file = "nope.yml"'),
    ),
    Case(
        "repo-missing",
        release(),
        2,
        "acme/nope has no such workflow",
        edit=('repo = "acme/example"', 'repo = "acme/nope"'),
    ),
    Case("older-version", release("v1.2.0-rc2"), 2, "--allow-older", at="end"),
    Case("tagged-elsewhere", release("v1.1.0"), 2, "--adopt"),
    Case("ledger-malformed", stage("prepare", RC), 1, "malformed", setup="malformed_ledger"),
]

# credentials a service refuses and rooms it lacks: found before the stage's first write
# (releaser/service_probes.py), like a forge permission, so nothing is written
CASES += [
    Case(
        "matrix-token-refused",
        stage("promote"),
        2,
        "SANDBOX_MATRIX_TOKEN",
        env={"SANDBOX_MATRIX_TOKEN": "syt_wrong"},
        at="promote",
    ),
    Case(
        "discourse-key-refused",
        stage("promote"),
        2,
        "SANDBOX_DISCOURSE_API_KEY",
        env={"SANDBOX_DISCOURSE_API_KEY": "wrong"},
        at="promote",
    ),
    Case(
        "reddit-password-refused",
        stage("promote"),
        2,
        "SANDBOX_REDDIT",
        env={"SANDBOX_REDDIT_PASSWORD": "wrong"},
        at="promote",
    ),
    Case(
        "discord-webhook-not-url",
        stage("promote"),
        2,
        "SANDBOX_DISCORD_WEBHOOK_URL",
        env={"SANDBOX_DISCORD_WEBHOOK_URL": "hook"},
        at="promote",
    ),
    Case(
        "pypi-token-refused",
        stage("publish"),
        2,
        "SANDBOX_PYPI_TOKEN",
        env={"SANDBOX_PYPI_TOKEN": "pypi-wrong"},
        at="publish",
    ),
    Case(
        "matrix-room-missing",
        stage("promote"),
        2,
        "#nope:sandbox",
        edit=('room = "#releases:sandbox"', 'room = "#nope:sandbox"'),
        at="promote",
    ),
]


# -- setups -------------------------------------------------------------------------------


def no_repo_scope(rig: Rig) -> None:
    rig.admin("POST", "/settings", {"scopes": "read:org, workflow"})


def reader_token(rig: Rig) -> None:
    from releaser.sandbox.admin_client import SandboxAdmin

    with SandboxAdmin(rig.info["admin_url"]) as admin:
        token = str(admin.create_user("reader")["token"])
    rig.env["SANDBOX_TOKEN"] = token


def malformed_ledger(rig: Rig) -> None:
    assert rig.stage("start", version=RC).exit_code == 0
    import httpx

    api = rig.info["api_url"]
    headers = {"Authorization": f"token {rig.token}"}
    ref = f"{api}/repos/acme/example/git/refs/releaser/{RC}"
    tip = httpx.get(ref, headers=headers).json()["object"]["sha"]
    bad = json.dumps({"release": RC, "entries": [{"type": "claim", "driver": "x"}]})
    tree = httpx.post(
        f"{api}/repos/acme/example/git/trees",
        headers=headers,
        json={"tree": [{"path": "ledger.json", "mode": "100644", "type": "blob", "content": bad}]},
    ).json()["sha"]
    commit = httpx.post(
        f"{api}/repos/acme/example/git/commits",
        headers=headers,
        json={"message": "hand edit", "tree": tree, "parents": [tip]},
    ).json()["sha"]
    httpx.patch(ref, headers=headers, json={"sha": commit}).raise_for_status()


SETUPS: dict[str, Callable[[Rig], None]] = {
    "no_repo_scope": no_repo_scope,
    "reader_token": reader_token,
    "malformed_ledger": malformed_ledger,
}


# -- the trial ------------------------------------------------------------------------------


def snapshot(ref: Reference, at: str) -> Path:
    return ref.root / "after" if at == "end" else ref.before(at)


def judge(case: Case, output: str, code: int, writes: list[dict[str, Any]]) -> str | None:
    """What is wrong with how a bad input was answered, or None."""
    problems = []
    if code != case.code:
        problems.append(f"exit {code}, not {case.code}")
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if len(errors) != 1:
        problems.append(f"{len(errors)} error: lines")
    lines = output.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("error:")), len(lines))
    said = lines[first : first + 12]  # the error, its listed problems and its hint
    if case.says not in "\n".join(said):
        problems.append(f"the error and hint don't name {case.says!r}")
    hinted = any(line.startswith("hint:") for line in output.splitlines())
    if not hinted and len(errors) == 1 and case.says not in errors[0]:
        problems.append("no hint")
    if "Traceback" in output:
        problems.append("a traceback")
    if writes:
        problems.append(f"{len(writes)} write(s): {[(w['method'], w['path']) for w in writes]}")
    if problems:
        return "; ".join(problems) + "\n" + output[-1500:]
    return None


def run_case(ref: Reference, case: Case, work: Path) -> str | None:
    rig = copy_of(snapshot(ref, case.at), work)
    try:
        if case.setup:
            SETUPS[case.setup](rig)
        if case.edit:
            text = rig.config_path.read_text()
            old, new = case.edit
            if old and old not in text:
                return f"the edit's anchor {old!r} is not in releaser.toml"
            text = text + new if not old else text.replace(old, new, 1)
            rig.config_path.write_text(text)
        mark = rig.mark()
        result = rig.cli(*case.args, env=case.env)
        return judge(case, result.output, result.exit_code, rig.writes_since(mark))
    finally:
        rig.stop()


def run_case_at(root: str, case: Case) -> str | None:
    from tests.reliability.trial import on_reference

    return on_reference("bad", run_case, root, case)


def trials(ref: Reference) -> list[tuple[str, Any, tuple[Any, ...]]]:
    return [(c.id, run_case_at, (str(ref.root), c)) for c in CASES]
