"""The reliability trial (GitHub issue 15) as tests: each trial of bench/reliability.py is a
test here, counted by the same functions (tests/reliability/trial.py).

The fast tier runs a sample on a short reference (start and prepare of the demo's release);
the full tier (``slow``) runs every crash point, fault seed, race, take-over, bad input, dry
run and the secret scan on the whole release. The reference is made once per worker process.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability import bad_inputs, crash, dry_runs, faults, races, secrets_scan
from tests.reliability.trial import FAULT_TRIALS, scratch

SHORT = ("start", "prepare")


def _slow_selected(config: pytest.Config) -> bool:
    """Whether the exhaustive trial runs (its reference release is made at collection)."""
    markexpr = str(config.getoption("markexpr", "") or "")
    return "not slow" not in markexpr and "not trial" not in markexpr


def _full(config: pytest.Config) -> crash.Reference | None:
    return crash.reference(scratch("reference")) if _slow_selected(config) else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = ("full_crash", "full_fault", "full_race", "full_take_over", "full_bad", "full_dry")
    wanted = [n for n in names if n in metafunc.fixturenames]
    if not wanted:
        return
    ref = _full(metafunc.config)
    trials: list[tuple[str, Any, tuple[Any, ...]]] = []
    if ref is not None:
        trials = {
            "full_crash": [(p.id, crash.run_trial_at, (str(ref.root), p)) for p in ref.points],
            "full_fault": faults.trials(ref, FAULT_TRIALS),
            "full_race": races.race_trials(ref),
            "full_take_over": races.take_over_trials(ref),
            "full_bad": bad_inputs.trials(ref),
            "full_dry": dry_runs.trials(ref),
        }[wanted[0]]
    metafunc.parametrize(wanted[0], [t[2] for t in trials], ids=[t[0] for t in trials])


@pytest.fixture(scope="module")
def short() -> Iterator[crash.Reference]:
    root = scratch("short")
    crash._REFERENCE.pop(",".join(SHORT), None)
    try:
        yield crash.reference(root, SHORT)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _holds(failure: str | None) -> None:
    assert failure is None, failure


# -- the fast tier: a sample ---------------------------------------------------------------------


def test_the_reference_writes_in_every_stage_it_ran(short: crash.Reference) -> None:
    stages = {p.stage for p in short.points}
    assert stages == set(SHORT)
    assert {p.variant for p in short.points} == {"error", "error_after"}
    paths = [p.path for p in short.points]
    assert any(p.endswith("/pulls") for p in paths) and any(p.endswith("/issues") for p in paths)


@pytest.mark.parametrize("index", range(0, 22, 5))
def test_a_crash_point_converges(short: crash.Reference, index: int) -> None:
    points = short.points
    if index >= len(points):
        pytest.skip("fewer points")
    _holds(crash.run_trial_at(str(short.root), points[index]))


def test_prepare_converges_through_transient_faults(short: crash.Reference) -> None:
    _holds(faults.run_trial_at(str(short.root), "prepare", 1))


def test_two_drivers_racing_on_prepare(short: crash.Reference) -> None:
    _holds(races.run_race_at(str(short.root), "prepare", "same-stage"))


@pytest.mark.parametrize(
    "case", [c for c in bad_inputs.CASES if c.at == "start"][::5], ids=lambda c: c.id
)
def test_a_bad_input(short: crash.Reference, case: bad_inputs.Case) -> None:
    _holds(bad_inputs.run_case_at(str(short.root), case))


@pytest.mark.parametrize("stage", SHORT)
def test_a_dry_run_writes_nothing(short: crash.Reference, stage: str) -> None:
    _holds(dry_runs.run_dry_at(str(short.root), stage, stage))


def test_secret_forms_include_basic_auth_and_url_encoding() -> None:
    forms = secrets_scan.variants("ghp_a/b+c")
    assert "ghp_a%2Fb%2Bc" in forms
    assert any(f.startswith("eC1hY2Nlc3MtdG9rZW46") for f in forms)  # "x-access-token:"


def test_the_bad_input_table_is_large_enough() -> None:
    assert len(bad_inputs.CASES) >= 60
    assert len({c.id for c in bad_inputs.CASES}) == len(bad_inputs.CASES)


# -- the full tier: every trial ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.trial
def test_crash_point(full_crash: tuple[Any, ...]) -> None:
    _holds(crash.run_trial_at(*full_crash))


@pytest.mark.slow
@pytest.mark.trial
def test_transient_faults(full_fault: tuple[Any, ...]) -> None:
    _holds(faults.run_trial_at(*full_fault))


@pytest.mark.slow
@pytest.mark.trial
def test_race(full_race: tuple[Any, ...]) -> None:
    _holds(races.run_race_at(*full_race))


@pytest.mark.slow
@pytest.mark.trial
def test_take_over(full_take_over: tuple[Any, ...]) -> None:
    _holds(races.run_take_over_at(*full_take_over))


@pytest.mark.slow
@pytest.mark.trial
def test_bad_input(full_bad: tuple[Any, ...]) -> None:
    _holds(bad_inputs.run_case_at(*full_bad))


@pytest.mark.slow
@pytest.mark.trial
def test_dry_run(full_dry: tuple[Any, ...]) -> None:
    _holds(dry_runs.run_dry_at(*full_dry))


@pytest.mark.slow
@pytest.mark.trial
def test_no_secret_leaks() -> None:
    ref = crash.reference(scratch("reference"))
    assert secrets_scan.scan_at(str(ref.root)) == []
