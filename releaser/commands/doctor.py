"""`releaser doctor`: is this machine ready to drive a release of this project?

One table: each check, its status (ok / missing / invalid; warning and unchecked don't fail),
what was found, and how to fix it. Tools (git, gpg when signing), every credential the config
names (where it comes from, never its value), the GitHub token with a real read call and its
scopes, the repository and push permission, the GPG key in the keyring and on the forge
account. The checks live in ``releaser.doctor_checks``, keyed by config section, so service
clients add theirs there. Returns False (exit 1) when anything is missing or invalid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from releaser.doctor_checks import (
    CHECKS,
    INVALID,
    MISSING,
    OK,
    UNCHECKED,
    WARN,
    Row,
    section_configured,
    unchecked_services,
)

if TYPE_CHECKING:
    from releaser.context import Context

__all__ = ["collect_rows", "run_doctor"]

STYLE = {OK: "green", MISSING: "bold red", INVALID: "bold red", WARN: "yellow", UNCHECKED: "dim"}


def collect_rows(ctx: Context) -> list[Row]:
    """Run every registered check whose section is configured, in registration order."""
    rows: list[Row] = []
    for section, check in CHECKS:
        if not section_configured(ctx, section):
            continue
        name = getattr(check, "__name__", "check")
        ctx.ui.debug(f"doctor: {name} ({section or 'always'})")
        try:
            rows.extend(check(ctx))
        except Exception as exc:  # a broken check is a row, not a traceback over the table
            rows.append(
                Row(
                    name.replace("_", " "),
                    INVALID,
                    f"the check itself failed: {type(exc).__name__}: {exc}",
                    "run with -v for details; report it if it persists",
                )
            )
            if ctx.ui.verbose:
                import traceback

                ctx.ui.debug(traceback.format_exc())
    rows.extend(unchecked_services(ctx))
    return rows


def run_doctor(ctx: Context) -> bool:
    """Print the table; True when nothing is missing or invalid."""
    ctx.ui.print(
        f"[bold]releaser doctor[/bold]: {escape(ctx.repo_name)} "
        f"[dim]({escape(str(ctx.config.path))})[/dim]"
    )
    rows = collect_rows(ctx)
    table = Table(title=None, show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("how to fix", overflow="fold")
    for row in rows:
        style = STYLE.get(row.status, "")
        table.add_row(
            escape(row.check),
            f"[{style}]{row.status}[/{style}]",
            escape(row.detail),
            escape(row.fix) if row.status != OK else "",
        )
    ctx.ui.print(table)
    failing = [r for r in rows if r.failing]
    counts = {s: sum(1 for r in rows if r.status == s) for s in (OK, MISSING, INVALID, WARN)}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if failing:
        ctx.ui.print(
            f"[bold red]not ready[/bold red]: {summary}. Fix the rows above "
            "(`releaser env` writes a .env template), then run `releaser doctor` again."
        )
        return False
    ctx.ui.print(f"[green]ready[/green]: {summary}")
    return True
