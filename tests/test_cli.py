"""The command line through a real subprocess, as a user runs it."""

import json
import os
import re
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pytest
import typer.main
from click.testing import CliRunner
from typer.core import TyperGroup

from netlm.cli.app import app
from netlm.cli.common import plain_help
from netlm.knowledge.load import KnowledgeBase
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
    assert (
        result.stderr.strip()
        == f"{path}: pathology.ki67_percent: must be between 0 and 100, got 140"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "(json): malformed JSON at line 1, column 2"),
        ("", "is empty (expected a JSON document)"),
        ('{"schema": "netlm.case/1"}', "id: required field is missing"),
    ],
)
def test_malformed_input(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    result = netlm("assess", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: {expected}")
    assert "Traceback" not in result.stderr


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    missing = netlm("assess", str(tmp_path / "nope.json"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2, f"{tmp_path / 'nope.json'}: cannot read: No such file or directory",
    )  # fmt: skip
    directory = netlm("assess", str(tmp_path))
    assert directory.returncode == 2
    assert directory.stderr.strip() == f"{tmp_path}: is a directory, not a JSON file"


def test_stdin_problems_say_stdin() -> None:
    result = netlm("assess", "-", stdin="[]")
    assert result.returncode == 2
    assert result.stderr.strip() == "(stdin): (root): must be a JSON object, got list"


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_several_files_print_the_good_and_report_each_bad(tmp_path: Path, output: str) -> None:
    bad, missing = tmp_path / "bad.json", tmp_path / "missing.json"
    bad.write_text("[]")
    result = netlm(
        "assess", str(EXAMPLES[0]), str(bad), str(missing), str(EXAMPLES[1]), "-f", output
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}: (root): must be a JSON object, got list",
        f"{missing}: cannot read: No such file or directory",
    ]
    if output == "json":
        assert [a["case_id"] for a in json.loads(result.stdout)] == ["v01", "v02"]
    else:
        assert "Case v01" in result.stdout
        assert "Case v02" in result.stdout


def test_markdown_tables_have_a_header_row(case_file: Path) -> None:
    lines = netlm("assess", str(case_file), "-f", "markdown").stdout.splitlines()
    separators = [i for i, line in enumerate(lines) if re.fullmatch(r"\|(-+\|)+", line)]
    assert separators, "no table"
    for i in separators:
        assert lines[i - 1] == "| Aspect | Result |"
        assert lines[i - 2] == "", "a header row must start the table"
    grade = lines[separators[0] + 1]
    assert grade.startswith("| Grade | NET G")


def test_version_names_the_release_and_the_knowledge_base(kb: KnowledgeBase) -> None:
    result = netlm("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == (
        f"netlm {version('netlm')} "
        f"(knowledge base {kb.manifest.version}, released {kb.manifest.released})"
    )


def _command_paths() -> list[list[str]]:
    """Every command of the tree, as the words a user types after `netlm`."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_help_names_values_not_python_types() -> None:
    """In this process (one subprocess per command took ~50 s): the command main() runs, the
    help at the width the subprocess tests use."""
    runner, command = CliRunner(), typer.main.get_command(app)
    plain_help(command)  # as main() does
    for path in _command_paths():
        result = runner.invoke(command, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
        assert "{" not in usage, (path, usage)
        assert not re.search(r"<(bool|str|int|float|list\[\w+\]|path)>", result.stdout), (
            path, result.stdout,
        )  # fmt: skip


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
    assert result.stderr.strip() == (
        "nonsense: not found; `netlm kb show` without an ID lists every ID"
    )


def test_kb_show_without_id_lists_everything_showable(kb: KnowledgeBase) -> None:
    result = netlm("kb", "show")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert listed == {*kb.options, *kb.evidence, *kb.definitions}
    assert "Options (20):" in result.stdout
    assert "  prrt " in result.stdout
    chinese = netlm("kb", "show", "--lang", "zh").stdout
    assert "肽受体放射性核素治疗" in chinese


def test_python_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netlm", "kb", "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0


@pytest.mark.parametrize("demo", [[], ["--demo"]])
def test_serve_on_a_taken_port_says_so_before_starting(tmp_path: Path, demo: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(NETLM), "serve", "--port", str(port), *demo], capture_output=True, text=True,
            timeout=60, cwd=tmp_path, env={**os.environ, "NETLM_DATA_DIR": str(tmp_path)},
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"port {port} on 127.0.0.1 is already in use by another program; "
        f"choose another with --port (with make: make run PORT={port + 1})"
    )
    assert list(tmp_path.iterdir()) == [], "nothing is prepared before the port is known free"


def test_serve_on_an_unknown_host_says_so(tmp_path: Path) -> None:
    result = netlm("serve", "--host", "no-such-host.invalid", "--port", "8111")
    assert result.returncode == 2
    assert result.stderr.startswith("--host no-such-host.invalid: not an address of this machine")
