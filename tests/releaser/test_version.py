"""Version parsing, release kinds, ordering, template fields and derived versions."""

from __future__ import annotations

import random

import pytest

from releaser.errors import UsageError
from releaser.version import KINDS, Version, VersionError, check_kinds, template_fields

GOOD = [
    # text, major, minor, patch, pre, str
    ("v0.18.0", 0, 18, 0, None, "0.18.0"),
    ("0.18.0", 0, 18, 0, None, "0.18.0"),
    ("v0.18.0-rc1", 0, 18, 0, "rc1", "0.18.0-rc1"),
    ("v0.18.1", 0, 18, 1, None, "0.18.1"),
    ("1.2.3-rc.2", 1, 2, 3, "rc.2", "1.2.3-rc.2"),
    ("v1.2.3-beta1", 1, 2, 3, "beta1", "1.2.3-beta1"),
    ("10.20.30", 10, 20, 30, None, "10.20.30"),
    ("1.0.0-alpha.1.x-y", 1, 0, 0, "alpha.1.x-y", "1.0.0-alpha.1.x-y"),
    ("0.0.0", 0, 0, 0, None, "0.0.0"),
    ("0.19.0-dev", 0, 19, 0, "dev", "0.19.0-dev"),
    (" v1.2.3\n", 1, 2, 3, None, "1.2.3"),  # surrounding whitespace from copy-paste
]

BAD = [
    # text, words expected in the message
    ("v1", "1 numeric part"),
    ("1.2", "2 numeric parts"),
    ("1.2.3.4", "4 numeric parts"),
    ("v1.2.3-", "no pre-release suffix"),
    ("latest", "not X.Y.Z"),
    ("", "empty"),
    ("01.2.3", "leading zero"),
    ("1.02.3", "leading zero"),
    ("1.2.3+build.5", "build metadata"),
    ("V1.2.3", "lowercase"),
    ("1.2.3-rc..1", "pre-release suffix"),
    ("1.2.3-01", "pre-release suffix"),
    ("1.2.3-rc_1", "pre-release suffix"),
    ("vv1.2.3", "not X.Y.Z"),
    ("v1.2.3 -rc1", "is not"),
    ("1.2.3" + "-rc" * 40, "longer than"),
    ("-1.2.3", "not X.Y.Z"),
]


@pytest.mark.parametrize(("text", "major", "minor", "patch", "pre", "shown"), GOOD)
def test_parse_good(text: str, major: int, minor: int, patch: int, pre: str | None, shown: str):
    v = Version.parse(text)
    assert (v.major, v.minor, v.patch, v.pre) == (major, minor, patch, pre)
    assert str(v) == shown
    assert v.v == "v" + shown
    assert Version.parse(str(v)) == v
    assert Version.parse(v.v) == v


@pytest.mark.parametrize(("text", "words"), BAD)
def test_parse_bad(text: str, words: str):
    with pytest.raises(VersionError) as info:
        Version.parse(text)
    exc = info.value
    assert isinstance(exc, UsageError)
    assert exc.exit_code == 2
    assert repr(text.strip()) in exc.message or repr(text) in exc.message
    assert words in exc.message
    assert exc.hint is not None
    for form in ("v1.2.3", "1.2.3", "v1.2.3-rc1"):
        assert form in exc.hint


def test_parse_rejects_non_text():
    with pytest.raises(VersionError):
        Version.parse(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kinds", "kind", "is_rc", "is_patch", "is_final"),
    [
        ("v0.18.0-rc1", {"rc"}, "rc", True, False, False),
        ("v0.18.0", {"final"}, "final", False, False, True),
        ("v0.18.1", {"final", "patch"}, "patch", False, True, True),
        ("v0.18.1-rc1", {"rc", "patch"}, "rc", True, True, False),
        ("v1.0.0-beta.2", {"rc"}, "rc", True, False, False),
    ],
)
def test_kinds(text: str, kinds: set[str], kind: str, is_rc: bool, is_patch: bool, is_final: bool):
    v = Version.parse(text)
    assert v.kinds == frozenset(kinds)
    assert v.kind == kind
    assert (v.is_rc, v.is_patch, v.is_final) == (is_rc, is_patch, is_final)
    assert v.kinds <= set(KINDS)


@pytest.mark.parametrize(
    ("text", "only", "skip", "applies"),
    [
        ("v0.18.0", None, None, True),
        ("v0.18.0", [], [], True),
        ("v0.18.0", ["final"], ["patch"], True),  # Kubo's reddit post
        ("v0.18.1", ["final"], ["patch"], False),
        ("v0.18.0-rc1", ["final"], ["patch"], False),
        ("v0.18.0-rc1", ["rc"], None, True),
        ("v0.18.1-rc1", ["rc"], ["patch"], False),
        ("v0.18.1-rc1", ["patch"], None, True),
        ("v0.18.1", None, ["rc"], True),
        ("v0.18.0", ["rc", "patch"], None, False),
    ],
)
def test_matches(text: str, only: list[str] | None, skip: list[str] | None, applies: bool):
    assert Version.parse(text).matches(only, skip) is applies


