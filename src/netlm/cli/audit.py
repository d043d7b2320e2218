"""`netlm audit`: check that the audit trail is intact, and export it for a SIEM.

Both act on `NETLM_DATABASE_URL`, like `netlm db`. `verify` exits 1 naming the first bad row
when any row was changed, removed or added outside the chain; errors are one line, exit 2.
"""

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from netlm.cli.admin import _errors_as_one_line, _store

audit_app = typer.Typer(
    help="Verify the audit trail's hash chain; export it as JSON lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
BROKEN = 1


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain from the first row; exit 1 naming the first row that was changed,
    removed or inserted outside the chain."""
    from netlm.store import verify_chain

    with _store() as store, _errors_as_one_line():
        report = verify_chain(store.engine)
    if report.problem is not None:
        typer.echo(f"audit trail broken: {report.problem} ({report.rows} rows intact before it)",
                   err=True)  # fmt: skip
        raise typer.Exit(BROKEN)
    typer.echo(f"audit trail intact: {report.rows} rows, head {report.head}")


@audit_app.command("export")
def audit_export(
    since: Annotated[
        dt.datetime | None,
        typer.Option("--since", help="Only rows at or after this time (UTC unless it says)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write the audit trail as JSON lines, oldest first: one object per row with stable keys
    (id, seq, at, user_id, username, role, address, via, action, entity, entity_id, outcome,
    detail, prev_hash, row_hash)."""
    from netlm.store.audit import export
    from netlm.store.db import private_file

    start = since.replace(tzinfo=dt.UTC) if since and since.tzinfo is None else since
    with _store() as store, _errors_as_one_line():
        if output is None:
            export(store.engine, sys.stdout, start)
            return
        private_file(output)  # user names, addresses and case ids: owner only
        with output.open("w", encoding="utf-8") as out:
            count = export(store.engine, out, start)
    typer.echo(f"exported {count} audit rows to {output}", err=True)
