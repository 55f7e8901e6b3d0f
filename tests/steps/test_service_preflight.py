"""Refused service credentials and missing rooms are found before a command's first write
(releaser/service_probes.py, through releaser/permissions.py's Preflight), against the
sandbox's Matrix, Discourse, Reddit, Discord and package index, a real Synapse, a real
pypiserver, real docker-registry (Basic and token logins) and a real Verdaccio.

Each bad credential stops ``releaser promote`` / ``publish`` with exit 2, one error naming
the variable (never its value, even with -v) and no write at all in the forge's request log
(which logs the services too); a dry run says where it would stop and exits 1; ``plan
--check`` reports it; a re-run that finds everything done makes no probe.
"""

from __future__ import annotations

from typing import Any

import pytest

from releaser.clients.http import RetryPolicy
from releaser.clients.pypi import PyPI
from releaser.errors import CredentialError, UsageError
from releaser.ui import UI
from tests.services.pypiserver import make_sdist, make_wheel
from tests.steps.test_promote import PROMOTE as PROMOTE_TABLES
from tests.steps.test_promote import published
from tests.steps.test_publish_docker import config as docker_config
from tests.steps.test_publish_docker import image
from tests.steps.test_publish_npm import config as npm_config
from tests.steps.test_publish_pypi import config as pypi_config
from tests.steps.test_publish_pypi import sandbox_index

FINAL = "v1.2.0"
RC = "v1.2.0-rc1"
PROMOTE = ("--non-interactive", "promote", FINAL, "--yes")

BAD: list[tuple[str, str, str]] = [
    # (variable, a wrong value, what the error names)
    ("SANDBOX_MATRIX_TOKEN", "syt_wrong_7f3kq9", "SANDBOX_MATRIX_TOKEN"),
    ("SANDBOX_DISCOURSE_API_KEY", "wrong-key-7f3kq9", "SANDBOX_DISCOURSE_API_KEY"),
    ("SANDBOX_REDDIT_PASSWORD", "wrong-password-7f3kq9", "SANDBOX_REDDIT_PASSWORD"),
    ("SANDBOX_DISCORD_WEBHOOK_URL", "not-a-url-7f3kq9", "SANDBOX_DISCORD_WEBHOOK_URL"),
]


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def stopped_before_writing(project: Any, args: tuple[str, ...], names: str) -> str:
    """Run the CLI: exit 2, one error naming ``names``, no traceback, nothing written."""
    mark = len(project.requests())
    result = project.cli(*args)
    out = result.output
    assert result.exit_code == 2, out
    assert len(errors(out)) == 1, out
    assert names in out and "nothing was written" in out, out
    assert "-v" in args or "Traceback" not in out  # -v shows where it was raised
    assert [(w["method"], w["path"], w.get("user")) for w in project.writes_since(mark)] == [], out[
        -300:
    ]
    return out


@pytest.fixture
def announced_ready(make_project: Any) -> Any:
    """The example project with the sandbox's channels, published up to promote."""
    project = make_project(channels=True, extra=PROMOTE_TABLES)  # a tracking issue writes first
    published(project, FINAL)
    return project


