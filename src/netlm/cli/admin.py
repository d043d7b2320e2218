"""`netlm db`, `netlm user` and `netlm token`: set up the database and manage accounts and API
tokens from the server's shell.

All act on `NETLM_DATABASE_URL` (default: the embedded SQLite file under `NETLM_DATA_DIR`).
Errors are one line on stderr with exit code 2, never a traceback.
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.cells import cell_len

from netlm.cli.common import fail, pad
from netlm.settings import Settings, database_url

if TYPE_CHECKING:
    from netlm.store import Store, UserInfo
    from netlm.store.followup import FollowUpIn

# netlm.store (SQLAlchemy, Alembic) is imported inside the commands: `netlm assess` shares this
# command line and should not pay their import time.

FAILED = 2

db_app = typer.Typer(
    help="Set up, migrate, back up and restore the database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(
    help="Add, list, disable and unlock user accounts; link them to single sign-on.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(
    help="List and revoke API tokens.", no_args_is_help=True, pretty_exceptions_enable=False
)
follow_up_app = typer.Typer(
    help="Follow-up of a case: add and list dated events, or read them from a FHIR chart.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app.add_typer(follow_up_app, name="follow-up")


@contextmanager
def _errors_as_one_line(url: str | None = None) -> Iterator[None]:
    from sqlalchemy.exc import SQLAlchemyError

    from netlm.store import StoreError
    from netlm.store.backup import BackupError

    try:
        yield
    except (StoreError, BackupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(FAILED) from None
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        where = f" ({_shown(url)})" if url else ""
        typer.echo(f"database error{where}: {cause[0] if cause else type(exc).__name__}", err=True)
        raise typer.Exit(FAILED) from None


def _missing_sqlite(url: str) -> Path | None:
    """The SQLite file a URL names when it does not exist (checked before any connection,
    which would create it, and its folder, empty)."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


@contextmanager
def _store() -> Iterator["Store"]:
    """A store on the configured database, refusing to run on a missing or unmigrated one."""
    from netlm.store import Store, create_db_engine, current_revision, head_revision

    url = database_url()
    with _errors_as_one_line(url):
        if _missing_sqlite(url) is not None:
            raise ValueError(
                f"no database at {_shown(url)}; create it with `netlm db upgrade` (which makes "
                "that file), or point NETLM_DATA_DIR or NETLM_DATABASE_URL at the one you use"
            )
        if current_revision(url) != head_revision():
            raise ValueError(
                f"the database {_shown(url)} is not up to date; run `netlm db upgrade` first"
            )
        engine = create_db_engine(url)
        try:
            yield Store(engine)
        finally:
            engine.dispose()


@db_app.command("export-registry")
def db_export_registry(
    out: Annotated[Path, typer.Argument(help="Registry file to write (.parquet or .csv).")],
    center: Annotated[
        str | None, typer.Option("--center", help="Centre name for every row.")
    ] = None,
) -> None:
    """Write the board's cases, latest MDT decisions and follow-up in the registry format."""
    from netlm.registry.export import export_registry

    if out.suffix.lower() not in (".parquet", ".csv"):
        typer.echo(f"error: {out}: the registry must be a .parquet or .csv file", err=True)
        raise typer.Exit(FAILED)
    with _store() as store:
        count = export_registry(store, out, center)
    typer.echo(f"exported {count} cases to {out}")


def _acting(store: "Store", username: str) -> "UserInfo":
    """The account the CLI records as entering follow-up: a named, active clinician or admin."""
    user = next((u for u in store.list_users() if u.username == username), None)
    if user is None or user.disabled or user.role == "viewer":
        raise ValueError(f"--user: {username!r} is not an active clinician or admin account")
    return user


def _event(fields: dict[str, object]) -> "FollowUpIn":
    from pydantic import ValidationError

    from netlm.store.followup import FollowUpIn

    try:
        return FollowUpIn.model_validate({k: v for k, v in fields.items() if v not in (None, [])})
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()]
        raise fail(lines) from None


UserOption = Annotated[
    str, typer.Option("--user", help="Account recorded as entering it (clinician or admin).")
]


