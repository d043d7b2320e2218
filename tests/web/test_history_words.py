"""The history in the reader's words: people by display name, netlm's own changes said to be
netlm's, and the stored English first line of an EHR version's comment in the page's language."""

import datetime as dt

from netlm.fhir.cds.completion import version_comment
from netlm.fhir.mapping.result import FhirImport
from netlm.knowledge.load import KnowledgeBase
from netlm.model.parse import parse_case
from netlm.store.identity import SYSTEM, UserInfo
from netlm.store.repository import AuditEntry
from netlm.web.history import audit_lines, comment_text
from tests.conftest import EXAMPLES, load_json

AT = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def entry(username: str) -> AuditEntry:
    return AuditEntry(1, AT, None, username, "update", "case", "v01", {"version": 2})


def test_the_audit_trail_names_people_by_display_name(kb: KnowledgeBase) -> None:
    users = [UserInfo(1, "dr.li", "Li Wei", "clinician", False)]
    events = [entry("dr.li"), entry("gone.user"), entry(SYSTEM)]
    for lang, system in (("en", "netlm (no signed-in user)"), ("zh", "netlm（无登录用户）")):
        who = [line.who for line in audit_lines(events, users, kb, lang)]
        assert who == ["Li Wei", "gone.user", system], "the login only with no name on record"
    blank = [UserInfo(1, "dr.li", " ", "clinician", False)]
    assert audit_lines([entry("dr.li")], blank, kb, "en")[0].who == "dr.li"


def test_an_ehr_version_says_where_it_came_from_in_the_readers_language(
    kb: KnowledgeBase,
) -> None:
    case = parse_case(load_json(EXAMPLES[0]))
    imported = FhirImport(case=case, unmapped=[], sources={"patient.age": "Patient/p1"})
    stored = version_comment("https://ehr.example/fhir", "patient-view", imported, [])
    first = stored.splitlines()[0]
    assert first == "from the EHR (https://ehr.example/fhir) via CDS Hooks patient-view"
    assert comment_text(stored, kb, "en") == first
    assert (
        comment_text(stored, kb, "zh")
        == "由电子病历（https://ehr.example/fhir）经CDS Hooks patient-view写入"
    )
    assert comment_text("recount", kb, "zh") == "recount", "the board's own words stay as typed"
