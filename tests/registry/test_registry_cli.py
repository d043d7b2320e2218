"""`netlm registry` and `netlm schema registry` as a user runs them: real subprocesses."""

import csv
import json
import subprocess
from pathlib import Path
from typing import get_args

import jsonschema
import pyarrow.parquet as pq
import pytest

from netlm.model.codes import PrimarySite
from tests.registry.conftest import NETLM

SITES: tuple[str, ...] = get_args(PrimarySite)


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NETLM), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "synth.parquet"
    done = run("registry", "synth", "--n", "3000", "--seed", "5", "--out", path)
    assert done.returncode == 0, done.stderr
    return path


def test_synth_is_seeded_and_valid_against_the_registry_schema(
    registry: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.parquet"
    assert run("registry", "synth", "--n", "3000", "--seed", "5", "--out", again).returncode == 0
    assert pq.read_table(again).equals(pq.read_table(registry))
    schema = json.loads(run("schema", "registry").stdout)
    rows = pq.read_table(registry).to_pylist()
    validator = jsonschema.Draft202012Validator(schema)
    for row in rows[:500]:
        validator.validate(row)
    assert {r["death"] for r in rows} == {0, 1} == {r["progressed"] for r in rows}
    assert {r["primary.site"] for r in rows} >= {"pancreas", "small_intestine"}


def test_schema_rejects_an_unknown_column_and_a_bad_cell() -> None:
    schema = json.loads(run("schema", "registry").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({"id": "a", "primary.site": "pancreas", "pathology.ki67": 3})
    assert not validator.is_valid({"id": "a", "primary.site": "lung"})
    assert validator.is_valid({"id": "a", "primary.site": "pancreas", "liver.pattern": None})


def test_assess_writes_the_output_contract(registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "assessed.parquet"
    done = run("registry", "assess", registry, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "assessed 3000 patients" in done.stdout
    table = pq.read_table(out)
    assert table.column_names == [
        "id", "classification.grade", "classification.liver_pattern",
        "classification.resectability", "classification.intent", "recommendations", "excluded",
    ]  # fmt: skip
    for row in table.slice(0, 50).to_pylist():
        recs = json.loads(row["recommendations"])
        assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
        assert all({"option", "strength", "rank", "tier"} <= set(r) for r in recs)
        excluded = json.loads(row["excluded"])
        assert all(set(e) == {"option", "rules"} and e["rules"] for e in excluded)
        assert len(recs) + len(excluded) == 20


def test_bad_cells_exit_2_naming_row_column_and_value(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "id,primary.site,pathology.ki67_percent,extrahepatic.sites,treatment_given\n"
        "ok1,pancreas,5,[],ssa\n"
        'bad2,lung,120,"[""bone""]",ssa+magic\n'
        'bad3,rectum,,"[""brain""]",\n',
        encoding="utf-8",
    )
    done = run("registry", "assess", source, "--out", tmp_path / "out.parquet")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith('row 2, column primary.site, value "lung": must be one of pancreas')
    assert 'row 2, column pathology.ki67_percent, value "120": must be at most 100' in lines
    assert any(
        line.startswith('row 2, column treatment_given, value "ssa+magic"') for line in lines
    )
    assert any(
        line.startswith('row 3, column extrahepatic.sites, value "["brain"]"') for line in lines
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.parquet").exists()

    skipped = run("registry", "assess", source, "--out", tmp_path / "out.parquet", "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 2 rows with bad data (rows 2, 3)" in skipped.stderr
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == ["ok1"]
    with (tmp_path / "out.rejected.csv").open(encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert {r["row"] for r in rejected} == {"2", "3"}
    assert len(rejected) == len(lines)


def test_unknown_and_missing_columns_are_named(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("id,pathology.ki67\nx,3\n", encoding="utf-8")
    done = run("registry", "assess", source, "--out", tmp_path / "o.parquet")
    assert done.returncode == 2
    assert "column pathology.ki67: not a registry column" in done.stderr
    assert "column primary.site: missing from the header (required)" in done.stderr


def test_audit_html_is_self_contained_and_csv_sums_up(registry: Path, tmp_path: Path) -> None:
    html, table = tmp_path / "audit.html", tmp_path / "audit.csv"
    done = run("registry", "audit", registry, "--by", "grade", "--html", html, "--csv", table,
               "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["patients"] == 3000
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "Discordant cases" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page
    with table.open(encoding="utf-8") as handle:
        groups = list(csv.DictReader(handle))
    assert {g["grade"] for g in groups} <= {"G1", "G2", "G3", "NEC", "unknown"}
    assert sum(int(g["patients"]) for g in groups) == 3000
    for g in groups:
        counted = sum(int(g[c]) for c in ("recommended", "considered", "excluded", "not_recorded"))
        assert counted == int(g["patients"])
    assert result["discordant_total"] == sum(int(g["excluded"]) for g in groups)


def test_audit_patients_feed_survival_by_concordance(registry: Path, tmp_path: Path) -> None:
    """`--patients` writes one row per patient in registry order; `netlm survival` reads it
    and its groups are the audit's concordance counts."""
    patients = tmp_path / "patients.csv"
    done = run("registry", "audit", registry, "--by", "center", "--patients", patients,
               "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    audit = json.loads(done.stdout)
    with patients.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    source = pq.read_table(registry, columns=["id", "center", "followup_months"]).to_pylist()
    assert [r["id"] for r in rows] == [r["id"] for r in source]
    assert [r["center"] for r in rows] == [r["center"] for r in source]
    assert [float(r["followup_months"]) for r in rows] == [r["followup_months"] for r in source]
    assert list(rows[0]) == ["id", "center", "treatment_given", "concordance",
                             "classification.grade", "followup_months", "death",
                             "progression_months", "progressed"]  # fmt: skip
    km = run("survival", "km", patients, "--time", "followup_months", "--event", "death",
             "--by", "concordance", "--format", "json")  # fmt: skip
    assert km.returncode == 0, km.stderr
    groups = {g["group"] for g in json.loads(km.stdout)["groups"]}
    counted = {c for c in ("recommended", "considered", "excluded", "not_recorded")
               if sum(g[c] for g in audit["groups"])}  # fmt: skip
    assert groups == counted
    refused = run("registry", "audit", registry, "--patients", tmp_path / "patients.txt")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"--patients {tmp_path / 'patients.txt'}: the output must be a .parquet or .csv file"
    )


def test_unknown_keys_in_list_cells_and_duplicate_ids_are_named_and_skipped_aloud(
    tmp_path: Path,
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "id,primary.site,prior_therapies\n"
        'a,pancreas,"[{""option"":""ssa"",""outcome"":""progression"",""dose"":""120 mg""}]"\n'
        "b,pancreas,\n"
        "a,rectum,\n"
        "c,lung,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.parquet"
    done = run("registry", "assess", source, "--out", out)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        'row 1, column prior_therapies, value "[{"option":"ssa","outcome":"progression",'
        '"dose":"120 mg"}]": each item may only have the keys option, outcome, started, '
        "stopped, best_response, line",
        'row 1, column id, value "a": duplicate id (also in row 3)',
        'row 3, column id, value "a": duplicate id (also in row 1)',
        f'row 4, column primary.site, value "lung": must be one of {", ".join(SITES)}',
    ]
    skipped = run("registry", "assess", source, "--out", out, "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    for line in lines:  # each skipped row is reported with its problems
        assert line in skipped.stderr
    assert "skipped 3 rows with bad data (rows 1, 3, 4)" in skipped.stderr
    assert pq.read_table(out).column("id").to_pylist() == ["b"]


def test_a_ragged_csv_line_and_a_repeated_column_are_named(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,primary.site\nx,pancreas\ny,rectum,surplus\n", encoding="utf-8")
    done = run("registry", "assess", ragged, "--out", tmp_path / "o.parquet")
    assert done.returncode == 2
    assert done.stderr.strip() == f"{ragged}, line 3: 3 fields where the header has 2"
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("id,primary.site,id\nx,pancreas,y\n", encoding="utf-8")
    done = run("registry", "assess", repeated, "--out", tmp_path / "o.parquet")
    assert done.returncode == 2
    assert done.stderr.strip() == "column id: appears 2 times in the header"