@follow_up_app.command("add")
def follow_up_add(
    case_id: str,
    kind: Annotated[str, typer.Argument(help="progression, death, last_contact or treatment.")],
    date: Annotated[str, typer.Argument(help="YYYY-MM-DD; a treatment's start.")],
    user: UserOption,
    criteria: Annotated[
        str | None,
        typer.Option(help="Progression: recist_1_1, choi, clinical, biochemical or other."),
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Treatment: an option code (repeat).")
    ] = None,
    stopped: Annotated[str | None, typer.Option(help="Treatment: when it stopped.")] = None,
    note: Annotated[str, typer.Option(help="Free text.")] = "",
    supersedes: Annotated[
        int | None, typer.Option(help="Id of the event of this case it corrects.")
    ] = None,
) -> None:
    """Record one follow-up event of a case; prints it as JSON."""
    event = _event({"kind": kind, "date": date, "criteria": criteria, "options": option or [],
                    "stopped": stopped, "note": note, "supersedes": supersedes})  # fmt: skip
    with _store() as store:
        saved = store.add_follow_up(case_id, event, _acting(store, user))
    typer.echo(saved.model_dump_json(indent=2))


@follow_up_app.command("list")
def follow_up_list(case_id: str) -> None:
    """Every follow-up event of a case as JSON, corrected ones included (`superseded_by`)."""
    with _store() as store:
        events = store.list_follow_up(case_id)
    typer.echo(json.dumps([e.model_dump(mode="json") for e in events], indent=2))


@follow_up_app.command("import")
def follow_up_import(
    case_id: str,
    bundle: Annotated[str, typer.Argument(help="FHIR R4 Bundle (JSON); - for stdin.")],
    user: UserOption,
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient id, when the Bundle holds several.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be stored; store nothing.")
    ] = False,
) -> None:
    """Read death, progression and treatments from a FHIR chart into a case's follow-up.

    What the chart holds but netlm cannot read is listed on stderr. Importing the chart again
    adds only what is new.
    """
    import datetime as dt

    from netlm.cli.common import SourceError, read_source, source_name
    from netlm.fhir.mapping import FhirMappingError
    from netlm.fhir.mapping.followup import follow_up_from_bundle, save_follow_up
    from netlm.model.parse import CaseInputError, load_json

    try:
        data = load_json(read_source(bundle))
        found = follow_up_from_bundle(data, on=dt.date.today(), patient_id=patient)
    except SourceError as exc:
        raise fail([str(exc)]) from None
    except CaseInputError as exc:
        raise fail([f"{source_name(bundle)}: {p}" for p in exc.problems]) from None
    except FhirMappingError as exc:
        raise fail([f"{source_name(bundle)}: {p}" for p in exc.problems]) from None
    for reason in found.not_used:
        typer.echo(f"not used: {reason}", err=True)
    if dry_run:
        for item in found.events:
            typer.echo(f"would add: {_line(item.event)}  ({item.source})")
        return
    with _store() as store:
        results = save_follow_up(store, case_id, found, _acting(store, user))
    for r in results:
        if r.stored is not None:
            typer.echo(f"added {r.stored.id}: {_line(r.stored)}  ({r.found.source})")
        else:
            typer.echo(f"skipped: {_line(r.found.event)}: {r.reason}")


