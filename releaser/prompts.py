"""The only place that asks the operator (questionary, imported on first use).

Callers decide first whether asking is allowed (``Options.interactive``); in non-interactive
mode the engine turns a question into exit 3 instead of calling these.
"""

from __future__ import annotations

from releaser.errors import Interrupted


def _answer(question: object) -> object:
    answer = question.ask()  # type: ignore[attr-defined]
    if answer is None:  # Ctrl-C inside questionary
        raise Interrupted("interrupted at a prompt", "re-run the same command: it is safe")
    return answer


def confirm(message: str, default: bool = False) -> bool:
    import questionary

    return bool(_answer(questionary.confirm(message, default=default)))


def choose(message: str, choices: list[str]) -> str:
    import questionary

    return str(_answer(questionary.select(message, choices=choices)))


def text(message: str, default: str = "") -> str:
    import questionary

    return str(_answer(questionary.text(message, default=default)))


def secret(message: str) -> str:
    """A hidden prompt, for a credential missing from the environment and .env."""
    import questionary

    return str(_answer(questionary.password(message)))
