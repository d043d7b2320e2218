"""The README's command lines as a newcomer runs them: the guided tour's commands as written
(their /tmp files in a folder of the test's own), then synth, audit and Cox at 80 columns, and
every command's help free of references to netlm's internal documents."""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest
import typer
from rich.console import Console

from netlm.cli.app import app
from netlm.cli.common import word_table
from netlm.cli.survival import _p_value
from netlm.registry.care import DISCORDANT
from netlm.registry.validate import header_problems
from tests.conftest import ROOT
from tests.registry.conftest import NETLM

COX = ["--time", "followup_months", "--event", "death", "--covariates",
       "pathology.ki67_percent,patient.age_years", "--factor", "primary.site=small_intestine",
       "--strata", "center"]  # fmt: skip


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NETLM), *map(str, args)], capture_output=True, text=True, check=False,
        env={**os.environ, "COLUMNS": "80"}, cwd=ROOT,
    )  # fmt: skip


def _tour() -> tuple[list[list[str]], str]:
    """The guided tour's command lines (comments dropped, continuations joined) and the start
    of the assessment it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("**On the command line**") :]
    commands, shown = re.findall(r"```(?:sh)?\n(.*?)```", part, re.S)[:2]
    lines = commands.replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip()], shown


def test_the_guided_tour_runs_as_written(tmp_path: Path) -> None:
    """Every command of the tour from the checkout, in its order; /tmp/ stands for tmp_path."""
    commands, shown = _tour()
    assert len(commands) == 7
    out = []
    for command in commands:
        assert command[0] == "netlm", command
        args = [arg.replace("/tmp/", f"{tmp_path}/") for arg in command[1:]]
        done = run(*args)
        assert done.returncode == 0, (command, done.stderr)
        out.append(done.stdout)
    english, chinese, synth, audit, km, logrank, cox = out
    assert english.startswith(shown)
    assert chinese.startswith("netlm 评估 · 病例 v03")
    assert synth.startswith("wrote 2000 patients to ")
    for words in ("Concordance by center", "recommended", "considered", "excluded", "C08",
                  "Top reasons for discordant care"):  # fmt: skip
        assert words in audit, words
    for name in ("reg.parquet", "audit.html", "patients.parquet", "km.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "Kaplan–Meier" in km
    assert re.search(r"\b\d+ of \d+ event times shown;", km), "a long curve is shortened"
    assert "log-rank test by concordance" in logrank
    assert "stratified by center" in cox
    assert cox.count("concordance=") == 3, "considered, excluded and not recorded"
    assert "recommended" not in cox, "recommended care is the reference"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("readme") / "registry.parquet"
    done = run("registry", "synth", "--n", "4000", "--seed", "1", "--out", path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 4000 patients to {path}"
    return path


def _fits_80(text: str) -> None:
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_audit_finds_the_documented_discordance(registry: Path) -> None:
    done = run("registry", "audit", registry, "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    share = result["discordant_total"] / result["patients"]
    assert abs(share - DISCORDANT) < 0.025, share
    assert DISCORDANT == 0.15  # the README's figure


@pytest.mark.parametrize("by", ["center", "site"])
def test_audit_table_cuts_no_word_at_80_columns(registry: Path, by: str) -> None:
    done = run("registry", "audit", registry, "--by", by)
    assert done.returncode == 0, done.stderr
    _fits_80(done.stdout)
    assert "recommended" in done.stdout
    assert "Top reasons" in done.stdout


def test_cox_as_in_the_readme(registry: Path) -> None:
    refused = run("survival", "cox", registry, *COX)
    assert refused.returncode == 2
    assert "run again with --skip-bad" in refused.stderr.splitlines()[-1]
    done = run("survival", "cox", registry, *COX, "--skip-bad")
    assert done.returncode == 0, done.stderr
    _fits_80(done.stdout)
    assert "<0.001" in done.stdout
    assert "skipped" in done.stderr
    assert "(--skip-bad)" in done.stderr


def test_one_patient_is_one_patient(tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    source.write_text("id,primary.site\np1,pancreas\n", encoding="utf-8")
    done = run("registry", "assess", source, "--out", tmp_path / "out.parquet")
    assert done.returncode == 0, done.stderr
    assert f"assessed 1 patient into {tmp_path / 'out.parquet'}" in done.stdout


def test_p_values_never_print_as_zero() -> None:
    assert _p_value(0.0) == _p_value(1e-300) == "<0.001"
    assert _p_value(0.0449) == "0.0449"


def test_word_table_wraps_at_spaces_instead_of_cutting() -> None:
    console = Console(width=40, record=True)
    console.print(word_table("t", ["group", "recommended"], [["small_intestine", "12 (3.4%)"]], 40))
    assert "…" not in console.export_text()


def test_an_unknown_column_gets_a_did_you_mean() -> None:
    problems = header_problems(["id", "primary.site", "pathology.ki67", "centre", "xyz"])
    assert (
        "column pathology.ki67: not a registry column (did you mean pathology.ki67_percent?)"
        in (problems[0])
    )
    assert "(did you mean center?)" in problems[1]
    assert "did you mean" not in problems[2]


def _helps(command: click.Command, path: str) -> list[tuple[str, str]]:
    """(command path, help text) of the command, its options and every subcommand."""
    texts = [(path, command.help or ""), (path, command.short_help or "")]
    texts += [(path, getattr(param, "help", None) or "") for param in command.params]
    for name, sub in getattr(command, "commands", {}).items():
        texts += _helps(sub, f"{path} {name}")
    return texts


def test_no_help_refers_to_internal_documents() -> None:
    """The development briefs ("the clinical brief", "interop brief §2") are not the user's."""
    helps = _helps(typer.main.get_command(app), "netlm")
    assert len(helps) > 100
    internal = re.compile(r"\bbrief\b|§|/work/", re.I)
    assert [(path, text) for path, text in helps if internal.search(text)] == []
