"""Requirements across keys (releaser.config_rules): each one is a config error at load time
(exit 2, nothing else happens) naming both keys and the line, and a file that meets it loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from releaser.config import CONFIG_NAME, ConfigError, load_config
from releaser.errors import UsageError

MIN = '[project]\nname = "Demo"\nrepo = "owner/demo"\n'
BUILD = '[[build.workflows]]\nfile = "build.yml"\n'
KEY = '[signing]\ngpg_key = "0123456789ABCDEF"\n'
VFILE = '[[version_files]]\npath = "v.txt"\npattern = "(?P<version>.+)"\n'

# (id, text, the problem's key path, words the message holds (both keys), line, a fixed text)
RULES = [
    (
        "artifacts-without-workflows",
        MIN + "[publish.github]\n",
        "publish.github.assets_from",
        [
            'publish.github.assets_from = "artifacts"',
            '[[build.workflows]] (stage "build")',
        ],
        4,
        MIN + "[publish.github]\n" + BUILD,
    ),
    (
        "artifacts-written-without-workflows",
        MIN + '[publish.github]\nassets_from = "artifacts"\n',
        "publish.github.assets_from",
        ['publish.github.assets_from = "artifacts" needs', "[[build.workflows]]"],
        5,
        MIN + '[publish.github]\nassets_from = "artifacts"\n' + BUILD,
    ),
    (
        "artifacts-only-from-publish-stage-workflows",
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "a.yml"\nstage = "publish"\n'
        'on = "dispatch"\n',
        "publish.github.assets_from",
        ['(stage "build")'],
        4,
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "a.yml"\n',
    ),
    (
        "artifacts-from-another-repository-only",
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "a.yml"\non = "dispatch"\n'
        'repo = "other/repo"\n',
        "publish.github.assets_from",
        ["[[build.workflows]]", "in owner/demo"],
        4,
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "a.yml"\non = "dispatch"\n',
    ),
    (
        "artifacts-workflows-for-finals-only",
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "a.yml"\nonly = ["final"]\n',
        "publish.github.assets_from",
        ["[[build.workflows]]", "for rc and patch rc releases"],
        4,
        MIN + '[publish.github]\nonly = ["final"]\n[[build.workflows]]\nfile = "a.yml"\n'
        'only = ["final"]\n',
    ),
    (
        "release-assets-without-workflows",
        MIN + '[publish.github]\nassets_from = "release"\n',
        "publish.github.assets_from",
        ['publish.github.assets_from = "release" needs', "[[build.workflows]]"],
        5,
        MIN + '[publish.github]\nassets_from = "release"\n' + BUILD,
    ),
    (
        "dir-without-assets-dir",
        MIN + '[publish.github]\nassets_from = "dir"\n',
        "publish.github.assets_from",
        ['publish.github.assets_from = "dir" needs publish.github.assets_dir'],
        5,
        MIN + '[publish.github]\nassets_from = "dir"\nassets_dir = "dist"\n',
    ),
    (
        "assets-dir-not-read",
        MIN + '[publish.github]\nassets_from = "artifacts"\nassets_dir = "dist"\n' + BUILD,
        "publish.github.assets_dir",
        ["publish.github.assets_dir", 'assets_from = "dir"'],
        6,
        MIN + '[publish.github]\nassets_dir = "dist"\n',
    ),
    (
        "notes-changelog-for-finals-only",
        MIN + '[changelog]\nonly = ["final"]\n[publish.github]\nnotes = "changelog"\n' + BUILD,
        "publish.github.notes",
        ['publish.github.notes = "changelog" needs a [changelog]', "for rc and patch rc"],
        7,
        MIN + '[changelog]\n[publish.github]\nnotes = "changelog"\n' + BUILD,
    ),
    (
        "sign-checksums-without-key",
        MIN + "[publish.github]\nsign_checksums = true\n" + BUILD,
        "publish.github.sign_checksums",
        ["publish.github.sign_checksums = true needs signing.gpg_key"],
        5,
        MIN + KEY + "[publish.github]\nsign_checksums = true\n" + BUILD,
    ),
    (
        "sign-checksums-without-checksums",
        MIN + KEY + '[publish.github]\nsign_checksums = true\nchecksums = ""\n' + BUILD,
        "publish.github.sign_checksums",
        ["publish.github.sign_checksums = true needs publish.github.checksums"],
        7,
        MIN + KEY + '[publish.github]\nsign_checksums = false\nchecksums = ""\n' + BUILD,
    ),
    (
        "gpg-home-without-key",
        MIN + '[signing]\ngpg_home_env = "GNUPGHOME"\n',
        "signing.gpg_home_env",
        ["signing.gpg_home_env needs signing.gpg_key"],
        5,
        MIN + KEY + 'gpg_home_env = "GNUPGHOME"\n',
    ),
    (
        "publish-workflow-without-github-release",
        MIN + '[[build.workflows]]\nfile = "sync.yml"\non = "dispatch"\nstage = "publish"\n',
        "build.workflows[0].stage",
        ['build.workflows[0].stage = "publish" needs [publish.github]'],
        7,
        MIN + '[publish.github]\n[[build.workflows]]\nfile = "sync.yml"\non = "dispatch"\n'
        'stage = "publish"\n' + BUILD,
    ),
    (
        "next-dev-pr-without-dev-format",
        MIN + "[prepare]\nnext_dev_pr = true\n" + VFILE,
        "prepare.next_dev_pr",
        ["prepare.next_dev_pr = true needs a [[version_files]] with dev_format"],
        5,
        MIN + "[prepare]\nnext_dev_pr = true\n" + VFILE + 'dev_format = "{version}"\n',
    ),
    (
        "discourse-pin-without-key",
        MIN + '[promote.discourse]\nurl = "https://forum.example.org"\npin = true\n',
        "promote.discourse.pin",
        ["promote.discourse.pin = true needs promote.discourse.api_key_env"],
        6,
        MIN + '[promote.discourse]\nurl = "https://forum.example.org"\npin = true\n'
        'api_key_env = "DISCOURSE_API_KEY"\n',
    ),
    (
        "discourse-username-without-key",
        MIN + '[promote.discourse]\nurl = "https://forum.example.org"\napi_username = "bot"\n',
        "promote.discourse.api_username",
        ["promote.discourse.api_username needs promote.discourse.api_key_env"],
        6,
        MIN + '[promote.discourse]\nurl = "https://forum.example.org"\napi_username = "bot"\n'
        'api_key_env = "DISCOURSE_API_KEY"\n',
    ),
    (
        "reddit-partial-credentials",
        MIN + '[promote.reddit]\nsubreddit = "x"\nclient_id_env = "RID"\n'
        'client_secret_env = "RSECRET"\n',
        "promote.reddit.username_env",
        ["promote.reddit.client_id_env needs", "promote.reddit.username_env"],
        4,
        MIN + '[promote.reddit]\nsubreddit = "x"\nclient_id_env = "RID"\n'
        'client_secret_env = "RSECRET"\nusername_env = "RUSER"\npassword_env = "RPASS"\n',
    ),
    (
        "docker-username-without-password",
        MIN + '[[publish.docker]]\nimage = "o/i"\nusername_env = "DOCKER_USER"\n',
        "publish.docker[0].username_env",
        ["publish.docker[0].username_env needs publish.docker[0].password_env"],
        6,
        MIN + '[[publish.docker]]\nimage = "o/i"\nusername_env = "DOCKER_USER"\n'
        'password_env = "DOCKER_PASSWORD"\n',
    ),
    (
        "downstream-pattern-without-files",
        MIN + '[[downstream]]\nrepo = "o/d"\ncommand = "make bump"\npattern = "v(?P<version>.+)"\n',
        "downstream[0].pattern",
        ["downstream[0].pattern needs downstream[0].files"],
        7,
        MIN + '[[downstream]]\nrepo = "o/d"\nfiles = ["go.mod"]\npattern = "v(?P<version>.+)"\n',
    ),
    (
        "downstream-format-without-pattern",
        MIN + '[[downstream]]\nrepo = "o/d"\ncommand = "make bump"\nformat = "v{version}"\n',
        "downstream[0].format",
        ["downstream[0].format needs downstream[0].pattern"],
        7,
        MIN + '[[downstream]]\nrepo = "o/d"\ncommand = "make bump"\n',
    ),
    (
        "downstream-inputs-without-workflow",
        MIN + '[[downstream]]\nrepo = "o/d"\ncommand = "make"\ninputs = { v = "{version}" }\n',
        "downstream[0].inputs",
        ["downstream[0].inputs needs downstream[0].workflow"],
        7,
        MIN + '[[downstream]]\nrepo = "o/d"\nworkflow = "e2e.yml"\ninputs = { v = "{version}" }\n',
    ),
    (
        "downstream-reviewers-without-pr",
        MIN + '[[downstream]]\nrepo = "o/d"\nworkflow = "e2e.yml"\nreviewers = ["alice"]\n',
        "downstream[0].reviewers",
        ["downstream[0].reviewers needs a pull request", "downstream[0].files"],
        7,
        MIN + '[[downstream]]\nrepo = "o/d"\ncommand = "make"\nreviewers = ["alice"]\n',
    ),
    (
        "release-branch-is-default-branch",
        MIN + 'default_branch = "main"\nrelease_branch = "main"\n',
        "project.release_branch",
        ["project.release_branch", "project.default_branch"],
        5,
        MIN + 'default_branch = "main"\nrelease_branch = "release"\n',
    ),
    (
        "sandbox-and-api-url",
        MIN + '[forge]\nsandbox = "forge"\napi_url = "https://ghe.example.com/api/v3"\n',
        "forge.api_url",
        ["forge.api_url is ignored with forge.sandbox"],
        6,
        MIN + '[forge]\nsandbox = "forge"\n',
    ),
    (
        "poll-longer-than-wait",
        MIN + "[engine]\nwait_timeout = 60\npoll_interval = 120\n",
        "engine.poll_interval",
        ["engine.poll_interval (120s) must be shorter than engine.wait_timeout (60s)"],
        6,
        MIN + "[engine]\nwait_timeout = 600\npoll_interval = 120\n",
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "key_path", "words", "line", "fixed"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_requirement_across_keys(
    tmp_path: Path, text: str, key_path: str, words: list[str], line: int, fixed: str
) -> None:
    (tmp_path / "forge").mkdir(exist_ok=True)  # a sandbox's state that exists
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    exc = caught.value
    assert isinstance(exc, UsageError) and exc.exit_code == 2
    matching = [p for p in exc.problems if p.path == key_path]
    assert matching, f"no problem at {key_path}: {exc.message}"
    for words_ in words:
        assert words_ in exc.message, exc.message
    assert matching[0].line == line, exc.message
    assert f"{CONFIG_NAME}:{line}: " in exc.message
    load_config(_write(tmp_path, fixed))  # meeting the requirement: no error


def test_message_names_the_key_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, MIN + '[publish.github]\nassets_from = "artifacts"\n'))
    assert caught.value.message.endswith(
        'releaser.toml:5: publish.github.assets_from = "artifacts" needs at least one '
        '[[build.workflows]] (stage "build") in owner/demo: the assets are its artifacts. '
        'Add the workflow that builds them, or set assets_from = "dir" with assets_dir'
    )


def test_the_cli_stops_before_anything_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from releaser.cli import app

    _write(tmp_path, MIN + "[publish.github]\n")
    monkeypatch.chdir(tmp_path)
    for args in (["plan", "v1.0.0"], ["release", "v1.0.0", "-n"], ["doctor"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "publish.github.assets_from" in result.output
        assert "[[build.workflows]]" in result.output
        assert "Traceback" not in result.output
