"""What the forge facade hands to steps: plain, frozen dataclasses (no client objects).

Each is built from GitHub's REST shape by its ``from_json``; fields keep GitHub's names where
a step author would look them up in GitHub's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(text: Any) -> datetime | None:
    """GitHub's ``2026-11-30T15:04:05Z`` (or None) as an aware datetime."""
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


def _login(user: Any) -> str:
    return str(user.get("login") or "") if isinstance(user, dict) else ""


@dataclass(frozen=True)
class Repository:
    full_name: str
    html_url: str
    default_branch: str
    node_id: str = ""
    private: bool = False
    permissions: dict[str, bool] = field(default_factory=dict)  # of the token's user

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Repository:
        return cls(
            full_name=str(d["full_name"]),
            html_url=str(d["html_url"]),
            default_branch=str(d.get("default_branch") or "main"),
            node_id=str(d.get("node_id") or ""),
            private=bool(d.get("private")),
            permissions={k: bool(v) for k, v in (d.get("permissions") or {}).items()},
        )


@dataclass(frozen=True)
class Branch:
    name: str
    sha: str  # the head commit
    tree_sha: str  # its tree (a commit on top of it starts from this tree)
    protected: bool = False
    # branch protection's required status checks (contexts and check names), as any reader
    # of the branch sees them; ``checks_enforced``: GitHub's enforcement_level (off,
    # non_admins, everyone)
    required_checks: tuple[str, ...] = ()
    checks_enforced: str = "off"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Branch:
        commit = d["commit"]
        checks = ((d.get("protection") or {}).get("required_status_checks")) or {}
        names = [str(c) for c in checks.get("contexts") or []]
        for check in checks.get("checks") or []:
            name = str(check.get("context") or "") if isinstance(check, dict) else ""
            if name and name not in names:
                names.append(name)
        return cls(
            name=str(d["name"]),
            sha=str(commit["sha"]),
            tree_sha=str(commit["commit"]["tree"]["sha"]),
            protected=bool(d.get("protected")),
            required_checks=tuple(names),
            checks_enforced=str(checks.get("enforcement_level") or "off"),
        )


@dataclass(frozen=True)
class File:
    path: str
    text: str
    sha: str  # the blob


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    login: str = ""  # the forge account, when the forge knows it
    date: datetime | None = None

    @property
    def credit(self) -> str:
        """How a changelog credits them: ``@login``, else their name."""
        return f"@{self.login}" if self.login else self.name


@dataclass(frozen=True)
class Commit:
    sha: str
    tree_sha: str
    parents: tuple[str, ...]
    message: str
    author: Person
    committer: Person
    html_url: str = ""

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else self.sha[:7]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Commit:
        """From ``GET commits/{sha}`` / compare (``{"commit": {...}, "author": user}``) or
        from the git-data API (``GET git/commits/{sha}``)."""
        inner = d.get("commit", d)

        def person(raw: dict[str, Any], user: Any) -> Person:
            return Person(
                str(raw.get("name") or ""),
                str(raw.get("email") or ""),
                _login(user),
                parse_time(raw.get("date")),
            )

        return cls(
            sha=str(d["sha"]),
            tree_sha=str(inner["tree"]["sha"]),
            parents=tuple(str(p["sha"]) for p in d.get("parents") or []),
            message=str(inner.get("message") or ""),
            author=person(inner.get("author") or {}, d.get("author")),
            committer=person(inner.get("committer") or {}, d.get("committer")),
            html_url=str(d.get("html_url") or ""),
        )


@dataclass(frozen=True)
class Check:
    """One check reported on a commit: a commit status (named by its context) or a check run
    (named by its name), reduced to ``success``, ``pending`` or ``failure``."""

    name: str
    state: str  # success | pending | failure
    kind: str  # "status" or "check run"
    url: str = ""
    detail: str = ""  # the status's description, or the check run's conclusion

    @classmethod
    def from_status(cls, d: dict[str, Any]) -> Check:
        raw = str(d.get("state") or "pending")
        state = "failure" if raw in ("failure", "error") else raw
        return cls(
            str(d.get("context") or "default"),
            state if state in ("success", "pending", "failure") else "pending",
            "status",
            str(d.get("target_url") or ""),
            str(d.get("description") or raw),
        )

    @classmethod
    def from_check_run(cls, d: dict[str, Any]) -> Check:
        conclusion = d.get("conclusion")
        if d.get("status") != "completed" or conclusion is None:
            state, detail = "pending", str(d.get("status") or "queued")
        else:
            ok = conclusion in ("success", "neutral", "skipped")
            state, detail = ("success" if ok else "failure"), str(conclusion)
        url = str(d.get("html_url") or d.get("details_url") or "")
        return cls(str(d.get("name") or ""), state, "check run", url, detail)


