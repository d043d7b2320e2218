"""`netlm db`, `netlm user` and `netlm token`, in process (CliRunner) and as real subprocesses.

The subprocess tests use `netlm` itself once the main app mounts the admin commands, and until
then a two-line host app around the same Typer apps, so they pass either way.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlm.cli.admin import db_app, token_app, user_app
from netlm.store import InvalidCredentials, Store, Throttled, create_db_engine

NETLM = Path(sys.executable).parent / "netlm"
PASSWORD = "a long enough password"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of an installation whose database is a fresh SQLite file."""
    values = {
        "NETLM_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'netlm.db'}",
        "NETLM_DATA_DIR": str(tmp_path / "data"),
        "NETLM_SECRET_KEY": "test-secret",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **values}


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run(args: list[str], stdin: str = "") -> CliResult:
    """`netlm db|user|token ...` in process, on the apps as they will be mounted."""
    app = {"db": db_app, "user": user_app, "token": token_app}[args[0]]
    result = CliRunner().invoke(app, args[1:], input=stdin)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def test_upgrade_then_manage_users(env: dict[str, str]) -> None:
    first = run(["db", "upgrade"])
    assert (first.code, first.stdout) == (0, "0009\n")
    assert run(["db", "upgrade"]).stdout == "0009\n"
    added = run(
        ["user", "add", "alice", "--role", "clinician", "--password-stdin"], PASSWORD + "\n"
    )
    assert (added.code, added.stdout) == (0, "added alice (clinician)\n")
    run(
        ["user", "add", "bob", "--role", "viewer", "--display-name", "Bob B", "--password-stdin"],
        PASSWORD,
    )
    listing = run(["user", "list"])
    assert listing.code == 0
    assert [line.split() for line in listing.stdout.splitlines()] == [
        ["username", "role", "state", "name"],
        ["alice", "clinician", "active", "alice"],
        ["bob", "viewer", "active", "Bob", "B"],
    ]
    assert run(["user", "disable", "bob"]).stdout == "disabled bob\n"
    assert run(["user", "list"]).stdout.splitlines()[-1].split() == [
        "bob",
        "viewer",
        "disabled",
        "Bob",
        "B",
    ]
    engine = create_db_engine(env["NETLM_DATABASE_URL"])
    try:
        store = Store(engine)
        assert store.authenticate("alice", PASSWORD, "127.0.0.1").role == "clinician"
        assert [u.display_name for u in store.list_users()] == ["alice", "Bob B"]
        assert PASSWORD not in str([e.detail for e in store.audit_log()])
    finally:
        engine.dispose()


def test_unlock_a_user_and_list_and_revoke_tokens(env: dict[str, str]) -> None:
    run(["db", "upgrade"])
    run(["user", "add", "alice", "--role", "clinician", "--password-stdin"], PASSWORD)
    run(["user", "add", "bob", "--role", "viewer", "--password-stdin"], PASSWORD)
    engine = create_db_engine(env["NETLM_DATABASE_URL"])
    try:
        store = Store(engine)
        for _ in range(5):
            with pytest.raises(InvalidCredentials):
                store.authenticate("alice", "wrong password", "10.6.6.6")
        with pytest.raises(Throttled):
            store.authenticate("alice", PASSWORD, "10.6.6.6")
        assert run(["user", "unlock", "alice"]).stdout == "unlocked alice (10.6.6.6)\n"
        alice = store.authenticate("alice", PASSWORD, "10.6.6.6")
        token = store.create_token(alice, "laptop")
        store.create_token(store.authenticate("bob", PASSWORD, "10.0.0.1"), "ci")
        listing = run(["token", "list"])
        lines = [line.split() for line in listing.stdout.splitlines()]
        assert lines[0] == [
            "id",
            "user",
            "label",
            "expires",
            "(UTC)",
            "last",
            "used",
            "(UTC)",
            "state",
        ]
        assert [(row[0], row[1], row[2], row[-1]) for row in lines[1:]] == [
            ("1", "alice", "laptop", "active"),
            ("2", "bob", "ci", "active"),
        ]
        assert token not in listing.stdout
        assert run(["token", "revoke", "1"]).stdout == "revoked token 1\n"
        assert store.user_for_token(token) is None  # at once, for every process
        only_alice = run(["token", "list", "--user", "alice"]).stdout.splitlines()
        assert [line.split()[-1] for line in only_alice[1:]] == ["revoked"]
        actions = [e.action for e in store.audit_log(limit=20)]
        assert {"login_locked", "login_unlocked", "token_revoked"} <= set(actions)
    finally:
        engine.dispose()
    assert run(["token", "revoke", "99"]).stderr == "error: token 99 not found\n"
    assert run(["user", "unlock", "nobody"]).stderr == "error: user 'nobody' not found\n"
    assert run(["token", "list", "--user", "nobody"]).code == 2


