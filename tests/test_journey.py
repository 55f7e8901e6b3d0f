"""A newcomer's whole journey, typed into a terminal: every command line README.md and
docs/getting-started.md show, verbatim, in the order a newcomer meets them.

One interactive bash session (a pseudo-terminal, so `releaser tag` asks its question and we
answer it, and `&` / `kill %1` work as documented) runs each line and checks its exit code.
What the test adapts, and why:

- paths under `/tmp/` become the test's own temporary directory (tests run in parallel);
- installing releaser (README's first command, getting-started §1) and the README's test
  command are skipped: this test runs inside that installation and that test command;
- `$EDITOR` is a script making the edit the docs describe (pointing `[forge]` at the sandbox);
  the prose-only edit of §5 ("give `[forge]` the one line `sandbox = ...`") is made here;
- §6 "with `[forge]` back on GitHub" stays on the sandbox: this machine has no GitHub;
- `releaser demo ... --keep` serves until stopped: it is stopped once it says it serves.

The project is a small Python library (`myorg/mylib`), not the demo's; the sandbox
repository is created through its API by the documented `curl`, and pushed with `git`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "JOURNEY$ "
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("git") and shutil.which("jq") and shutil.which("curl")),
        reason="needs git, jq and curl (scripts/test installs them)",
    ),
]


def sh_blocks(doc: str) -> list[tuple[str, list[str]]]:
    """(section heading, lines) of every ```sh block of a doc, in order."""
    text = (ROOT / doc).read_text()
    out = []
    heading = ""
    for part in re.split(r"(^#+ [^\n]*$|```sh\n.*?```)", text, flags=re.M | re.S):
        if part.startswith("#"):
            heading = part.lstrip("# ").strip()
        elif part.startswith("```sh"):
            body = part.removeprefix("```sh\n").removesuffix("```")
            out.append((heading, [line for line in body.splitlines() if line.strip()]))
    return out


