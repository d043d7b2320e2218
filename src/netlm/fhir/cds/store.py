"""What the CDS Hooks service keeps: registered EHR clients, used JWT ids, cards and feedback.

A repository beside `netlm.store.Store` on the same database (the tables are in
`netlm.store.models`, created by migrations 0002 and 0004); like it, it returns plain data,
runs each method in one transaction and writes an audit row with every change.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from netlm.fhir.cds.fetch import check_base
from netlm.fhir.cds.models import FeedbackItem
from netlm.store.db import READ_ONLY
from netlm.store.errors import Conflict, NotFound
from netlm.store.models import AuditRow, CdsCardRow, CdsClientRow, CdsFeedbackRow, CdsJtiRow
from netlm.store.repository import SYSTEM, UserInfo, utcnow


@dataclass(frozen=True)
class ClientInfo:
    id: int
    issuer: str
    name: str
    jwks: dict[str, Any] | None
    jku_urls: tuple[str, ...]
    created_at: dt.datetime
    fhir_servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssuedCard:
    uuid: str
    indicator: str
    summary: str


@dataclass(frozen=True)
class FeedbackInfo:
    """One clinician's response to a card, for the case page."""

    card_uuid: str
    service: str
    card_indicator: str
    card_summary: str
    outcome: str
    accepted_suggestions: tuple[str, ...]
    override_code: str | None
    override_display: str | None
    override_comment: str | None
    outcome_timestamp: dt.datetime
    received_at: dt.datetime


class UnknownCards(LookupError):
    """Feedback names cards this service never issued to the caller (nothing was stored)."""

    def __init__(self, uuids: Sequence[str]) -> None:
        self.uuids = list(uuids)
        super().__init__(f"unknown card(s): {', '.join(self.uuids)}")


