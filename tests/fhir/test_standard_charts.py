"""Charts coded with standard codes only, completed by the tumour board, give the strategy of
the hand-written cases (examples 02, 03 and 07)."""

import json
from pathlib import Path

import pytest

from netlm import parse_case
from netlm.engine import assess
from netlm.fhir import bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.cds.completion import with_board_facts
from netlm.knowledge.load import KnowledgeBase
from netlm.model.case import Case
from tests.conftest import EXAMPLES
from tests.fhir.charts import BUNDLES, ON

STANDARD = sorted(BUNDLES.glob("standard-*.json"))
# Findings a standard chart cannot state, beyond those only netlm's codes carry: "no
# extrahepatic disease" has no code, nor has "stopped because of progression".
NO_CODE_FOR_THE_VALUE = {"extrahepatic.sites", "prior_therapies"}


def example(path: Path) -> Case:
    stem = path.name.removeprefix("standard-")[:3]
    (source,) = (p for p in EXAMPLES if p.name.startswith(stem))
    return parse_case(json.loads(source.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", STANDARD, ids=lambda p: p.stem)
def test_standard_codes_plus_the_boards_completion_give_the_same_strategy(
    path: Path, kb: KnowledgeBase
) -> None:
    text = path.read_text(encoding="utf-8")
    assert c.NETLM_BASE not in text  # no netlm code system anywhere in the chart
    imported = bundle_to_case(json.loads(text), on=ON)
    hand_written = example(path)
    completed, board = with_board_facts(imported.case, hand_written, last_ehr_facts=())
    assert board, "the standard chart lacks the imaging findings"
    assert set(board) <= c.NO_STANDARD_CODE | NO_CODE_FOR_THE_VALUE
    assert {"liver.pattern", "sstr_imaging.krenning_score"} <= set(board)
    for lang in ("en", "zh"):
        want = assess(hand_written, lang=lang, kb=kb)  # type: ignore[arg-type]
        got = assess(completed, lang=lang, kb=kb)  # type: ignore[arg-type]
        assert got.classification == want.classification
        assert got.recommendations == want.recommendations
        assert got.excluded == want.excluded
        assert got.flags == want.flags


def test_standard_codes_alone_say_which_findings_only_the_board_can_give(kb: KnowledgeBase) -> None:
    imported = bundle_to_case(json.loads(STANDARD[1].read_text(encoding="utf-8")), on=ON)
    assert imported.case.course.status == "progressive"
    assert imported.case.primary.status == "resected"
    assert imported.case.labs.bilirubin_x_uln == pytest.approx(0.8)
    missing = {m.field for m in assess(imported.case, kb=kb).missing_data}
    assert "liver.pattern" in missing