def test_each_refused_credential_stops_promote_before_any_write(
    announced_ready: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = announced_ready
    good = dict(project.env)
    for variable, wrong, names in BAD:
        project.env = {**good, variable: wrong}
        out = stopped_before_writing(project, ("-v", *PROMOTE), names)
        assert wrong not in out  # not even with -v
        assert "would stop" not in out
    # several at once: one message listing each, with the step that writes there
    project.env = {**good, **{v: w for v, w, _ in BAD}}
    out = stopped_before_writing(project, PROMOTE, "the services this command writes to")
    for variable, wrong, _ in BAD:
        assert variable in out and wrong not in out
    for step in ("announce-on-matrix", "announce-on-discourse", "announce-on-reddit"):
        assert f"{step}: " in out

    # a dry run says where a live run would stop, writes nothing and exits 1
    project.env = {**good, "SANDBOX_MATRIX_TOKEN": "syt_wrong_7f3kq9"}
    mark = len(project.requests())
    result = project.cli(*PROMOTE, "--dry-run")
    assert result.exit_code == 1, result.output
    assert "would stop before the first write" in result.output
    # said in full once as it runs (the step meeting it refers to that), then in the summary
    assert "failed would stop before the first write (said above)" in result.output
    assert "failed would stop before the first write: " not in result.output
    assert "SANDBOX_MATRIX_TOKEN" in result.output and "syt_wrong_7f3kq9" not in result.output
    assert "Traceback" not in result.output
    assert project.writes_since(mark) == []

    # plan --check reports them too (read-only)
    project.env = {**good, "SANDBOX_DISCOURSE_API_KEY": "wrong-key-7f3kq9"}
    mark = len(project.requests())
    result = project.cli("plan", FINAL, "--check")
    assert result.exit_code == 2, result.output
    assert "announce-on-discourse: " in result.output
    assert "SANDBOX_DISCOURSE_API_KEY" in result.output
    assert "wrong-key-7f3kq9" not in result.output
    assert project.writes_since(mark) == []

    # with every credential right, promote probes each service once, before its first write,
    # and posts; a re-run finds it all done and probes nothing
    import releaser.service_probes as service_probes

    probed: list[str] = []
    real = service_probes.problem

    def counted(ctx: Any, probe: Any) -> str | None:
        probed.append(probe.label)
        return real(ctx, probe)

    monkeypatch.setattr(service_probes, "problem", counted)
    project.env = good
    result = project.cli(*PROMOTE)
    assert result.exit_code == 0, result.output
    assert sorted(probed) == [
        "discord webhook",
        f"discourse {project.info['discourse_url']}",
        "matrix #releases:sandbox",
        "reddit r/example",
    ]
    probed.clear()
    mark = len(project.requests())
    result = project.cli(*PROMOTE)
    assert result.exit_code == 0, result.output
    assert probed == []
    after = project.requests()[mark:]
    assert [e for e in after if e.get("write")] == []
    assert not [e for e in after if e["path"].endswith("/api/v1/me")]  # Reddit's probe


def test_a_missing_room_or_category_stops_promote_before_any_write(announced_ready: Any) -> None:
    project = announced_ready
    text = project.config_path.read_text()
    project.config_path.write_text(
        text.replace('room = "#releases:sandbox"', 'room = "#nope:sandbox"')
    )
    out = stopped_before_writing(project, PROMOTE, "#nope:sandbox")
    assert "[promote.matrix] room" in out
    mark = len(project.requests())
    result = project.cli(*PROMOTE, "--dry-run")
    shown = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "would stop before the first write:" in shown, shown
    assert "announce-on-matrix: the room alias #nope:sandbox does not exist" in shown
    assert "check [promote.matrix] room" in shown  # the key, not swallowed as markup
    assert project.writes_since(mark) == []
    project.config_path.write_text(text.replace('category = "News"', 'category = "Nope"'))
    out = stopped_before_writing(project, PROMOTE, "'Nope'")
    assert "[promote.discourse] category" in out


# -- the package index ----------------------------------------------------------------------


def test_a_refused_upload_token_stops_publish_before_any_write(make_project: Any) -> None:
    project = make_project(python_dists=True)
    upload = sandbox_index(project)
    token = project.env["PYPI_TOKEN"]
    project.config_path.write_text(
        project.config_path.read_text() + pypi_config(upload, project.info["pypi_url"])
    )
    built(project, RC)
    dist = project.work / "dist"
    make_wheel(dist, "example", "1.2.0rc1")
    make_sdist(dist, "example", "1.2.0rc1")
    publish = ("--non-interactive", "publish", RC, "--yes")

    project.env = {"PYPI_TOKEN": "pypi-wrong-7f3kq9"}
    out = stopped_before_writing(project, ("-v", *publish), "PYPI_TOKEN")
    assert "pypi-upload: " in out and "pypi-wrong-7f3kq9" not in out

    project.env = {"PYPI_TOKEN": token}
    mark = len(project.requests())
    result = project.cli(*publish)
    assert result.exit_code == 0, result.output
    log = project.requests()[mark:]
    uploads = [e for e in log if e["method"] == "POST" and e["path"].startswith("/pypi/legacy")]
    # the probe (a read in the log: it carries no file) before the two uploads (writes)
    assert [e["write"] for e in uploads] == [False, True, True]
    assert uploads[0]["status"] == 400
    # a re-run finds the files there: no probe, no upload
    mark = len(project.requests())
    result = project.cli(*publish)
    assert result.exit_code == 0, result.output
    assert not [e for e in project.requests()[mark:] if e["path"].startswith("/pypi/legacy")]


def test_the_upload_token_probe_against_pypiserver_stores_nothing(pypiserver: Any) -> None:
    ui = UI(verbose=False)
    before = pypiserver.stored()

    def client(password: str) -> PyPI:
        return PyPI(
            pypiserver.url,
            ui,
            pypiserver.username,
            password,
            credential="PYPI_TOKEN",
            retry=RetryPolicy(attempts=1),
        )

    client(pypiserver.password).check_upload_token()  # 400: the upload has no file
    with pytest.raises(CredentialError) as refused:
        client("wrong-7f3kq9").check_upload_token()
    assert "PYPI_TOKEN" in f"{refused.value.message} {refused.value.hint}"
    assert "wrong-7f3kq9" not in f"{refused.value.message} {refused.value.hint}"
    with pytest.raises(UsageError, match="takes no uploads"):
        PyPI(pypiserver.url + "nowhere/", ui, "u", "p").check_upload_token()
    assert pypiserver.stored() == before


# -- registries: docker-registry and Verdaccio ------------------------------------------------


def built(project: Any, version: str = RC) -> Any:
    """``project`` with ``version`` built, the next stage being ``publish``."""
    for stage in ("start", "prepare", "tag", "build"):
        project.run_stage(version, stage)
    return project


PUBLISH = ("--non-interactive", "publish", RC, "--yes")


@pytest.mark.parametrize("login", ["htpasswd", "token"])
def test_a_refused_registry_login_stops_publish_before_any_write(
    make_project: Any, request: pytest.FixtureRequest, login: str
) -> None:
    registry = request.getfixturevalue(f"oci_registry_{login}")
    name = image()
    project = built(make_project(extra=docker_config(registry.host, name, credentials=True)))
    wrong = "pw-wrong-7f3kq9"
    project.env = {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD": wrong}
    out = stopped_before_writing(project, ("-v", *PUBLISH), "REGISTRY_PASSWORD")
    assert "docker-images: " in out and wrong not in out
    assert registry.tags(name) == []


def test_entries_of_one_image_and_login_are_probed_once(
    make_project: Any, oci_registry_htpasswd: Any
) -> None:
    """A final's two [[publish.docker]] entries (its version tag; latest and release) push
    one image with one login: one probe, one line for it."""
    registry = oci_registry_htpasswd
    name = image()
    project = make_project(extra=docker_config(registry.host, name, credentials=True))
    built(project, FINAL)
    project.env = {"REGISTRY_USER": registry.username, "REGISTRY_PASSWORD": "pw-wrong-7f3kq9"}
    publish = ("--non-interactive", "publish", FINAL, "--yes")
    out = stopped_before_writing(project, publish, "REGISTRY_PASSWORD")
    assert out.count("docker-images: ") == 1, out


def test_a_login_that_may_only_pull_stops_publish_before_any_write(
    make_project: Any, oci_registry_token: Any
) -> None:
    """The token server's JWT lists what it grants: a reader's lacks push."""
    registry = oci_registry_token
    name = image()
    project = built(make_project(extra=docker_config(registry.host, name, credentials=True)))
    user, password = registry.reader
    project.env = {"REGISTRY_USER": user, "REGISTRY_PASSWORD": password}
    out = stopped_before_writing(project, PUBLISH, "REGISTRY_PASSWORD")
    assert f"may not push {name}" in out and password not in out


def test_a_refused_npm_token_stops_publish_before_any_write(
    make_project: Any, verdaccio: Any
) -> None:
    package = verdaccio.unique("example")
    verdaccio.publish(verdaccio.add_user(), package, "1.1.0")
    project = built(make_project(extra=npm_config(verdaccio.url, package, token=True)))
    project.env = {"NPM_TOKEN": "npm_wrong7f3kq9"}
    out = stopped_before_writing(project, ("-v", *PUBLISH), "NPM_TOKEN")
    assert "npm-package: " in out and "npm_wrong7f3kq9" not in out
    assert verdaccio.dist_tags(package) == {"latest": "1.1.0"}


# -- a real homeserver ----------------------------------------------------------------------


def test_plan_check_probes_a_real_synapse(make_project: Any, synapse: Any) -> None:
    owner = synapse.register(admin=True)
    _room_id, alias = synapse.create_room(owner)
    bot = synapse.register()
    extra = f"""
[[promote.matrix]]
homeserver = "{synapse.url}"
room = "{alias}"
token_env = "MATRIX_TOKEN"
message = "{{name}} v{{version}} is out! {{release_url}}"
"""
    project = make_project(extra=extra)
    project.env["MATRIX_TOKEN"] = bot.access_token
    result = project.cli("plan", FINAL, "--check")
    assert result.exit_code == 0, result.output

    project.env["MATRIX_TOKEN"] = "syt_wrong_7f3kq9"
    result = project.cli("plan", FINAL, "--check")
    assert result.exit_code == 2, result.output
    assert "announce-on-matrix: " in result.output and "MATRIX_TOKEN" in result.output
    assert "syt_wrong_7f3kq9" not in result.output and "Traceback" not in result.output

    project.env["MATRIX_TOKEN"] = bot.access_token
    missing = alias.replace("#", "#nope-", 1)
    project.config_path.write_text(project.config_path.read_text().replace(alias, missing))
    result = project.cli("plan", FINAL, "--check")
    assert result.exit_code == 2, result.output
    assert f"the room alias {missing} does not exist" in result.output
    assert bot.access_token not in result.output
