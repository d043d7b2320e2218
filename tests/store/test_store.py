"""The case store on SQLite and PostgreSQL: migrations, accounts, versioned cases, decisions, audit."""

import datetime as dt
import hashlib
import json
import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import inspect, text

from netlm import Case, assess, parse_case
from netlm.model.decision import DecisionIn
from netlm.store import (
    Conflict,
    InvalidCredentials,
    NotFound,
    Store,
    Throttled,
    UserInfo,
    ValidationFailed,
    create_db_engine,
    current_revision,
    head_revision,
    upgrade,
)
from netlm.store.models import Base
from tests.conftest import EXAMPLES
from tests.store.conftest import FAST_HASHER, PASSWORD, Clock, all_examples, changed, example

SCRIPT = "<script>alert(1)</script>"
TABLES = {
    "users",
    "api_tokens",
    "login_attempts",
    "web_sessions",
    "cases",
    "case_versions",
    "assessments",
    "decisions",
    "audit_log",
    "follow_up_events",
}


def raw(store: Store, sql: str, **params: Any) -> list[Any]:
    """Rows read straight from the database, bypassing the repository."""
    with store._sessions() as session:
        return list(session.execute(text(sql), params).all())


def audit_dump(store: Store) -> str:
    return json.dumps([e.__dict__ for e in store.audit_log(limit=1000)], default=str)


def decision(*options: str, reason: str | None = None, notes: str = "") -> DecisionIn:
    return DecisionIn.model_validate(
        {
            "decided_on": "2025-03-04",
            "chosen_options": list(options),
            "participants": ["Dr Surgeon", "Dr Oncologist"],
            "notes": notes,
            "override_reason": reason,
        }
    )


# --- migrations ---------------------------------------------------------------------------------


