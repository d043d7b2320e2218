"""Single sign-on links in the store (SQLite and PostgreSQL) and `netlm user link-sso`."""

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlm.cli.admin import db_app, user_app
from netlm.store import Conflict, NotFound, Store, UserInfo
from netlm.store.sso import SsoStore

ISSUER = "https://idp.hospital.example"


def test_a_linked_identity_finds_its_user_until_disabled(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    sso = SsoStore(store.engine)
    assert sso.user_for_sso(ISSUER, "a-1") is None
    sso.link_sso("alice", ISSUER, "a-1", by=bob)
    assert sso.user_for_sso(ISSUER, "a-1") == alice
    assert sso.user_for_sso("https://other.example", "a-1") is None  # the subject is per issuer
    entry = store.audit_log("alice", limit=1)[0]
    assert (entry.action, entry.username, entry.detail) == (
        "sso_linked", "bob", {"issuer": ISSUER, "subject": "a-1"}
    )  # fmt: skip
    sso.link_sso("alice", ISSUER, "a-2")  # a new link replaces the old one
    assert sso.user_for_sso(ISSUER, "a-1") is None
    assert sso.user_for_sso(ISSUER, "a-2") == alice
    store.disable_user("alice")
    assert sso.user_for_sso(ISSUER, "a-2") is None


def test_an_identity_links_one_user_only(store: Store, alice: UserInfo, bob: UserInfo) -> None:
    sso = SsoStore(store.engine)
    sso.link_sso("alice", ISSUER, "a-1")
    with pytest.raises(Conflict, match="already linked to user 'alice'"):
        sso.link_sso("bob", ISSUER, "a-1")
    with pytest.raises(NotFound):
        sso.link_sso("nobody", ISSUER, "n-1")
    with pytest.raises(ValueError, match="subject must be 1-255"):
        sso.link_sso("bob", ISSUER, "x" * 256)


def test_link_sso_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETLM_DATABASE_URL", f"sqlite:///{tmp_path}/netlm.db")
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NETLM_SECRET_KEY", "test-secret")
    runner = CliRunner()
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    added = runner.invoke(user_app, ["add", "li", "--role", "viewer", "--password-stdin"],
                          input="a long enough password\n")  # fmt: skip
    assert added.exit_code == 0
    missing = runner.invoke(user_app, ["link-sso", "li", "--subject", "s-1"])
    assert (missing.exit_code, missing.stderr) == (
        2, "error: give --issuer or set NETLM_OIDC_ISSUER\n"
    )  # fmt: skip
    monkeypatch.setenv("NETLM_OIDC_ISSUER", ISSUER)
    linked = runner.invoke(user_app, ["link-sso", "li", "--subject", "s-1"])
    assert (linked.exit_code, linked.stdout) == (0, f"linked li to s-1 at {ISSUER}\n")
    unknown = runner.invoke(user_app, ["link-sso", "nobody", "--subject", "s-2"])
    assert (unknown.exit_code, unknown.stderr) == (2, "error: user 'nobody' not found\n")


def test_a_session_records_whether_its_sign_in_carried_a_second_factor(
    store: Store, alice: UserInfo
) -> None:
    lifetime, idle = dt.timedelta(hours=1), dt.timedelta(minutes=30)
    plain, started = store.start_web_session(alice, "10.0.0.1", lifetime)
    two, with_two = store.start_web_session(alice, "10.0.0.1", lifetime, second_factor=True)
    assert (started.second_factor, with_two.second_factor) == (False, True)
    found, found_two = store.web_session(plain, idle), store.web_session(two, idle)
    assert found is not None
    assert found_two is not None
    assert (found.second_factor, found_two.second_factor) == (False, True)