@dataclass
class Terminal:
    """A bash session in a pseudo-terminal; ``run`` types one line and returns its exit code
    and output, answering releaser's confirmation questions with yes."""

    tmp: Path
    env: dict[str, str]
    log: list[tuple[str, int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.child = pexpect.spawn(
            "bash",
            ["--norc", "--noprofile", "-i"],
            env=self.env,
            cwd=str(self.tmp),
            encoding="utf-8",
            timeout=240,
            dimensions=(50, 200),
        )
        self.child.sendline(f"PS1='{PROMPT}'; PS2=''; set +o histexpand")
        self.child.expect_exact(PROMPT)
        self.child.expect_exact(PROMPT)

    def run(self, line: str) -> tuple[int, str]:
        self.child.sendline(line)
        output = ""
        while True:
            index = self.child.expect_exact([PROMPT, "make these writes?"])
            output += self.child.before or ""
            if index == 0:
                break
            output += "make these writes?"
            self.child.send("y")  # questionary: the default answer is No; y answers Yes
        self.child.sendline("echo __rc=$?")
        self.child.expect(r"__rc=(\d+)")
        code = int(self.child.match.group(1))
        self.child.expect_exact(PROMPT)
        self.log.append((line, code, output))
        return code, output

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.close(force=True)


EDITOR = """\
import json, os, re, sys
path = sys.argv[-1]
forge = os.path.join(os.environ["JOURNEY_TMP"], "forge.json")
if path.endswith("releaser.toml") and os.path.exists(forge):
    # the edit getting-started §5 describes: [forge] gets the three lines jq printed
    info = json.load(open(forge))
    text = open(path).read()
    lines = (f'api_url = "{info["api_url"]}"\\ngit_url = "{info["git_url"]}"\\n'
             'token_env = "SANDBOX_TOKEN"\\n')
    text = re.sub(r"(?ms)^\\[forge\\]\\n.*?(?=^\\[|\\Z)", "[forge]\\n" + lines + "\\n", text)
    open(path, "w").write(text)
"""


def make_project(path: Path, env: dict[str, str]) -> None:
    """A small Python library with a release history: v0.2.0 tagged, work since."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)

    (path / "mylib").mkdir(parents=True)
    (path / "mylib" / "__init__.py").write_text('__version__ = "0.2.0"\n')
    (path / "pyproject.toml").write_text(
        '[project]\nname = "mylib"\nversion = "0.2.0"\n\n[build-system]\n'
        'requires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (path / "CHANGELOG.md").write_text("# Changelog\n\n## v0.2.0\n\n- First release.\n")
    (path / ".github" / "workflows").mkdir(parents=True)
    (path / ".github" / "workflows" / "release.yml").write_text(
        "name: release\non:\n  push:\n    tags: ['v*']\njobs:\n  build:\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: python -m build\n"
    )
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "mylib 0.2.0")
    git("tag", "-a", "v0.2.0", "-m", "Release 0.2.0")
    (path / "mylib" / "retry.py").write_text("def retry():\n    return 3\n")
    git("add", "-A")
    git("commit", "-q", "-m", "Add retry()")
    git("remote", "add", "origin", "https://github.com/myorg/mylib.git")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "editor.py").write_text(EDITOR)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "EDITOR": f"{sys.executable} {tmp_path / 'editor.py'}",
        "JOURNEY_TMP": str(tmp_path),
        "GIT_AUTHOR_NAME": "Nadia Newcomer",
        "GIT_AUTHOR_EMAIL": "nadia@example.org",
        "GIT_COMMITTER_NAME": "Nadia Newcomer",
        "GIT_COMMITTER_EMAIL": "nadia@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "TERM": "xterm",
        "LANG": "C.UTF-8",
    }
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], env=env, check=True)
    term = Terminal(tmp_path, env)
    try:
        yield term
    finally:
        term.close()


SKIP = (
    "git clone <releaser's repository>",  # installing releaser: this test runs inside it
    "python3 -m venv .venv",
    "releaser --version",  # §1's check of the installation (test_cli covers --version)
    "bin/releaser-docker",  # the container: tests/test_container_files.py
    "bash scripts/test",  # this very test suite
)


def type_block(term: Terminal, lines: list[str], expected: dict[str, int] | None = None) -> None:
    """Type each line; each must exit 0, or as ``expected`` says (by the line's start)."""
    for line in lines:
        if line.startswith(SKIP):
            continue
        if "--keep" in line:
            keep_serving(term, line)
            continue
        code, output = term.run(line.replace("/tmp/", f"{term.tmp}/"))
        want = next((c for start, c in (expected or {}).items() if line.startswith(start)), 0)
        assert code == want, f"`{line}` exited {code}:\n{output[-3000:]}"
        assert "Traceback" not in output, output[-3000:]


def keep_serving(term: Terminal, line: str) -> None:
    """`releaser demo --dir D --keep` serves until stopped: stop it once it says it serves."""
    args = line.split("#", 1)[0].replace("/tmp/", f"{term.tmp}/").split()
    proc = subprocess.Popen(
        args,
        env=term.env,
        cwd=term.child.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    for out_line in proc.stdout:
        seen += out_line
        if "keeps serving" in out_line:
            break
    proc.terminate()
    assert proc.wait(30) == 0, seen[-2000:]


def test_the_newcomers_journey(terminal: Terminal, tmp_path: Path) -> None:
    guide = sh_blocks("docs/getting-started.md")
    readme = sh_blocks("README.md")
    sections = {heading.split(" ", 1)[0].rstrip("."): [] for heading, _ in guide}
    for heading, lines in guide:
        sections[heading.split(" ", 1)[0].rstrip(".")].append(lines)

    # §2, §3: the rehearsal, and looking around it
    for lines in sections["2"] + sections["3"]:
        type_block(terminal, lines)
    assert terminal.run(f"cd {tmp_path}")[0] == 0

    # §4: one's own repository (a fresh clone of a small library, origin on github.com)
    make_project(tmp_path / "mylib", terminal.env)
    assert terminal.run(f"cd {tmp_path / 'mylib'}")[0] == 0
    for lines in sections["4"]:
        # no token is set yet (`.env` stays empty) and this machine has no GitHub: doctor
        # says what is missing and exits 1, as documented ("run it until it says ready")
        type_block(terminal, lines, {"releaser doctor": 1})
    assert (tmp_path / "mylib" / "releaser.toml").exists()
    assert (tmp_path / "mylib" / "RELEASING.md").exists()

    # §5: the rehearsal of one's own release on a sandbox forge
    blocks = sections["5"]
    for lines in blocks[:-1]:
        type_block(terminal, lines)
    config = tmp_path / "mylib" / "releaser.toml"
    text = re.sub(
        r"(?ms)^\[forge\]\n.*?(?=^\[|\Z)",
        f'[forge]\nsandbox = "{tmp_path}/forge"\n\n',
        config.read_text(),
    )
    config.write_text(text)  # the edit §5's prose describes
    type_block(terminal, blocks[-1])

    # §6: the first real dry run and stages (on the sandbox: this machine has no GitHub)
    for lines in sections["6"]:
        type_block(terminal, lines)

    # README's tour, in another fresh clone of the same repository (init reads its origin),
    # the sandbox served again (on its last port: the clone URL of §5 works again)
    info = json.loads((tmp_path / "forge.json").read_text())
    assert terminal.run(f"cd {tmp_path}")[0] == 0
    terminal.run(f"releaser sandbox serve --root {tmp_path}/forge > again.json &")
    terminal.run(f"until [ -s {tmp_path}/again.json ]; do sleep 0.2; done")
    assert json.loads((tmp_path / "again.json").read_text())["api_url"] == info["api_url"]
    code, out = terminal.run(f"git clone -q {info['git_url']}/myorg/mylib.git tour")
    assert code == 0, out
    assert terminal.run(f"cd {tmp_path / 'tour'} && export GITHUB_TOKEN=$SANDBOX_TOKEN")[0] == 0
    tour = [lines for heading, lines in readme if heading == "A short tour"]
    assert tour, "README has a tour"
    for lines in tour:
        type_block(terminal, lines)

    # status of the final, from a directory with none of the build outputs
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "tour" / "releaser.toml", elsewhere / "releaser.toml")
    code, out = terminal.run(f"cd {elsewhere} && releaser status v1.2.0 --json > status.json")
    assert code == 0, out
    data = json.loads((elsewhere / "status.json").read_text())
    rows = [row for stage in data["stages"] for row in stage["steps"]]
    assert rows and {r["status"] for r in rows} == {"done"}, rows
    terminal.run("kill %1")

    # every documented line ran; the dangerous tag asked, and was answered at its prompt
    ran = [line for line, _, _ in terminal.log]
    documented = [
        line
        for _, lines in guide + readme
        for line in lines
        if line.startswith("releaser") and not line.startswith(SKIP) and "--keep" not in line
    ]
    typed = [d.split("#")[0].strip().replace("/tmp/", f"{tmp_path}/") for d in documented]
    missing = [d for d in typed if not any(r.startswith(d) for r in ran)]
    assert not missing, missing
    asked = [out for line, _, out in terminal.log if line.startswith("releaser tag v1.2.0-rc1")]
    assert asked and "make these writes?" in asked[0]
