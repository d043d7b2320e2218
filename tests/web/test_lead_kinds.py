"""Caution kinds and not-proposed groups are read back from the knowledge base's own wording
(netlm.web.lead): every caution of every example is placed by the rule or message that wrote it,
never by the fallback, in both languages."""

import pytest

import netlm
from netlm.knowledge.load import KnowledgeBase
from netlm.web.lead import caution_kind, exclusion_group, written_kind
from tests.conftest import EXAMPLES, load_json


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_caution_is_placed_by_what_wrote_it(kb: KnowledgeBase, lang: str) -> None:
    unplaced, kinds = [], set()
    for path in EXAMPLES:
        assessment = netlm.assess(netlm.parse_case(load_json(path)), lang=lang)
        for rec in assessment.recommendations:
            for text in rec.cautions:
                kind = written_kind(text, rec.option, kb, lang)
                if kind is None:
                    unplaced.append((path.name, rec.option, text))
                kinds.add(kind)
    assert unplaced == []
    assert kinds == {"gate", "unchecked", "label", "note"}


def test_an_unknown_caution_is_shown_as_a_safety_gate(kb: KnowledgeBase) -> None:
    """Safety is asymmetric: a sentence no rule of the knowledge base wrote is not a mere note."""
    assert caution_kind("Something new and unforeseen.", "prrt", kb, "en") == "gate"


def test_not_proposed_groups(kb: KnowledgeBase) -> None:
    """v03 (progressive midgut NET after SSA, distant nodes, functional syndrome not recorded):
    transplant is not indicated, surveillance is ruled out by a contraindication, an SSA for a
    syndrome and embolisation wait on findings not recorded."""
    path = next(p for p in EXAMPLES if p.name.startswith("03-"))
    for lang in ("en", "zh"):
        assessment = netlm.assess(netlm.parse_case(load_json(path)), lang=lang)
        groups = {e.option: exclusion_group(e, kb, lang) for e in assessment.excluded}
        assert groups["liver_transplant_evaluation"] == "not_indicated"
        assert groups["surveillance"] == "ruled_out"
        assert groups["ssa"] == groups["tace"] == "waiting"
