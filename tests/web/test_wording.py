"""How the assessment words what is not met: only the unmet or unknown requirements, as short
clauses ("Ki-67 index: below 10% (here 25%)"), alternatives as "one of: …; or …"."""

from netlm import parse_case
from netlm.engine import assess
from tests.conftest import ROOT, load_json

V06 = ROOT / "examples" / "06-grade-discordance.json"
V04 = ROOT / "examples" / "04-pnet-g3-first-line-sstr-positive.json"


def test_undetermined_resectability_names_only_what_is_unmet_or_unknown() -> None:
    """v06 without its extrahepatic finding: the pattern (type I) and the resectable primary are
    met and must not be named; the unknown extrahepatic disease is."""
    document = load_json(V06)
    document.pop("extrahepatic")
    (reason,) = assess(parse_case(document)).classification.resectability_reasons
    assert "extrahepatic disease" in reason
    assert "surgeon" not in reason
    assert "primary tumour" not in reason


def test_reasons_are_short_clauses_in_both_languages() -> None:
    case = parse_case(load_json(V04))
    english = {e.option: e.reasons for e in assess(case).excluded}
    assert "Ki-67 index: below 10% (here 25%)" in english["liver_transplant_evaluation"]
    assert any(r.startswith("one of: ") and "; or " in r for r in english["tae"])
    chinese = {e.option: e.reasons for e in assess(case, lang="zh").excluded}
    assert "Ki-67指数：低于10%（本例为25%）" in chinese["liver_transplant_evaluation"]
    for reasons in (*english.values(), *chinese.values()):
        for reason in reasons:
            assert " | " not in reason
            assert "required:" not in reason
            assert "要求：" not in reason
