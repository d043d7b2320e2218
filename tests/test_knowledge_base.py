"""The knowledge base as data: it loads, it checks clean, and each kind of defect is caught."""

import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from netlm.knowledge.check import check
from netlm.knowledge.load import KnowledgeBase, KnowledgeBaseError, load_from
from netlm.model.codes import OPTION_CODES


def test_shipped_knowledge_base_is_sound(kb: KnowledgeBase) -> None:
    assert check(kb) == []


def test_catalogue_matches_the_option_vocabulary(kb: KnowledgeBase) -> None:
    assert list(kb.options) == list(OPTION_CODES)


def test_required_evidence_is_present(kb: KnowledgeBase) -> None:
    required = {
        "promid", "clarinet", "radiant3", "radiant4", "sun1111", "sanet_p", "sanet_ep",
        "cabinet_pnet", "cabinet_epnet", "netter1", "netter2", "compete", "e2211", "mayo2010",
        "mazzaferro2016", "nordic_nec2", "retnet", "who2019", "xue2025",
    }  # fmt: skip
    assert required <= set(kb.evidence)


def test_every_evidence_record_has_an_identifier(kb: KnowledgeBase) -> None:
    """A DOI or PMID; documents without one (labels, regulatory notices, standards) a URL and
    the date it was read."""
    for e in kb.evidence.values():
        assert e.doi or e.pmid or (e.url and e.read), e.id


def test_recommended_indications_rest_on_verified_evidence(kb: KnowledgeBase) -> None:
    for entry in kb.options.values():
        for ind in entry.indications:
            if ind.rule.strength == "recommended":
                assert any(kb.evidence[e].verified for e in ind.rule.evidence), ind.rule.id


Mutation = Callable[[Path], None]


def _edit(file: str, change: Callable[[Any], Any]) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / file
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        path.write_text(yaml.safe_dump(change(data), allow_unicode=True), encoding="utf-8")

    return mutate


def _first_indication(data: Any, option: str) -> Any:
    return next(r for r in data if r["option"] == option)["indications"][0]


def _ssa_first_line(data: Any) -> Any:
    rules = next(r for r in data if r["option"] == "ssa")["indications"]
    return next(i for i in rules if i["id"] == "first_line_ki67_below_10")


def _cite_missing(data: Any) -> Any:
    _ssa_first_line(data)["evidence"] = ["no_such_trial"]
    return data


def _drop_identifiers(data: Any) -> Any:
    data[0]["doi"], data[0]["pmid"] = None, None
    return data


def _unverify_ssa_trials(data: Any) -> Any:
    for record in data:
        if record["id"] in ("clarinet", "promid", "asco2023"):
            record["status"] = "unverified"
    return data


def _unverified_threshold(data: Any) -> Any:
    ind = _ssa_first_line(data)
    ind["when"]["all"][2]["source"] = "compete"  # unverified record used as a threshold source
    return data


def _unknown_fact(data: Any) -> Any:
    _ssa_first_line(data)["when"]["all"].append({"fact": "pathology.ki76", "lt": 10})
    return data


def _impossible_value(data: Any) -> Any:
    _ssa_first_line(data)["when"]["all"].append({"fact": "grade", "eq": "G4"})
    return data


def _no_chinese_name(data: Any) -> Any:
    data[0]["name"]["zh"] = " "
    return data


def _drop_age_gate(data: Any) -> Any:
    rules = next(r for r in data if r["option"] == "prrt")
    rules["eligibility"] = [g for g in rules["eligibility"] if g["id"] != "age_netter1"]
    return data


def _drop_operability_gate(data: Any) -> Any:
    rules = next(r for r in data if r["option"] == "everolimus")
    rules["eligibility"] = [g for g in rules["eligibility"] if g["id"] != "inoperable"]
    return data


def _cite_trial_outside_its_population(data: Any) -> Any:
    _first_indication(data, "surveillance")["evidence"].append("netter2")
    return data


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (_edit("rules/systemic.yaml", _cite_missing), "cites missing evidence 'no_such_trial'"),
        (_edit("evidence/local.yaml", _drop_identifiers), "has neither a DOI nor a PMID"),
        (
            _edit("evidence/systemic.yaml", _unverify_ssa_trials),
            "rests only on unverified evidence",
        ),
        (_edit("rules/systemic.yaml", _unverified_threshold), "comes from unverified 'compete'"),
        (_edit("rules/systemic.yaml", _unknown_fact), "unknown fact 'pathology.ki76'"),
        (_edit("rules/systemic.yaml", _impossible_value), "'G4' is not a value of grade"),
        (
            _edit("rules/systemic.yaml", _drop_age_gate),
            "prrt.indication.after_ssa_gastrointestinal: cites netter1, whose population is "
            "defined by age",
        ),
        (
            _edit("rules/systemic.yaml", _drop_operability_gate),
            "everolimus.indication.pancreatic_progressive: cites radiant3, whose population is "
            "defined by operability",
        ),
        (
            _edit("rules/other.yaml", _cite_trial_outside_its_population),
            "surveillance.indication.low_volume_stable: cites netter2, whose population is "
            "defined by sstr_all_lesions",
        ),
    ],
)
def test_check_catches(tmp_path: Path, mutation: Mutation, message: str) -> None:
    root = _copy(tmp_path)
    mutation(root)
    problems = check(load_from(root))
    assert any(message in p for p in problems), problems


def test_option_without_a_chinese_name_fails_to_load(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit("options.yaml", _no_chinese_name)(root)
    with pytest.raises(KnowledgeBaseError, match=r"options.yaml: 0.name.zh"):
        load_from(root)


def test_malformed_condition_fails_to_load(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def bad(data: Any) -> Any:
        _first_indication(data, "ssa")["when"] = {"fact": "grade", "lt": "G2"}
        return data

    _edit("rules/systemic.yaml", bad)(root)
    with pytest.raises(KnowledgeBaseError, match="invalid operand"):
        load_from(root)


def _copy(tmp_path: Path) -> Path:
    source = Path(str(resources.files("netlm.knowledge.data")))
    target = tmp_path / "data"
    shutil.copytree(source, target)
    return target


def test_a_key_given_twice_fails_to_load(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys silently; a second `contraindications:` of an
    option would drop the first list without a word, so the loader refuses it."""
    root = _copy(tmp_path)
    path = root / "rules" / "surgery.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "  contraindications:\n", "  contraindications: []\n  contraindications:\n", 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeBaseError, match="duplicate key 'contraindications'"):
        load_from(root)