@dataclass(frozen=True)
class Viewer:
    """Who the token belongs to ("" for an app's installation token: ``GET /user`` refuses
    it), and its OAuth scopes (None: a fine-grained or app token, which GitHub answers
    without a scope header; its repositories' roles are what it may do)."""

    login: str
    scopes: frozenset[str] | None


@dataclass(frozen=True)
class Ref:
    name: str  # refs/tags/v1.2.0
    sha: str  # the object it points at (a tag object for annotated tags)


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    state: str  # "open" or "closed"
    draft: bool
    merged: bool
    head_ref: str
    head_sha: str
    base_ref: str
    html_url: str
    node_id: str = ""
    body: str = ""
    merge_commit_sha: str | None = None
    user: str = ""
    updated_at: datetime | None = None
    merged_at: datetime | None = None
    mergeable: bool | None = None
    auto_merge: bool = False
    # clean, blocked (branch protection's reviews or checks missing), dirty, draft, unknown...;
    # "" from listings, which don't say
    mergeable_state: str = ""
    requested_reviewers: tuple[str, ...] = ()  # users asked to review (GitHub drops a user
    # from this list once they have reviewed)

    @property
    def status(self) -> str:
        """``open``, ``draft``, ``merged`` or ``closed``."""
        if self.merged:
            return "merged"
        if self.state == "open":
            return "draft" if self.draft else "open"
        return "closed"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PullRequest:
        merged_at = parse_time(d.get("merged_at"))
        return cls(
            number=int(d["number"]),
            title=str(d.get("title") or ""),
            state=str(d["state"]),
            draft=bool(d.get("draft")),
            merged=bool(d.get("merged")) or merged_at is not None,
            head_ref=str(d["head"]["ref"]),
            head_sha=str(d["head"]["sha"]),
            base_ref=str(d["base"]["ref"]),
            html_url=str(d["html_url"]),
            node_id=str(d.get("node_id") or ""),
            body=str(d.get("body") or ""),
            merge_commit_sha=d.get("merge_commit_sha"),
            user=_login(d.get("user")),
            updated_at=parse_time(d.get("updated_at")),
            merged_at=merged_at,
            mergeable=d.get("mergeable"),
            auto_merge=d.get("auto_merge") is not None,
            mergeable_state=str(d.get("mergeable_state") or ""),
            requested_reviewers=tuple(
                _login(u) for u in d.get("requested_reviewers") or [] if _login(u)
            ),
        )


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    state: str  # "open" or "closed"
    html_url: str
    body: str = ""
    labels: tuple[str, ...] = ()
    node_id: str = ""
    user: str = ""
    created_at: datetime | None = None
    closed_at: datetime | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Issue:
        return cls(
            number=int(d["number"]),
            title=str(d.get("title") or ""),
            state=str(d["state"]),
            html_url=str(d["html_url"]),
            body=str(d.get("body") or ""),
            labels=tuple(
                str(x["name"] if isinstance(x, dict) else x) for x in d.get("labels") or []
            ),
            node_id=str(d.get("node_id") or ""),
            user=_login(d.get("user")),
            created_at=parse_time(d.get("created_at")),
            closed_at=parse_time(d.get("closed_at")),
        )


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    html_url: str
    user: str = ""
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Comment:
        return cls(
            id=int(d["id"]),
            body=str(d.get("body") or ""),
            html_url=str(d["html_url"]),
            user=_login(d.get("user")),
            created_at=parse_time(d.get("created_at")),
        )


