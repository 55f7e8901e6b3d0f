"""The releaser.toml schema: one declarative source of truth.

``releaser.config`` validates against it, ``docs/configuration.md`` is rendered from it
(:func:`schema_markdown`), and ``releaser init`` writes a starter file that must validate
against it. Add a key here and it is validated, defaulted and documented.

Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releaser.config_rules import REQUIREMENTS
from releaser.version import FIELD_DOCS, KINDS, VERSION_FIELDS

# Extra fields message-like templates (posts, PR titles in other repos) may use on top of the
# version fields; steps fill them through ``Config.render(..., release_url=...)``.
MESSAGE_FIELD_DOCS: dict[str, str] = {
    "name": "project.name: Kubo",
    "repo": "project.repo: ipfs/kubo",
    "tag": "the release tag: v0.18.0",
    "release_url": "the GitHub release's web page",
    "issue_url": "the tracking issue's web page",
    "changelog_url": "the changelog's web page at the tag",
    "highlights": "the changelog section's first entries, one `- ` line each (up to 5, then "
    "how many more); empty without a [changelog]",
}
MESSAGE_FIELDS: frozenset[str] = VERSION_FIELDS | frozenset(MESSAGE_FIELD_DOCS)
# Smoke commands (``[[publish.smoke]] command``) also get the downloaded asset's path.
SMOKE_FIELDS: frozenset[str] = VERSION_FIELDS | frozenset({"file"})
FIELD_SETS: dict[str, frozenset[str]] = {
    "version": VERSION_FIELDS,
    "message": MESSAGE_FIELDS,
    "smoke": SMOKE_FIELDS,
}

# type name -> how the reference names it
TYPE_DOCS: dict[str, str] = {
    "string": "string",
    "template": "string (template)",
    "ref": "string (template, git ref name)",
    "path": "string (path template, relative to the repository root)",
    "dir": "string (local path, relative to releaser.toml)",
    "filename": "string (a plain file name, no directories)",
    "regex": "string (regular expression)",
    "regex_template": "string (template of a regular expression; {{ }} for literal braces)",
    "version_regex": 'string (regular expression with a "version" group)',
    "env": "string (environment variable name)",
    "int": "integer",
    "number": "number (seconds, > 0)",
    "bool": "boolean",
    "choice": "string (one of the values listed)",
    "repo": 'string ("owner/name")',
    "url": "string (http(s) URL)",
    "gpg_key": "string (GPG key fingerprint or id)",
    "email": "string (email address)",
    "list[string]": "array of strings",
    "list[template]": "array of strings (templates)",
    "list[handle]": "array of strings (GitHub @user or @org/team handles)",
    "list[user]": "array of strings (GitHub user names)",
    "list[kind]": "array of release kinds",
    "table[template]": "table of strings (templates)",
}


@dataclass(frozen=True)
class Key:
    """One key of a table. ``default`` None + ``required`` False: optional, no default."""

    name: str
    type: str
    doc: str
    default: Any = None
    required: bool = False
    example: Any = None
    choices: tuple[str, ...] = ()
    fields: str = "version"  # template field set: "version" or "message"
    minimum: int | None = None
    purpose: str = ""  # env keys: what the variable holds, scopes; formatted with the item
    secret: bool = True  # env keys: whether the variable holds a credential
    default_doc: str = ""  # the default, in words, when computed at load time
    allow_empty: bool = False  # strings: "" is a meaningful value (e.g. "none")


@dataclass(frozen=True)
class Table:
    """A ``[table]`` or ``[[array.of.tables]]`` of releaser.toml.

    ``always``: present with its defaults even when the file doesn't mention it (otherwise an
    absent table is None, an absent array []). ``kinds``: may carry ``only`` / ``skip``.
    """

    name: str
    doc: str
    keys: tuple[Key, ...]
    array: bool = False
    always: bool = False
    kinds: bool = True
    mapping: bool = False  # [name.KEY] tables: free keys, each a table of ``keys``

    def key(self, name: str) -> Key | None:
        for key in self.keys:
            if key.name == name:
                return key
        return None


KIND_KEYS: tuple[Key, ...] = (
    Key(
        "only",
        "list[kind]",
        "Apply only to these release kinds (" + ", ".join(KINDS) + "); empty: every release.",
        default=[],
        example=["final"],
    ),
    Key(
        "skip",
        "list[kind]",
        "Don't apply to these release kinds.",
        default=[],
        example=["patch"],
    ),
)

SECRET_KEY_NAMES = (
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "client_secret",
    "access_token",
    "private_key",
    "webhook",
    "webhook_url",
    "passphrase",
    "credentials",
)

TABLES: tuple[Table, ...] = (
    Table(
        "project",
        "What is released, where, and how its branches and tags are named.",
        (
            Key(
                "name",
                "string",
                "Display name used in titles and posts.",
                required=True,
                example="Kubo",
            ),
            Key(
                "repo",
                "repo",
                "The GitHub repository releases happen in.",
                required=True,
                example="ipfs/kubo",
            ),
            Key(
                "default_branch", "ref", "The development branch.", default="main", example="master"
            ),
            Key(
                "version_branch",
                "ref",
                "Branch a release is prepared on; the rcs and the final of a version share it.",
                default="release-v{major}.{minor}",
                example="release-v{base}",
            ),
            Key(
                "release_branch",
                "ref",
                "Optional long-lived branch finals are merged into and patches start from; "
                "without it, patches start from the previous version branch.",
                example="release",
            ),
            Key("tag", "ref", "The release tag; must contain {version}.", default="v{version}"),
            Key(
                "tag_message",
                "template",
                "Annotated tag message for finals.",
                default="Release {version}",
            ),
            Key(
                "rc_tag_message",
                "template",
                "Annotated tag message for rcs.",
                default="Prerelease {version}",
            ),
            Key(
                "dev_suffix",
                "string",
                "Pre-release suffix of the default branch's development version "
                "(`{next_dev}` = `X.(Y+1).0-<dev_suffix>`).",
                default="dev",
            ),
        ),
        always=True,
        kinds=False,
    ),
    Table(
        "forge",
        "Where the repository lives: GitHub, GitHub Enterprise or the local sandbox forge.",
        (
            Key(
                "api_url",
                "url",
                "REST API root (GitHub Enterprise: https://HOST/api/v3).",
                default="https://api.github.com",
            ),
            Key(
                "git_url",
                "url",
                "Git remote root; repositories are {git_url}/{owner}/{name}.git.",
                default_doc='"https://github.com", or https://HOST for a GitHub Enterprise '
                "api_url of https://HOST/api/v3",
                example="https://github.example.com",
            ),
            Key(
                "token_env",
                "env",
                "Variable holding the GitHub token.",
                default="GITHUB_TOKEN",
                purpose="GitHub token (scopes: repo, workflow)",
            ),
            Key(
                "sandbox",
                "dir",
                "Use the local sandbox forge with its state in this directory (started "
                "in-process by every command) instead of GitHub: rehearsals and tests. Service "
                "URLs on the host `sandbox` (`http://sandbox/pypi/legacy/`) then name the "
                "sandbox's own services, wherever it listens.",
                example=".releaser/forge",
            ),
        ),
        always=True,
        kinds=False,
    ),
    Table(
        "signing",
        "GPG signing of tags and of the checksums file.",
        (
            Key(
                "gpg_key",
                "gpg_key",
                "Fingerprint of the signing key; tags and checksums are signed when set.",
                example="0123456789ABCDEF0123456789ABCDEF01234567",
            ),
            Key(
                "gpg_home_env",
                "env",
                "Variable holding the GnuPG home directory (GNUPGHOME) of gpg_key.",
                example="GNUPGHOME",
                secret=False,
                purpose="GnuPG home directory holding the signing key",
            ),
        ),
        always=True,
        kinds=False,
    ),
    Table(
        "git",
        "Identity of the commits releaser makes (version bumps, ledger).",
        (
            Key(
                "author_name",
                "string",
                "Commit author name.",
                default_doc="git config user.name at run time",
                example="Release Bot",
            ),
            Key(
                "author_email",
                "email",
                "Commit author email.",
                default_doc="git config user.email at run time",
                example="releases@example.com",
            ),
        ),
        always=True,
        kinds=False,
    ),
    Table(
        "tracking_issue",
        "The release's tracking issue: the human view of the release, with a checklist.",
        (
            Key("title", "template", "Issue title.", default="Release v{version}"),
            Key(
                "labels",
                "list[string]",
                "Labels added to the issue.",
                default=[],
                example=["release"],
            ),
            Key(
                "checklist",
                "bool",
                "Keep a checklist of the steps in the issue body, ticked as they complete.",
                default=True,
            ),
        ),
        always=True,
    ),
    Table(
        "version_files",
        "Files holding the version, bumped on the version branch (and, with dev_format, "
        "on the default branch after the first rc). The pattern must match exactly once.",
        (
            Key(
                "path", "path", "File path in the repository.", required=True, example="version.go"
            ),
            Key(
                "pattern",
                "version_regex",
                'Regex locating the version; its group "version" is replaced.',
                required=True,
                example='const CurrentVersionNumber = "(?P<version>[^"]+)"',
            ),
            Key(
                "format",
                "template",
                "What is written for the release.",
                default="{version}",
                example="{base}{pre}",
            ),
            Key(
                "dev_format",
                "template",
                "What is written on the default branch for the next development version "
                "(fields of that version: {version} = 0.19.0-dev); unset: not bumped.",
                example="{version}",
            ),
        ),
        array=True,
    ),
    Table(
        "changelog",
        "The release notes. Absent: no changelog handling.",
        (
            Key(
                "path",
                "path",
                "Changelog file in the repository.",
                default="CHANGELOG.md",
                example="docs/changelogs/v{major}.{minor}.md",
            ),
            Key(
                "heading", "template", "Heading of this release's section.", default="## v{version}"
            ),
            Key(
                "command",
                "template",
                "Shell command (run in the repository) whose stdout is the section's "
                "generated part.",
                example="./bin/mkreleaselog",
            ),
            Key("contributors", "bool", "Add a Contributors section.", default=True),
        ),
    ),
    Table(
        "prepare",
        "The `prepare` stage: release PR and the default branch's next development version.",
        (
            Key("pr_title", "template", "Title of the release PR.", default="Release v{version}"),
            Key("draft_for_rc", "bool", "Open the release PR as a draft for rcs.", default=True),
            Key(
                "next_dev_pr",
                "bool",
                "On the first rc of X.Y.0, open a PR bumping the default branch to "
                "{next_dev} (needs version_files with dev_format).",
                default=True,
            ),
            Key("next_dev_branch", "ref", "Branch of that PR.", default="bump-v{next_dev}"),
            Key(
                "next_dev_pr_title",
                "template",
                "Title of that PR.",
                default="Start v{next_dev} development",
            ),
        ),
        always=True,
    ),
    Table(
        "build",
        "The `build` stage.",
        (),
        always=True,
        kinds=False,
    ),
    Table(
        "build.workflows",
        "GitHub Actions workflows that build the release, triggered by the tag push or "
        "dispatched, and waited for.",
        (
            Key(
                "file",
                "string",
                "Workflow file name in .github/workflows.",
                required=True,
                example="docker-image.yml",
            ),
            Key(
                "on",
                "choice",
                '"tag": started by the tag push; "dispatch": releaser dispatches it.',
                default="tag",
                choices=("tag", "dispatch"),
            ),
            Key(
                "ref",
                "ref",
                "Ref a dispatched workflow runs on.",
                default_doc="the release tag",
                example="main",
            ),
            Key(
                "inputs",
                "table[template]",
                "Inputs of a dispatched workflow.",
                default={},
                example={"version": "v{version}"},
            ),
            Key("timeout", "number", "Seconds to wait for the run.", default=3600),
            Key(
                "log_pattern",
                "regex_template",
                "Regex that must appear in the run's job logs for it to count as done.",
                example="found new version v{version}",
            ),
            Key(
                "repo",
                "repo",
                "Another repository the workflow lives in (dispatch only).",
                example="ipfs/npm-go-ipfs",
            ),
            Key(
                "stage",
                "choice",
                '"build": run by `releaser build`; "publish": dispatched by `releaser publish` '
                "once the GitHub release exists (e.g. a workflow attaching assets to it, or "
                "publishing a package from them).",
                default="build",
                choices=("build", "publish"),
            ),
        ),
        array=True,
    ),
    Table(
        "publish",
        "The `publish` stage.",
        (),
        always=True,
        kinds=False,
    ),
    Table(
        "publish.github",
        "The GitHub release, its assets and checksums. Absent: no GitHub release.",
        (
            Key(
                "assets_dir",
                "dir",
                'Local directory whose files are uploaded (assets_from = "dir").',
                example="dist",
            ),
            Key(
                "assets_from",
                "choice",
                '"artifacts": the build workflows\' artifacts; "release": the build '
                'workflow attached them to the release itself; "dir": assets_dir.',
                choices=("artifacts", "release", "dir"),
                default_doc='"dir" when assets_dir is set, else "artifacts"',
            ),
            Key(
                "expect_assets",
                "list[template]",
                "Glob patterns the release's assets must match (each at least once).",
                default=[],
                example=["*.tar.gz", "*.zip"],
            ),
            Key(
                "checksums",
                "filename",
                "Name of the checksums asset; empty: none.",
                default="SHA256SUMS",
                allow_empty=True,
            ),
            Key(
                "sign_checksums",
                "bool",
                "Attach a detached signature of the checksums (when signing.gpg_key is set).",
                default=True,
            ),
            Key(
                "key_asset",
                "string",
                "Name of an asset holding the ASCII-armored public key of signing.gpg_key, "
                "attached with the signature (users import it to check the checksums); "
                "empty: none.",
                default="",
                allow_empty=True,
                example="release-key.asc",
            ),
            Key(
                "notes",
                "choice",
                '"changelog": the changelog section; "generate": GitHub\'s generated notes.',
                choices=("changelog", "generate"),
                default_doc='"changelog" when [changelog] is present, else "generate"',
            ),
        ),
    ),
    Table(
        "publish.docker",
        "Container image tags that must exist (pushed by a build workflow, or by releaser "
        "when credentials are set).",
        (
            Key("registry", "string", "Registry host.", default="docker.io", example="ghcr.io"),
            Key("image", "string", "Image repository.", required=True, example="ipfs/kubo"),
            Key(
                "tags",
                "list[template]",
                "Tags of this release.",
                default=["v{version}"],
                example=["v{version}", "latest"],
            ),
            Key(
                "source_tag",
                "template",
                "The tag every one of `tags` must point to: each is copied from it (the "
                "manifest's exact bytes, never rebuilt) where credentials allow.",
                default_doc="the first of `tags` (which must exist)",
                example="v{version}",
            ),
            Key(
                "username_env",
                "env",
                "Variable holding the registry user name.",
                example="DOCKER_USERNAME",
                purpose="registry user name for {registry}",
            ),
            Key(
                "password_env",
                "env",
                "Variable holding the registry password or token.",
                example="DOCKER_PASSWORD",
                purpose="registry password or access token for {registry} (push {image})",
            ),
        ),
        array=True,
    ),
    Table(
        "publish.npm",
        "The npm package version. Without token_env releaser only verifies it appeared "
        "(published by a workflow).",
        (
            Key("package", "string", "Package name.", required=True, example="kubo"),
            Key("registry", "url", "Registry URL.", default="https://registry.npmjs.org"),
            Key(
                "token_env",
                "env",
                "Variable holding an npm automation token.",
                example="NPM_TOKEN",
                purpose="npm automation token (set the dist-tags of {package})",
            ),
            Key(
                "final_tag",
                "string",
                "The dist-tag that must point to a final release; empty: not checked.",
                default="latest",
                allow_empty=True,
            ),
            Key(
                "rc_tag",
                "string",
                "The dist-tag that must point to a release candidate; empty: not checked.",
                default="next",
                allow_empty=True,
            ),
        ),
    ),
    Table(
        "publish.pypi",
        "The PyPI release: uploads the files in dist_dir, then verifies them on the index.",
        (
            Key("project", "string", "PyPI project name.", required=True, example="mylib"),
            Key(
                "repository_url",
                "url",
                "Upload endpoint.",
                default="https://upload.pypi.org/legacy/",
            ),
            Key(
                "index_url", "url", "Index the release is verified on.", default="https://pypi.org"
            ),
            Key(
                "dist_from",
                "choice",
                '"dir": the files in dist_dir; "release": the GitHub release\'s assets that '
                "are this project's wheels and sdists (the same bytes users download).",
                choices=("dir", "release"),
                default="dir",
            ),
            Key("dist_dir", "dir", "Directory holding the built files.", default="dist"),
            Key(
                "username",
                "string",
                'User name of the upload ("__token__" for an API token; a private index\'s '
                "user otherwise).",
                default="__token__",
            ),
            Key(
                "token_env",
                "env",
                "Variable holding a PyPI API token.",
                default="PYPI_TOKEN",
                purpose="PyPI API token (upload {project})",
            ),
        ),
    ),
    Table(
        "publish.distributions",
        "A PR to a distributions repository (e.g. ipfs/distributions) adding the version.",
        (
            Key(
                "repo",
                "repo",
                "The distributions repository.",
                required=True,
                example="ipfs/distributions",
            ),
            Key(
                "command",
                "template",
                "Shell command run in its checkout.",
                required=True,
                example="./dist.sh add-version kubo v{version}",
            ),
            Key("branch", "ref", "Branch of the PR.", default="publish-v{version}"),
            Key(
                "pr_title",
                "template",
                "Title of the PR.",
                default="Publish {name} v{version}",
                fields="message",
            ),
            Key(
                "verify_url",
                "template",
                "URL that must answer 200 once it is published.",
                example="https://dist.ipfs.tech/kubo/v{version}/",
            ),
            Key(
                "base",
                "ref",
                "Branch of the distributions repository the PR goes into.",
                default_doc="the repository's default branch",
                example="master",
            ),
            Key(
                "pr_body",
                "template",
                "Body of the PR.",
                default="Adds {name} v{version}: {release_url}",
                fields="message",
            ),
            Key(
                "merge",
                "bool",
                "Merge the PR once it can be merged (else its reviewers do).",
                default=False,
            ),
            Key(
                "timeout",
                "number",
                "Seconds verify_url may take to answer 200 after the PR is merged.",
                default=3600,
            ),
        ),
    ),
    Table(
        "publish.smoke",
        "A smoke test of the release assets as users get them: each asset matching `assets` "
        "is downloaded anonymously and `command` runs in a clean temporary directory; it must "
        "succeed and print `expect`.",
        (
            Key(
                "assets",
                "template",
                "Glob pattern of the asset names it tests.",
                required=True,
                example="*.whl",
            ),
            Key(
                "command",
                "template",
                "Shell command; `{file}` is the downloaded asset's path (no credentials in "
                "its environment).",
                required=True,
                fields="smoke",
                example="python3 -m venv venv && venv/bin/pip install -q {file} && "
                "venv/bin/python -c 'import mylib; print(mylib.__version__)'",
            ),
            Key(
                "expect",
                "template",
                "What its output must show (a whole word of it).",
                default="{version}",
                example="{base}{pre}",
            ),
            Key("timeout", "number", "Seconds the command may take.", default=600),
        ),
        array=True,
    ),
    Table(
        "promote",
        "The `promote` stage.",
        (),
        always=True,
        kinds=False,
    ),
    Table(
        "promote.matrix",
        "Matrix rooms announced to.",
        (
            Key(
                "homeserver", "url", "Homeserver URL.", required=True, example="https://matrix.org"
            ),
            Key(
                "room",
                "string",
                "Room alias or id.",
                required=True,
                example="#ipfs-chatter:ipfs.io",
            ),
            Key("user_id", "string", "Posting user.", example="@releasebot:matrix.org"),
            Key(
                "token_env",
                "env",
                "Variable holding the user's access token.",
                default="MATRIX_TOKEN",
                purpose="Matrix access token (post to {room})",
            ),
            Key(
                "message",
                "template",
                "The announcement.",
                default="{name} v{version} is out! {release_url}",
                fields="message",
            ),
        ),
        array=True,
    ),
    Table(
        "promote.discourse",
        "A Discourse forum topic. Without api_key_env the operator posts it and confirms.",
        (
            Key("url", "url", "Forum URL.", required=True, example="https://discuss.ipfs.tech"),
            Key(
                "api_key_env",
                "env",
                "Variable holding an API key.",
                example="DISCOURSE_API_KEY",
                purpose="Discourse API key (create and pin topics on {url})",
            ),
            Key(
                "api_username",
                "string",
                "User the API key acts as (needs api_key_env).",
                example="system",
            ),
            Key("category", "string", "Category of the topic.", default="News"),
            Key("tags", "list[string]", "Topic tags.", default=[], example=["kubo"]),
            Key(
                "title",
                "template",
                "Topic title.",
                default="{name} v{version} is out!",
                fields="message",
            ),
            Key(
                "message",
                "template",
                "The topic's first post (Markdown); a hidden marker is added to find it again.",
                default="{name} v{version} is out!\n\n{highlights}\n\n"
                "Release notes and downloads: {release_url}",
                fields="message",
            ),
            Key("pin", "bool", "Pin the topic globally (needs api_key_env).", default=False),
        ),
    ),
    Table(
        "promote.reddit",
        "A Reddit link post. Without the *_env keys the operator posts it and confirms.",
        (
            Key(
                "subreddit", "string", "Subreddit name, without r/.", required=True, example="ipfs"
            ),
            Key(
                "client_id_env",
                "env",
                "Variable holding the OAuth client id.",
                example="REDDIT_CLIENT_ID",
                purpose="Reddit OAuth client id",
            ),
            Key(
                "client_secret_env",
                "env",
                "Variable holding the OAuth client secret.",
                example="REDDIT_CLIENT_SECRET",
                purpose="Reddit OAuth client secret",
            ),
            Key(
                "username_env",
                "env",
                "Variable holding the posting account's name.",
                example="REDDIT_USERNAME",
                purpose="Reddit user name (posts to r/{subreddit})",
            ),
            Key(
                "password_env",
                "env",
                "Variable holding that account's password.",
                example="REDDIT_PASSWORD",
                purpose="Reddit password",
            ),
            Key(
                "title",
                "template",
                "Post title.",
                default="{name} v{version} is out!",
                fields="message",
            ),
            Key(
                "api_url",
                "url",
                "Reddit's address, for another instance (a test server, the sandbox's "
                "reddit_url): its OAuth API and web pages are below it.",
                default_doc="Reddit itself (https://oauth.reddit.com, https://www.reddit.com)",
            ),
        ),
    ),
    Table(
        "promote.discord",
        "A Discord post through a webhook.",
        (
            Key(
                "webhook_env",
                "env",
                "Variable holding the webhook URL (the URL is the secret).",
                default="DISCORD_WEBHOOK_URL",
                purpose="Discord webhook URL",
            ),
            Key(
                "message",
                "template",
                "The post.",
                default="{name} v{version} is out! {release_url}",
                fields="message",
            ),
        ),
    ),
    Table(
        "promote.tracking_issue",
        "A comment on the tracking issue announcing the release.",
        (
            Key(
                "early_testers",
                "list[handle]",
                "People pinged to test an rc.",
                default=[],
                example=["@alice", "@bob"],
            ),
            Key(
                "message",
                "template",
                "The comment.",
                default="v{version} is out: {release_url}",
                fields="message",
            ),
        ),
    ),
    Table(
        "promote.infrastructure",
        "The infrastructure team's issue for this release, told when the release is out.",
        (
            Key(
                "repo",
                "repo",
                "Where the infrastructure team tracks deployments.",
                required=True,
                example="ipfs/infra",
            ),
            Key(
                "title",
                "template",
                "The issue of this release there (opened if it does not exist).",
                default="Deploy {name} v{version}",
                fields="message",
            ),
            Key(
                "message",
                "template",
                "The comment telling them the release is out.",
                default="{name} v{version} is out: {release_url}. Please update.",
                fields="message",
            ),
        ),
    ),
    Table(
        "promote.soak",
        "Release candidates soak: once `after` seconds have passed since the rc's release, a "
        "reminder on its tracking issue lists the early testers' reports (issues opened since "
        "the rc that mention it). Until then `releaser promote` exits 4 saying when to re-run.",
        (
            Key(
                "after",
                "number",
                "Seconds after the rc's release before the reminder (a week: 604800).",
                default=604800,
                example=259200,
            ),
            Key(
                "message",
                "template",
                "The reminder's first line (the reports are listed below it).",
                default="{tag} has soaked: time to decide whether it becomes the final.",
                fields="message",
            ),
        ),
    ),
    Table(
        "downstream",
        "Dependent repositories updated by PR (and/or a workflow run) after the release.",
        (
            Key(
                "repo",
                "repo",
                "The dependent repository.",
                required=True,
                example="ipfs/ipfs-desktop",
            ),
            Key(
                "files",
                "list[string]",
                "Files the update changes.",
                default=[],
                example=["package.json", "package-lock.json"],
            ),
            Key(
                "pattern",
                "version_regex",
                'Regex in those files whose group "version" becomes the new version (every match).',
                example='"kubo": "\\^?(?P<version>[^"]+)"',
            ),
            Key(
                "marker",
                "string",
                "Text marking the lines of those files that hold the version (a comment such "
                "as `# releaser: kubo-version`): on each, the first X.Y.Z[-pre] version "
                "becomes the new version. A file needs no regex.",
                example="releaser: kubo-version",
            ),
            Key(
                "format",
                "template",
                "What the version group (or the marked version) becomes.",
                default="{version}",
            ),
            Key(
                "command",
                "template",
                "Shell command run in a shallow checkout of `base`, after the pattern and "
                "marker edits; with `files` empty, every file it changes is committed. It gets "
                "no credentials in its environment.",
                example="npm install kubo@{version}",
            ),
            Key(
                "workflow",
                "string",
                "Workflow file to dispatch there (and wait for).",
                example="e2e.yml",
            ),
            Key(
                "inputs",
                "table[template]",
                "Inputs of that workflow.",
                default={},
                example={"kubo-version": "v{version}"},
            ),
            Key(
                "branch",
                "ref",
                "Branch of the PR (one commit on `base`; a re-run moves it only while its head "
                "is releaser's own commit).",
                default="update-to-v{version}",
            ),
            Key(
                "base",
                "ref",
                "Branch the PR goes into.",
                default_doc="the repository's default branch",
                example="main",
            ),
            Key(
                "pr_title",
                "template",
                "Title of the PR.",
                default="Update {name} to v{version}",
                fields="message",
            ),
            Key(
                "reviewers",
                "list[user]",
                "Reviewers requested on the PR.",
                default=[],
                example=["alice"],
            ),
            Key(
                "auto_merge",
                "bool",
                "Enable auto-merge on the PR (the repository must allow it): it merges once "
                "its required checks and reviews pass.",
                default=False,
            ),
            Key(
                "merge_method",
                "choice",
                "How auto-merge merges the PR.",
                default="squash",
                choices=("merge", "squash", "rebase"),
            ),
            Key(
                "workflow_ref",
                "ref",
                "Ref the workflow is dispatched on.",
                default_doc="the PR's branch when there is a PR (the tests see the update), "
                "else `base`",
                example="main",
            ),
            Key(
                "only",
                "list[kind]",
                "Release kinds it is for. Dependents follow finals only unless they say so: "
                '`only = ["rc", "final"]` updates them for release candidates too, and '
                "`only = []` for every release.",
                default=["final"],
                example=["rc", "final"],
            ),
        ),
        array=True,
    ),
    Table(
        "next",
        "The `next` stage.",
        (),
        always=True,
        kinds=False,
    ),
    Table(
        "next.tracking_issue",
        "The next release's tracking issue, opened with its checklist when a final ships "
        "(titled by `[tracking_issue] title`, so `releaser start` of that release finds it).",
        (
            Key(
                "version",
                "template",
                "The version of the next release the issue is for (its first release).",
                default="{major}.{next_minor}.0-rc1",
                example="{major}.{next_minor}.0",
            ),
        ),
    ),
    Table(
        "next.changelog",
        "The next release's changelog file, created on the default branch and linked from "
        "the changelog index, through a pull request.",
        (
            Key(
                "path",
                "path",
                "The new changelog file.",
                required=True,
                example="docs/changelogs/v{major}.{next_minor}.md",
            ),
            Key(
                "index",
                "path",
                "The index linking every release's changelog; the link goes above its first "
                "list item (`- ...`), or at its end.",
                default="CHANGELOG.md",
            ),
            Key(
                "title",
                "template",
                "The link's text in the index: `- [TITLE](path)`.",
                default="v{major}.{next_minor}",
            ),
            Key(
                "content",
                "template",
                "What the new file starts with (a newline is added at its end).",
                default="# {name} v{major}.{next_minor} Changelog",
                fields="message",
            ),
            Key(
                "branch",
                "ref",
                "Branch of the pull request.",
                default="changelog-v{major}.{next_minor}",
            ),
            Key(
                "pr_title",
                "template",
                "Title of the pull request.",
                default="Add the v{major}.{next_minor} changelog",
                fields="message",
            ),
        ),
    ),
    Table(
        "gates",
        "Gates before irreversible steps: green CI on the release commit before `tag`, and "
        "approvals by someone other than the driver.",
        (
            Key(
                "ci",
                "choice",
                "Which checks of the release commit must be green before it is merged or tagged: "
                '"required": the contexts branch protection requires (of the version branch and '
                'of the release PR\'s base) plus `checks`; "all": every commit status and check '
                'run reported; "off": no CI gate. A pending one is waited for; a red one stops.',
                default="required",
                choices=("required", "all", "off"),
            ),
            Key(
                "checks",
                "list[string]",
                "More check names (status contexts or check runs) that must be reported green, "
                "whatever branch protection requires.",
                default=[],
                example=["build", "test"],
            ),
            Key(
                "approve",
                "list[string]",
                "Steps that run only once someone other than the driver approved exactly what "
                "they would do (`releaser approve VERSION STEP`).",
                default=[],
                example=["push-tag"],
            ),
            Key(
                "approvers",
                "list[handle]",
                "Who may approve: active members of @org/team handles, and @users with write "
                "access to the repository; empty: anyone with write access to it.",
                default=[],
                example=["@acme/release-team", "@alice"],
            ),
        ),
        always=True,
    ),
    Table(
        "steps",
        "Per-step overrides, by step name (`releaser plan` lists them): turn a step off, or "
        "change the release kinds it runs for. `only` / `skip` replace the step's own.",
        (Key("enabled", "bool", "Run the step at all.", default=True, example=False),),
        mapping=True,
    ),
    Table(
        "engine",
        "How commands wait, poll and claim.",
        (
            Key(
                "wait_timeout",
                "number",
                "Default seconds to wait for remote work.",
                default=3600,
            ),
            Key(
                "poll_interval",
                "number",
                "Seconds between checks while waiting.",
                default=10,
            ),
            Key(
                "poll_max_interval",
                "number",
                "While waiting, the interval between checks grows by half after each one, from "
                "`poll_interval` up to this many seconds (reads unchanged since the last check "
                "are asked with `If-None-Match` and cost no rate limit).",
                default=120,
            ),
            Key(
                "claim_ttl",
                "number",
                "Seconds a driver's claim lasts without renewal.",
                default=900,
            ),
            Key(
                "concurrency",
                "int",
                "Requests in flight to the forge at once (`status` starts every check at once, "
                "and they share this many), and repositories a step works on in parallel; "
                "1: `status` checks one step after another.",
                default=8,
                minimum=1,
            ),
            Key(
                "rate_limit_wait",
                "number",
                "The longest wait for a service's rate limit to lift; a longer one stops the "
                "command with exit 4, saying when to re-run.",
                default=300,
            ),
        ),
        always=True,
        kinds=False,
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

# Tables the machinery reads itself (commands, engine, context); every other table is acted on
# by the steps naming it in ``configured_by``, or is listed below.
MACHINERY_TABLES: tuple[str, ...] = (
    "project",
    "forge",
    "signing",
    "git",
    "tracking_issue",
    "build",
    "publish",
    "promote",
    "next",
    "gates",
    "steps",
    "engine",
)
# Tables validated, but that no step acts on yet: `plan`, `doctor` and the stage commands say
# so when one is configured. A step that acts on one removes it from here
# (tests/releaser/test_config_keys_read.py keeps this list exact).
NOT_ACTED_ON_YET: tuple[str, ...] = ()


def children(prefix: str) -> list[Table]:
    """The tables directly below ``prefix`` ("" for the top level)."""
    depth = prefix.count(".") + 1 if prefix else 0
    return [
        t
        for t in TABLES
        if t.name.count(".") == depth and (not prefix or t.name.startswith(prefix + "."))
    ]


def leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# -- reference documentation --------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "'" not in value and "\n" not in value and ("\\" in value or '"' in value):
            return f"'{value}'"
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _header(table: Table) -> str:
    if table.mapping:
        return f"[{table.name}.NAME]"
    return f"[[{table.name}]]" if table.array else f"[{table.name}]"


def _default_text(key: Key) -> str:
    if key.required:
        return "required"
    if key.default_doc:
        return key.default_doc
    if key.default is None:
        return "unset"
    return f"`{_toml_value(key.default)}`"


def schema_markdown() -> str:
    """The configuration reference (docs/configuration.md), rendered from the schema."""
    out: list[str] = [
        "# releaser.toml reference",
        "",
        "<!-- Generated from releaser/config_schema.py by `scripts/docs`: do not edit. -->",
        "",
        "`releaser` reads `releaser.toml`, found in the current directory or the nearest "
        "parent (or `--config PATH`). `releaser init` writes a commented starter. Every key "
        "is checked when the file is loaded: an unknown key, a wrong type or a bad value "
        "stops the command (exit 2) with the key path and line. Examples: "
        "[kubo.toml](examples/kubo.toml), [pylib.toml](examples/pylib.toml).",
        "",
        "## Templates",
        "",
        "Strings marked *template* are Python format strings filled with the release "
        "version's fields; use `{{` and `}}` for literal braces. For `v0.18.0-rc1`:",
        "",
        "| field | value |",
        "|---|---|",
    ]
    out += [f"| `{{{name}}}` | {doc} |" for name, doc in FIELD_DOCS.items()]
    out += [
        "",
        "Templates of announcements and of PRs in other repositories (marked *message "
        "template*) may also use:",
        "",
        "| field | value |",
        "|---|---|",
    ]
    out += [f"| `{{{name}}}` | {doc} |" for name, doc in MESSAGE_FIELD_DOCS.items()]
    out += [
        "",
        "## Release kinds: `only` and `skip`",
        "",
        "A release is `rc` (any pre-release suffix: `v0.18.0-rc1`), `final` (no suffix) and "
        "also `patch` when Z > 0 (`v0.18.1`, `v0.18.1-rc1`). Tables marked *kinds* may carry "
        '`only = ["final"]` (apply only to these kinds) and `skip = ["patch"]` (never to '
        "these); a table that doesn't apply to a release is ignored for it.",
        "",
        "## Secrets",
        "",
        "Secrets never live in releaser.toml. Keys ending in `_env` hold the *name* of the "
        "environment variable holding the secret (read from the environment or a `.env` "
        "file; `releaser env` writes a template, `releaser doctor` checks them). A key like "
        "`token`, `password`, `secret` or `api_key` with a value is an error.",
        "",
        "## Requirements across keys",
        "",
        "Some keys need others. Each of these is checked when the file is loaded, so a "
        "release can't stop half-way for a key that was missing from the start: a file "
        "breaking one stops every command (exit 2) naming both keys.",
        "",
        *(f"- {rule}" for rule in REQUIREMENTS),
        "",
    ]
    for table in TABLES:
        if not table.keys and not table.array:
            continue
        out.append(f"## `{_header(table)}`")
        out.append("")
        notes = []
        if table.mapping:
            notes.append("one table per NAME; absent: none")
        elif table.array:
            notes.append("array of tables: repeat it for each item; absent: none")
        elif any(k.required for k in table.keys) and table.always:
            notes.append("required")
        elif table.always:
            notes.append("optional: defaults apply when absent")
        else:
            notes.append("optional: absent means the feature is off")
        if table.kinds:
            notes.append("kinds: may carry `only` / `skip`")
        out.append(f"{table.doc} *({'; '.join(notes)}.)*")
        out.append("")
        out.append("| key | type | default | description |")
        out.append("|---|---|---|---|")
        for key in table.keys:
            kind = TYPE_DOCS[key.type]
            if key.type in ("template", "list[template]", "table[template]") and (
                key.fields == "message"
            ):
                kind = kind.replace("template", "message template")
            desc = key.doc
            if key.choices:
                desc += " One of: " + ", ".join(f'`"{c}"`' for c in key.choices) + "."
            if key.type == "env" and key.purpose:
                desc += f" Holds: {key.purpose}."
            out.append(f"| `{key.name}` | {kind} | {_default_text(key)} | {desc} |")
        out.append("")
        out.append("```toml")
        out.append(f"[{table.name}.push-tag]" if table.mapping else _header(table))
        for key in table.keys:
            value = key.example if key.example is not None else key.default
            if value is None:
                continue
            out.append(f"{key.name} = {_toml_value(value)}")
        out.append("```")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
