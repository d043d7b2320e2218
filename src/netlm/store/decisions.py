"""Decisions, the `Store`'s record of what the tumour board chose: each one checked against the
stored assessment it was made on, so concordance with netlm is a fact of the record, not a later
reading of it. A mixin over `StoreBase`, like `Accounts`, to keep the case store readable.
"""

from sqlalchemy import func, select

from netlm.model.assessment import Assessment
from netlm.model.decision import Decision, DecisionIn
from netlm.store.errors import Conflict, NotFound, ValidationFailed
from netlm.store.identity import StoreBase, UserInfo, live_case
from netlm.store.models import AssessmentRow, DecisionRow, UserRow


class Decisions(StoreBase):
    """Recording and listing the board's decisions on a case."""

    def record_decision(
        self,
        case_id: str,
        decision: DecisionIn,
        by: UserInfo,
        assessment_id: int | None = None,
    ) -> Decision:
        """Record the board's decision on the current version and whether netlm agreed.

        Concordant means every chosen option is among the assessment's recommendations. A
        decision that chooses anything outside the first tier (the options ranked first, equal
        alternatives included) needs an `override_reason`: a board that prefers a lower-ranked
        option says why. A version without its stored assessment is refused (409): the decision
        could not be checked against what netlm said, so the case is reassessed first.
        """
        now = self._clock()
        reason = (decision.override_reason or "").strip() or None
        dissent = (decision.dissent or "").strip() or None
        with self._sessions.begin() as s:
            row = live_case(s, case_id, lock=True)
            if assessment_id is None:
                assessment_id = s.scalar(
                    select(func.max(AssessmentRow.id)).where(
                        AssessmentRow.case_id == case_id,
                        AssessmentRow.case_version == row.current_version,
                    )
                )
            if assessment_id is None:
                raise Conflict(
                    f"version {row.current_version} of case {case_id!r} has no stored "
                    "assessment: reassess it before recording a decision"
                )
            found = s.get(AssessmentRow, assessment_id)
            if found is None or found.case_id != case_id:
                raise NotFound(f"assessment {assessment_id} of case {case_id!r} not found")
            if found.case_version != row.current_version:
                raise ValidationFailed(
                    "assessment_id",
                    f"assesses version {found.case_version}, "
                    f"but the case is at version {row.current_version}",
                )
            ranked = Assessment.model_validate(found.data).recommendations
            chosen = set(decision.chosen_options)
            concordant = chosen <= {r.option for r in ranked}
            if not chosen <= {r.option for r in ranked if r.tier == 1} and reason is None:
                raise ValidationFailed(
                    "override_reason",
                    "required when the decision chooses an option outside the first tier",
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
                dissent=dissent,
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
                "dissent": dissent is not None,
            }
            self._audit(s, by, "decide", "case", case_id, detail)
            return _decision(saved, by.display_name)

    def list_decisions(self, case_id: str) -> list[Decision]:
        """Every decision on the case, each with the version it was made on and the display name
        of whoever recorded it (a page names "Dr Li", not the account "li")."""
        with self._reads.begin() as s:
            live_case(s, case_id)
            rows = s.execute(
                select(DecisionRow, UserRow.display_name)
                .outerjoin(UserRow, UserRow.username == DecisionRow.created_by)
                .where(DecisionRow.case_id == case_id)
                .order_by(DecisionRow.id)
            )
            return [_decision(row, name) for row, name in rows]


def _decision(row: DecisionRow, display_name: str | None) -> Decision:
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
            "dissent": row.dissent,
            "concordant": row.concordant,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "created_by_name": display_name,
        }
    )
