"""The command line through a real subprocess, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import EXAMPLES, ROOT, VIGNETTES

NETLM = Path(sys.executable).parent / "netlm"


def netlm(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NETLM), *args], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def case_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return EXAMPLES[2]  # progressive midgut NET on SSA


def test_text_summary(case_file: Path) -> None:
    result = netlm("assess", str(case_file))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for heading in (
        "Classification",
        "Proposed options",
        "Not proposed",
        "Flags",
        "Missing findings",
    ):
        assert heading in out
    assert "1. 177Lu-DOTATATE PRRT" in out
    assert "NETTER-1 (phase 3 RCT, N=229)" in out


def test_json_is_exactly_the_assessment(case_file: Path) -> None:
    result = netlm("assess", str(case_file), "--format", "json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    schema = json.loads(netlm("schema", "assessment").stdout)
    jsonschema.validate(data, schema)
    assert data["schema"] == "netlm.assessment/1"
    assert data["recommendations"][0]["option"] == "prrt"


def test_markdown_and_chinese(case_file: Path) -> None:
    result = netlm("assess", str(case_file), "--format", "markdown", "--lang", "zh")
    assert result.returncode == 0
    assert result.stdout.startswith("# netlm 评估")
    assert "## 推荐方案" in result.stdout
    assert "肽受体放射性核素治疗" in result.stdout


def test_region_option_overrides_the_case(case_file: Path) -> None:
    data = json.loads(netlm("assess", str(case_file), "-f", "json", "--region", "US").stdout)
    assert all(set(r["availability"]) == {"US"} for r in data["recommendations"])
    assert "surufatinib" in [e["option"] for e in data["excluded"]]


def test_stdin(case_file: Path) -> None:
    result = netlm("assess", "-", "-f", "json", stdin=case_file.read_text())
    assert result.returncode == 0
    assert json.loads(result.stdout)["case_id"] == "v03"


def test_many_cases_as_json_array() -> None:
    result = netlm("assess", *map(str, EXAMPLES), "-f", "json")
    assert result.returncode == 0
    assert len(json.loads(result.stdout)) == len(EXAMPLES)


def test_bad_value_exit_2_one_line(tmp_path: Path) -> None:
    case = json.loads(VIGNETTES[0].read_text())["case"]
    case["pathology"]["ki67_percent"] = 140
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(case))
    result = netlm("assess", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == "pathology.ki67_percent: must be between 0 and 100, got 140"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "(json): malformed JSON at line 1, column 2"),
        ("", "(json): malformed JSON"),
        ('{"schema": "netlm.case/1"}', "id: required field is missing"),
    ],
)
def test_malformed_input(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    result = netlm("assess", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert "Traceback" not in result.stderr


def test_unreadable_files(tmp_path: Path) -> None:
    missing = netlm("assess", str(tmp_path / "nope.json"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2, "(file): cannot read: No such file or directory",
    )  # fmt: skip
    directory = netlm("assess", str(tmp_path))
    assert directory.returncode == 2
    assert "is a directory" in directory.stderr


def test_several_files_name_the_bad_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = netlm("assess", str(EXAMPLES[0]), str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bad}: (root): must be a JSON object, got list"


def test_bad_option_value_is_a_usage_error(case_file: Path) -> None:
    result = netlm("assess", str(case_file), "--lang", "fr")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_schema_case_validates_the_examples() -> None:
    result = netlm("schema", "case")
    schema = json.loads(result.stdout)
    assert schema["title"] == "netlm.case/1"
    for path in EXAMPLES:
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_kb_check() -> None:
    result = netlm("kb", "check")
    assert result.returncode == 0
    assert "OK: 20 options" in result.stdout


@pytest.mark.parametrize("item", ["prrt", "netter1", "sstr_positive"])
def test_kb_show(item: str) -> None:
    result = netlm("kb", "show", item)
    assert result.returncode == 0
    assert json.loads(result.stdout)


def test_kb_show_unknown_id() -> None:
    result = netlm("kb", "show", "nonsense")
    assert result.returncode == 2
    assert result.stderr.startswith("nonsense: not found")


def test_python_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netlm", "kb", "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0
