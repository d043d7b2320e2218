"""Accounts on SQLite and PostgreSQL: server-side sessions, expiring and revocable tokens, login
throttling per (username, address) and per account with back-off and admin unlock, the password
length cap and policy, password change, the TOTP second factor.

Findings of issue 8 (penetration test) reproduced here: sessions that outlive logout, tokens that
never expire or stay cached after revocation, a lockout any address could inflict on any user, and
passwords of any length hashed. Of issue 17: 80 guesses from 20 addresses refused nothing, a NAT
neighbour could lock the user out, any 10 characters passed as a password, no change, no MFA.
"""

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from typer.testing import CliRunner

from netlm.cli.admin import user_app
from netlm.store import (
    InvalidCredentials,
    NotFound,
    Store,
    Throttled,
    UserInfo,
    ValidationFailed,
    create_db_engine,
    upgrade,
)
from tests.store.conftest import FAST_HASHER, PASSWORD, Clock

IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=8)
MINUTE = 60


def raw(store: Store, sql: str) -> list[Any]:
    with store._sessions() as session:
        return list(session.execute(text(sql)).all())


@pytest.fixture
def elsewhere(store: Store, db_url: str, clock: Clock) -> Iterator[Store]:
    """A second store on the same database: another worker process, as far as state goes."""
    engine = create_db_engine(db_url)
    yield Store(engine, clock=clock, hasher=FAST_HASHER)
    engine.dispose()


# --- browser sessions ---------------------------------------------------------------------------


def test_session_is_found_by_its_secret_and_only_the_digest_is_stored(
    store: Store, alice: UserInfo
) -> None:
    secret, started = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    found = store.web_session(secret, IDLE)
    assert found == started
    assert (found.user, len(found.csrf) >= 43) == (alice, True)
    assert store.web_session(secret + "x", IDLE) is None
    ((digest, ip, ended),) = raw(store, "SELECT session_hash, ip, ended_at FROM web_sessions")
    assert (digest, ip, ended) == (hashlib.sha256(secret.encode()).hexdigest(), "10.0.0.1", None)
    assert secret not in str(raw(store, "SELECT * FROM audit_log"))


def test_logout_ends_the_session_in_every_worker(
    store: Store, elsewhere: Store, alice: UserInfo
) -> None:
    secret, session = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    other_secret, _ = store.start_web_session(alice, "10.0.0.2", LIFETIME)
    assert elsewhere.web_session(secret, IDLE) == session
    store.end_web_session(session)
    assert elsewhere.web_session(secret, IDLE) is None
    assert store.web_session(secret, IDLE) is None
    assert store.web_session(other_secret, IDLE) is not None  # only that session ended
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.username, entry.entity) == ("logout", "alice", "session")


def test_idle_session_times_out(store: Store, alice: UserInfo, clock: Clock) -> None:
    secret, _ = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    for _ in range(3):  # activity keeps it alive well past the idle limit
        clock.advance(29 * MINUTE)
        assert store.web_session(secret, IDLE) is not None
    clock.advance(30 * MINUTE)
    assert store.web_session(secret, IDLE) is None
    clock.advance(-60 * MINUTE)  # ended for good, not merely idle at the moment
    assert store.web_session(secret, IDLE) is None
    ((ended,),) = raw(store, "SELECT ended_at FROM web_sessions")
    assert ended is not None


