"""`Store`: the one interface of the case store, returning plain data instead of ORM rows.

Every method is one transaction, and every mutation writes its audit row in that transaction,
so the trail can never disagree with the data. Nothing clinical is overwritten: an edit adds
a case version, a deletion only marks the case. Passwords are kept as argon2id hashes and API
tokens as SHA-256 digests; neither ever reaches the audit log.
"""

import datetime as dt
import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from netlm.classify import derive
from netlm.knowledge.load import load_knowledge_base
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.decision import Decision, DecisionIn
from netlm.store.db import READ_ONLY
from netlm.store.errors import Conflict, InvalidCredentials, NotFound, Throttled, ValidationFailed
from netlm.store.models import (
    ROLES,
    ApiTokenRow,
    AssessmentRow,
    AuditRow,
    CaseRow,
    CaseVersionRow,
    DecisionRow,
    LoginAttemptRow,
    UserRow,
)

Role = Literal["admin", "clinician", "viewer"]
MIN_PASSWORD_LENGTH = 10
MAX_LIST_LIMIT = 1000
SYSTEM = "(system)"  # actor of changes made without a signed-in user, e.g. from the CLI
ANONYMOUS = "(anonymous)"  # actor of failed logins; parentheses cannot occur in a username
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
UNUSABLE_PASSWORD = "!"  # not an argon2 hash: every password check against it fails


TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool


@dataclass(frozen=True)
class TokenInfo:
    id: int
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool


@dataclass(frozen=True)
class CaseRecord:
    """One version of a case; `current_version` tells whether it is the latest."""

    case_id: str
    version: int
    case: Case
    created_at: dt.datetime
    created_by: str
    comment: str
    current_version: int
    deleted: bool


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    current_version: int
    primary_site: str
    grade: str
    liver_pattern: str
    resectability: str
    decision_pending: bool
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    deleted: bool


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: dt.datetime
    created_by: str
    comment: str


@dataclass(frozen=True)
class AssessmentInfo:
    id: int
    case_version: int
    kb_version: str
    kb_released: str
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    user_id: int | None
    username: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


