"""Accounts on SQLite and PostgreSQL: server-side sessions, expiring and revocable tokens, login
throttling per (username, address) with back-off and admin unlock, the password length cap.

Findings of issue 8 (penetration test) reproduced here: sessions that outlive logout, tokens that
never expire or stay cached after revocation, a lockout any address could inflict on any user, and
passwords of any length hashed.
"""

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

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
    longest = "p" * 1024
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
