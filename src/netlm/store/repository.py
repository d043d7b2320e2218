"""`Store`: the one interface of the case store, returning plain data instead of ORM rows.

Every method is one transaction, and every mutation writes its audit row in that transaction,
so the trail can never disagree with the data. Nothing clinical is overwritten: an edit adds
a case version, a deletion only marks the case. Users, sessions, API tokens and login throttling
are the `Accounts` half of the store (netlm.store.accounts); the board's decisions and the
follow-up after them are mixed in from netlm.store.decisions and netlm.store.followup.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netlm.classify import derive
from netlm.knowledge.load import load_knowledge_base
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.store.accounts import Accounts
from netlm.store.credentials import TokenInfo as TokenInfo
from netlm.store.decisions import Decisions
from netlm.store.errors import Conflict, NotFound, ValidationFailed
from netlm.store.followup import FollowUps
from netlm.store.identity import SYSTEM as SYSTEM
from netlm.store.identity import UserInfo as UserInfo
from netlm.store.identity import live_case
from netlm.store.identity import utcnow as utcnow
from netlm.store.models import (
    AssessmentRow,
    AuditRow,
    CaseRow,
    CaseVersionRow,
    UserRow,
)

MAX_LIST_LIMIT = 1000


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
    replayed: bool = False  # a create retried with the same document: the case already stored


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
    created_by_name: str | None = None  # the display name, when the account is on record


@dataclass(frozen=True)
class AssessmentInfo:
    id: int
    case_version: int
    kb_version: str
    kb_released: str
    created_at: dt.datetime
    created_by: str
    created_by_name: str | None = None  # the display name, when the account is on record


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


class Store(FollowUps, Decisions, Accounts):
    """The case store over one SQLAlchemy engine (SQLite or PostgreSQL, migrated by `upgrade`)."""

    def ping(self) -> None:
        """Fail (with the driver's error) unless the database answers; for health checks."""
        with self._reads.begin() as s:
            s.execute(select(1))

    # --- cases ---------------------------------------------------------------------------------

    def create_case(
        self,
        case: Case,
        by: UserInfo,
        comment: str = "",
        assessment: Assessment | None = None,
    ) -> CaseRecord:
        """Store version 1 of a new case, with its assessment in the same transaction so a crash
        can never leave a case unassessed. An id ever used (even by a deleted case) is refused,
        except that a retry by the same user with the same document returns the stored case
        (`replayed`): a client whose first answer was lost can safely send it again."""
        now = self._clock()
        try:
            with self._sessions.begin() as s:
                existing = s.get(CaseRow, case.id)
                if existing is not None:
                    return self._replay(s, existing, case, by)
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
                if assessment is not None:
                    self._add_assessment(s, row, 1, assessment, by, now)
                return _record(row, version, case)
        except IntegrityError:  # a concurrent create of the same id
            raise Conflict(f"case {case.id!r} already exists") from None

    def _replay(self, s: Session, row: CaseRow, case: Case, by: UserInfo) -> CaseRecord:
        first = s.scalar(
            select(CaseVersionRow).where(
                CaseVersionRow.case_id == row.id, CaseVersionRow.version == 1
            )
        )
        same = (
            row.deleted_at is None
            and first is not None
            and first.created_by == by.username
            and first.data == case.to_json_dict()
        )
        if not same:
            raise Conflict(f"case {case.id!r} already exists")
        current = s.scalar(
            select(CaseVersionRow).where(
                CaseVersionRow.case_id == row.id, CaseVersionRow.version == row.current_version
            )
        )
        assert current is not None
        record = _record(row, current, Case.model_validate(current.data))
        return dataclasses.replace(record, replayed=True)

    def update_case(
        self,
        case_id: str,
        case: Case,
        by: UserInfo,
        expected_version: int | None = None,
        comment: str = "",
        assessment: Assessment | None = None,
    ) -> CaseRecord:
        """Add a version, with its assessment in the same transaction; `expected_version` guards
        against overwriting someone else's edit."""
        if case.id != case_id:
            raise ValueError(f"the case document's id {case.id!r} is not {case_id!r}")
        now = self._clock()
        try:
            with self._sessions.begin() as s:
                row = live_case(s, case_id, lock=True)
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
                if assessment is not None:
                    self._add_assessment(s, row, number, assessment, by, now)
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
            live_case(s, case_id)
            rows = s.execute(
                select(CaseVersionRow, UserRow.display_name)
                .outerjoin(UserRow, UserRow.username == CaseVersionRow.created_by)
                .where(CaseVersionRow.case_id == case_id)
                .order_by(CaseVersionRow.version)
            )
            return [
                VersionInfo(r.version, r.created_at, r.created_by, r.comment, name)
                for r, name in rows
            ]

    def delete_case(self, case_id: str, by: UserInfo, reason: str) -> None:
        """Hide a case (soft delete): its versions, assessments and decisions stay on record."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("reason", "required to delete a case")
        with self._sessions.begin() as s:
            row = live_case(s, case_id, lock=True)
            row.deleted_at = self._clock()
            row.deleted_by = by.username
            row.delete_reason = reason
            self._audit(s, by, "delete", "case", case_id, {"reason": reason})

    # --- assessments ---------------------------------------------------------------------------

    def save_assessment(
        self, case_id: str, version: int, assessment: Assessment, by: UserInfo
    ) -> int:
        """Keep the (English) assessment of a case version; returns its id."""
        now = self._clock()
        with self._sessions.begin() as s:
            row = live_case(s, case_id, lock=True)
            exists = select(CaseVersionRow.id).where(
                CaseVersionRow.case_id == case_id, CaseVersionRow.version == version
            )
            if s.scalar(exists) is None:
                raise NotFound(f"case {case_id!r} has no version {version}")
            return self._add_assessment(s, row, version, assessment, by, now)

    def _add_assessment(
        self,
        s: Session,
        row: CaseRow,
        version: int,
        assessment: Assessment,
        by: UserInfo,
        now: dt.datetime,
    ) -> int:
        case_id = row.id
        if assessment.case_id != case_id:
            raise ValueError(f"the assessment is of case {assessment.case_id!r}, not {case_id!r}")
        if assessment.language != "en":
            raise ValueError("store the English assessment; other languages are rendered anew")
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
            row = live_case(s, case_id)
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
            live_case(s, case_id)
            rows = s.execute(
                select(AssessmentRow, UserRow.display_name)
                .outerjoin(UserRow, UserRow.username == AssessmentRow.created_by)
                .where(AssessmentRow.case_id == case_id)
                .order_by(AssessmentRow.id)
            )
            return [
                AssessmentInfo(
                    r.id,
                    r.case_version,
                    r.kb_version,
                    r.kb_released,
                    r.created_at,
                    r.created_by,
                    name,
                )
                for r, name in rows
            ]

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
