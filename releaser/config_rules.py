"""Rules across keys of releaser.toml: requirements one key puts on another.

Each rule turns a release that would stop half-way (after the tag is pushed) into a config
error at load time (exit 2) naming both keys. ``check_rules`` runs after every key passed its
own check; it also fills in the defaults that depend on other keys (``[forge] git_url``,
``[publish.github] assets_from`` and ``notes``). :data:`REQUIREMENTS` lists them in words
(docs/configuration.md shows that list).

Stdlib only: imported by ``releaser.config`` at CLI start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from releaser.version import Version, template_fields

__all__ = ["REQUIREMENTS", "SAMPLE_RELEASES", "check_rules"]

# Every requirement check_rules enforces, for the configuration reference.
REQUIREMENTS: tuple[str, ...] = (
    "`project.tag` contains `{version}`.",
    "`project.release_branch` is not `project.default_branch`.",
    "`forge.sandbox` replaces `forge.api_url`, `forge.git_url` and `forge.token_env`: set "
    "one or the other.",
    "`signing.gpg_home_env` needs `signing.gpg_key`.",
    "`version_files[i].format` uses a field (e.g. `{version}`).",
    "`prepare.next_dev_pr = true`, when written, needs a `[[version_files]]` with `dev_format`.",
    '`build.workflows[i].inputs` and `.ref` need `on = "dispatch"`, as does a workflow '
    "in another `repo`.",
    '`build.workflows[i].stage = "publish"` needs `[publish.github]`.',
    '`publish.github.assets_from = "artifacts"` (the default without `assets_dir`) needs '
    'a `[[build.workflows]]` of stage "build" in the project\'s repository, for every '
    "release kind `[publish.github]` applies to.",
    '`publish.github.assets_from = "release"` needs a `[[build.workflows]]` (the one '
    "attaching the assets), for every release kind `[publish.github]` applies to.",
    '`publish.github.assets_from = "dir"` needs `publish.github.assets_dir`, and '
    '`assets_dir` needs `assets_from = "dir"`.',
    '`publish.github.notes = "changelog"` needs a `[changelog]`, for the same release kinds.',
    "`publish.github.sign_checksums = true`, when written, needs `signing.gpg_key` and a "
    "`publish.github.checksums` name.",
    "`publish.docker[i].username_env` needs `publish.docker[i].password_env`.",
    '`publish.pypi.dist_from = "release"` and `[[publish.smoke]]` need `[publish.github]` '
    "(the release whose assets they read); `publish.github.key_asset` needs "
    "`signing.gpg_key` (the key it exports) and `publish.github.checksums`.",
    "`promote.discourse.pin = true` and `promote.discourse.api_username` need "
    "`promote.discourse.api_key_env`.",
    "`promote.reddit`: `client_id_env`, `client_secret_env`, `username_env` and "
    "`password_env` all, or none (posted by hand).",
    "`downstream[i]` has something to do (`files`, `command` or `workflow`); `files` need "
    "`pattern`, `marker` or `command`; `pattern` and `marker` need `files`; `format` needs "
    "`pattern` or `marker`; `inputs` and `workflow_ref` need `workflow`; `reviewers`, "
    "`base` and `auto_merge` need a pull request (`files` or `command`).",
    "`engine.poll_interval` is shorter than `engine.wait_timeout` and `engine.claim_ttl`.",
)

Add = Callable[[str, str], None]

# One version of each release kind, to tell which kinds a table with only / skip applies to.
SAMPLE_RELEASES: tuple[tuple[str, Version], ...] = (
    ("rc", Version(1, 2, 0, "rc1")),
    ("final", Version(1, 2, 0)),
    ("patch rc", Version(1, 2, 1, "rc1")),
    ("patch", Version(1, 2, 1)),
)


def _applies(table: dict[str, Any], version: Version) -> bool:
    return version.matches(table.get("only") or (), table.get("skip") or ())


def _uncovered(needs: dict[str, Any], providers: Iterable[dict[str, Any]]) -> str | None:
    """None when every release ``needs`` applies to has a provider; else which releases
    lack one: "" (all of them) or " for rc and patch rc releases"."""
    providers = list(providers)
    wanted = [label for label, v in SAMPLE_RELEASES if _applies(needs, v)]
    lacking = [
        label
        for label, v in SAMPLE_RELEASES
        if label in wanted and not any(_applies(p, v) for p in providers)
    ]
    if not lacking:
        return None
    if lacking == wanted:
        return ""
    return " for " + " and ".join(lacking) + " releases"


def _explicit(raw: dict[str, Any], dotted: str) -> bool:
    """Whether the file itself sets ``dotted`` (not a default)."""
    value: Any = raw
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def check_rules(data: dict[str, Any], raw: dict[str, Any], add: Add) -> None:
    """Check every requirement across keys of the validated ``data`` (``raw``: the file as
    parsed, to tell a value written from a default); report each with ``add(path, msg)``."""
    _project(data, add)
    _forge(data, raw, add)
    _signing(data, add)
    _versions(data, raw, add)
    _workflows(data, add)
    _github(data, raw, add)
    _docker(data, add)
    _release_readers(data, add)
    _promote(data, add)
    _downstream(data, raw, add)
    _engine(data, add)


def _project(data: dict[str, Any], add: Add) -> None:
    project = data["project"]
    if "version" not in template_fields(project["tag"]):
        add("project.tag", "must contain {version}, or every release gets the same tag")
    if project.get("release_branch") and project["release_branch"] == project["default_branch"]:
        add(
            "project.release_branch",
            f"project.release_branch = {project['release_branch']!r} is the "
            "project.default_branch: a release branch is a separate, long-lived branch; "
            "remove release_branch to start patches from the previous version branch",
        )


def _forge(data: dict[str, Any], raw: dict[str, Any], add: Add) -> None:
    forge = data["forge"]
    if forge.get("sandbox"):
        for key in ("api_url", "git_url", "token_env"):
            if _explicit(raw, f"forge.{key}"):
                add(
                    f"forge.{key}",
                    f"forge.{key} is ignored with forge.sandbox (the in-process sandbox has its "
                    "own URLs and token): remove one of them",
                )
    if forge.get("git_url") is None:
        api = forge["api_url"]
        if api.endswith("/api/v3"):  # GitHub Enterprise, and the sandbox forge's own layout
            forge["git_url"] = api[: -len("/api/v3")]
        else:
            forge["git_url"] = "https://github.com"


def _signing(data: dict[str, Any], add: Add) -> None:
    signing = data["signing"]
    if signing.get("gpg_home_env") and not signing.get("gpg_key"):
        add(
            "signing.gpg_home_env",
            "signing.gpg_home_env needs signing.gpg_key (the key to sign with from that home)",
        )


def _versions(data: dict[str, Any], raw: dict[str, Any], add: Add) -> None:
    for i, vf in enumerate(data["version_files"]):
        if not template_fields(vf["format"]):
            add(
                f"version_files[{i}].format",
                "uses no field: every release would write the same text; use {version}",
            )
    if (
        data["prepare"]["next_dev_pr"]
        and _explicit(raw, "prepare.next_dev_pr")
        and not any(vf.get("dev_format") for vf in data["version_files"])
    ):
        add(
            "prepare.next_dev_pr",
            "prepare.next_dev_pr = true needs a [[version_files]] with dev_format (what the "
            "default branch's next development version looks like in that file)",
        )


def _workflows(data: dict[str, Any], add: Add) -> None:
    project = data["project"]
    for i, wf in enumerate(data["build"]["workflows"]):
        path = f"build.workflows[{i}]"
        if wf["on"] == "tag" and wf["inputs"]:
            add(f"{path}.inputs", 'inputs only apply to on = "dispatch" (a tag push has no inputs)')
        if wf["on"] == "tag" and wf.get("ref"):
            add(f"{path}.ref", 'ref only applies to on = "dispatch"')
        if wf["on"] == "tag" and wf.get("repo") and wf["repo"] != project["repo"]:
            add(
                f"{path}.on",
                f'a push of our tag can\'t start a workflow in {wf["repo"]}; use on = "dispatch"',
            )
        if wf["stage"] == "publish" and data["publish"]["github"] is None:
            add(
                f"{path}.stage",
                f'{path}.stage = "publish" needs [publish.github]: publish-stage workflows run '
                'once the GitHub release exists; add the table or use stage = "build"',
            )


def _github(data: dict[str, Any], raw: dict[str, Any], add: Add) -> None:
    github = data["publish"]["github"]
    if github is None:
        return
    workflows = data["build"]["workflows"]
    written = _explicit(raw, "publish.github.assets_from")
    if github.get("assets_from") is None:
        github["assets_from"] = "dir" if github.get("assets_dir") else "artifacts"
    source = github["assets_from"]
    shown = f'publish.github.assets_from = "{source}"' + (
        "" if written else " (the default without assets_dir)"
    )
    if source == "artifacts":
        own = [
            w
            for w in workflows
            if w["stage"] == "build" and (not w.get("repo") or w["repo"] == data["project"]["repo"])
        ]
        lacking = _uncovered(github, own)
        if lacking is not None:
            add(
                "publish.github.assets_from",
                f'{shown} needs at least one [[build.workflows]] (stage "build") in '
                f"{data['project']['repo']}{lacking}: the assets are its artifacts. Add the "
                'workflow that builds them, or set assets_from = "dir" with assets_dir',
            )
    elif source == "release":
        lacking = _uncovered(github, workflows)
        if lacking is not None:
            add(
                "publish.github.assets_from",
                f"{shown} needs at least one [[build.workflows]]{lacking}: the workflow that "
                "attaches the assets to the release",
            )
    elif source == "dir" and not github.get("assets_dir"):
        add(
            "publish.github.assets_from",
            'publish.github.assets_from = "dir" needs publish.github.assets_dir',
        )
    if source != "dir" and github.get("assets_dir"):
        add(
            "publish.github.assets_dir",
            f'publish.github.assets_dir is only read with assets_from = "dir" (not {source!r})'
            ": remove one of them",
        )
    changelog = data["changelog"]
    if github.get("notes") is None:
        github["notes"] = "changelog" if changelog is not None else "generate"
    elif github["notes"] == "changelog":
        lacking = _uncovered(github, [changelog] if changelog is not None else [])
        if lacking is not None:
            add(
                "publish.github.notes",
                f'publish.github.notes = "changelog" needs a [changelog] table{lacking}; '
                'or use notes = "generate"',
            )
    if github["sign_checksums"] and _explicit(raw, "publish.github.sign_checksums"):
        if not data["signing"].get("gpg_key"):
            add(
                "publish.github.sign_checksums",
                "publish.github.sign_checksums = true needs signing.gpg_key (the key that "
                "signs them)",
            )
        if not github["checksums"]:
            add(
                "publish.github.sign_checksums",
                'publish.github.sign_checksums = true needs publish.github.checksums (now "": '
                "no checksums file to sign)",
            )


def _docker(data: dict[str, Any], add: Add) -> None:
    for i, image in enumerate(data["publish"]["docker"]):
        if image.get("username_env") and not image.get("password_env"):
            add(
                f"publish.docker[{i}].username_env",
                f"publish.docker[{i}].username_env needs publish.docker[{i}].password_env: a "
                "registry login takes a password or token (without either, the build workflow "
                "pushes the image)",
            )


def _release_readers(data: dict[str, Any], add: Add) -> None:
    publish = data["publish"]
    github = publish["github"]
    pypi = publish["pypi"]
    if pypi is not None and pypi["dist_from"] == "release" and github is None:
        add(
            "publish.pypi.dist_from",
            'publish.pypi.dist_from = "release" needs [publish.github]: the files uploaded are '
            'the release\'s assets; add the table or use dist_from = "dir"',
        )
    if publish["smoke"] and github is None:
        add(
            "publish.smoke",
            "[[publish.smoke]] needs [publish.github]: the smoke tests run on the release's "
            "assets as users download them",
        )
    if github is not None and github.get("key_asset"):
        if not data["signing"].get("gpg_key"):
            add(
                "publish.github.key_asset",
                "publish.github.key_asset needs signing.gpg_key (the key whose public part it "
                "holds)",
            )
        if not github["checksums"]:
            add(
                "publish.github.key_asset",
                'publish.github.key_asset needs publish.github.checksums (now "": nothing is '
                "signed for the key to check)",
            )


REDDIT_ENVS = ("client_id_env", "client_secret_env", "username_env", "password_env")


def _promote(data: dict[str, Any], add: Add) -> None:
    promote = data["promote"]
    discourse = promote["discourse"]
    if discourse is not None and not discourse.get("api_key_env"):
        if discourse["pin"]:
            add(
                "promote.discourse.pin",
                "promote.discourse.pin = true needs promote.discourse.api_key_env: without "
                "an API key the operator posts the topic by hand",
            )
        if discourse.get("api_username"):
            add(
                "promote.discourse.api_username",
                "promote.discourse.api_username needs promote.discourse.api_key_env (the key "
                "that acts as that user)",
            )
    reddit = promote["reddit"]
    if reddit is not None:
        present = [k for k in REDDIT_ENVS if reddit.get(k)]
        if present and len(present) < len(REDDIT_ENVS):
            lacking = [k for k in REDDIT_ENVS if k not in present]
            add(
                f"promote.reddit.{lacking[0]}",
                f"promote.reddit.{present[0]} needs "
                + ", ".join(f"promote.reddit.{k}" for k in lacking)
                + ": posting through the API takes all four (or none: posted by hand)",
            )


def _downstream(data: dict[str, Any], raw: dict[str, Any], add: Add) -> None:
    for i, down in enumerate(data["downstream"]):
        path = f"downstream[{i}]"
        makes_pr = bool(down["files"] or down.get("command"))
        if not (makes_pr or down.get("workflow")):
            add(path, "says nothing to do: set files (+ pattern), command or workflow")
        edits = down.get("pattern") or down.get("marker")
        if down["files"] and not (edits or down.get("command")):
            add(f"{path}.files", "files need a pattern, a marker or a command to update them")
        for key in ("pattern", "marker"):
            if down.get(key) and not down["files"]:
                add(f"{path}.{key}", f"{path}.{key} needs {path}.files (the files it is in)")
        raw_items = raw.get("downstream")
        raw_item = raw_items[i] if isinstance(raw_items, list) and i < len(raw_items) else {}
        if isinstance(raw_item, dict) and "format" in raw_item and not edits:
            add(
                f"{path}.format",
                f"{path}.format needs {path}.pattern or {path}.marker (what it replaces)",
            )
        for key in ("inputs", "workflow_ref"):
            if down.get(key) and not down.get("workflow"):
                add(f"{path}.{key}", f"{path}.{key} needs {path}.workflow (it is the workflow's)")
        for key in ("reviewers", "base", "auto_merge"):
            if down.get(key) and not makes_pr:
                add(
                    f"{path}.{key}",
                    f"{path}.{key} needs a pull request: set {path}.files (+ pattern or "
                    f"marker) or {path}.command",
                )


def _engine(data: dict[str, Any], add: Add) -> None:
    engine = data["engine"]
    for other in ("wait_timeout", "claim_ttl"):
        if engine["poll_interval"] >= engine[other]:
            add(
                "engine.poll_interval",
                f"engine.poll_interval ({engine['poll_interval']}s) must be shorter than "
                f"engine.{other} ({engine[other]}s)",
            )
