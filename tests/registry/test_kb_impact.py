"""`netlm kb impact` and `netlm kb release`: the patients a knowledge-base change moves, checked
against the single-case engine, and the committed impact report of the working tree."""

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from netlm.cli.app import app
from netlm.engine import assess
from netlm.knowledge import releases
from netlm.knowledge.load import KnowledgeBase, load_from, load_knowledge_base
from netlm.knowledge.releases import BaseError, archive_bytes, open_version, write_release
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.registry.engines import DuckDBEngine, SparkEngine
from netlm.registry.impact import (
    Impact,
    Versions,
    run,
    synthetic_registry,
    text_lines,
    write_html,
)
from tests.registry.conftest import NETLM, random_registry

REPORT = Path(__file__).parents[2] / "src/netlm/knowledge/IMPACT.md"
RULE = "prrt.contraindication.severe_renal_impairment"


def _edit_rule(data: Path, option: str, rule: str, when: dict[str, Any]) -> None:
    """Give one contraindication of the data folder `data` a new condition."""
    for file in sorted((data / "rules").glob("*.yaml")):
        entries = yaml.safe_load(file.read_text(encoding="utf-8"))
        for entry in entries:
            for contra in entry.get("contraindications", []) if entry["option"] == option else []:
                if contra["id"] == rule:
                    contra["when"] = when
                    file.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
                    return
    raise AssertionError(f"no contraindication {option}.{rule}")