def test_password_prompt_asks_twice(env: dict[str, str]) -> None:
    run(["db", "upgrade"])
    result = run(["user", "add", "carol", "--role", "admin"], f"{PASSWORD}\n{PASSWORD}\n")
    assert result.code == 0, result.stderr
    assert "added carol (admin)" in result.stdout
    assert PASSWORD not in result.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "dan", "--role", "root", "--password-stdin"], PASSWORD, "role must be"),
        (["user", "add", "dan", "--role", "viewer", "--password-stdin"], "short", "at least 10"),
        (["user", "add", "dan", "--role", "viewer", "--password-stdin"], "", "at least 10"),
        (["user", "add", "alice", "--role", "viewer", "--password-stdin"], PASSWORD, "exists"),
        (["user", "disable", "nobody"], "", "not found"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    run(["db", "upgrade"])
    run(["user", "add", "alice", "--role", "viewer", "--password-stdin"], PASSWORD)
    result = run(args, stdin)
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_user_commands_on_an_unmigrated_database_say_what_to_do(env: dict[str, str]) -> None:
    result = run(["user", "list"])
    assert result.code == 2
    url = env["NETLM_DATABASE_URL"]
    assert result.stderr.startswith(
        f"error: no database at {url}; create it with `netlm db upgrade`"
    )


def test_unreachable_database_is_one_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETLM_DATABASE_URL", "postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    result = run(["db", "upgrade"])
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    shown = "postgresql+psycopg://nobody:***@127.0.0.1:1/none"  # the URL, never its password
    assert result.stderr.startswith(f"database error ({shown}): ")


# --- real processes -----------------------------------------------------------------------------


def _process(
    prefix: list[str], args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_admin_commands_as_processes(env: dict[str, str]) -> None:
    prefix = [str(NETLM)]
    upgraded = _process(prefix, ["db", "upgrade"], env)
    assert (upgraded.returncode, upgraded.stdout) == (0, "0009\n"), upgraded.stderr
    added = _process(
        prefix,
        ["user", "add", "alice", "--role", "admin", "--password-stdin"],
        env,
        PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    tokens = _process(prefix, ["token", "list"], env)
    assert (tokens.returncode, tokens.stdout.split()[:3]) == (0, ["id", "user", "label"])
    assert _process(prefix, ["user", "unlock", "alice"], env).stdout == "unlocked alice\n"
    assert _process(prefix, ["user", "disable", "alice"], env).returncode == 0
    listing = _process(prefix, ["user", "list"], env)
    assert listing.stdout.splitlines()[1].split() == ["alice", "admin", "disabled", "alice"]
    bad = _process(
        prefix, ["user", "add", "eve", "--role", "superuser", "--password-stdin"], env, PASSWORD
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "error: role must be one of: admin, clinician, viewer; got 'superuser'"
    ]
    assert bad.stdout == ""


def test_user_list_explains_system_accounts(env: dict[str, str]) -> None:
    run(["db", "upgrade"])
    engine = create_db_engine(env["NETLM_DATABASE_URL"])
    try:
        Store(engine).service_account("cds-hooks", "CDS Hooks (EHR integration)", "clinician")
    finally:
        engine.dispose()
    lines = run(["user", "list"]).stdout.splitlines()
    assert lines[1].split()[:3] == ["cds-hooks", "clinician", "system"]
    assert lines[-1].startswith("system: an account netlm creates for a service")
    assert "nobody can sign in as it" in lines[-1]