def test_upgrade_builds_the_schema_from_empty_and_twice_is_a_no_op(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision() == "0009"
    engine = create_db_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        Store(engine).add_user("keeper", PASSWORD, "viewer")
        upgrade(db_url)
        assert current_revision(db_url) == head_revision()
        assert [u.username for u in Store(engine).list_users()] == ["keeper"]
    finally:
        engine.dispose()


def test_assessments_stored_before_tiers_are_kept_and_readable(db_url: str) -> None:
    """Migration 0003: an assessment saved before tiers reads back with tier = rank."""
    upgrade(db_url, "0002")
    engine = create_db_engine(db_url)
    try:
        store = Store(engine, hasher=FAST_HASHER)
        case = example("03")
        old = assess(case).to_json_dict()
        for rec in old["recommendations"]:  # the shape netlm stored before tiers
            del rec["tier"], rec["order_basis"]
        del old["classification"]["net_or_nec_undecided"]
        with engine.begin() as connection:  # as netlm 0002 stored them (today's store cannot)
            connection.execute(
                text(
                    "INSERT INTO cases (id, created_at, created_by, updated_at, current_version,"
                    " primary_site, grade, liver_pattern, resectability, decision_pending)"
                    " VALUES ('v03', CURRENT_TIMESTAMP, 'keeper', CURRENT_TIMESTAMP, 1,"
                    " 'pancreas', 'G2', 'I', 'unresectable', TRUE)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO case_versions (case_id, version, data, comment, created_at,"
                    " created_by) VALUES ('v03', 1, :data, '', CURRENT_TIMESTAMP, 'keeper')"
                ),
                {"data": json.dumps(case.to_json_dict())},
            )
            connection.execute(
                text(
                    "INSERT INTO assessments (case_id, case_version, kb_version, kb_released,"
                    " data, created_at, created_by) VALUES ('v03', 1, '1.0.0', '2026-11-27',"
                    " :data, CURRENT_TIMESTAMP, 'keeper')"
                ),
                {"data": json.dumps(old)},
            )
        upgrade(db_url)
        found = store.latest_assessment("v03")
        assert found is not None
        recs = found[1].recommendations
        assert [r.option for r in recs] == [r["option"] for r in old["recommendations"]]
        assert all(r.tier == r.rank for r in recs)
        assert all("before tiers" in r.order_basis for r in recs)
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_orm_models(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_sqlite_file_and_folder_are_created_with_wal(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'netlm.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "a" / "b" / "netlm.db").is_file()


# --- users and authentication -------------------------------------------------------------------


def test_add_and_list_users(store: Store, alice: UserInfo, bob: UserInfo) -> None:
    assert alice == UserInfo(alice.id, "alice", "Dr Alice", "clinician", False)
    assert bob.display_name == "bob"
    assert [(u.username, u.role) for u in store.list_users()] == [
        ("alice", "clinician"),
        ("bob", "admin"),
    ]
    assert store.get_user(alice.id) == alice
    assert store.get_user(9999) is None


def test_duplicate_user_is_a_conflict(store: Store, alice: UserInfo) -> None:
    with pytest.raises(Conflict):
        store.add_user("alice", "another password", "viewer")
    assert len(store.list_users()) == 1


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("carol", PASSWORD, "superuser", "role must be one of"),
        ("carol", "short", "viewer", "at least 10 characters"),
        ("carol", "123456789", "viewer", "at least 10 characters"),
        ("bad name", PASSWORD, "viewer", "username"),
        ("", PASSWORD, "viewer", "username"),
    ],
)
def test_add_user_validates(
    store: Store, username: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.add_user(username, password, role)
    assert store.list_users() == []


def test_only_an_argon2id_hash_of_the_password_is_stored(store: Store, alice: UserInfo) -> None:
    ((stored,),) = raw(store, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert PASSWORD not in audit_dump(store)


def test_authenticate(store: Store, alice: UserInfo) -> None:
    assert store.authenticate("alice", PASSWORD, "10.0.0.1") == alice
    with pytest.raises(InvalidCredentials):
        store.authenticate("alice", PASSWORD + "x", "10.0.0.1")
    attempts = raw(store, "SELECT username, ip, success FROM login_attempts ORDER BY id")
    assert [tuple(a) for a in attempts] == [
        ("alice", "10.0.0.1", True),
        ("alice", "10.0.0.1", False),
    ]
    actions = [(e.action, e.username, e.entity_id) for e in store.audit_log(limit=2)]
    assert actions == [("login_failed", "(anonymous)", "alice"), ("login", "alice", "alice")]


def test_failures_do_not_reveal_whether_the_user_exists(store: Store, alice: UserInfo) -> None:
    store.add_user("dora", PASSWORD, "viewer")
    store.disable_user("dora")
    errors = []
    for username, password in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("dora", PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials) as caught:
            store.authenticate(username, password, "10.0.0.2")
        errors.append((type(caught.value), str(caught.value)))
    assert len(set(errors)) == 1
    details = [(e.action, e.username, e.detail) for e in store.audit_log(limit=3)]
    failed = {"ip": "10.0.0.2", "step": "password"}
    assert details == [("login_failed", "(anonymous)", failed)] * 3


def test_disabled_user_cannot_log_in(store: Store, alice: UserInfo, bob: UserInfo) -> None:
    store.disable_user("alice", by=bob)
    assert store.get_user(alice.id) == UserInfo(alice.id, "alice", "Dr Alice", "clinician", True)
    with pytest.raises(InvalidCredentials):
        store.authenticate("alice", PASSWORD, "10.0.0.1")
    entry = store.audit_log(entity_id="alice", limit=2)[1]
    assert (entry.action, entry.username, entry.entity) == ("user_disabled", "bob", "user")
    with pytest.raises(NotFound):
        store.disable_user("nobody")


def test_five_failures_throttle_the_username_from_that_address_even_for_the_right_password(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            store.authenticate("alice", "wrong password", "10.0.1.1")
    with pytest.raises(Throttled) as caught:
        store.authenticate("alice", PASSWORD, "10.0.1.1")
    assert 55 <= caught.value.retry_after <= 60  # the first lockout: one minute
    assert store.audit_log(limit=1)[0].detail == {"ip": "10.0.1.1", "reason": "throttled"}
    assert store.authenticate("alice", PASSWORD, "10.0.2.1") == alice  # from elsewhere: fine
    clock.advance(caught.value.retry_after)
    assert store.authenticate("alice", PASSWORD, "10.0.1.1") == alice


def test_failures_from_one_address_lock_out_no_other_user_there(
    store: Store, alice: UserInfo, clock: Clock
) -> None:
    """No per-address limit: a colleague behind the same address (NAT) is not locked out."""
    for n in range(5):
        for _ in range(5):
            with pytest.raises((InvalidCredentials, Throttled)):
                store.authenticate(f"guess{n}", PASSWORD, "10.9.9.9")
    with pytest.raises(Throttled):
        store.authenticate("guess0", PASSWORD, "10.9.9.9")
    assert store.authenticate("alice", PASSWORD, "10.9.9.9") == alice


def test_throttling_limits_are_configurable(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    store = Store(engine, max_failures=2, window_seconds=60)
    try:
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                store.authenticate("someone", "wrong password", "10.0.0.1")
        with pytest.raises(Throttled) as caught:
            store.authenticate("someone", "wrong password", "10.0.0.1")
        assert 1 <= caught.value.retry_after <= 60
    finally:
        engine.dispose()


def test_password_is_rehashed_when_parameters_change(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    try:
        weak = Store(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        weak.add_user("alice", PASSWORD, "clinician")
        ((before,),) = raw(weak, "SELECT password_hash FROM users")
        Store(engine).authenticate("alice", PASSWORD, "10.0.0.1")
        ((after,),) = raw(weak, "SELECT password_hash FROM users")
    finally:
        engine.dispose()
    assert after != before
    assert not PasswordHasher().check_needs_rehash(after)
    assert PasswordHasher().verify(after, PASSWORD)


# --- API tokens ---------------------------------------------------------------------------------


def test_token_lookup_and_only_its_digest_is_stored(store: Store, alice: UserInfo) -> None:
    token = store.create_token(alice, "laptop")
    assert len(token) >= 43
    assert store.user_for_token(token) == alice
    assert store.user_for_token(token + "x") is None
    assert store.user_for_token("") is None
    ((stored, label, used),) = raw(store, "SELECT token_hash, label, last_used_at FROM api_tokens")
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert (label, used is not None) == ("laptop", True)
    assert token not in audit_dump(store)
    (info,) = store.list_tokens("alice")
    assert (info.label, info.revoked, info.last_used_at is not None) == ("laptop", False, True)
    assert (info.username, info.active) == ("alice", True)


def test_revoked_token_or_disabled_user_finds_nobody(store: Store, alice: UserInfo) -> None:
    revoked, kept = store.create_token(alice, "old"), store.create_token(alice, "new")
    store.revoke_token(store.list_tokens("alice")[0].id, by=alice)
    assert store.user_for_token(revoked) is None
    assert store.user_for_token(kept) == alice
    store.disable_user("alice")
    assert store.user_for_token(kept) is None
    with pytest.raises(NotFound):
        store.create_token(alice, "after disabling")
    with pytest.raises(NotFound):
        store.revoke_token(9999)


# --- cases and versions -------------------------------------------------------------------------


def test_create_and_read_a_case(store: Store, alice: UserInfo) -> None:
    case = example("01")
    record = store.create_case(case, alice, comment="first look")
    assert (record.case_id, record.version, record.created_by) == ("v01", 1, "alice")
    assert record.created_at.tzinfo is not None
    read = store.get_case("v01")
    assert read.case == case
    assert (read.comment, read.current_version, read.deleted) == ("first look", 1, False)
    assert read.created_at == record.created_at
    assert store.create_case(case, alice).replayed  # a retry, not a second case
    with pytest.raises(NotFound):
        store.get_case("v99")
    with pytest.raises(NotFound):
        store.get_case("v01", version=2)


def test_an_edit_adds_a_version_and_keeps_the_old_one_byte_for_byte(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    original = example("03")
    store.create_case(original, alice)
    edited = changed(original, pathology={"ki67_percent": 25.5})
    record = store.update_case("v03", edited, bob, expected_version=1, comment="new biopsy")
    assert (record.version, record.created_by, record.comment) == (2, "bob", "new biopsy")
    assert store.get_case("v03").case == edited
    old = store.get_case("v03", version=1)
    assert json.dumps(old.case.to_json_dict()) == json.dumps(original.to_json_dict())
    ((stored,),) = raw(store, "SELECT data FROM case_versions WHERE version = 1")
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert json.dumps(stored) == json.dumps(original.to_json_dict())
    assert (old.version, old.current_version) == (1, 2)
    versions = store.case_versions("v03")
    assert [(v.version, v.created_by, v.comment) for v in versions] == [
        (1, "alice", ""),
        (2, "bob", "new biopsy"),
    ]
    (summary,) = store.list_cases()
    assert (summary.current_version, summary.grade) == (2, "G3")


def test_update_with_a_stale_version_is_a_conflict(store: Store, alice: UserInfo) -> None:
    case = example("02")
    store.create_case(case, alice)
    store.update_case("v02", changed(case, patient={"ecog": 1}), alice, expected_version=1)
    before = len(store.audit_log())
    with pytest.raises(Conflict, match="version 2"):
        store.update_case("v02", changed(case, patient={"ecog": 2}), alice, expected_version=1)
    assert store.get_case("v02").version == 2
    assert len(store.audit_log()) == before  # a refused write leaves no trace but the refusal
    assert store.update_case("v02", case, alice).version == 3  # no guard: always appends


def test_update_of_a_missing_case_or_with_another_id(store: Store, alice: UserInfo) -> None:
    with pytest.raises(NotFound):
        store.update_case("v01", example("01"), alice)
    store.create_case(example("01"), alice)
    with pytest.raises(ValueError, match="v02"):
        store.update_case("v01", example("02"), alice)


def test_concurrent_edits_with_the_same_expected_version_let_one_win(
    store: Store, alice: UserInfo
) -> None:
    case = example("07")
    store.create_case(case, alice)
    outcomes: list[str] = []

    def edit(ecog: int) -> None:
        try:
            store.update_case("v07", changed(case, patient={"ecog": ecog}), alice, 1)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert [v.version for v in store.case_versions("v07")] == [1, 2]


def test_soft_delete(store: Store, alice: UserInfo, bob: UserInfo) -> None:
    store.create_case(example("01"), alice)
    store.create_case(example("02"), alice)
    with pytest.raises(ValidationFailed) as caught:
        store.delete_case("v01", bob, "  ")
    assert caught.value.field == "reason"
    store.delete_case("v01", bob, "entered twice")
    with pytest.raises(NotFound):
        store.get_case("v01")
    assert [s.case_id for s in store.list_cases()] == ["v02"]
    deleted = [s for s in store.list_cases(include_deleted=True) if s.deleted]
    assert [s.case_id for s in deleted] == ["v01"]
    assert store.get_case("v01", include_deleted=True).deleted
    entry = store.audit_log(entity_id="v01", limit=1)[0]
    assert (entry.action, entry.username, entry.detail) == (
        "delete",
        "bob",
        {"reason": "entered twice"},
    )
    ((by, reason, at),) = raw(
        store, "SELECT deleted_by, delete_reason, deleted_at FROM cases WHERE id = 'v01'"
    )
    assert (by, reason, at is not None) == ("bob", "entered twice", True)
    with pytest.raises(Conflict):
        store.create_case(example("01"), alice)
    for attempt in (
        lambda: store.update_case("v01", example("01"), alice),
        lambda: store.delete_case("v01", bob, "again"),
        lambda: store.delete_case("v99", bob, "never existed"),
        lambda: store.case_versions("v01"),
    ):
        with pytest.raises(NotFound):
            attempt()


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def examples_stored(store: Store, alice: UserInfo) -> None:
    for case in all_examples():
        store.create_case(case, alice)


def ids(store: Store, **filters: Any) -> set[str]:
    return {s.case_id for s in store.list_cases(**filters)}


@pytest.mark.usefixtures("examples_stored")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"grade": "G1"}, {"v01", "v02", "v25"}),
        ({"grade": "NEC"}, {"v05", "v17", "v22"}),
        ({"liver_pattern": "I"}, {"v01", "v06", "v13", "v20", "v24", "v25"}),
        ({"liver_pattern": "unclassified"}, {"v05", "v18"}),
        ({"primary_site": "rectum"}, {"v05", "v08"}),
        (
            {"primary_site": "pancreas", "grade": "G2"},
            {"v06", "v10", "v13", "v14", "v21", "v24", "e09", "e10"},
        ),
        ({"text": "V0"}, {f"v0{n}" for n in range(1, 10)}),
        ({"text": "e1"}, {"e10", "e11"}),
        ({"text": "x' OR '1'='1"}, set()),
        ({"text": "' OR 1=1 --"}, set()),
        ({"text": "%"}, set()),
        ({"text": "_"}, set()),
        ({"text": "v0%"}, set()),
        ({"text": "'; DROP TABLE cases; --"}, set()),
        ({"grade": "G1' OR '1'='1"}, set()),
        ({"decision_pending": False}, set()),
    ],
)
def test_list_cases_filters(store: Store, filters: dict[str, Any], expected: set[str]) -> None:
    assert ids(store, **filters) == expected
    assert len(store.list_cases()) == len(EXAMPLES)  # nothing was dropped by an injected string


@pytest.mark.usefixtures("examples_stored")
def test_search_wildcards_only_match_themselves(store: Store, alice: UserInfo) -> None:
    store.create_case(parse_case({**example("01").to_json_dict(), "id": "a_b.c-1"}), alice)
    assert ids(store, text="_") == {"a_b.c-1"}
    assert ids(store, text="A_B") == {"a_b.c-1"}
    assert ids(store, text=".") == {"a_b.c-1"}


@pytest.mark.usefixtures("examples_stored")
def test_list_cases_pages_by_most_recent_change(store: Store, alice: UserInfo) -> None:
    store.update_case("v03", changed(example("03"), patient={"ecog": 1}), alice)
    first = store.list_cases(limit=4)
    assert first[0].case_id == "v03"
    rest = store.list_cases(limit=100, offset=4)
    assert len(first) + len(rest) == len(EXAMPLES)
    assert not {s.case_id for s in first} & {s.case_id for s in rest}
    assert first[0].updated_at >= first[1].updated_at


# --- assessments and decisions ------------------------------------------------------------------


def assessed(store: Store, case: Case, by: UserInfo) -> int:
    record = store.create_case(case, by)
    return store.save_assessment(case.id, record.version, assess(case), by)


def test_assessments_are_kept_per_version(store: Store, alice: UserInfo) -> None:
    case = example("04")
    first = assessed(store, case, alice)
    latest = store.latest_assessment("v04")
    assert latest is not None
    assert latest == (first, assess(case))
    (info,) = store.list_assessments("v04")
    assert (info.id, info.case_version, info.created_by) == (first, 1, "alice")
    assert (info.kb_version, info.kb_released) == (
        latest[1].knowledge_base.version,
        latest[1].knowledge_base.released,
    )
    edited = changed(case, pathology={"ki67_percent": 15})
    store.update_case("v04", edited, alice)
    assert store.latest_assessment("v04") is None  # the new version has not been assessed
    second = store.save_assessment("v04", 2, assess(edited), alice)
    assert [a.case_version for a in store.list_assessments("v04")] == [1, 2]
    assert store.latest_assessment("v04") == (second, assess(edited))
    (summary,) = store.list_cases()
    assert summary.grade == assess(edited).classification.grade == "G2"


def test_save_assessment_checks_its_target(store: Store, alice: UserInfo) -> None:
    case = example("04")
    store.create_case(case, alice)
    with pytest.raises(NotFound):
        store.save_assessment("v04", 2, assess(case), alice)
    with pytest.raises(ValueError, match="English"):
        store.save_assessment("v04", 1, assess(case, lang="zh"), alice)
    with pytest.raises(ValueError, match="v01"):
        store.save_assessment("v04", 1, assess(example("01")), alice)


def test_concordant_decision_clears_pending(store: Store, alice: UserInfo) -> None:
    assessment_id = assessed(store, example("01"), alice)
    assert ids(store, decision_pending=True) == {"v01"}
    saved = store.record_decision(
        "v01", decision("curative_resection", notes="R0 expected"), alice, assessment_id
    )
    assert saved.concordant
    assert (saved.case_version, saved.assessment_id, saved.created_by) == (
        1,
        assessment_id,
        "alice",
    )
    assert saved.override_reason is None
    assert saved.decided_on == dt.date(2025, 3, 4)
    assert ids(store, decision_pending=True) == set()
    assert ids(store, decision_pending=False) == {"v01"}
    assert store.list_decisions("v01") == [saved]
    store.update_case("v01", changed(example("01"), patient={"ecog": 1}), alice)
    assert ids(store, decision_pending=True) == {"v01"}  # a new version awaits a decision


def test_a_decision_keeps_its_version_its_dissent_and_its_recorder(
    store: Store, alice: UserInfo
) -> None:
    """The version a decision was made on stays with it after the case moves on; a dissent is
    its own column, blank is none; the recorder is named by display name."""
    assessment_id = assessed(store, example("01"), alice)
    made = decision("curative_resection").model_copy(update={"dissent": " Dr X: ablate \n"})
    saved = store.record_decision("v01", made, alice, assessment_id)
    assert (saved.dissent, saved.created_by_name) == ("Dr X: ablate", "Dr Alice")
    store.update_case("v01", changed(example("01"), patient={"ecog": 1}), alice)
    (listed,) = store.list_decisions("v01")
    assert (listed.case_version, listed.dissent, listed.created_by) == (1, "Dr X: ablate", "alice")
    assert listed.created_by_name == "Dr Alice"
    assert [v.created_by_name for v in store.case_versions("v01")] == ["Dr Alice", "Dr Alice"]
    store.save_assessment("v01", 2, assess(changed(example("01"), patient={"ecog": 1})), alice)
    blank = decision("curative_resection").model_copy(update={"dissent": "  "})
    assert store.record_decision("v01", blank, alice).dissent is None
    assert raw(store, "SELECT dissent FROM decisions ORDER BY id") == [("Dr X: ablate",), (None,)]


def test_a_proposed_option_outside_the_first_tier_needs_a_reason(
    store: Store, alice: UserInfo
) -> None:
    """v01 ranks resection first and ablation second: choosing ablation is concordant but the
    board says why it prefers the lower-ranked option."""
    assessment_id = assessed(store, example("01"), alice)
    with pytest.raises(ValidationFailed) as caught:
        store.record_decision("v01", decision("thermal_ablation"), alice, assessment_id)
    assert caught.value.field == "override_reason"
    saved = store.record_decision(
        "v01", decision("thermal_ablation", reason="patient prefers ablation"), alice, assessment_id
    )
    assert (saved.concordant, saved.override_reason) == (True, "patient prefers ablation")
    first = store.record_decision("v01", decision("curative_resection"), alice, assessment_id)
    assert (first.concordant, first.override_reason) == (True, None)


def test_discordant_decision_needs_an_override_reason(store: Store, alice: UserInfo) -> None:
    assessment_id = assessed(store, example("01"), alice)
    for reason in (None, "", "   "):
        with pytest.raises(ValidationFailed) as caught:
            store.record_decision(
                "v01", decision("curative_resection", "ssa", reason=reason), alice, assessment_id
            )
        assert caught.value.field == "override_reason"
        assert (
            caught.value.message
            == "required when the decision chooses an option outside the first tier"
        )
    assert store.list_decisions("v01") == []
    assert ids(store, decision_pending=True) == {"v01"}
    saved = store.record_decision(
        "v01", decision("ssa", reason="patient declines surgery"), alice, assessment_id
    )
    assert (saved.concordant, saved.override_reason) == (False, "patient declines surgery")
    assert ids(store, decision_pending=False) == {"v01"}


def test_decision_against_an_outdated_or_foreign_assessment(store: Store, alice: UserInfo) -> None:
    old = assessed(store, example("01"), alice)
    other = assessed(store, example("02"), alice)
    store.update_case("v01", changed(example("01"), patient={"ecog": 1}), alice)
    with pytest.raises(ValidationFailed) as caught:
        store.record_decision("v01", decision("curative_resection"), alice, old)
    assert caught.value.field == "assessment_id"
    with pytest.raises(NotFound):
        store.record_decision("v01", decision("curative_resection"), alice, other)
    with pytest.raises(NotFound):
        store.record_decision("v99", decision("ssa"), alice, None)


def test_a_version_without_its_stored_assessment_takes_no_decision(
    store: Store, alice: UserInfo
) -> None:
    """A case an older netlm stored before a crash could assess it: the decision could not be
    checked against the first tier, so it is refused until the case is reassessed."""
    store.create_case(example("05"), alice)
    with pytest.raises(Conflict, match="no stored assessment"):
        store.record_decision("v05", decision("platinum_etoposide"), alice)
    assert store.list_decisions("v05") == []
    store.save_assessment("v05", 1, assess(example("05")), alice)
    saved = store.record_decision("v05", decision("platinum_etoposide"), alice)
    assert saved.assessment_id is not None


def test_case_and_assessment_are_one_transaction(store: Store, alice: UserInfo) -> None:
    with pytest.raises(ValueError, match="v01"):
        store.create_case(example("05"), alice, assessment=assess(example("01")))
    with pytest.raises(NotFound):
        store.get_case("v05")  # nothing half-stored
    record = store.create_case(example("05"), alice, assessment=assess(example("05")))
    assert [a.case_version for a in store.list_assessments("v05")] == [1]
    with pytest.raises(ValueError, match="v01"):
        store.update_case(
            "v05",
            changed(example("05"), patient={"ecog": 1}),
            alice,
            assessment=assess(example("01")),
        )
    assert store.get_case("v05").version == record.version == 1


def test_a_retried_create_returns_the_stored_case(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    first = store.create_case(example("05"), alice, assessment=assess(example("05")))
    again = store.create_case(example("05"), alice, assessment=assess(example("05")))
    assert (again.replayed, again.version, again.case) == (True, 1, first.case)
    assert len(store.list_assessments("v05")) == 1  # nothing stored twice
    with pytest.raises(Conflict):
        store.create_case(changed(example("05"), patient={"ecog": 2}), alice)
    with pytest.raises(Conflict):
        store.create_case(example("05"), bob)  # someone else's case with the same id


# --- audit and untrusted text -------------------------------------------------------------------


def test_every_mutation_and_every_attributed_read_is_audited(
    store: Store, alice: UserInfo, bob: UserInfo
) -> None:
    case = example("06")
    store.create_case(case, alice)
    store.get_case("v06")  # anonymous internal read: not audited
    store.get_case("v06", by=bob)
    store.update_case("v06", changed(case, patient={"ecog": 1}), alice)
    assessment_id = store.save_assessment("v06", 2, assess(store.get_case("v06").case), alice)
    store.record_decision("v06", decision("curative_resection"), alice, assessment_id)
    store.audit(bob, "report", "case", "v06", {"format": "pdf"})
    store.delete_case("v06", bob, "test record")
    trail = [(e.action, e.username, e.entity) for e in reversed(store.audit_log(entity_id="v06"))]
    assert trail == [
        ("create", "alice", "case"),
        ("read", "bob", "case"),
        ("update", "alice", "case"),
        ("assess", "alice", "case"),
        ("decide", "alice", "case"),
        ("report", "bob", "case"),
        ("delete", "bob", "case"),
    ]
    versions = [e.detail.get("version") for e in store.audit_log(entity_id="v06")]
    assert versions == [None, None, 2, 2, 2, 1, 1]
    everything = {e.action for e in store.audit_log()}
    assert {"user_added"} <= everything
    store.create_token(alice, "ci")
    store.authenticate("alice", PASSWORD, "10.0.0.1")
    latest = [(e.action, e.entity, e.user_id) for e in store.audit_log(limit=2)]
    assert latest == [("login", "session", alice.id), ("token_created", "token", alice.id)]
    assert all(e.at.tzinfo is not None for e in store.audit_log())


def test_audit_entries_are_newest_first_and_limited(store: Store, alice: UserInfo) -> None:
    for n in range(5):
        store.audit(alice, "report", "case", f"c{n}")
    assert [e.entity_id for e in store.audit_log(limit=3)] == ["c4", "c3", "c2"]
    (entry,) = store.audit_log(entity_id="c1")
    assert (entry.user_id, entry.detail) == (alice.id, {})


def test_script_text_is_stored_and_returned_unchanged(store: Store) -> None:
    author = store.add_user("mallory", PASSWORD, "clinician", display_name=SCRIPT)
    assert author.display_name == SCRIPT
    case = example("01")
    store.create_case(case, author, comment=SCRIPT)
    assessment_id = store.save_assessment("v01", 1, assess(case), author)
    saved = store.record_decision(
        "v01",
        DecisionIn.model_validate(
            {
                "decided_on": "2025-03-04",
                "chosen_options": ["ssa"],
                "participants": [SCRIPT],
                "notes": SCRIPT + "\n" + "' OR '1'='1",
                "override_reason": SCRIPT,
            }
        ),
        author,
        assessment_id,
    )
    (reread,) = store.list_decisions("v01")
    assert reread == saved
    assert (reread.participants, reread.override_reason) == ([SCRIPT], SCRIPT)
    assert reread.notes == SCRIPT + "\n" + "' OR '1'='1"
    assert store.get_case("v01").comment == SCRIPT
    assert store.list_users()[0].display_name == SCRIPT
    store.delete_case("v01", author, SCRIPT)
    assert store.audit_log(limit=1)[0].detail == {"reason": SCRIPT}


def test_ping(store: Store) -> None:
    store.ping()


def test_token_revoked_or_owner_disabled_elsewhere_is_refused_at_once(db_url: str) -> None:
    """Two stores on one database stand in for two workers: no cache lets a token through."""
    upgrade(db_url)
    here, elsewhere = Store(create_db_engine(db_url)), Store(create_db_engine(db_url))
    try:
        user = here.add_user("cached", "long enough password", "viewer")
        revoked, kept = here.create_token(user, "t1"), here.create_token(user, "t2")
        assert here.user_for_token(revoked) == here.user_for_token(kept) == user
        elsewhere.revoke_token(elsewhere.list_tokens("cached")[0].id)
        assert here.user_for_token(revoked) is None
        assert here.user_for_token(kept) == user
        elsewhere.disable_user("cached")
        assert here.user_for_token(kept) is None
    finally:
        here.engine.dispose()
        elsewhere.engine.dispose()
