"""`releaser init`: detection from a real git repository, a starter file that validates,
no overwrite without --force, .env ignored."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from releaser.config import CONFIG_NAME, load_config
from releaser.errors import UsageError
from releaser.init import detect, ensure_gitignore, init_config, parse_remote_url
from releaser.version import Version

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_repo(path: Path, remote: str | None, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    if remote:
        git(path, "remote", "add", "origin", remote)
    return path


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("https://github.com/ipfs/kubo", ("https", "github.com", "", "ipfs", "kubo")),
        ("https://github.com/ipfs/kubo/", ("https", "github.com", "", "ipfs", "kubo")),
        ("https://user:pw@github.com/ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("ssh://git@github.com/ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("ssh://git@github.com:22/ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("git@github.com:ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("git@github.com:ipfs/kubo", ("https", "github.com", "", "ipfs", "kubo")),
        ("git://github.com/ipfs/kubo.git", ("https", "github.com", "", "ipfs", "kubo")),
        ("git@ghe.example.com:team/app.git", ("https", "ghe.example.com", "", "team", "app")),
        ("http://127.0.0.1:8123/demo/lib.git", ("http", "127.0.0.1:8123", "", "demo", "lib")),
        ("http://127.0.0.1:8123/git/demo/lib.git",
         ("http", "127.0.0.1:8123", "/git", "demo", "lib")),
        ("http://127.0.0.1:8123/git/demo/lib", ("http", "127.0.0.1:8123", "/git", "demo", "lib")),
        ("ssh://git@git.example.org:2222/scm/team/app.git",
         ("https", "git.example.org", "/scm", "team", "app")),
        ("git@git.example.org:scm/team/app", ("https", "git.example.org", "/scm", "team", "app")),
        ("/srv/git/project.git", None),
        ("https://github.com/only-owner", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_remote_url(url: str, expected: tuple[str, str, str, str, str] | None):
    remote = parse_remote_url(url)
    if expected is None:
        assert remote is None
    else:
        assert remote is not None
        assert (remote.scheme, remote.host, remote.prefix, remote.owner, remote.name) == expected


@pytest.mark.parametrize(
    ("url", "api_url", "git_url"),
    [
        # the sandbox forge: repositories under /git, the API under /api/v3
        ("http://127.0.0.1:8123/git/acme/lib.git", "http://127.0.0.1:8123/api/v3",
         "http://127.0.0.1:8123/git"),
        ("http://127.0.0.1:8123/git/acme/lib", "http://127.0.0.1:8123/api/v3",
         "http://127.0.0.1:8123/git"),
        # GitHub Enterprise, over https and ssh (the ssh port is not the web server's)
        ("https://ghe.example.com/team/app.git", "https://ghe.example.com/api/v3",
         "https://ghe.example.com"),
        ("https://ghe.example.com/team/app", "https://ghe.example.com/api/v3",
         "https://ghe.example.com"),
        ("git@ghe.example.com:team/app.git", "https://ghe.example.com/api/v3",
         "https://ghe.example.com"),
        ("ssh://git@ghe.example.com:2222/team/app.git", "https://ghe.example.com/api/v3",
         "https://ghe.example.com"),
        ("ssh://git@git.example.org/scm/team/app.git", "https://git.example.org/api/v3",
         "https://git.example.org/scm"),
        # github.com, whatever the form
        ("git@github.com:team/app", "https://api.github.com", "https://github.com"),
        ("https://www.github.com/team/app", "https://api.github.com", "https://github.com"),
    ],
)  # fmt: skip
def test_init_writes_the_forge_of_the_remote(
    tmp_path: Path, url: str, api_url: str, git_url: str
) -> None:
    repo = make_repo(tmp_path / "app", url)
    config = load_config(init_config(repo).path)
    assert config.forge.api_url == api_url
    assert config.forge.git_url == git_url
    remote = parse_remote_url(url)
    assert remote is not None
    assert f"{config.forge.git_url}/{config.project.repo}.git" == (
        f"{git_url}/{remote.owner}/{remote.name}.git"
    )
    assert "user:pw" not in (repo / CONFIG_NAME).read_text()


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/acme/rocket.git",
        "ssh://git@github.com/acme/rocket.git",
        "git@github.com:acme/rocket.git",
    ],
)
def test_init_detects_remote_forms(tmp_path: Path, remote: str):
    repo = make_repo(tmp_path / "rocket", remote, branch="trunk")
    result = init_config(repo)
    path = result.path
    assert path == repo.resolve() / CONFIG_NAME
    assert result.gitignore == "created"
    config = load_config(path)
    assert config.project.repo == "acme/rocket"
    assert config.project.name == "rocket"
    assert config.project.default_branch == "trunk"  # the current branch
    assert config.forge.api_url == "https://api.github.com"
    assert config.forge.git_url == "https://github.com"
    assert ".env" in (repo / ".gitignore").read_text().splitlines()


def test_init_default_branch_from_origin_head(tmp_path: Path):
    upstream = make_repo(tmp_path / "upstream", None, branch="develop")
    (upstream / "README").write_text("hi\n")
    git(upstream, "add", "README")
    git(upstream, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(clone, "checkout", "-qb", "feature")
    git(clone, "remote", "set-url", "origin", "git@github.com:acme/up.git")
    found = detect(clone)
    assert found.default_branch == "develop"  # from refs/remotes/origin/HEAD, not "feature"
    assert found.repo == "acme/up"


def test_init_github_enterprise_host(tmp_path: Path):
    repo = make_repo(tmp_path / "app", "git@ghe.example.com:team/app.git")
    config = load_config(init_config(repo).path)
    assert config.forge.api_url == "https://ghe.example.com/api/v3"
    assert config.forge.git_url == "https://ghe.example.com"


def test_init_without_remote_still_validates(tmp_path: Path):
    repo = make_repo(tmp_path / "lonely", None)
    path = init_config(repo).path
    assert "TODO" in path.read_text()
    config = load_config(path)
    assert config.project.repo == "OWNER/lonely"


def test_init_version_go(tmp_path: Path):
    repo = make_repo(tmp_path / "kubo", "https://github.com/ipfs/kubo.git", branch="master")
    (repo / "version.go").write_text(
        "package ipfs\n\n// CurrentVersionNumber is the current application version\n"
        'const CurrentVersionNumber = "0.19.0-dev"\n'
    )
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "docker-image.yml").write_text(
        "on:\n  push:\n    tags:\n      - 'v*'\n"
    )
    (repo / ".github" / "workflows" / "lint.yml").write_text("on: [pull_request]\n")
    (repo / "CHANGELOG.md").write_text("# Changelog\n")
    config = load_config(init_config(repo).path)
    vf = config.version_files[0]
    assert vf.path == "version.go"
    assert vf.pattern == 'const CurrentVersionNumber = "(?P<version>[^"]+)"'
    assert vf.format == "{version}"
    assert vf.dev_format == "{version}"  # the file holds a -dev version now
    text = (repo / "version.go").read_text()
    match = re.search(vf.pattern, text)
    assert match and match["version"] == "0.19.0-dev"
    assert [w.file for w in config.build.workflows] == ["docker-image.yml"]
    assert config.build.workflows[0].on == "tag"
    assert config.changelog.path == "CHANGELOG.md"
    assert "lint.yml" in (repo / CONFIG_NAME).read_text()


def test_init_pyproject(tmp_path: Path):
    repo = make_repo(tmp_path / "lib", "https://github.com/acme/lib")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "lib"\nversion = "1.3.0"\n\n[tool.ruff]\ntarget-version = "py311"\n'
    )
    config = load_config(init_config(repo).path)
    vf = config.version_files[0]
    assert vf.path == "pyproject.toml"
    assert len(re.findall(vf.pattern, (repo / "pyproject.toml").read_text())) == 1
    assert Version.parse("1.4.0-rc1").format(vf.format) == "1.4.0rc1"
    assert vf.dev_format is None  # 1.3.0 is no development version: not guessed
    assert "# [publish.pypi]" in (repo / CONFIG_NAME).read_text()


def test_init_package_json(tmp_path: Path):
    repo = make_repo(tmp_path / "js", "git@github.com:acme/js.git")
    (repo / "package.json").write_text(
        '{\n  "name": "js",\n  "version": "v2.0.0",\n  "dependencies": {}\n}\n'
    )
    config = load_config(init_config(repo).path)
    vf = config.version_files[0]
    assert vf.path == "package.json"
    assert vf.format == "v{version}"  # keeps the file's "v" prefix
    match = re.search(vf.pattern, (repo / "package.json").read_text())
    assert match and match["version"] == "v2.0.0"


def test_init_ambiguous_pattern_is_commented_out(tmp_path: Path):
    repo = make_repo(tmp_path / "two", "git@github.com:acme/two.git")
    (repo / "Cargo.toml").write_text(
        '[package]\nname = "two"\nversion = "0.1.0"\n\n[workspace.package]\nversion = "0.1.0"\n'
    )
    path = init_config(repo).path
    assert "matches 2 times" in path.read_text()
    assert load_config(path).version_files == []


def test_init_refuses_overwrite(tmp_path: Path):
    repo = make_repo(tmp_path / "r", "git@github.com:acme/r.git")
    path = init_config(repo).path
    path.write_text("# mine\n" + path.read_text())
    gitignore = (repo / ".gitignore").read_text()
    with pytest.raises(UsageError) as info:
        init_config(repo)
    assert info.value.exit_code == 2
    assert "already exists" in info.value.message
    assert "--force" in (info.value.hint or "")
    assert path.read_text().startswith("# mine")
    assert (repo / ".gitignore").read_text() == gitignore
    init_config(repo, force=True)
    assert not path.read_text().startswith("# mine")


def test_init_from_subdirectory_writes_at_top(tmp_path: Path):
    repo = make_repo(tmp_path / "top", "git@github.com:acme/top.git")
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    assert init_config(sub).path == repo.resolve() / CONFIG_NAME


def test_init_outside_git(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError) as info:
        init_config(plain)
    assert info.value.exit_code == 2
    assert "not inside a git repository" in info.value.message
    assert "git init" in (info.value.hint or "")
    assert not (plain / CONFIG_NAME).exists()


def test_gitignore_appended_once(tmp_path: Path):
    (tmp_path / ".gitignore").write_text("node_modules/")  # no trailing newline
    assert ensure_gitignore(tmp_path) == "updated"
    assert ensure_gitignore(tmp_path) is None
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/"
    assert lines.count(".env") == 1
    other = tmp_path / "other"
    other.mkdir()
    (other / ".gitignore").write_text("/.env\n")
    assert ensure_gitignore(other) is None
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert ensure_gitignore(fresh) == "created"
    assert (fresh / ".gitignore").read_text().splitlines()[-1] == ".env"