def _line(event: "FollowUpIn") -> str:
    details = [event.criteria or "", "+".join(event.options),
               f"stopped {event.stopped}" if event.stopped else ""]  # fmt: skip
    return " ".join([str(event.date), event.kind, *(d for d in details if d)])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the schema on an empty database) and print the revision."""
    from netlm.store import current_revision, upgrade

    url = database_url()
    with _errors_as_one_line(url):
        upgrade(url)
        typer.echo(current_revision(url))


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
) -> None:
    """Write a consistent copy of the database while netlm runs (SQLite: its backup API;
    PostgreSQL: pg_dump's custom format). The file holds patient data: it is written 0600."""
    from netlm.store.backup import backup

    url = database_url()
    with _errors_as_one_line(url):
        if _missing_sqlite(url) is not None:
            raise ValueError(
                f"no database at {_shown(url)} to back up (create it with `netlm db upgrade`)"
            )
        result = backup(url, file)
    typer.echo(f"backed up the {result.kind} database (migration {result.revision}) to {file}")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `netlm db backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking.")
    ] = False,
) -> None:
    """Replace every netlm table of the database with the backup (PostgreSQL: in one
    transaction). The audit trail it replaces is kept in a file beside the backup and the
    restore is recorded in the restored trail. Stop the server first; run `netlm db upgrade`
    afterwards if the backup is from an older netlm."""
    from netlm.store import head_revision
    from netlm.store.backup import restore

    url = database_url()
    if not yes:
        if not sys.stdin.isatty():
            typer.echo("error: restore replaces the database; add --yes to confirm", err=True)
            raise typer.Exit(FAILED)
        typer.confirm(f"Replace the database {_shown(url)} with {file}?", abort=True)
    with _errors_as_one_line(url):
        result = restore(url, file)
        head = head_revision()
    typer.echo(f"restored the {result.kind} database from {file} (migration {result.revision})")
    if result.audit_saved is not None:
        typer.echo(f"kept the audit trail it replaced ({result.audit_rows} rows) in "
                   f"{result.audit_saved}")  # fmt: skip
    if result.revision != head:
        typer.echo(f"run `netlm db upgrade` to bring it to migration {head}")


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, clinician or viewer")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
    ] = False,
) -> None:
    """Add a user; the password is prompted for (hidden, twice) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store() as store:
        user = store.add_user(username, password, role, display_name)
    typer.echo(f"added {user.username} ({user.role})")


@user_app.command("list")
def user_list() -> None:
    """List users with their role and state; system accounts are explained below the table."""
    with _store() as store:
        users = store.list_users()
    rows = [
        (u.username, u.role, "system" if u.system else "disabled" if u.disabled else "active",
         u.display_name)
        for u in users
    ]  # fmt: skip
    header = ("username", "role", "state", "name")
    widths = [max(cell_len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (pad(cell, width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())
    if any(u.system for u in users):
        typer.echo(
            "\nsystem: an account netlm creates for a service (cds-hooks: the EHR integration) to "
            "record who made a change in versions and the audit trail; nobody can sign in as it "
            "or get a token for it."
        )


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: their sessions end, password login and API tokens stop working; the
    record stays."""
    with _store() as store:
        store.disable_user(username)
    typer.echo(f"disabled {username}")


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Lift the sign-in locks on a user (from every address); audited."""
    with _store() as store:
        addresses = store.unlock_user(username)
    typer.echo(f"unlocked {username}" + (f" ({', '.join(addresses)})" if addresses else ""))


@user_app.command("link-sso")
def user_link_sso(
    username: str,
    subject: Annotated[
        str, typer.Option(help="The user's subject (`sub`) at the hospital's OpenID provider.")
    ],
    issuer: Annotated[
        str | None, typer.Option(help="The provider's issuer URL; default NETLM_OIDC_ISSUER.")
    ] = None,
) -> None:
    """Let a user sign in with the hospital's single sign-on, as the provider's subject; audited.
    Replaces the user's earlier link; an identity links one user only."""
    from netlm.store.sso import SsoStore

    with _store() as store:
        issuer = issuer or Settings.from_env().oidc_issuer
        if not issuer:
            raise ValueError("give --issuer or set NETLM_OIDC_ISSUER")
        SsoStore(store.engine).link_sso(username, issuer, subject)
    typer.echo(f"linked {username} to {subject} at {issuer}")


@user_app.command("reset-mfa")
def user_reset_mfa(username: str) -> None:
    """Remove a user's TOTP second factor (a lost phone): they sign in with the password alone,
    then enrol again; audited."""
    with _store() as store:
        had = store.reset_totp(username)
    typer.echo(f"reset the second factor of {username}" if had else f"{username} had none")


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
) -> None:
    """List API tokens (never their values) with owner, expiry and state."""
    with _store() as store:
        tokens = store.list_tokens(user)
    rows = [
        (str(t.id), t.username, t.label, t.expires_at.strftime("%Y-%m-%d %H:%M"),
         "-" if t.last_used_at is None else t.last_used_at.strftime("%Y-%m-%d %H:%M"),
         "active" if t.active else "revoked" if t.revoked else "expired")
        for t in tokens
    ]  # fmt: skip
    header = ("id", "user", "label", "expires (UTC)", "last used (UTC)", "state")
    widths = [max(cell_len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (pad(cell, width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke an API token: it is refused at once by every server process; audited."""
    with _store() as store:
        store.revoke_token(token_id)
    typer.echo(f"revoked token {token_id}")
