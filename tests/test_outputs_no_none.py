"""No output a newcomer reads says "None": every example through `netlm assess` (text, markdown,
JSON) and `netlm fhir export`, in both languages. JSON may carry null, never the string."""

import pytest
from typer.testing import CliRunner

from netlm.cli.app import app
from netlm.engine.assess import citable_identifier
from netlm.knowledge.load import load_knowledge_base
from tests.conftest import EXAMPLES

RUNNER = CliRunner()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_assess_never_prints_none(fmt: str, lang: str) -> None:
    result = RUNNER.invoke(app, ["assess", "-f", fmt, "--lang", lang, *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "None" in line]
    assert not lines, lines[:3]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fhir_export_never_says_none(lang: str) -> None:
    for example in EXAMPLES:
        result = RUNNER.invoke(app, ["fhir", "export", "--lang", lang, str(example)])
        assert result.exit_code == 0, (example.name, result.output)
        assert "None" not in result.stdout, example.name


def test_evidence_without_doi_or_pmid_cites_what_it_has() -> None:
    kb = load_knowledge_base()
    bare = [r for r in kb.evidence.values() if not r.doi and not r.pmid]
    assert bare, "the knowledge base has label records without DOI or PMID"
    for record in bare:
        assert citable_identifier(record) == (record.url or "")
    label = kb.evidence["lutathera_eu_smpc.indication"]
    assert citable_identifier(label) == "https://www.medicines.org.uk/emc/product/12723"
