"""The arm tables: figures exactly as the records give them, "not reached" kept, the comparison
named, a control arm said to be one, and prognostic figures apart and shown once."""

from netlm.knowledge.load import KnowledgeBase
from netlm.web.outcomes import study_outcomes


def test_not_reached_primary_first_and_comparison(kb: KnowledgeBase) -> None:
    netter1 = study_outcomes("netter1", kb, "en", "prrt")
    assert netter1 is not None
    name, cells = netter1.rows[0]
    assert name == "Median PFS (primary endpoint)"
    assert cells == ["not reached", "8.4 months", "0.21 (95% CI 0.13–0.33)"]
    assert netter1.comparison == "177Lu-DOTATATE + octreotide vs high-dose octreotide"
    assert netter1.control_note == ""
    clarinet = study_outcomes("clarinet", kb, "zh", "ssa")
    assert clarinet is not None
    assert clarinet.rows[0][1][0] == "未达到"


def test_a_control_arm_says_so(kb: KnowledgeBase) -> None:
    shown = study_outcomes("netter2", kb, "en", "ssa")
    assert shown is not None
    assert shown.control_note.startswith("SSA was this trial's control arm")
    zh = study_outcomes("netter2", kb, "zh", "ssa")
    assert zh is not None
    assert "为对照组" in zh.control_note


def test_prognostic_figures_apart_and_once(kb: KnowledgeBase) -> None:
    outcomes = study_outcomes("mayo2010", kb, "en", "curative_resection")
    prognostic = study_outcomes("mayo2010", kb, "en", prognostic=True)
    assert outcomes is not None
    assert prognostic is not None
    assert not [name for name, _ in outcomes.rows if "HR" in name]
    assert prognostic.arms == [], "the HR column alone: no value column repeating it"
    assert [cells for _, cells in prognostic.rows] == [
        ["3 (no 95% CI in the source as read)"],
        ["2 (no 95% CI in the source as read)"],
        ["1.9 (no 95% CI in the source as read)"],
    ]
    remnant = study_outcomes("kawaguchi2019", kb, "en", prognostic=True)
    assert remnant is not None
    assert study_outcomes("kawaguchi2019", kb, "en", "curative_resection") is None
    # Every prognostic endpoint of the knowledge base is shown only in the prognostic table.
    for record in kb.evidence.values():
        if any(e.prognostic for e in record.endpoints):
            treated = study_outcomes(record.id, kb, "en")
            names = {e.name.en for e in record.endpoints if e.prognostic}
            assert not names & {n for n, _ in (treated.rows if treated else [])}