class Store:
    """The case store over one SQLAlchemy engine (SQLite or PostgreSQL, migrated by `upgrade`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_failures: int = 5,
        window_seconds: int = 900,
        clock: Callable[[], dt.datetime] = utcnow,
        hasher: PasswordHasher | None = None,
        token_cache_seconds: float = 2.0,
    ) -> None:
        self.engine = engine  # shared with the repositories beside this one (CDS Hooks)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Token -> (owner, expiry). Every API call authenticates, and the database round trip
        # costs more than the assessment itself; a revoked token or disabled account stops
        # working at once in this process and within `token_cache_seconds` in the others.
        self._token_cache: dict[str, tuple[UserInfo | None, float]] = {}
        self._token_cache_seconds = token_cache_seconds
        self._reads = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._max_failures = max_failures
        self._window = dt.timedelta(seconds=window_seconds)
        self._clock = clock
        self._hasher = hasher or PasswordHasher()

    def ping(self) -> None:
        """Fail (with the driver's error) unless the database answers; for health checks."""
        with self._reads.begin() as s:
            s.execute(select(1))

    # --- users and authentication ---------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str | None = None,
        by: UserInfo | None = None,
    ) -> UserInfo:
        if not USERNAME.fullmatch(username):
            raise ValueError("username must be 1-64 letters, digits, '.', '_', '@' or '-'")
        if role not in ROLES:
            raise ValueError(f"role must be one of: {', '.join(ROLES)}; got {role!r}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        name = (display_name or "").strip() or username
        if len(name) > 200:
            raise ValueError("display name must be at most 200 characters")
        row = UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash=self._hasher.hash(password),
            disabled=False,
            created_at=self._clock(),
        )
        try:
            with self._sessions.begin() as s:
                if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                    raise Conflict(f"user {username!r} already exists")
                s.add(row)
                s.flush()
                self._audit(s, by, "user_added", "user", username, {"role": role})
                return _user_info(row)
        except IntegrityError:  # a concurrent add of the same name
            raise Conflict(f"user {username!r} already exists") from None

    def service_account(self, username: str, display_name: str, role: Role) -> UserInfo:
        """The account a service (e.g. the CDS Hooks endpoint) records its changes under.

        Created on first use, disabled and with an unusable password hash, so nobody can log in
        as it or get a token for it; it only names the author in versions and the audit trail.
        """
        for _attempt in range(2):
            with self._reads.begin() as s:
                row = s.scalar(select(UserRow).where(UserRow.username == username))
                if row is not None:
                    return _user_info(row)
            try:
                with self._sessions.begin() as s:
                    row = UserRow(
                        username=username,
                        display_name=display_name,
                        role=role,
                        password_hash=UNUSABLE_PASSWORD,
                        disabled=True,
                        created_at=self._clock(),
                    )
                    s.add(row)
                    s.flush()
                    detail = {"role": role, "service_account": True}
                    self._audit(s, None, "user_added", "user", username, detail)
                    return _user_info(row)
            except IntegrityError:  # another worker created it meanwhile: read it again
                continue
        raise Conflict(f"service account {username!r} could not be created")

    def list_users(self) -> list[UserInfo]:
        with self._reads.begin() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.username))
            return [_user_info(row) for row in rows]

    def get_user(self, user_id: int) -> UserInfo | None:
        with self._reads.begin() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else _user_info(row)

    def disable_user(self, username: str, by: UserInfo | None = None) -> None:
        with self._sessions.begin() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise NotFound(f"user {username!r} not found")
            row.disabled = True
            self._audit(s, by, "user_disabled", "user", username)
        self._token_cache.clear()

    def authenticate(self, username: str, password: str, ip: str) -> UserInfo:
        """Check a password login, refusing every attempt while the username or IP is throttled.

        The attempt is recorded as failed before the (slow) password check, so parallel guesses
        cannot slip past the limit; it is marked successful afterwards. Unknown, disabled and
        wrong-password logins fail identically, including the time the hash check takes.
        """
        now = self._clock()
        name, address = username[:200], ip[:64]
        with self._sessions.begin() as s:
            retry_after = self._retry_after(s, name, address, now)
            if retry_after is None:
                attempt = LoginAttemptRow(username=name, ip=address, at=now, success=False)
                s.add(attempt)
                s.flush()
                user = s.scalar(select(UserRow).where(UserRow.username == username))
                stored = None if user is None else (user.id, user.password_hash, user.disabled)
            else:
                detail = {"ip": address, "reason": "throttled"}
                self._audit(s, None, "login_failed", "session", name, detail, actor=ANONYMOUS)
        if retry_after is not None:
            raise Throttled(retry_after)
        valid = self._verify(self._dummy_hash if stored is None else stored[1], password)
        if stored is None or stored[2] or not valid:
            with self._sessions.begin() as s:
                self._audit(
                    s, None, "login_failed", "session", name, {"ip": address}, actor=ANONYMOUS
                )
            raise InvalidCredentials()
        user_id, old_hash, _ = stored
        rehash = self._hasher.check_needs_rehash(old_hash)
        new_hash = self._hasher.hash(password) if rehash else None
        with self._sessions.begin() as s:
            s.execute(
                update(LoginAttemptRow).where(LoginAttemptRow.id == attempt.id).values(success=True)
            )
            row = s.get_one(UserRow, user_id)
            if new_hash is not None:
                row.password_hash = new_hash
            info = _user_info(row)
            self._audit(s, info, "login", "session", info.username, {"ip": address})
            return info

    def create_token(self, user: UserInfo, label: str) -> str:
        """A new API token for `user`; only its digest is kept, so it is shown once."""
        label = label.strip()
        if len(label) > 200:
            raise ValueError("token label must be at most 200 characters")
        token = secrets.token_urlsafe(32)
        with self._sessions.begin() as s:
            owner = s.get(UserRow, user.id)
            if owner is None or owner.disabled:
                raise NotFound(f"user {user.username!r} not found or disabled")
            row = ApiTokenRow(
                user_id=user.id,
                token_hash=_digest(token),
                label=label,
                created_at=self._clock(),
                revoked=False,
                expires_at=self._clock() + TOKEN_LIFETIME,
            )
            s.add(row)
            s.flush()
            self._audit(s, user, "token_created", "token", str(row.id), {"label": label})
        return token

    def user_for_token(self, token: str) -> UserInfo | None:
        """The owner of a live token (None if unknown, revoked or the owner is disabled).

        Every API call asks this, so it only reads; `last_used_at` is written at most once a
        minute per token rather than on every request.
        """
        cached = self._token_cache.get(token)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        owner = self._lookup_token(token)
        if self._token_cache_seconds > 0:
            if len(self._token_cache) > 10_000:
                self._token_cache.clear()
            self._token_cache[token] = (owner, time.monotonic() + self._token_cache_seconds)
        return owner

    def _lookup_token(self, token: str) -> UserInfo | None:
        with self._reads.begin() as s:
            found = s.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.token_hash == _digest(token))
            ).first()
            if found is None:
                return None
            token_row, user = found
            if token_row.revoked or user.disabled:
                return None
            info, token_id, last_used = _user_info(user), token_row.id, token_row.last_used_at
        now = self._clock()
        if last_used is None or now - last_used > TOKEN_TOUCH_INTERVAL:
            with self._sessions.begin() as s:
                s.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now)
                )
        return info

    def list_tokens(self, user: UserInfo) -> list[TokenInfo]:
        with self._reads.begin() as s:
            rows = s.scalars(
                select(ApiTokenRow).where(ApiTokenRow.user_id == user.id).order_by(ApiTokenRow.id)
            )
            return [
                TokenInfo(row.id, row.label, row.created_at, row.last_used_at, row.revoked)
                for row in rows
            ]

    def revoke_token(self, token_id: int, by: UserInfo | None = None) -> None:
        with self._sessions.begin() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound(f"token {token_id} not found")
            row.revoked = True
            self._audit(s, by, "token_revoked", "token", str(token_id))
        self._token_cache.clear()

    # --- cases ---------------------------------------------------------------------------------

    def create_case(self, case: Case, by: UserInfo, comment: str = "") -> CaseRecord:
        """Store version 1 of a new case; an id ever used (even by a deleted case) is refused."""
        now = self._clock()
        try:
            with self._sessions.begin() as s:
                if s.get(CaseRow, case.id) is not None:
                    raise Conflict(f"case {case.id!r} already exists")
                row = CaseRow(
                    id=case.id,
                    created_at=now,
                    created_by=by.username,
                    current_version=1,
                    **_new_version_columns(case, now),
                )
                s.add(row)
                s.flush()
                version = self._add_version(s, case, 1, by, comment, now)
                self._audit(s, by, "create", "case", case.id, {"version": 1})
                return _record(row, version, case)
        except IntegrityError:  # a concurrent create of the same id
            raise Conflict(f"case {case.id!r} already exists") from None

    def update_case(
        self,
        case_id: str,
        case: Case,
        by: UserInfo,
        expected_version: int | None = None,
        comment: str = "",
    ) -> CaseRecord:
        """Add a version; `expected_version` guards against overwriting someone else's edit."""
        if case.id != case_id:
            raise ValueError(f"the case document's id {case.id!r} is not {case_id!r}")
        now = self._clock()
        try:
            with self._sessions.begin() as s:
                row = _live_case(s, case_id, lock=True)
                if expected_version is not None and expected_version != row.current_version:
                    raise Conflict(
                        f"case {case_id!r} is at version {row.current_version}, "
                        f"not {expected_version}: it was changed meanwhile"
                    )
                number = row.current_version + 1
                row.current_version = number
                for key, value in _new_version_columns(case, now).items():
                    setattr(row, key, value)
                version = self._add_version(s, case, number, by, comment, now)
                self._audit(s, by, "update", "case", case_id, {"version": number})
                return _record(row, version, case)
        except IntegrityError:  # a concurrent update took the same version number
            raise Conflict(f"case {case_id!r} was changed meanwhile") from None

    def get_case(
        self,
        case_id: str,
        version: int | None = None,
        by: UserInfo | None = None,
        include_deleted: bool = False,
    ) -> CaseRecord:
        """A version of a case (default: the current one); audited as a read when `by` is given."""
        sessions = self._sessions if by is not None else self._reads  # only the audit writes
        with sessions.begin() as s:
            row = s.get(CaseRow, case_id)
            if row is None or (row.deleted_at is not None and not include_deleted):
                raise NotFound(f"case {case_id!r} not found")
            number = row.current_version if version is None else version
            found = s.scalar(
                select(CaseVersionRow).where(
                    CaseVersionRow.case_id == case_id, CaseVersionRow.version == number
                )
            )
            if found is None:
                raise NotFound(f"case {case_id!r} has no version {number}")
            if by is not None:
                self._audit(s, by, "read", "case", case_id, {"version": number})
            return _record(row, found, Case.model_validate(found.data))

    def list_cases(
        self,
        text: str | None = None,
        grade: str | None = None,
        liver_pattern: str | None = None,
        primary_site: str | None = None,
        decision_pending: bool | None = None,
        include_deleted: bool = False,
        limit: int = 200,
        offset: int = 0,
    ) -> list[CaseSummary]:
        """Cases by most recent change; `text` matches part of the id, literally and any case."""
        query = select(CaseRow)
        if text:
            query = query.where(func.lower(CaseRow.id).contains(text.lower(), autoescape=True))
        if grade is not None:
            query = query.where(CaseRow.grade == grade)
        if liver_pattern is not None:
            query = query.where(CaseRow.liver_pattern == liver_pattern)
        if primary_site is not None:
            query = query.where(CaseRow.primary_site == primary_site)
        if decision_pending is not None:
            query = query.where(CaseRow.decision_pending.is_(decision_pending))
        if not include_deleted:
            query = query.where(CaseRow.deleted_at.is_(None))
        query = query.order_by(CaseRow.updated_at.desc(), CaseRow.id)
        query = query.limit(max(0, min(limit, MAX_LIST_LIMIT))).offset(max(0, offset))
        with self._reads.begin() as s:
            return [_summary(row) for row in s.scalars(query)]

    def case_versions(self, case_id: str) -> list[VersionInfo]:
        with self._reads.begin() as s:
            _live_case(s, case_id)
            rows = s.scalars(
                select(CaseVersionRow)
                .where(CaseVersionRow.case_id == case_id)
                .order_by(CaseVersionRow.version)
            )
            return [VersionInfo(r.version, r.created_at, r.created_by, r.comment) for r in rows]

    def delete_case(self, case_id: str, by: UserInfo, reason: str) -> None:
        """Hide a case (soft delete): its versions, assessments and decisions stay on record."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("reason", "required to delete a case")
        with self._sessions.begin() as s:
            row = _live_case(s, case_id, lock=True)
            row.deleted_at = self._clock()
            row.deleted_by = by.username
            row.delete_reason = reason
            self._audit(s, by, "delete", "case", case_id, {"reason": reason})

    # --- assessments and decisions -----------------------------------------------------------

    def save_assessment(
        self, case_id: str, version: int, assessment: Assessment, by: UserInfo
    ) -> int:
        """Keep the (English) assessment of a case version; returns its id."""
        if assessment.case_id != case_id:
            raise ValueError(f"the assessment is of case {assessment.case_id!r}, not {case_id!r}")
        if assessment.language != "en":
            raise ValueError("store the English assessment; other languages are rendered anew")
        now = self._clock()
        with self._sessions.begin() as s:
            row = _live_case(s, case_id, lock=True)
            exists = select(CaseVersionRow.id).where(
                CaseVersionRow.case_id == case_id, CaseVersionRow.version == version
            )
            if s.scalar(exists) is None:
                raise NotFound(f"case {case_id!r} has no version {version}")
            saved = AssessmentRow(
                case_id=case_id,
                case_version=version,
                kb_version=assessment.knowledge_base.version,
                kb_released=assessment.knowledge_base.released,
                data=assessment.to_json_dict(),
                created_at=now,
                created_by=by.username,
            )
            s.add(saved)
            s.flush()
            if version == row.current_version:
                found = assessment.classification
                row.grade = found.grade
                row.liver_pattern = found.liver_pattern
                row.resectability = found.resectability
                row.updated_at = now
            detail = {"version": version, "assessment_id": saved.id, "kb_version": saved.kb_version}
            self._audit(s, by, "assess", "case", case_id, detail)
            return saved.id

    def latest_assessment(self, case_id: str) -> tuple[int, Assessment] | None:
        """The newest assessment of the case's current version, if it has been assessed."""
        with self._reads.begin() as s:
            row = _live_case(s, case_id)
            found = s.scalar(
                select(AssessmentRow)
                .where(
                    AssessmentRow.case_id == case_id,
                    AssessmentRow.case_version == row.current_version,
                )
                .order_by(AssessmentRow.id.desc())
                .limit(1)
            )
            return None if found is None else (found.id, Assessment.model_validate(found.data))

    def list_assessments(self, case_id: str) -> list[AssessmentInfo]:
        with self._reads.begin() as s:
            _live_case(s, case_id)
            rows = s.scalars(
                select(AssessmentRow)
                .where(AssessmentRow.case_id == case_id)
                .order_by(AssessmentRow.id)
            )
            return [
                AssessmentInfo(
                    r.id, r.case_version, r.kb_version, r.kb_released, r.created_at, r.created_by
                )
                for r in rows
            ]

    def record_decision(
        self, case_id: str, decision: DecisionIn, by: UserInfo, assessment_id: int | None
    ) -> Decision:
        """Record the board's decision on the current version and whether netlm agreed.

        Concordant means every chosen option is among the assessment's recommendations; a
        discordant decision needs an `override_reason`. Without an assessment there is nothing
        to agree with or override: the decision is stored as not concordant, no reason needed.
        """
        now = self._clock()
        reason = (decision.override_reason or "").strip() or None
        with self._sessions.begin() as s:
            row = _live_case(s, case_id, lock=True)
            concordant = False
            if assessment_id is not None:
                found = s.get(AssessmentRow, assessment_id)
                if found is None or found.case_id != case_id:
                    raise NotFound(f"assessment {assessment_id} of case {case_id!r} not found")
                if found.case_version != row.current_version:
                    raise ValidationFailed(
                        "assessment_id",
                        f"assesses version {found.case_version}, "
                        f"but the case is at version {row.current_version}",
                    )
                proposed = {r.option for r in Assessment.model_validate(found.data).recommendations}
                concordant = set(decision.chosen_options) <= proposed
                if not concordant and reason is None:
                    raise ValidationFailed(
                        "override_reason", "required when the decision differs from the assessment"
                    )
            saved = DecisionRow(
                case_id=case_id,
                case_version=row.current_version,
                assessment_id=assessment_id,
                decided_on=decision.decided_on,
                chosen_options=list(decision.chosen_options),
                participants=list(decision.participants),
                notes=decision.notes,
                concordant=concordant,
                override_reason=reason,
                created_at=now,
                created_by=by.username,
            )
            s.add(saved)
            s.flush()
            row.decision_pending = False
            row.updated_at = now
            detail = {
                "version": row.current_version,
                "decision_id": saved.id,
                "chosen_options": saved.chosen_options,
                "concordant": concordant,
            }
            self._audit(s, by, "decide", "case", case_id, detail)
            return _decision(saved)

    def list_decisions(self, case_id: str) -> list[Decision]:
        with self._reads.begin() as s:
            _live_case(s, case_id)
            rows = s.scalars(
                select(DecisionRow).where(DecisionRow.case_id == case_id).order_by(DecisionRow.id)
            )
            return [_decision(row) for row in rows]

    # --- audit ---------------------------------------------------------------------------------

    def audit(
        self,
        by: UserInfo | None,
        action: str,
        entity: str,
        entity_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record an event that changes nothing in the store (e.g. a report was produced)."""
        with self._sessions.begin() as s:
            self._audit(s, by, action, entity, entity_id, detail)

    def audit_log(self, entity_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Audit entries, newest first, optionally only those about one entity."""
        query = select(AuditRow).order_by(AuditRow.id.desc())
        if entity_id is not None:
            query = query.where(AuditRow.entity_id == entity_id)
        query = query.limit(max(0, min(limit, MAX_LIST_LIMIT)))
        with self._reads.begin() as s:
            return [
                AuditEntry(
                    r.id, r.at, r.user_id, r.username, r.action, r.entity, r.entity_id, r.detail
                )
                for r in s.scalars(query)
            ]

    # --- helpers -------------------------------------------------------------------------------

    def _audit(
        self,
        s: Session,
        by: UserInfo | None,
        action: str,
        entity: str,
        entity_id: str,
        detail: dict[str, Any] | None = None,
        actor: str = SYSTEM,
    ) -> None:
        s.add(
            AuditRow(
                at=self._clock(),
                user_id=None if by is None else by.id,
                username=actor if by is None else by.username,
                action=action,
                entity=entity,
                entity_id=entity_id,
                detail=detail or {},
            )
        )

    def _add_version(
        self, s: Session, case: Case, number: int, by: UserInfo, comment: str, now: dt.datetime
    ) -> CaseVersionRow:
        row = CaseVersionRow(
            case_id=case.id,
            version=number,
            data=case.to_json_dict(),
            comment=comment,
            created_at=now,
            created_by=by.username,
        )
        s.add(row)
        return row

    def _retry_after(self, s: Session, username: str, ip: str, now: dt.datetime) -> int | None:
        """Seconds until the username and the IP each have fewer failures in the window."""
        longest: int | None = None
        for column, value in ((LoginAttemptRow.username, username), (LoginAttemptRow.ip, ip)):
            recent = s.scalars(
                select(LoginAttemptRow.at)
                .where(
                    column == value,
                    LoginAttemptRow.success.is_(False),
                    LoginAttemptRow.at > now - self._window,
                )
                .order_by(LoginAttemptRow.at.desc())
                .limit(self._max_failures)
            ).all()
            if len(recent) >= self._max_failures:
                seconds = max(1, math.ceil((recent[-1] + self._window - now).total_seconds()))
                longest = max(longest or 0, seconds)
        return longest

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        """Checked against for unknown users, so they take as long to refuse as known ones."""
        return self._hasher.hash(secrets.token_urlsafe(16))


TOKEN_LIFETIME = dt.timedelta(days=90)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_info(row: UserRow) -> UserInfo:
    return UserInfo(row.id, row.username, row.display_name, cast(Role, row.role), row.disabled)


def _live_case(s: Session, case_id: str, lock: bool = False) -> CaseRow:
    query = select(CaseRow).where(CaseRow.id == case_id)
    row = s.scalar(query.with_for_update() if lock else query)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"case {case_id!r} not found")
    return row


