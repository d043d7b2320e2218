"""ORM tables of the store. Private to `netlm.store`: the repository converts rows to plain data.

The schema is created by the Alembic migrations in `migrations/versions`, never by
`metadata.create_all`, so these classes and the migrations must be changed together.
"""

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "clinician", "viewer")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on both backends (SQLite keeps no offset, so store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only takes timezone-aware times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'clinician', 'viewer')", name="role"),
        UniqueConstraint("oidc_issuer", "oidc_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # TOTP second factor (netlm.store.totp): the confirmed secret, one being enrolled, and the
    # last 30-second step a code was accepted for (each code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Single sign-on (netlm.store.sso): the identity provider's account linked by an admin.
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WebSessionRow(Base):
    """A signed-in browser: the cookie carries only a random id, whose digest is kept here, so
    logging out, disabling the user or a timeout ends the session at once in every worker."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The sign-in carried a second factor: netlm's TOTP code, or SSO whose `amr` shows one.
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoginAttemptRow(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    cleared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A digest naming the trusted browser the attempt came from (netlm.store.throttle), if any.
    device: Mapped[str | None] = mapped_column(String(64))


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(64))
    delete_reason: Mapped[str | None] = mapped_column(Text)
    primary_site: Mapped[str] = mapped_column(String(32), index=True)
    grade: Mapped[str] = mapped_column(String(16), index=True)
    liver_pattern: Mapped[str] = mapped_column(String(16), index=True)
    resectability: Mapped[str] = mapped_column(String(32))
    decision_pending: Mapped[bool] = mapped_column(Boolean, index=True)


class CaseVersionRow(Base):
    __tablename__ = "case_versions"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    case_version: Mapped[int] = mapped_column(Integer)
    kb_version: Mapped[str] = mapped_column(String(32))
    kb_released: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    case_version: Mapped[int] = mapped_column(Integer)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    chosen_options: Mapped[list[str]] = mapped_column(JSON)
    participants: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    concordant: Mapped[bool] = mapped_column(Boolean)
    override_reason: Mapped[str | None] = mapped_column(Text)
    dissent: Mapped[str | None] = mapped_column(Text)  # migration 0008
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


FOLLOW_UP_KINDS = ("progression", "death", "last_contact", "treatment")


class FollowUpRow(Base):
    """A dated event after the board (netlm.store.followup). Append-only (database triggers refuse
    UPDATE and DELETE, migration 0009): a correction is a new row whose `supersedes` names the
    earlier one, which is then superseded by at most one row."""

    __tablename__ = "follow_up_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('progression', 'death', 'last_contact', 'treatment')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    event_date: Mapped[dt.date] = mapped_column(Date)
    criteria: Mapped[str | None] = mapped_column(String(32))
    options: Mapped[list[str]] = mapped_column(JSON)
    stopped: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("follow_up_events.id"), unique=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))


class AuditRow(Base):
    """Append-only (database triggers refuse UPDATE and DELETE, migration 0005) and hash-chained;
    `user_id` has no foreign key so the trail outlives anything it mentions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Who asked from where, and how it ended ("ok", or the HTTP status of a refusal).
    role: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str | None] = mapped_column(String(200))  # e.g. "GET /cases/{case_id}/history"
    outcome: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    # The hash chain (netlm.store.audit): set when the row is committed, never changed after.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


# --- CDS Hooks (netlm.fhir.cds) -------------------------------------------------------------


class CdsClientRow(Base):
    """An EHR allowed to call the CDS service: its JWT issuer and where its keys come from."""

    __tablename__ = "cds_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jku_urls: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    fhir_servers: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))


class CdsJtiRow(Base):
    """JWT ids already accepted, kept until the token could no longer be accepted anyway."""

    __tablename__ = "cds_jti"
    __table_args__ = (UniqueConstraint("issuer", "jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class CdsCardRow(Base):
    """Every card returned, so that feedback on it can be tied to the case it was about."""

    __tablename__ = "cds_cards"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    indicator: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CdsFeedbackRow(Base):
    """What the clinician did with a card; a redelivered item (same card, outcome, time) is kept
    once."""

    __tablename__ = "cds_feedback"
    __table_args__ = (
        UniqueConstraint("card_uuid", "outcome", "outcome_timestamp"),
        CheckConstraint("outcome IN ('accepted', 'overridden')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_uuid: Mapped[str] = mapped_column(ForeignKey("cds_cards.uuid"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON)
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome_timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