class CdsStore:
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._clock = clock

    # --- clients ---------------------------------------------------------------------------

    def add_client(
        self,
        issuer: str,
        name: str,
        jwks: dict[str, Any] | None,
        jku_urls: Sequence[str],
        by: UserInfo | None = None,
        fhir_servers: Sequence[str] = (),
        allow_http: bool = False,
    ) -> ClientInfo:
        """Register an EHR; validate `jwks` and the jku URLs first (netlm.fhir.cds.jwt).

        `fhir_servers` are the FHIR base URLs netlm may read for it (netlm.fhir.cds.fetch);
        `allow_http` lets plain http bases in, for development only.
        """
        issuer, name = issuer.strip(), (name.strip() or issuer.strip())
        if not issuer or len(issuer) > 500:
            raise ValueError("the issuer must be 1-500 characters")
        if jwks is None and not jku_urls:
            raise ValueError("register a JWK Set or at least one jku URL")
        row = CdsClientRow(
            issuer=issuer,
            name=name[:200],
            jwks=jwks,
            jku_urls=list(jku_urls),
            fhir_servers=_bases(fhir_servers, allow_http),
            created_at=self._clock(),
        )
        try:
            with self._sessions.begin() as s:
                if s.scalar(select(CdsClientRow.id).where(CdsClientRow.issuer == issuer)):
                    raise Conflict(f"client {issuer!r} is already registered")
                s.add(row)
                s.flush()
                detail = {
                    "name": row.name,
                    "jku_urls": row.jku_urls,
                    "jwks": jwks is not None,
                    "fhir_servers": row.fhir_servers,
                }
                _audit(s, self._clock(), by, "cds_client_added", "cds_client", issuer, detail)
                return _client(row)
        except IntegrityError:
            raise Conflict(f"client {issuer!r} is already registered") from None

    def set_fhir_servers(
        self,
        issuer: str,
        fhir_servers: Sequence[str],
        allow_http: bool = False,
        by: UserInfo | None = None,
    ) -> ClientInfo:
        """Replace the FHIR base URLs netlm may read for a client (none: it reads nothing)."""
        bases = _bases(fhir_servers, allow_http)
        with self._sessions.begin() as s:
            row = s.scalar(select(CdsClientRow).where(CdsClientRow.issuer == issuer.strip()))
            if row is None:
                raise NotFound(f"no client {issuer!r} is registered")
            before, row.fhir_servers = row.fhir_servers, bases
            detail = {"fhir_servers": bases, "before": before}
            _audit(s, self._clock(), by, "cds_client_updated", "cds_client", row.issuer, detail)
            s.flush()
            return _client(row)

    def list_clients(self) -> list[ClientInfo]:
        with self._reads.begin() as s:
            return [_client(r) for r in s.scalars(select(CdsClientRow).order_by(CdsClientRow.id))]

    def client(self, issuer: str) -> ClientInfo | None:
        with self._reads.begin() as s:
            row = s.scalar(select(CdsClientRow).where(CdsClientRow.issuer == issuer))
            return None if row is None else _client(row)

    # --- replay protection -----------------------------------------------------------------

    def remember_jti(self, issuer: str, jti: str, until: dt.datetime, now: dt.datetime) -> bool:
        """Record a token id; False if the issuer used it before (a replay)."""
        try:
            with self._sessions.begin() as s:
                s.execute(delete(CdsJtiRow).where(CdsJtiRow.expires_at < now))
                s.add(CdsJtiRow(issuer=issuer, jti=jti, expires_at=until))
        except IntegrityError:
            return False
        return True

    # --- cards and feedback ----------------------------------------------------------------

    def record_cards(
        self, cards: Sequence[IssuedCard], case_id: str, service: str, issuer: str
    ) -> None:
        now = self._clock()
        with self._sessions.begin() as s:
            for card in cards:
                s.add(
                    CdsCardRow(
                        uuid=card.uuid,
                        case_id=case_id,
                        service=service,
                        issuer=issuer,
                        indicator=card.indicator,
                        summary=card.summary,
                        created_at=now,
                    )
                )

    def save_feedback(
        self, service: str, issuer: str, items: Sequence[FeedbackItem], by: UserInfo | None
    ) -> int:
        """Store feedback on cards this service gave this issuer; returns how many were new.

        Redelivered items (same card, outcome and time) are stored once, whether they repeat
        within one batch, across batches or arrive at two workers at the same moment.
        """
        for _attempt in range(3):
            try:
                return self._save_feedback(service, issuer, items, by)
            except IntegrityError:  # a concurrent delivery of the same item: look again
                continue
        raise Conflict("feedback could not be stored; retry")

    def _save_feedback(
        self, service: str, issuer: str, items: Sequence[FeedbackItem], by: UserInfo | None
    ) -> int:
        now = self._clock()
        with self._sessions.begin() as s:
            uuids = sorted({item.card for item in items})
            cards = {
                c.uuid: c
                for c in s.scalars(
                    select(CdsCardRow).where(
                        CdsCardRow.uuid.in_(uuids),
                        CdsCardRow.service == service,
                        CdsCardRow.issuer == issuer,
                    )
                )
            }
            unknown = [u for u in uuids if u not in cards]
            if unknown:
                raise UnknownCards(unknown)
            existing = {
                (r.card_uuid, r.outcome, r.outcome_timestamp)
                for r in s.scalars(
                    select(CdsFeedbackRow).where(CdsFeedbackRow.card_uuid.in_(uuids))
                )
            }
            added = 0
            for item in items:
                key = (item.card, item.outcome, item.outcome_timestamp)
                if key in existing:
                    continue
                existing.add(key)
                card = cards[item.card]
                reason = item.override_reason
                s.add(
                    CdsFeedbackRow(
                        card_uuid=item.card,
                        case_id=card.case_id,
                        outcome=item.outcome,
                        accepted_suggestions=[a.id for a in item.accepted_suggestions or []],
                        override_reason=None
                        if reason is None
                        else reason.model_dump(mode="json", by_alias=True, exclude_none=True),
                        outcome_timestamp=item.outcome_timestamp,
                        received_at=now,
                    )
                )
                detail = {"card": item.card, "service": service, "outcome": item.outcome}
                _audit(s, now, by, "cds_feedback", "case", card.case_id, detail)
                added += 1
            return added

    def list_feedback(self, case_id: str) -> list[FeedbackInfo]:
        """Feedback on the cards about a case, oldest first (for the case page)."""
        with self._reads.begin() as s:
            rows = s.execute(
                select(CdsFeedbackRow, CdsCardRow)
                .join(CdsCardRow, CdsCardRow.uuid == CdsFeedbackRow.card_uuid)
                .where(CdsFeedbackRow.case_id == case_id)
                .order_by(CdsFeedbackRow.outcome_timestamp, CdsFeedbackRow.id)
            ).all()
            return [_feedback(f, c) for f, c in rows]


def _audit(
    s: Session,
    now: dt.datetime,
    by: UserInfo | None,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any],
) -> None:
    s.add(
        AuditRow(
            at=now,
            user_id=None if by is None else by.id,
            username=SYSTEM if by is None else by.username,
            role=None if by is None else by.role,
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail,
        )
    )


def _bases(urls: Sequence[str], allow_http: bool) -> list[str]:
    return list(dict.fromkeys(check_base(url, allow_http) for url in urls))


def _client(row: CdsClientRow) -> ClientInfo:
    return ClientInfo(
        row.id,
        row.issuer,
        row.name,
        row.jwks,
        tuple(row.jku_urls),
        row.created_at,
        tuple(row.fhir_servers),
    )


def _feedback(row: CdsFeedbackRow, card: CdsCardRow) -> FeedbackInfo:
    reason = row.override_reason or {}
    coding = reason.get("reason") or {}
    return FeedbackInfo(
        card_uuid=row.card_uuid,
        service=card.service,
        card_indicator=card.indicator,
        card_summary=card.summary,
        outcome=row.outcome,
        accepted_suggestions=tuple(row.accepted_suggestions),
        override_code=coding.get("code"),
        override_display=coding.get("display"),
        override_comment=reason.get("userComment"),
        outcome_timestamp=row.outcome_timestamp,
        received_at=row.received_at,
    )