def test_matches_rejects_unknown_kind():
    with pytest.raises(UsageError, match="unknown release kind 'major'"):
        Version.parse("1.0.0").matches(["major"], None)
    with pytest.raises(UsageError, match="skip"):
        check_kinds(["rc", "minor"], "skip")


def test_ordering_semver_precedence():
    ordered = [
        "0.9.9",
        "0.18.0-1",
        "0.18.0-alpha",
        "0.18.0-alpha.1",
        "0.18.0-alpha.beta",
        "0.18.0-beta2",
        "0.18.0-beta10",
        "0.18.0-rc1",
        "0.18.0-rc2",
        "0.18.0-rc10",
        "0.18.0",
        "0.18.1-rc1",
        "0.18.1",
        "0.19.0-dev",
        "0.19.0",
        "1.0.0",
        "2.0.0",
        "10.0.0",
    ]
    versions = [Version.parse(t) for t in ordered]
    shuffled = versions[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled) == versions
    assert Version.parse("0.18.0-rc2") < Version.parse("0.18.0-rc10")
    assert Version.parse("0.18.0-rc1") < Version.parse("0.18.0")
    assert Version.parse("1.0.0") >= Version.parse("1.0.0")
    assert Version.parse("v1.0.0") == Version.parse("1.0.0")
    assert max(versions) == Version.parse("10.0.0")
    assert len({Version.parse("v1.2.3"), Version.parse("1.2.3")}) == 1


def test_ordering_against_other_types():
    with pytest.raises(TypeError):
        _ = Version.parse("1.0.0") < "1.0.1"
    assert Version.parse("1.0.0") != "1.0.0"


def test_fields_and_format():
    v = Version.parse("v0.18.0-rc1")
    assert v.fields() == {
        "version": "0.18.0-rc1",
        "base": "0.18.0",
        "major": 0,
        "minor": 18,
        "patch": 0,
        "pre": "rc1",
        "next_minor": 19,
        "next_major": 1,
        "release_line": "0.18",
        "next_dev": "0.19.0-dev",
    }
    assert Version.parse("1.2.3").fields()["pre"] == ""
    assert v.format("release-v{major}.{minor}") == "release-v0.18"
    assert v.format("docs/changelogs/v{major}.{minor}.md") == "docs/changelogs/v0.18.md"
    assert v.format("v{version}") == "v0.18.0-rc1"
    assert v.format("{base}{pre}") == "0.18.0rc1"
    assert v.format("bump-v{next_dev}", dev_suffix="alpha") == "bump-v0.19.0-alpha"
    assert v.format("{name} v{version}", name="Kubo") == "Kubo v0.18.0-rc1"
    assert v.format("literal {{braces}} {version}") == "literal {braces} 0.18.0-rc1"


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("v{vesion}", "unknown field {vesion}"),
        ("{}", "not a field name"),
        ("{0}", "not a field name"),
        ("{version.__class__}", "not a field name"),
        ("{version", "bad template"),
        ("version}", "bad template"),
    ],
)
def test_format_errors(template: str, words: str):
    with pytest.raises(UsageError) as info:
        Version.parse("1.2.3").format(template)
    assert words in info.value.message
    assert info.value.exit_code == 2


def test_template_fields():
    assert template_fields("release-v{major}.{minor}") == ["major", "minor"]
    assert template_fields("no fields") == []
    with pytest.raises(ValueError):
        template_fields("{a[0]}")


def test_derived_versions():
    v = Version.parse("v0.18.1-rc2")
    assert v.base == "0.18.1"
    assert v.release_line == "0.18"
    assert v.final == Version.parse("0.18.1")
    assert v.next_dev() == Version(0, 19, 0, "dev")
    assert str(v.next_dev("pre")) == "0.19.0-pre"
    assert v.previous_final() == Version.parse("0.18.0")
    assert Version.parse("0.18.0").previous_final() is None
    assert Version.parse("1.9.0").next_dev() == Version.parse("1.10.0-dev")
    assert repr(v) == "Version('0.18.1-rc2')"


def test_constructor_validates():
    with pytest.raises(VersionError):
        Version(1, -1, 0)
    with pytest.raises(VersionError):
        Version(1, 0, 0, "bad suffix")
    with pytest.raises(AttributeError):
        Version(1, 0, 0).major = 2  # type: ignore[misc]