@pytest.fixture(scope="module")
def data_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kb") / "data"
    shutil.copytree(releases.package_data(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def stricter(tmp_path_factory: pytest.TempPathFactory, data_copy: Path) -> Path:
    """The working tree's knowledge base with PRRT excluded below a creatinine clearance of 40
    mL/min instead of 30."""
    folder = tmp_path_factory.mktemp("stricter") / "data"
    shutil.copytree(data_copy, folder)
    renal = {"fact": "labs.creatinine_clearance_ml_min", "lt": 40,
             "source": "lutathera_hk_label.contraindications"}  # fmt: skip
    _edit_rule(folder, "prrt", "severe_renal_impairment", renal)
    return folder


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    path = tmp_path_factory.mktemp("registry") / "random.parquet"
    return path, random_registry(path, 1000, seed=21)


def _impact(base: KnowledgeBase, head: KnowledgeBase, path: Path) -> Impact:
    engine = DuckDBEngine(path)
    try:
        return run(engine, Versions(base, head, "base", "head"), path.name)
    finally:
        engine.close()


def _decision(a: Assessment, kb: KnowledgeBase) -> tuple[Any, ...]:
    """What the impact compares, from the single-case engine: first tier, strengths and the
    contraindications that exclude each option (worded as the rule's reason)."""
    first = [(r.option, r.strength) for r in a.recommendations if r.tier == 1]
    strengths = {r.option: r.strength for r in a.recommendations}
    contra = {option: {c.rule.reason("en") for c in entry.contraindications}
              for option, entry in kb.options.items()}  # fmt: skip
    excluded = {e.option: sorted(set(e.reasons) & contra[e.option]) for e in a.excluded}
    return first, strengths, excluded


def test_a_changed_threshold_moves_exactly_the_patients_the_engine_moves(
    registry: tuple[Path, list[Case]], stricter: Path
) -> None:
    path, cases = registry
    base, head = load_knowledge_base(), load_from(stricter)
    impact = _impact(base, head, path)
    expected = {
        case.id
        for case in cases
        if _decision(assess(case, kb=base), base) != _decision(assess(case, kb=head), head)
    }
    assert expected, "the random registry has patients at the new threshold"
    moved = [pid for t in impact.transitions for pid in t.ids]
    assert sorted(moved) == sorted(expected)
    assert impact.changed == len(expected)
    assert [c.id for c in impact.changes] == [RULE]
    assert impact.changes[0].before == {"when": "labs.creatinine_clearance_ml_min < 30"}
    assert impact.changes[0].after == {"when": "labs.creatinine_clearance_ml_min < 40"}
    for t in impact.transitions:
        assert t.causes == [RULE]
        assert t.direct
        assert {s.option for s in t.options} == {"prrt"}
        assert all("severe_renal_impairment" in s.after for s in t.options)
        assert not any("severe_renal_impairment" in s.before for s in t.options)


def test_spark_reports_what_duckdb_reports(tmp_path: Path, stricter: Path, spark: Any) -> None:
    path = tmp_path / "small.parquet"
    random_registry(path, 300, seed=22)
    versions = Versions(load_knowledge_base(), load_from(stricter), "base", "head")
    engine = SparkEngine(path, spark)
    try:
        on_spark = run(engine, versions, path.name)
    finally:
        engine.close()
    assert on_spark.changed
    assert on_spark == _impact(versions.base, versions.head, path)


def test_identical_knowledge_bases_change_nobody(
    registry: tuple[Path, list[Case]], data_copy: Path
) -> None:
    impact = _impact(load_knowledge_base(), load_from(data_copy), registry[0])
    assert (impact.changed, impact.transitions, impact.changes) == (0, [], [])
    assert "0 patients (0.0 %) change" in text_lines(impact)[0]


def test_a_git_ref_is_read_from_the_checkout(
    tmp_path: Path, data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ref of a checkout (here a throwaway repository: a CI clone may have no history)."""
    repo = tmp_path / "repo"
    shutil.copytree(data_copy, repo / releases.DATA_IN_CHECKOUT)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org",
           "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]  # fmt: skip
    for step in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "kb"], ["tag", "v1"]):
        subprocess.run([*git, *step], check=True, capture_output=True)
    monkeypatch.setattr(releases, "_checkout", lambda: repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with open_version("v1") as version:
        assert version.source == "git v1"
        assert version.kb.manifest == load_knowledge_base().manifest
        assert list(scratch.iterdir())
    assert not list(scratch.iterdir()), "the extracted folder is removed"
    with pytest.raises(BaseError, match="no-such-ref: not `release`"), open_version("no-such-ref"):
        pass


def test_bad_base_and_registry_are_named() -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["kb", "impact", "--base", "no/such/ref", "--registry", "x.csv"])
    assert done.exit_code == 2
    assert done.output == "--registry x.csv: no such file (or `synthetic` for the bundled one)\n"
    done = runner.invoke(app, ["kb", "impact", "--base", "no/such/ref"])
    assert done.exit_code == 2
    assert "Traceback" not in done.output
    assert done.output.startswith("--base no/such/ref: not `release`, an archived version")


def test_an_unreadable_base_names_its_version(tmp_path: Path, data_copy: Path) -> None:
    old = tmp_path / "data"
    shutil.copytree(data_copy, old)
    (old / "dimensions.yaml").unlink()
    version = load_knowledge_base().manifest.version
    with pytest.raises(BaseError) as caught, open_version(str(old)):
        pass
    assert str(caught.value) == (
        f"knowledge base {version} (folder {old}) cannot be read by this netlm: "
        "dimensions.yaml: No such file or directory"
    )


def test_cli_writes_text_json_and_a_self_contained_html(
    registry: tuple[Path, list[Case]], data_copy: Path, stricter: Path, tmp_path: Path
) -> None:
    page, report = tmp_path / "impact.html", tmp_path / "impact.json"
    args = ["kb", "impact", "--base", data_copy, "--head", stricter, "--registry", registry[0],
            "--html", page, "--json", report]  # fmt: skip
    done = subprocess.run([str(NETLM), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Knowledge base ")
    assert re.search(r"^\S.*: [\d,]+ patients? \([\d.]+ %\)$", done.stdout, re.M), done.stdout
    assert "prrt contraindication `severe_renal_impairment` changed (when)" in done.stdout
    payload = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(payload, Impact.model_json_schema(by_alias=True))
    assert payload["schema"] == "netlm.kb-impact/1"
    assert payload["changes"][0]["id"] == RULE
    html = page.read_text(encoding="utf-8")
    assert "<style>" in html
    assert "severe_renal_impairment" in html
    assert not re.search(r"<script|<link|src=|https?://", html)


def test_release_archives_are_reproducible_and_immutable(tmp_path: Path, data_copy: Path) -> None:
    assert archive_bytes(data_copy) == archive_bytes(data_copy)
    target, new = write_release(data_copy, "copy", tmp_path)
    assert new
    assert target.name == f"{load_knowledge_base().manifest.version}.tar.gz"
    assert write_release(data_copy, "copy", tmp_path) == (target, False)
    changed = tmp_path / "changed"
    shutil.copytree(data_copy, changed)
    (changed / "flags.yaml").write_text(
        (changed / "flags.yaml").read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8"
    )
    with pytest.raises(BaseError, match="already released with other content"):
        write_release(changed, "changed", tmp_path)


def test_release_is_the_newest_archive_that_differs_from_the_tree(tmp_path: Path) -> None:
    version = releases.last_release(releases.package_data())
    assert version in releases.archived()
    assert (releases.RELEASES / f"{version}.tar.gz").read_bytes() != archive_bytes(
        releases.package_data()
    )
    with open_version("release") as base:
        assert base.kb.manifest.version == version
        assert base.source == f"release {version}"


@pytest.fixture(scope="module")
def working_tree_impact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Impact]:
    path, described = synthetic_registry(tmp_path_factory.mktemp("synthetic"))
    with open_version("release") as base, open_version(None) as head:
        engine = DuckDBEngine(path)
        try:
            yield run(engine, Versions(base.kb, head.kb, base.source, head.source), described)
        finally:
            engine.close()


def test_the_committed_impact_report_is_current(
    working_tree_impact: Impact, tmp_path: Path
) -> None:
    """CI: the impact of the working tree against the last release on the synthetic registry,
    as `make kb-impact` writes it next to the knowledge base."""
    now = "\n".join(text_lines(working_tree_impact, markdown=True)) + "\n"
    committed = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    assert committed == now, (
        f"{REPORT} is not what the knowledge base changes now: run `make kb-impact` and commit it"
    )
    write_html(working_tree_impact, tmp_path / "impact.html")
