"""releaser.toml loading and validation: errors name the key path and line, defaults are
filled, secrets can't be written inline, the examples and the reference doc stay valid."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from releaser.config import (
    CONFIG_NAME,
    Config,
    ConfigError,
    Section,
    check_configuration_doc,
    find_config,
    load_config,
    parse_config,
    schema_markdown,
    write_configuration_doc,
)
from releaser.config_schema import TABLES
from releaser.errors import UsageError
from releaser.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "docs" / "examples"

MIN = '[project]\nname = "Demo"\nrepo = "owner/demo"\n'


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return info.value


# -- a table of bad configs ---------------------------------------------------------------

BAD = [
    # id, toml text, key path, words in the problem, line (None: don't check)
    ("missing-name", '[project]\nrepo = "o/n"\n', "project.name", "missing required", 1),
    (
        "missing-project",
        '[forge]\napi_url = "https://x.example"\n',
        "project.name",
        "missing",
        None,
    ),
    (
        "bad-repo",
        '[project]\nname = "x"\nrepo = "https://github.com/o/n"\n',
        "project.repo",
        '"owner/name"',
        3,
    ),
    ("repo-dot-git", '[project]\nname = "x"\nrepo = "o/n.git"\n', "project.repo", "owner/name", 3),
    ("unknown-key", MIN + "nmae = 'x'\n", "project.nmae", "did you mean 'name'", 4),
    ("unknown-table", MIN + "[publsh.github]\n", "publsh", "did you mean 'publish'", 4),
    ("unknown-subtable", MIN + "[publish.gihub]\n", "publish.gihub", "did you mean 'github'", 4),
    (
        "key-elsewhere",
        MIN + 'token_env = "GITHUB_TOKEN"\n',
        "project.token_env",
        "belongs in [forge]",
        4,
    ),
    (
        "wrong-type-str",
        '[project]\nname = 42\nrepo = "o/n"\n',
        "project.name",
        "expected a string, got an integer",
        2,
    ),
    (
        "wrong-type-int",
        MIN + '[engine]\npoll_interval = "10"\n',
        "engine.poll_interval",
        "expected a number, got a string",
        5,
    ),
    (
        "zero-seconds",
        MIN + "[engine]\npoll_interval = 0\n",
        "engine.poll_interval",
        "more than 0",
        5,
    ),
    (
        "bool-not-number",
        MIN + "[engine]\nwait_timeout = true\n",
        "engine.wait_timeout",
        "expected a number, got a boolean",
        5,
    ),
    (
        "bool-not-int",
        MIN + "[engine]\nconcurrency = true\n",
        "engine.concurrency",
        "expected an integer, got a boolean",
        5,
    ),
    ("below-minimum", MIN + "[engine]\nconcurrency = 0\n", "engine.concurrency", "at least 1", 5),
    (
        "wrong-type-bool",
        MIN + '[tracking_issue]\nchecklist = "yes"\n',
        "tracking_issue.checklist",
        "expected a boolean",
        5,
    ),
    (
        "wrong-type-list",
        MIN + '[tracking_issue]\nlabels = "release"\n',
        "tracking_issue.labels",
        "expected an array",
        5,
    ),
    (
        "table-not-array",
        MIN + '[version_files]\npath = "x"\n',
        "version_files",
        "expected an array of tables ([[version_files]])",
        4,
    ),
    (
        "array-not-table",
        MIN + '[[forge]]\napi_url = "https://x.example"\n',
        "forge",
        "expected a table ([forge])",
        4,
    ),
    (
        "bad-choice",
        MIN
        + '[[build.workflows]]\nfile = "a.yml"\n[[build.workflows]]\nfile = "b.yml"\non = "push"\n',
        "build.workflows[1].on",
        'expected one of "tag", "dispatch"',
        8,
    ),
    (
        "workflow-missing-file",
        MIN + "[[build.workflows]]\non = 'tag'\n",
        "build.workflows[0].file",
        "missing required key 'file'",
        4,
    ),
    (
        "bad-template-field",
        MIN + '[tracking_issue]\ntitle = "Release v{vesion}"\n',
        "tracking_issue.title",
        "unknown template field {vesion}",
        5,
    ),
    (
        "template-suggestion",
        MIN + '[tracking_issue]\ntitle = "Release v{vesion}"\n',
        "tracking_issue.title",
        "did you mean {version}",
        5,
    ),
    (
        "message-field-in-name",
        MIN + '[prepare]\nnext_dev_branch = "bump-{release_url}"\n',
        "prepare.next_dev_branch",
        "unknown template field {release_url}",
        5,
    ),
    (
        "malformed-template",
        MIN + '[tracking_issue]\ntitle = "Release {version"\n',
        "tracking_issue.title",
        "bad template",
        5,
    ),
    (
        "tag-without-version",
        '[project]\nname = "x"\nrepo = "o/n"\ntag = "v{base}"\n',
        "project.tag",
        "must contain {version}",
        4,
    ),
    (
        "tag-bad-ref",
        '[project]\nname = "x"\nrepo = "o/n"\ntag = "v {version}"\n',
        "project.tag",
        "valid git branch or tag name",
        4,
    ),
    (
        "branch-bad-ref",
        '[project]\nname = "x"\nrepo = "o/n"\nversion_branch = "rel..{major}"\n',
        "project.version_branch",
        "valid git branch or tag name",
        4,
    ),
    (
        "pattern-no-group",
        MIN + '[[version_files]]\npath = "version.go"\npattern = \'V = "([^"]+)"\'\n',
        "version_files[0].pattern",
        "(?P<version>...)",
        6,
    ),
    (
        "pattern-bad-regex",
        MIN + "[[version_files]]\npath = \"v.go\"\npattern = '(?P<version>'\n",
        "version_files[0].pattern",
        "not a valid regular expression",
        6,
    ),
    (
        "format-no-field",
        MIN + "[[version_files]]\npath = 'v.go'\npattern = '(?P<version>x)'\nformat = '1.0'\n",
        "version_files[0].format",
        "uses no field",
        7,
    ),
    (
        "path-escapes",
        MIN + '[changelog]\npath = "../CHANGELOG.md"\n',
        "changelog.path",
        "relative path inside the repository",
        5,
    ),
    (
        "only-bad-kind",
        MIN + '[promote.reddit]\nsubreddit = "ipfs"\nonly = ["final", "major"]\n',
        "promote.reddit.only[1]",
        "not a release kind",
        6,
    ),
    (
        "skip-bad-kind",
        MIN + '[[downstream]]\nrepo = "o/d"\nworkflow = "e2e.yml"\nskip = ["minor"]\n',
        "downstream[0].skip[0]",
        "not a release kind",
        7,
    ),
    ("only-not-allowed-in-project", MIN + 'only = ["final"]\n', "project.only", "unknown key", 4),
    (
        "inline-token",
        MIN + '[forge]\ntoken = "hunter2"\n',
        "forge.token",
        "secret written inline",
        5,
    ),
    (
        "inline-password",
        MIN + '[[publish.docker]]\nimage = "o/i"\npassword = "hunter2"\n',
        "publish.docker[0].password",
        "password_env",
        6,
    ),
    (
        "inline-api-key",
        MIN + '[promote.discourse]\nurl = "https://d.example"\napi_key = "k"\n',
        "promote.discourse.api_key",
        "api_key_env",
        6,
    ),
    (
        "inline-client-secret",
        MIN + '[promote.reddit]\nsubreddit = "r"\nclient_secret = "s"\n',
        "promote.reddit.client_secret",
        "client_secret_env",
        6,
    ),
    (
        "env-holds-value",
        MIN + '[forge]\ntoken_env = "not a name"\n',
        "forge.token_env",
        "NAME of an environment variable",
        5,
    ),
    (
        "env-lowercase",
        MIN + '[publish.npm]\npackage = "p"\ntoken_env = "npm_token"\n',
        "publish.npm.token_env",
        "NAME of an environment variable",
        6,
    ),
    (
        "credential-shaped-value",
        MIN + '[forge]\ntoken_env = "ghp_0123456789abcdefghijABCDEFGHIJ012345"\n',
        "forge.token_env",
        "looks like a credential",
        5,
    ),
    (
        "bad-url",
        MIN + '[forge]\napi_url = "api.github.com"\n',
        "forge.api_url",
        "not an http(s) URL",
        5,
    ),
    (
        "bad-gpg-key",
        MIN + '[signing]\ngpg_key = "me@example.com"\n',
        "signing.gpg_key",
        "not a GPG key",
        5,
    ),
    (
        "bad-handle",
        MIN + '[promote.tracking_issue]\nearly_testers = ["not a handle"]\n',
        "promote.tracking_issue.early_testers[0]",
        "not a GitHub",
        5,
    ),
    (
        "tag-workflow-inputs",
        MIN + '[[build.workflows]]\nfile = "a.yml"\ninputs = { version = "{version}" }\n',
        "build.workflows[0].inputs",
        'only apply to on = "dispatch"',
        6,
    ),
    (
        "tag-workflow-other-repo",
        MIN + '[[build.workflows]]\nfile = "a.yml"\nrepo = "o/other"\n',
        "build.workflows[0].on",
        'use on = "dispatch"',
        4,
    ),
    (
        "bad-input-template",
        MIN + '[[build.workflows]]\nfile = "a.yml"\non = "dispatch"\ninputs = { v = "{x}" }\n',
        "build.workflows[0].inputs.v",
        "unknown template field {x}",
        7,
    ),
    (
        "bad-log-pattern",
        MIN + '[[build.workflows]]\nfile = "a.yml"\non = "dispatch"\nlog_pattern = "v{version}("\n',
        "build.workflows[0].log_pattern",
        "not a valid regular expression",
        7,
    ),
    (
        "assets-dir-missing",
        MIN + '[publish.github]\nassets_from = "dir"\n',
        "publish.github.assets_from",
        "needs publish.github.assets_dir",
        5,
    ),
    (
        "notes-without-changelog",
        MIN + '[publish.github]\nassets_from = "dir"\nassets_dir = "dist"\nnotes = "changelog"\n',
        "publish.github.notes",
        "needs a [changelog]",
        7,
    ),
    (
        "downstream-nothing",
        MIN + '[[downstream]]\nrepo = "o/d"\n',
        "downstream[0]",
        "nothing to do",
        4,
    ),
    (
        "dev-suffix",
        '[project]\nname = "x"\nrepo = "o/n"\ndev_suffix = "dev build"\n',
        "project.dev_suffix",
        "pre-release identifier",
        4,
    ),
    ("empty-name", '[project]\nname = ""\nrepo = "o/n"\n', "project.name", "must not be empty", 2),
]


@pytest.mark.parametrize(
    ("text", "key_path", "words", "line"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_config(tmp_path: Path, text: str, key_path: str, words: str, line: int | None):
    exc = error_for(tmp_path, text)
    assert isinstance(exc, UsageError)
    assert exc.exit_code == 2
    matching = [p for p in exc.problems if p.path == key_path]
    assert matching, f"no problem at {key_path}: {exc.message}"
    assert any(words in p.message for p in matching), exc.message
    if line is not None:
        assert matching[0].line == line, exc.message
    assert key_path in exc.message
    assert words in exc.message
    assert exc.hint


def test_all_problems_reported_together(tmp_path: Path):
    text = (
        '[project]\nname = "x"\nrepo = "o/n"\nnmae = "y"\n'
        '[engine]\npoll_interval = "fast"\n'
        '[[build.workflows]]\nfile = "a.yml"\non = "push"\n'
    )
    exc = error_for(tmp_path, text)
    assert len(exc.problems) == 3
    lines = exc.message.splitlines()
    assert lines[0] == f"3 problems in {tmp_path / CONFIG_NAME}:"
    assert lines[1].endswith("project.nmae: unknown key 'nmae' in [project] (did you mean 'name'?)")
    assert f"{CONFIG_NAME}:4:" in lines[1]
    assert f"{CONFIG_NAME}:6: engine.poll_interval" in lines[2]
    assert f"{CONFIG_NAME}:9: build.workflows[0].on" in lines[3]


def test_single_problem_is_one_line(tmp_path: Path):
    exc = error_for(tmp_path, MIN + "nmae = 'x'\n")
    assert "\n" not in exc.message
    assert exc.message.startswith(f"{tmp_path / CONFIG_NAME}:4: project.nmae:")


def test_secret_values_never_echoed(tmp_path: Path):
    token = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
    for text in (
        MIN + f'[forge]\ntoken_env = "{token}"\n',
        MIN + f'[forge]\ntoken = "{token}"\n',
        MIN + f'[forge]\napi_url = "{token}"\n',
        MIN + '[forge]\ntoken = "hunter2"\n',
        MIN + '[forge]\ntoken_env = "hunter2 secret"\n',
    ):
        exc = error_for(tmp_path, text)
        assert token not in exc.message and "hunter2" not in exc.message
        assert token not in (exc.hint or "")


def test_toml_syntax_error(tmp_path: Path):
    exc = error_for(tmp_path, '[project]\nname = "x"\nrepo = o/n\n')
    assert exc.exit_code == 2
    assert f"{CONFIG_NAME}:3" in exc.message
    assert "not valid TOML" in exc.message
    assert exc.problems[0].line == 3


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert "releaser init" in (info.value.hint or "")
    assert "--config PATH" in (info.value.hint or "")
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "does not exist" in info.value.message


def test_found_upwards(tmp_path: Path):
    (tmp_path / CONFIG_NAME).write_text(MIN)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == (tmp_path / CONFIG_NAME).resolve()
    config = load_config(None, deep)
    assert config.path == (tmp_path / CONFIG_NAME).resolve()
    assert config.root == tmp_path.resolve()
    # a directory given as --config means the releaser.toml in it
    assert load_config(tmp_path).path == config.path


def test_defaults_filled(tmp_path: Path):
    config = load_text(tmp_path, MIN + '[[build.workflows]]\nfile = "build.yml"\n')
    assert config.project.default_branch == "main"
    assert config.project.version_branch == "release-v{major}.{minor}"
    assert config.project.release_branch is None
    assert config.project.tag == "v{version}"
    assert config.project.tag_message == "Release {version}"
    assert config.project.rc_tag_message == "Prerelease {version}"
    assert config.project.dev_suffix == "dev"
    assert config.forge.api_url == "https://api.github.com"
    assert config.forge.git_url == "https://github.com"
    assert config.forge.token_env == "GITHUB_TOKEN"
    assert config.forge.sandbox is None
    assert config.signing.gpg_key is None
    assert config.git.author_name is None
    assert config.tracking_issue.title == "Release v{version}"
    assert config.tracking_issue.labels == []
    assert config.tracking_issue.checklist is True
    assert config.prepare.draft_for_rc is True
    assert config.engine.wait_timeout == 3600
    assert config.engine.poll_interval == 10
    assert config.engine.claim_ttl == 900
    assert config.engine.concurrency == 8
    wf = config.build.workflows[0]
    assert (wf.file, wf.on, wf.timeout, wf.inputs, wf.stage) == (
        "build.yml",
        "tag",
        3600,
        {},
        "build",
    )
    assert wf.only == [] and wf.skip == []
    # absent optional tables are None, absent arrays []
    assert config.changelog is None
    assert config.publish.github is None
    assert config.publish.docker == []
    assert config.promote.matrix == []
    assert config.promote.reddit is None
    assert config.downstream == []
    assert config.version_files == []


def test_present_table_gets_defaults(tmp_path: Path):
    config = load_text(
        tmp_path,
        MIN
        + "[changelog]\n[publish.github]\n[[publish.docker]]\nimage = 'o/i'\n"
        + "[[build.workflows]]\nfile = 'build.yml'\n",
    )
    assert config.changelog.path == "CHANGELOG.md"
    assert config.changelog.heading == "## v{version}"
    assert config.changelog.contributors is True
    assert config.publish.github.checksums == "SHA256SUMS"
    assert config.publish.github.sign_checksums is True
    assert config.publish.github.notes == "changelog"  # a [changelog] exists
    assert config.publish.github.assets_from == "artifacts"
    assert config.publish.docker[0].registry == "docker.io"
    assert config.publish.docker[0].tags == ["v{version}"]


def test_computed_defaults(tmp_path: Path):
    config = load_text(
        tmp_path,
        MIN + '[forge]\napi_url = "https://ghe.example.com/api/v3/"\n'
        '[publish.github]\nassets_dir = "dist"\n',
    )
    assert config.forge.api_url == "https://ghe.example.com/api/v3"
    assert config.forge.git_url == "https://ghe.example.com"
    assert config.publish.github.assets_from == "dir"
    assert config.publish.github.notes == "generate"
    assert config.publish.github.assets_dir == (tmp_path / "dist").resolve()


def test_sandbox_path_resolved_relative_to_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sub = tmp_path / "project"
    sub.mkdir()
    (sub / CONFIG_NAME).write_text(MIN + '[forge]\nsandbox = "../forge-state"\n')
    (tmp_path / "forge-state").mkdir()
    monkeypatch.chdir(tmp_path)  # the cwd must not matter
    config = load_config(None, sub)
    assert config.forge.sandbox == (tmp_path / "forge-state").resolve()
    assert config.forge.sandbox.is_absolute()
    # the sandbox hands out its own token: GITHUB_TOKEN is not needed
    assert [row[0] for row in config.secret_envs()] == []


def test_secret_envs(tmp_path: Path):
    config = load_text(
        tmp_path,
        MIN
        + '[signing]\ngpg_key = "0123456789ABCDEF"\ngpg_home_env = "GNUPGHOME"\n'
        + '[[publish.docker]]\nimage = "o/i"\nregistry = "ghcr.io"\npassword_env = "GHCR_TOKEN"\n'
        + '[publish.pypi]\nproject = "demo"\n'
        + "[promote.discord]\n",
    )
    rows = config.secret_envs()
    assert rows[0] == ("GITHUB_TOKEN", "forge.token_env", "GitHub token (scopes: repo, workflow)")
    names = [r[0] for r in rows]
    assert names == ["GITHUB_TOKEN", "GNUPGHOME", "GHCR_TOKEN", "PYPI_TOKEN", "DISCORD_WEBHOOK_URL"]
    docker = next(r for r in rows if r[0] == "GHCR_TOKEN")
    assert docker[1] == "publish.docker[0].password_env"
    assert "ghcr.io" in docker[2] and "o/i" in docker[2]
    assert "GNUPGHOME" not in [r[0] for r in config.secret_envs(include_non_secret=False)]


def test_section_access(tmp_path: Path):
    config = load_text(tmp_path, MIN + '[[build.workflows]]\nfile = "a.yml"\nonly = ["final"]\n')
    wf = config.build.workflows[0]
    assert isinstance(wf, Section)
    assert wf["file"] == "a.yml"
    assert wf.key_path == "build.workflows[0]"
    assert wf.applies(Version.parse("1.0.0"))
    assert not wf.applies(Version.parse("1.0.0-rc1"))
    assert config.section("publish.github") is None
    assert config.section("build").workflows[0].file == "a.yml"
    with pytest.raises(AttributeError):
        wf.file = "b.yml"
    with pytest.raises(AttributeError, match="no key 'nope'"):
        _ = wf.nope
    with pytest.raises(AttributeError):
        _ = config.nope
    assert config.data["build"]["workflows"][0]["file"] == "a.yml"
    assert wf.to_dict()["file"] == "a.yml"


def test_render(tmp_path: Path):
    config = load_text(tmp_path, MIN)
    v = Version.parse("v1.2.0-rc1")
    assert config.tag_for(v) == "v1.2.0-rc1"
    assert config.version_branch_for(v) == "release-v1.2"
    assert config.render("{name} {tag} {release_url}", v, release_url="U") == "Demo v1.2.0-rc1 U"
    with pytest.raises(UsageError, match="unknown field"):
        config.render("{nope}", v)


def test_examples_load():
    kubo = load_config(EXAMPLES / "kubo.toml")
    assert kubo.project.repo == "ipfs/kubo"
    assert kubo.project.release_branch == "release"
    assert kubo.version_files[0].path == "version.go"
    assert kubo.changelog.command == "./bin/mkreleaselog"
    v = Version.parse("v0.18.0")
    assert kubo.changelog.path.format(**v.fields()) == "docs/changelogs/v0.18.md"
    assert kubo.promote.reddit.applies(Version.parse("v0.18.0"))
    assert not kubo.promote.reddit.applies(Version.parse("v0.18.1"))
    assert not kubo.promote.reddit.applies(Version.parse("v0.18.0-rc1"))
    repos = [d.repo for d in kubo.downstream]
    assert {"ipfs/ipfs-desktop", "ipfs/interop", "ipfs/ipfs-docs"} <= set(repos)
    npm = [w for w in kubo.build.workflows if w.repo == "ipfs/npm-go-ipfs"]
    assert npm and npm[0].on == "dispatch"
    assert any(w.on == "tag" and w.file == "docker-image.yml" for w in kubo.build.workflows)
    assert kubo.publish.distributions.repo == "ipfs/distributions"
    assert kubo.promote.matrix[0].room == "#ipfs-chatter:ipfs.io"
    assert kubo.promote.discourse.api_key_env is None  # the operator posts it
    assert kubo.promote.discourse.pin is False  # and pins it: releaser pins only its posts

    pylib = load_config(EXAMPLES / "pylib.toml")
    vf = pylib.version_files[0]
    import re

    text = '[project]\nname = "mylib"\nversion = "1.4.0.dev0"\n'
    assert len(re.findall(vf.pattern, text)) == 1
    assert Version.parse("1.4.0-rc1").format(vf.format) == "1.4.0rc1"
    assert Version.parse("1.4.0").next_dev().format(vf.dev_format) == "1.5.0.dev0"
    assert pylib.publish.pypi.project == "mylib"


def test_schema_markdown_documents_every_key(tmp_path: Path):
    text = schema_markdown()
    for table in TABLES:
        if table.keys:
            header = f"[[{table.name}]]" if table.array else f"[{table.name}]"
            if table.mapping:
                header = f"[{table.name}.NAME]"
            assert f"## `{header}`" in text
        for key in table.keys:
            assert key.doc, f"{table.name}.{key.name} has no description"
            assert f"| `{key.name}` |" in text
    # every example block in the reference is valid TOML
    blocks = text.split("```toml\n")[1:]
    for block in blocks:
        tomllib.loads(block.split("```")[0])


def test_configuration_doc_is_current(tmp_path: Path):
    out = tmp_path / "configuration.md"
    assert not check_configuration_doc(out)
    assert write_configuration_doc(out) is True
    assert check_configuration_doc(out)
    assert write_configuration_doc(out) is False
    assert check_configuration_doc(REPO_ROOT / "docs" / "configuration.md"), (
        "docs/configuration.md is stale: run scripts/docs"
    )


def test_fractional_seconds(tmp_path: Path):
    config = load_text(tmp_path, MIN + "[engine]\npoll_interval = 0.01\nclaim_ttl = 5\n")
    assert config.engine.poll_interval == 0.01
    assert config.engine.claim_ttl == 5


def test_step_overrides(tmp_path: Path):
    config = load_text(
        tmp_path,
        MIN + '[steps.push-tag]\nenabled = false\n[steps.post-reddit]\nonly = ["final"]\n',
    )
    push = config.step_override("push-tag")
    assert push is not None and push.get("enabled") is False
    reddit = config.step_override("post-reddit")
    assert reddit is not None
    assert reddit.get("only") == ["final"] and reddit.get("enabled") is True
    assert config.step_override("nope") is None
    assert load_text(tmp_path, MIN).step_override("push-tag") is None


@pytest.mark.parametrize(
    ("text", "key_path", "words"),
    [
        ("[steps.push-tag]\nenabeld = false\n", "steps.push-tag.enabeld", "did you mean 'enabled'"),
        ('[steps.push-tag]\nonly = ["minor"]\n', "steps.push-tag.only[0]", "not a release kind"),
        ("[steps.Push_Tag]\nenabled = false\n", "steps.Push_Tag", "not a step name"),
        ("[steps]\npush-tag = 3\n", "steps.push-tag", "expected a table"),
    ],
)
def test_bad_step_overrides(tmp_path: Path, text: str, key_path: str, words: str):
    exc = error_for(tmp_path, MIN + text)
    assert any(p.path == key_path and words in p.message for p in exc.problems), exc.message
    assert all(p.line for p in exc.problems), exc.message


def test_parse_config_text_directly(tmp_path: Path):
    config = parse_config(MIN, tmp_path / CONFIG_NAME)
    assert config.project.name == "Demo"


def test_line_numbers_survive_multiline_values(tmp_path: Path):
    text = (
        "[project]\n"  # 1
        'name = "x"\n'  # 2
        'repo = "o/n"\n'  # 3
        "[changelog]\n"  # 4
        'command = """\n'  # 5
        "fake = 1\n"  # 6: inside a string, not a key
        '"""\n'  # 7
        "[tracking_issue]\n"  # 8
        "labels = [\n"  # 9
        '  "a = b",\n'  # 10: inside an array
        "]\n"  # 11
        "titel = 'x'\n"  # 12
        "[[build.workflows]]\n"  # 13
        "file = 'a.yml'\n"  # 14
        "on = 'dispatch'\n"  # 15
        "[build.workflows.inputs]\n"  # 16
        "v = '{nope}'\n"  # 17
        "[engine]\n"  # 18
        "poll.interval = 3\n"  # 19: a dotted key
    )
    exc = error_for(tmp_path, text)
    lines = {p.path: p.line for p in exc.problems}
    assert lines == {
        "tracking_issue.titel": 12,
        "build.workflows[0].inputs.v": 17,
        "engine.poll": 19,
    }, exc.message


def test_misspelled_required_key_is_one_problem(tmp_path: Path):
    exc = error_for(tmp_path, MIN + '[[build.workflows]]\nfle = "a.yml"\n')
    assert [p.path for p in exc.problems] == ["build.workflows[0].fle"]
    assert "did you mean 'file'?" in exc.message


def test_empty_file(tmp_path: Path):
    exc = error_for(tmp_path, "")
    assert {p.path for p in exc.problems} == {"project.name", "project.repo"}
