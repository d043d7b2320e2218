"""`netlm survival` through a real subprocess, as a user runs it: the JSON contract, plots, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.survival.conftest import FIXTURES, number, read_csv

NETLM = Path(sys.executable).parent / "netlm"
LUNG = str(FIXTURES / "lung.csv")


def netlm(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NETLM), "survival", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_km_json_follows_the_contract_and_r() -> None:
    done = netlm(
        "km", LUNG, "--time", "time", "--event", "status", "--by", "sex", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert list(payload) == ["groups"]
    keys = ["group", "time", "survival", "lower", "upper", "n_risk", "n_event"]
    assert [list(group) for group in payload["groups"]] == [keys, keys]
    assert [group["group"] for group in payload["groups"]] == ["1", "2"]
    reference = [row for row in read_csv("km_lung_sex_log.csv") if row["group"] == "2"]
    assert payload["groups"][1]["survival"] == pytest.approx(
        [number(r["survival"]) for r in reference], abs=1e-12
    )
    assert payload["groups"][1]["n_risk"] == [int(r["n_risk"]) for r in reference]


def test_km_without_groups_and_na_limits_become_null() -> None:
    done = netlm(
        "km",
        str(FIXTURES / "ends_in_death.csv"),
        "--time",
        "time",
        "--event",
        "event",
        "--conf-type",
        "log-log",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    (group,) = json.loads(done.stdout)["groups"]
    assert group["group"] == "all"
    assert group["survival"][-1] == 0
    assert group["lower"][-1] is None
    assert group["upper"][-1] is None


def test_logrank_and_cox_json() -> None:
    done = netlm(
        "logrank", LUNG, "--time", "time", "--event", "status", "--by", "sex", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert list(result) == ["chisq", "df", "p"]
    assert result["chisq"] == pytest.approx(10.326741954885632, rel=1e-10)
    done = netlm(
        "cox",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "age,sex",
        "--covariates",
        "ph.ecog",
        "--skip-bad",
        "--ties",
        "breslow",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert list(model) == ["n", "events", "coefficients", "concordance"]
    assert (model["n"], model["events"]) == (227, 164)
    assert next(list(c) for c in model["coefficients"]) == [
        "name",
        "coef",
        "se",
        "hr",
        "hr_lower",
        "hr_upper",
        "p",
    ]
    reference = {
        r["name"]: r for r in read_csv("cox.csv") if (r["case"], r["ties"]) == ("lung", "breslow")
    }
    for coefficient in model["coefficients"]:
        assert coefficient["coef"] == pytest.approx(
            number(reference[coefficient["name"]]["coef"]), abs=1e-6
        )
    assert "skipped 1 row with bad values (--skip-bad):" in done.stderr
    assert 'row 14, column "ph.ecog": is empty (a value is required)' in done.stderr


def test_cox_with_a_categorical_covariate_and_its_reference() -> None:
    """`--factor arm=C`: the indicators named column=value, R's estimates (cox_factors.csv)."""
    data = str(FIXTURES / "random_ties.csv")
    done = netlm("cox", data, "--time", "time", "--event", "event", "--covariates", "x1",
                 "--factor", "arm=C", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = [r for r in read_csv("cox_factors.csv")
                if (r["case"], r["ties"], r["factor"]) == ("ties", "efron", "arm=C")]  # fmt: skip
    coefficients = json.loads(done.stdout)["coefficients"]
    assert [c["name"] for c in coefficients] == ["x1", "arm=A", "arm=B"]
    for got, row in zip(coefficients, expected, strict=True):
        assert got["coef"] == pytest.approx(number(row["coef"]), abs=1e-6)
    refused = netlm("cox", data, "--time", "time", "--event", "event", "--factor", "arm=Z")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip() == 'column "arm": reference "Z" is not one of its values (A, B, C)'
    )


def test_stratified_cox_as_r() -> None:
    """`--strata arm`: R's `+ strata(arm)` (cox_strata.csv), the strata named in the JSON."""
    data = str(FIXTURES / "random_ties.csv")
    done = netlm("cox", data, "--time", "time", "--event", "event", "--covariates", "x1,x2,x3",
                 "--strata", "arm", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = [
        r for r in read_csv("cox_strata.csv") if (r["case"], r["ties"]) == ("ties", "efron")
    ]
    assert result["strata"] == ["arm"]
    assert result["concordance"] == pytest.approx(number(expected[0]["concordance"]), abs=1e-12)
    for got, row in zip(result["coefficients"], expected, strict=True):
        assert got["coef"] == pytest.approx(number(row["coef"]), abs=1e-6)
    table = netlm("cox", data, "--time", "time", "--event", "event", "--covariates", "x1",
                  "--strata", "arm")  # fmt: skip
    assert "stratified by arm" in table.stdout


def test_readable_tables() -> None:
    done = netlm("km", LUNG, "--time", "time", "--event", "status", "--by", "sex")
    assert done.returncode == 0, done.stderr
    assert "median" in done.stdout
    assert "270" in done.stdout  # R: median survival of sex = 1
    done = netlm(
        "cox", LUNG, "--time", "time", "--event", "status", "--covariates", "age,sex", "--skip-bad"
    )
    assert done.returncode == 0, done.stderr
    assert "concordance" in done.stdout


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_with_numbers_at_risk(tmp_path: Path, suffix: str, magic: bytes) -> None:
    plot = tmp_path / f"km{suffix}"
    done = netlm(
        "km", LUNG, "--time", "time", "--event", "status", "--by", "sex", "--plot", str(plot)
    )
    assert done.returncode == 0, done.stderr
    content = plot.read_bytes()
    assert content.startswith(magic)
    if suffix == ".svg":
        text = content.decode()
        assert "number at risk" in text
        assert "138" in text  # sex = 1 at risk at time 0


def test_logrank_plot_names_the_p_value(tmp_path: Path) -> None:
    plot = tmp_path / "km.svg"
    done = netlm(
        "logrank", LUNG, "--time", "time", "--event", "status", "--by", "sex", "--plot", str(plot)
    )
    assert done.returncode == 0, done.stderr
    assert "log-rank p = 0.00131" in plot.read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["km", LUNG, "--time", "days", "--event", "status"],
            'column "days" (time): not in the input',
        ),
        (
            ["cox", LUNG, "--time", "time", "--event", "status", "--covariates", "age,ph.ecog"],
            'row 14, column "ph.ecog": is empty (a value is required)',
        ),
        (
            ["km", LUNG, "--time", "time", "--event", "status", "--plot", "km.pdf"],
            "--plot km.pdf: the file name must end in .png or .svg",
        ),
        (
            ["km", LUNG, "--time", "time", "--event", "status", "--master", "local[1]"],
            "--master: only with --engine spark",
        ),
        (
            ["km", "nothing.csv", "--time", "time", "--event", "status"],
            "(file) nothing.csv: no such file",
        ),
    ],
)
def test_bad_input_exits_2_with_a_line_naming_the_problem(args: list[str], expected: str) -> None:
    done = netlm(*args)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_spark_engine_end_to_end() -> None:
    done = netlm(
        "logrank",
        LUNG,
        "--time",
        "time",
        "--event",
        "status",
        "--by",
        "sex",
        "--engine",
        "spark",
        "--format",
        "json",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["chisq"] == pytest.approx(10.326741954885632, rel=1e-9)