def _new_version_columns(case: Case, now: dt.datetime) -> dict[str, Any]:
    """Search columns of a new version: classified from the findings until it is assessed."""
    derived = derive(case, load_knowledge_base())
    return {
        "updated_at": now,
        "primary_site": case.primary.site,
        "grade": derived.grade.grade,
        "liver_pattern": derived.pattern.pattern,
        "resectability": derived.resectability.value,
        "decision_pending": True,
    }


def _record(row: CaseRow, version: CaseVersionRow, case: Case) -> CaseRecord:
    return CaseRecord(
        case_id=row.id,
        version=version.version,
        case=case,
        created_at=version.created_at,
        created_by=version.created_by,
        comment=version.comment,
        current_version=row.current_version,
        deleted=row.deleted_at is not None,
    )


def _summary(row: CaseRow) -> CaseSummary:
    return CaseSummary(
        case_id=row.id,
        current_version=row.current_version,
        primary_site=row.primary_site,
        grade=row.grade,
        liver_pattern=row.liver_pattern,
        resectability=row.resectability,
        decision_pending=row.decision_pending,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        deleted=row.deleted_at is not None,
    )


def _decision(row: DecisionRow) -> Decision:
    return Decision.model_validate(
        {
            "id": row.id,
            "case_id": row.case_id,
            "case_version": row.case_version,
            "assessment_id": row.assessment_id,
            "decided_on": row.decided_on,
            "chosen_options": row.chosen_options,
            "participants": row.participants,
            "notes": row.notes,
            "override_reason": row.override_reason,
            "concordant": row.concordant,
            "created_at": row.created_at,
            "created_by": row.created_by,
        }
    )