@dataclass(frozen=True)
class Release:
    id: int
    tag_name: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    html_url: str
    upload_url: str = ""
    created_at: datetime | None = None
    published_at: datetime | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Release:
        return cls(
            id=int(d["id"]),
            tag_name=str(d["tag_name"]),
            name=str(d.get("name") or ""),
            body=str(d.get("body") or ""),
            draft=bool(d.get("draft")),
            prerelease=bool(d.get("prerelease")),
            html_url=str(d["html_url"]),
            upload_url=str(d.get("upload_url") or "").split("{", 1)[0],
            created_at=parse_time(d.get("created_at")),
            published_at=parse_time(d.get("published_at")),
        )


@dataclass(frozen=True)
class Asset:
    id: int
    name: str
    size: int
    url: str  # the API URL (download with Accept: application/octet-stream)
    download_url: str  # what a user's browser downloads, anonymously
    sha256: str | None = None  # from the forge's ``digest``, when it gives one

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Asset:
        digest = str(d.get("digest") or "")
        return cls(
            id=int(d["id"]),
            name=str(d["name"]),
            size=int(d.get("size") or 0),
            url=str(d["url"]),
            download_url=str(d.get("browser_download_url") or ""),
            sha256=digest.split(":", 1)[1] if digest.startswith("sha256:") else None,
        )


@dataclass(frozen=True)
class Workflow:
    id: int
    path: str
    name: str
    html_url: str
    state: str = "active"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Workflow:
        return cls(
            id=int(d["id"]),
            path=str(d.get("path") or ""),
            name=str(d.get("name") or ""),
            html_url=str(d.get("html_url") or ""),
            state=str(d.get("state") or "active"),
        )


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    name: str
    event: str
    status: str  # queued, in_progress, completed, ...
    conclusion: str | None
    head_sha: str
    head_branch: str
    html_url: str
    run_attempt: int = 1
    workflow_id: int = 0
    created_at: datetime | None = None
    run_started_at: datetime | None = None  # when the current attempt started
    updated_at: datetime | None = None
    path: str = ""  # the workflow's file: .github/workflows/build.yml
    triggering_actor: str = ""  # who started the current attempt (a re-run: who re-ran it)

    @property
    def active(self) -> bool:
        return self.status != "completed"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WorkflowRun:
        return cls(
            id=int(d["id"]),
            name=str(d.get("name") or ""),
            event=str(d.get("event") or ""),
            status=str(d.get("status") or ""),
            conclusion=d.get("conclusion"),
            head_sha=str(d.get("head_sha") or ""),
            head_branch=str(d.get("head_branch") or ""),
            html_url=str(d.get("html_url") or ""),
            run_attempt=int(d.get("run_attempt") or 1),
            workflow_id=int(d.get("workflow_id") or 0),
            created_at=parse_time(d.get("created_at")),
            run_started_at=parse_time(d.get("run_started_at")),
            updated_at=parse_time(d.get("updated_at")),
            path=str(d.get("path") or ""),
            triggering_actor=_login(d.get("triggering_actor") or d.get("actor")),
        )


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    status: str
    conclusion: str | None
    html_url: str
    url: str = ""
    created_at: datetime | None = None  # queued
    started_at: datetime | None = None  # picked up by a runner
    completed_at: datetime | None = None
    run_id: int = 0
    run_attempt: int = 1

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Job:
        return cls(
            id=int(d["id"]),
            name=str(d.get("name") or ""),
            status=str(d.get("status") or ""),
            conclusion=d.get("conclusion"),
            html_url=str(d.get("html_url") or ""),
            url=str(d.get("url") or ""),
            created_at=parse_time(d.get("created_at")),
            started_at=parse_time(d.get("started_at")),
            completed_at=parse_time(d.get("completed_at")),
            run_id=int(d.get("run_id") or 0),
            run_attempt=int(d.get("run_attempt") or 1),
        )


@dataclass(frozen=True)
class Review:
    """A pull request review (``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED``...)."""

    id: int
    user: str
    state: str
    submitted_at: datetime | None
    html_url: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Review:
        return cls(
            id=int(d["id"]),
            user=_login(d.get("user")),
            state=str(d.get("state") or ""),
            submitted_at=parse_time(d.get("submitted_at")),
            html_url=str(d.get("html_url") or ""),
        )


@dataclass(frozen=True)
class Artifact:
    id: int
    name: str
    download_url: str  # the API's archive_download_url (a zip)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Artifact:
        return cls(int(d["id"]), str(d["name"]), str(d["archive_download_url"]))