def test_a_short_idle_timeout_never_ends_a_session_in_use(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    """With a one-minute idle timeout, a request every 40 seconds keeps the session: the last
    request is written often enough for the timeout to see it."""
    secret, _ = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    short = dt.timedelta(minutes=1)
    for _ in range(10):
        clock.advance(40)
        assert store.web_session(secret, short) is not None
    clock.advance(61)
    assert store.web_session(secret, short) is None


def test_session_ends_after_its_lifetime_however_active(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    secret, _ = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    for _ in range(47):
        clock.advance(10 * MINUTE)
        assert store.web_session(secret, IDLE) is not None
    clock.advance(10 * MINUTE)  # 8 h after sign-in
    assert store.web_session(secret, IDLE) is None


def test_last_seen_is_written_at_most_once_a_minute(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    secret, _ = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    ((started,),) = raw(store, "SELECT last_seen_at FROM web_sessions")
    clock.advance(30)
    store.web_session(secret, IDLE)
    assert raw(store, "SELECT last_seen_at FROM web_sessions") == [(started,)]
    clock.advance(31)
    store.web_session(secret, IDLE)
    assert raw(store, "SELECT last_seen_at FROM web_sessions") != [(started,)]


def test_disabling_a_user_ends_their_sessions_at_once(
    store: Store, elsewhere: Store, alice: UserInfo, bob: UserInfo
) -> None:
    secret, _ = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    kept, _ = store.start_web_session(bob, "10.0.0.1", LIFETIME)
    assert store.web_session(secret, IDLE) is not None
    elsewhere.disable_user("alice", by=bob)
    assert store.web_session(secret, IDLE) is None
    assert store.web_session(kept, IDLE) is not None
    ended = raw(store, f"SELECT ended_at FROM web_sessions WHERE user_id = {alice.id}")
    assert ended[0][0] is not None


# --- API tokens ---------------------------------------------------------------------------------


def test_token_expires(store: Store, alice: UserInfo, clock: Clock) -> None:
    token = store.create_token(alice, "short", days=1)
    clock.advance(24 * 3600 - MINUTE)
    assert store.user_for_token(token) == alice
    clock.advance(2 * MINUTE)
    assert store.user_for_token(token) is None
    (info,) = store.list_tokens("alice")
    assert (info.active, info.revoked) == (False, False)


def test_tokens_last_90_days_unless_told(store: Store, alice: UserInfo, clock: Clock) -> None:
    store.create_token(alice, "default")
    (info,) = store.list_tokens("alice")
    assert info.expires_at - info.created_at == dt.timedelta(days=90)
    assert store.audit_log(limit=1)[0].detail == {
        "label": "default",
        "expires_at": info.expires_at.isoformat(),
    }
    with pytest.raises(ValueError, match="at least one day"):
        store.create_token(alice, "never", days=0)


def test_revoked_token_is_refused_at_once_by_another_worker(
    store: Store, elsewhere: Store, alice: UserInfo
) -> None:
    token = store.create_token(alice, "laptop")
    assert elsewhere.user_for_token(token) == alice
    (info,) = store.list_tokens("alice")
    store.revoke_token(info.id, by=alice)
    assert elsewhere.user_for_token(token) is None
    assert store.list_tokens("alice")[0].revoked


def test_tokens_are_listed_per_user_or_all(store: Store, alice: UserInfo, bob: UserInfo) -> None:
    store.create_token(alice, "a")
    store.create_token(bob, "b")
    assert [(t.username, t.label) for t in store.list_tokens()] == [("alice", "a"), ("bob", "b")]
    assert [t.label for t in store.list_tokens("bob")] == ["b"]
    with pytest.raises(NotFound):
        store.list_tokens("nobody")


def test_only_own_tokens_can_be_revoked_unless_admin(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    token = store.create_token(bob, "bob's")
    (info,) = store.list_tokens("bob")
    with pytest.raises(NotFound):
        store.revoke_token(info.id, by=alice, only_own=True)
    for absent in (0, 9999, 2**63):
        with pytest.raises(NotFound):
            store.revoke_token(absent, by=bob)
    assert store.user_for_token(token) == bob
    store.revoke_token(info.id, by=bob)  # the caller decides who may revoke any token
    assert store.user_for_token(token) is None
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.username, entry.detail) == (
        "token_revoked",
        "bob",
        {"owner": "bob"},
    )


# --- login throttling ---------------------------------------------------------------------------


def fail(store: Store, times: int, username: str = "alice", ip: str = "10.6.6.6") -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            store.authenticate(username, "wrong password", ip)


def retry_after(store: Store, username: str = "alice", ip: str = "10.6.6.6") -> int:
    with pytest.raises(Throttled) as caught:
        store.authenticate(username, PASSWORD, ip)
    return caught.value.retry_after


def test_lockout_is_per_username_and_address(store: Store, alice: UserInfo) -> None:
    fail(store, 5)
    assert 55 <= retry_after(store) <= 60
    assert store.authenticate("alice", PASSWORD, "10.0.0.1") == alice  # the real user, elsewhere
    fail(store, 5, username="bob")  # another account from the attacker's address: its own count
    assert retry_after(store, "bob") <= 60


def test_back_off_doubles_up_to_an_hour(store: Store, alice: UserInfo, clock: Clock) -> None:
    fail(store, 5)
    waits = [retry_after(store)]
    for _ in range(8):
        clock.advance(waits[-1])
        fail(store, 1)
        waits.append(retry_after(store))
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    locks = [e for e in store.audit_log(entity_id="alice") if e.action == "login_locked"]
    assert [e.detail["failures"] for e in reversed(locks)] == list(range(5, 14))
    assert {(e.username, e.detail["ip"]) for e in locks} == {("(anonymous)", "10.6.6.6")}


def test_a_quiet_window_or_a_success_starts_the_count_again(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    fail(store, 4)
    clock.advance(15 * MINUTE)
    fail(store, 4)
    assert store.authenticate("alice", PASSWORD, "10.6.6.6") == alice
    fail(store, 4)
    assert store.authenticate("alice", PASSWORD, "10.6.6.6") == alice
    assert store.locked_logins() == []


def test_unknown_usernames_are_locked_out_alike(store: Store, alice: UserInfo) -> None:
    fail(store, 5, username="nobody")
    fail(store, 5, username="alice")
    assert 55 <= retry_after(store, "nobody") <= 60
    assert 55 <= retry_after(store, "alice") <= 60
    audited = [(e.action, e.username, e.entity_id) for e in store.audit_log(limit=4)]
    assert audited == [
        ("login_failed", "(anonymous)", "alice"),  # the throttled attempts
        ("login_failed", "(anonymous)", "nobody"),
        ("login_locked", "(anonymous)", "alice"),
        ("login_failed", "(anonymous)", "alice"),
    ]
    assert [(lock.username, lock.failures) for lock in store.locked_logins()] == [
        ("alice", 5),
        ("nobody", 5),
    ]


class CountingHasher(PasswordHasher):
    """FAST_HASHER's parameters, counting the hashes and checks it does."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.calls: list[str] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls.append("hash")
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls.append("verify")
        return super().verify(hash, password)


@pytest.fixture
def counted(db_url: str, clock: Clock) -> Iterator[tuple[Store, CountingHasher]]:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    hasher = CountingHasher()
    yield Store(engine, clock=clock, hasher=hasher), hasher
    engine.dispose()


def test_unknown_user_and_wrong_password_cost_one_hash_check_each(
    counted: tuple[Store, CountingHasher],
) -> None:
    store, hasher = counted
    store.add_user("alice", PASSWORD, "viewer")
    with pytest.raises(InvalidCredentials):  # the first unknown user makes the dummy hash
        store.authenticate("nobody", PASSWORD, "10.0.0.1")
    for username in ("alice", "nobody", "alice", "nobody"):
        hasher.calls.clear()
        with pytest.raises(InvalidCredentials):
            store.authenticate(username, "wrong password", "10.0.0.1")
        assert hasher.calls == ["verify"]


def test_admin_unlock_lifts_the_locks_and_is_audited(
    store: Store, alice: UserInfo, bob: UserInfo, clock: Clock
) -> None:
    fail(store, 5, ip="10.6.6.6")
    fail(store, 5, ip="10.6.6.7")
    fail(store, 5, username="carol", ip="10.6.6.6")
    assert [(lock.username, lock.ip) for lock in store.locked_logins("alice")] == [
        ("alice", "10.6.6.6"),
        ("alice", "10.6.6.7"),
    ]
    assert store.unlock_user("alice", by=bob) == ["10.6.6.6", "10.6.6.7"]
    assert store.authenticate("alice", PASSWORD, "10.6.6.6") == alice
    assert [(lock.username, lock.ip) for lock in store.locked_logins()] == [("carol", "10.6.6.6")]
    fail(store, 4, ip="10.6.6.7")  # the count starts again after an unlock
    assert store.authenticate("alice", PASSWORD, "10.6.6.7") == alice
    (entry,) = [e for e in store.audit_log(entity_id="alice") if e.action == "login_unlocked"]
    assert (entry.username, entry.entity, entry.detail) == (
        "bob",
        "user",
        {"addresses": ["10.6.6.6", "10.6.6.7"]},
    )
    with pytest.raises(NotFound):
        store.unlock_user("nobody", by=bob)


# --- password length ----------------------------------------------------------------------------


def test_over_long_password_is_refused_without_hashing(
    counted: tuple[Store, CountingHasher],
) -> None:
    store, hasher = counted
    longest = (PASSWORD + " ") * 50
    longest = longest[:1024]
    store.add_user("alice", longest, "viewer")
    assert store.authenticate("alice", longest, "10.0.0.1").username == "alice"
    hasher.calls.clear()
    for username in ("alice", "nobody"):
        with pytest.raises(ValidationFailed) as caught:
            store.authenticate(username, longest + "p", "10.0.0.1")
        assert (caught.value.field, caught.value.message) == (
            "password",
            "must be at most 1024 characters",
        )
    with pytest.raises(ValidationFailed):
        store.add_user("bob", longest + "p", "viewer")
    assert hasher.calls == []
    assert len(raw(store, "SELECT id FROM login_attempts")) == 1  # only the successful login


# --- per-account ceiling (issue 17) -------------------------------------------------------------


def guess_from_many_addresses(store: Store, guesses: int, addresses: int = 20) -> list[int]:
    """Wrong passwords for alice, round-robin over `addresses`; the Retry-After of each refusal."""
    refused = []
    for i in range(guesses):
        try:
            store.authenticate("alice", "wrong password", f"10.9.{i % addresses}.1")
        except Throttled as exc:
            refused.append(exc.retry_after)
        except InvalidCredentials:
            pass
    return refused


def test_guesses_from_many_addresses_hit_the_account_ceiling(store: Store, alice: UserInfo) -> None:
    refused = guess_from_many_addresses(store, 80)  # 4 per address: no pair reaches its limit
    assert len(refused) == 60  # only the first 20 guesses were checked
    (alert,) = [e for e in store.audit_log(entity_id="alice") if e.action == "login_ceiling"]
    assert (alert.username, alert.detail["failures"], alert.detail["addresses"]) == (
        "(anonymous)",
        20,
        20,
    )
    assert [(lock.ip, lock.failures) for lock in store.locked_logins("alice")] == [("*", 20)]


def test_the_account_back_off_doubles_up_to_15_minutes_and_never_locks(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    guess_from_many_addresses(store, 20)
    waits = []
    for i in range(12):
        wait = guess_from_many_addresses(store, 1, addresses=1)
        waits.append(wait[0])
        clock.advance(wait[0])
        with pytest.raises(InvalidCredentials):  # once the wait is over, one guess is checked
            store.authenticate("alice", "wrong password", f"10.8.{i}.1")
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    clock.advance(900)
    assert store.authenticate("alice", PASSWORD, "10.7.0.1") == alice  # slowed, never shut out


def test_a_trusted_browser_on_the_attackers_nat_address_still_signs_in(
    store: Store, alice: UserInfo
) -> None:
    """The rule: attempts from a browser alice signed in from before (its signed cookie's digest,
    `device`) are counted on their own, so others' failures, at her NAT address or anywhere, never
    make her wait there; an untrusted browser waits at most an hour (pair) or 15 minutes
    (account), never indefinitely, and an admin's unlock lifts both at once."""
    fail(store, 5, ip="10.0.0.99")  # someone behind the same NAT address
    guess_from_many_addresses(store, 40)  # and a botnet
    assert retry_after(store, ip="10.0.0.99") > 0
    assert store.authenticate("alice", PASSWORD, "10.0.0.99", device="d" * 64) == alice
    for _ in range(5):  # the trusted browser's own guesses are throttled like a pair's
        with pytest.raises(InvalidCredentials):
            store.authenticate("alice", "wrong password", "10.0.0.99", device="e" * 64)
    with pytest.raises(Throttled):
        store.authenticate("alice", PASSWORD, "10.0.0.99", device="e" * 64)
    assert store.authenticate("alice", PASSWORD, "10.0.0.99", device="d" * 64) == alice


def test_admin_unlock_lifts_the_account_back_off(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    guess_from_many_addresses(store, 21)
    assert store.unlock_user("alice", by=bob) == ["*"]
    assert store.authenticate("alice", PASSWORD, "10.7.0.1") == alice


# --- password policy and change ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("password12", "too easy to guess (strength 1 of 4, at least 3 needed)"),
        (" " * 10, "too easy to guess (strength 0 of 4, at least 3 needed)"),
        ("carol.smith-2026!", "must not contain the user name or display name"),
        ("Smithsonian lantern 9", "must not contain the user name or display name"),
        ("short", "must be at least 10 characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_problem_named(
    store: Store, password: str, problem: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        store.add_user("carol.smith", password, "viewer", display_name="Carol Smith")
    assert caught.value.field == "password"
    assert caught.value.message.startswith(problem)
    assert store.list_users() == []


def test_password_change_checks_both_and_ends_the_other_sessions(
    store: Store, alice: UserInfo
) -> None:
    kept_secret, kept = store.start_web_session(alice, "10.0.0.1", LIFETIME)
    other, _ = store.start_web_session(alice, "10.0.0.2", LIFETIME)
    new = "violet umbrella quarry 42"
    with pytest.raises(InvalidCredentials):
        store.change_password(alice, "wrong password", new, "10.0.0.1", kept.id)
    with pytest.raises(ValidationFailed) as caught:
        store.change_password(alice, PASSWORD, "password12", "10.0.0.1", kept.id)
    assert caught.value.field == "password"
    store.change_password(alice, PASSWORD, new, "10.0.0.1", kept.id)
    assert store.web_session(other, IDLE) is None
    assert store.web_session(kept_secret, IDLE) == kept
    with pytest.raises(InvalidCredentials):
        store.authenticate("alice", PASSWORD, "10.0.0.1")
    assert store.authenticate("alice", new, "10.0.0.1") == alice
    (entry,) = [e for e in store.audit_log(entity_id="alice") if e.action == "password_changed"]
    assert (entry.username, entry.detail) == ("alice", {"ip": "10.0.0.1"})


# --- TOTP second factor --------------------------------------------------------------------------


def enrol(store: Store, user: UserInfo, clock: Clock) -> pyotp.TOTP:
    totp = pyotp.parse_uri(store.begin_totp(user))
    assert isinstance(totp, pyotp.TOTP)
    with pytest.raises(ValidationFailed) as caught:
        store.confirm_totp(user, "000000" if totp.at(clock()) != "000000" else "111111")
    assert caught.value.field == "code"
    store.confirm_totp(user, totp.at(clock()))
    return totp


def test_totp_is_a_second_step_and_each_code_works_once(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    totp = enrol(store, alice, clock)
    clock.advance(30)
    user = store.authenticate("alice", PASSWORD, "10.0.0.1")
    assert user.mfa
    code = totp.at(clock())
    assert store.verify_totp(user, code, "10.0.0.1") == user
    with pytest.raises(InvalidCredentials):  # replayed within its window
        store.verify_totp(user, code, "10.0.0.1")
    actions = [e.action for e in store.audit_log(entity_id="alice", limit=4)]
    assert actions == ["login_failed", "login", "login_password", "mfa_enrolled"]


def test_knowing_the_password_does_not_reset_the_count_of_code_guesses(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    enrol(store, alice, clock)
    user = store.authenticate("alice", PASSWORD, "10.6.6.6")  # 1
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            store.verify_totp(user, "12345x", "10.6.6.6")  # 2, 4
        store.authenticate("alice", PASSWORD, "10.6.6.6")  # 3, 5
    with pytest.raises(Throttled):
        store.verify_totp(user, "123456", "10.6.6.6")


def test_an_admin_resets_a_lost_second_factor(
    store: Store, alice: UserInfo, bob: UserInfo, clock: Clock
) -> None:
    enrol(store, alice, clock)
    assert store.reset_totp("alice", by=bob) is True
    assert not store.authenticate("alice", PASSWORD, "10.0.0.1").mfa
    assert store.reset_totp("alice", by=bob) is False
    with pytest.raises(NotFound):
        store.reset_totp("nobody", by=bob)


def test_cli_refuses_a_weak_password_and_resets_a_second_factor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    for key, value in {"NETLM_DATABASE_URL": url, "NETLM_DATA_DIR": str(tmp_path),
                       "NETLM_SECRET_KEY": "test-secret"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    upgrade(url)
    add = ["add", "carol", "--role", "admin", "--password-stdin"]
    weak = CliRunner().invoke(user_app, add, input="password12\n")
    assert weak.exit_code == 2
    assert weak.stderr.startswith("error: password: too easy to guess (strength 1 of 4")
    assert CliRunner().invoke(user_app, add, input=PASSWORD + "\n").exit_code == 0
    engine = create_db_engine(url)
    try:
        store, clock = Store(engine, hasher=FAST_HASHER), Clock()
        enrol(store, store.authenticate("carol", PASSWORD, "10.0.0.1"), clock)
        reset = CliRunner().invoke(user_app, ["reset-mfa", "carol"])
        assert reset.stdout == "reset the second factor of carol\n"
        assert not store.authenticate("carol", PASSWORD, "10.0.0.1").mfa
        assert CliRunner().invoke(user_app, ["reset-mfa", "carol"]).stdout == "carol had none\n"
        (entry, *_) = [e for e in store.audit_log(entity_id="carol") if e.action == "mfa_reset"]
        assert (entry.username, entry.detail) == ("(system)", {"had_second_factor": False})
    finally:
        engine.dispose()
