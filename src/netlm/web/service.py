"""The board's use cases, shared by the API and the pages: store a case, assess it, decide.

Every new case version is assessed at once and the assessment stored with the knowledge-base
version that produced it; the record of what netlm said is never recomputed silently.
"""

from dataclasses import dataclass

from netlm.engine import assess
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.codes import Language
from netlm.model.decision import Decision, DecisionIn
from netlm.store.repository import CaseRecord, Store, UserInfo


@dataclass(frozen=True)
class CaseView:
    record: CaseRecord
    assessment: Assessment
    assessment_id: int | None
    stored_kb_version: str | None
    decisions: list[Decision]

    @property
    def kb_changed(self) -> bool:
        return (
            self.stored_kb_version is not None
            and self.stored_kb_version != self.assessment.knowledge_base.version
        )


class Board:
    def __init__(self, store: Store, kb: KnowledgeBase) -> None:
        self.store, self.kb = store, kb

    def _assess_and_save(self, record: CaseRecord, by: UserInfo) -> int:
        result = assess(record.case, kb=self.kb)
        return self.store.save_assessment(record.case_id, record.version, result, by)

    def create(self, case: Case, by: UserInfo, comment: str = "") -> CaseRecord:
        """Store the case and its assessment together; a retried create returns the stored case
        (assessed now if an older netlm stored it without its assessment)."""
        result = assess(case, kb=self.kb)
        record = self.store.create_case(case, by, comment=comment, assessment=result)
        if record.replayed and self.store.latest_assessment(record.case_id) is None:
            self._assess_and_save(record, by)
        return record

    def update(
        self,
        case_id: str,
        case: Case,
        by: UserInfo,
        expected_version: int | None = None,
        comment: str = "",
    ) -> CaseRecord:
        result = assess(case, kb=self.kb)
        return self.store.update_case(
            case_id, case, by, expected_version=expected_version, comment=comment, assessment=result
        )

    def reassess(self, case_id: str, by: UserInfo) -> int:
        return self._assess_and_save(self.store.get_case(case_id), by)

    def view(self, case_id: str, by: UserInfo | None, lang: Language = "en") -> CaseView:
        record = self.store.get_case(case_id, by=by)
        latest = self.store.latest_assessment(case_id)
        stored_id, stored = latest if latest else (None, None)
        if stored is not None and lang == "en":
            shown = stored
        else:  # other languages are rendered from the same case by the current knowledge base
            shown = assess(record.case, lang=lang, kb=self.kb)
        return CaseView(
            record=record,
            assessment=shown,
            assessment_id=stored_id,
            stored_kb_version=stored.knowledge_base.version if stored else None,
            decisions=self.store.list_decisions(case_id),
        )

    def decide(self, case_id: str, decision: DecisionIn, by: UserInfo) -> Decision:
        return self.store.record_decision(case_id, decision, by)
