"""No output a newcomer reads says "None": every example through `netlm assess` (text, markdown,
JSON) and `netlm fhir export`, in both languages (JSON may carry null, never the string); `fhir
import` writes numbers as a person would; an empty file is called empty."""

import json
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
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


def test_fhir_import_writes_whole_numbers_and_no_empty_sections() -> None:
    charts = sorted((EXAMPLES[0].parent / "fhir").glob("*.json"))
    assert charts
    for chart in charts:
        result = RUNNER.invoke(app, ["fhir", "import", str(chart)])
        assert result.exit_code == 0, (chart.name, result.output)
        assert not re.search(r"\d\.0\b", result.stdout), chart.name
        assert "{}" not in result.stdout, chart.name
        assert "None" not in result.stdout, chart.name
        case = json.loads(result.stdout)
        assert RUNNER.invoke(app, ["assess", "-"], input=json.dumps(case)).exit_code == 0


@pytest.mark.parametrize("command", [["assess"], ["fhir", "export"], ["fhir", "import"]])
def test_an_empty_file_is_called_empty(command: list[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("\n", encoding="utf-8")
    result = RUNNER.invoke(app, [*command, str(empty)])
    assert result.exit_code == 2
    assert f"{empty}: is empty (expected a JSON document)" in result.stderr
    assert "malformed" not in result.stderr.lower()


def test_chinese_labels_line_up_in_terminal_cells() -> None:
    result = RUNNER.invoke(app, ["assess", "--lang", "zh", str(EXAMPLES[0])])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("分类") + 1
    rows = lines[start : start + 4]
    # the value starts at the same terminal column on every row (a CJK character is 2 cells)
    starts = {cell_len(re.match(r"\s*\S+\s+", row).group(0)) for row in rows}  # type: ignore[union-attr]
    assert len(starts) == 1, rows


@pytest.mark.parametrize(
    ("lang", "caution", "plain"),
    [
        ("en", "No approval found in China", "CN not approved"),
        ("zh", "在中国未查到获批信息", "CN 未获批"),
    ],
)
def test_an_unconfirmed_non_approval_is_worded_alike_on_one_option(
    lang: str, caution: str, plain: str
) -> None:
    result = RUNNER.invoke(app, ["assess", "--lang", lang, *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    cautioned = [b for b in re.split(r"\n  \d+\. ", result.stdout) if caution in b]
    assert cautioned
    for block in cautioned:
        assert plain not in block, block
