"""The step contract, over every registered step: unique names, documented, all in a plan."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import steps
from releaser.step import KINDS, Step
from steps import PLANS, all_steps


def step_classes() -> list[type[Step]]:
    found: list[type[Step]] = []
    for info in pkgutil.iter_modules(steps.__path__):
        module = importlib.import_module(f"steps.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            ours = issubclass(obj, Step) and obj is not Step and obj.__module__ == module.__name__
            if ours and not inspect.isabstract(obj) and obj.name:
                found.append(obj)
    return found


def test_every_stage_command_has_a_plan_in_release_order() -> None:
    from releaser.stages import STAGES

    assert tuple(PLANS) == STAGES
    assert list(PLANS) == [
        "start",
        "prepare",
        "tag",
        "build",
        "publish",
        "promote",
        "downstream",
        "merge",
        "next",
    ]


def test_step_names_are_unique_and_kebab_case() -> None:
    names = [step.name for _, step in all_steps()]
    assert len(names) == len(set(names)), f"duplicate step names: {names}"
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name), name


@pytest.mark.parametrize("pair", all_steps(), ids=lambda p: p[1].name)
def test_step_docstring_has_summary_why_and_by_hand(pair: tuple[str, Step]) -> None:
    doc = pair[1].doc()
    assert doc.summary and doc.summary.endswith("."), "one-line summary ending with a period"
    assert doc.why, "a 'Why:' part"
    assert doc.by_hand, "a 'By hand:' part"


@pytest.mark.parametrize("pair", all_steps(), ids=lambda p: p[1].name)
def test_step_kinds_are_valid(pair: tuple[str, Step]) -> None:
    step = pair[1]
    assert set(step.only) <= set(KINDS) and set(step.skip) <= set(KINDS)


def test_every_step_class_is_in_a_plan() -> None:
    planned = {type(step) for _, step in all_steps()}
    missing = [cls.__name__ for cls in step_classes() if cls not in planned]
    assert not missing, f"steps in no plan: {missing}"
