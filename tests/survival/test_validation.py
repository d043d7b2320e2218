"""Bad input: one problem per line naming the column, the row (1-based) and the value.

Checked on CSV and Parquet (row numbers come from different readers) and on every role a
column can play; --skip-bad leaves the rows out and says which.
"""

from pathlib import Path

import duckdb
import pytest

from netlm.survival.cox import CoxPH
from netlm.survival.data import Factor, SurvivalData
from netlm.survival.engines import DuckDBEngine
from netlm.survival.errors import SurvivalInputError
from netlm.survival.logrank import LogRank

GOOD = "time,death,center,age\n1.5,1,A,60\n2,0,B,70\n3,1,A,65\n4,0,B,55\n"


def write(tmp_path: Path, text: str, fmt: str = "csv") -> Path:
    csv_path = tmp_path / "registry.csv"
    csv_path.write_text(text, encoding="utf-8")
    if fmt == "csv":
        return csv_path
    parquet = tmp_path / "registry.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) TO '{parquet}'")
    return parquet


def problems(engine: DuckDBEngine, path: Path, **options: object) -> list[str]:
    with pytest.raises(SurvivalInputError) as caught:
        SurvivalData.load(engine, path, **{"time": "time", "event": "death", **options})  # type: ignore[arg-type]
    return caught.value.problems


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("abc,1,A,60", 'row 3, column "time": "abc" is not a number'),
        ("-1.5,1,A,60", 'row 3, column "time": "-1.5" is negative (a follow-up time is 0 or more)'),
        ("nan,1,A,60", 'row 3, column "time": "nan" is not a finite number'),
        (",1,A,60", 'row 3, column "time": is empty (a value is required)'),
        (
            "5,2,A,60",
            'row 3, column "death": "2" is not 0 or 1 (1: the event happened, 0: censored)',
        ),
        ("5,yes,A,60", 'row 3, column "death": "yes" is not a number'),
        ("5,1,,60", 'row 3, column "center": is empty (every row needs a group)'),
        ("5,1,A,old", 'row 3, column "age": "old" is not a number'),
    ],
)
def test_a_bad_value_is_named_with_its_row_and_column(
    tmp_path: Path, duckdb_engine: DuckDBEngine, fmt: str, body: str, expected: str
) -> None:
    lines = GOOD.splitlines()
    text = "\n".join([*lines[:3], body, *lines[3:]]) + "\n"
    path = write(tmp_path, text, fmt)
    assert problems(duckdb_engine, path, by="center", covariates=["age"]) == [expected]


def test_every_problem_of_a_row_is_listed_and_many_rows_are_summed_up(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    bad_rows = "".join(f"x{i},9,A,60\n" for i in range(60))
    found = problems(duckdb_engine, write(tmp_path, GOOD + bad_rows))
    assert found[:2] == [
        'row 5, column "time": "x0" is not a number',
        'row 5, column "death": "9" is not 0 or 1 (1: the event happened, 0: censored)',
    ]
    assert found[-1] == "… and 10 more bad rows (60 in all)"


def test_skip_bad_leaves_out_the_rows_and_says_which(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    path = write(tmp_path, GOOD + "-3.5,1,A,60\n5,1,B,\n")
    data = SurvivalData.load(
        duckdb_engine, path, time="time", event="death", covariates=["age"], skip_bad=True
    )
    assert data.n == 4
    assert data.skipped.count == 2
    assert data.skipped.problems == [
        'row 5, column "time": "-3.5" is negative (a follow-up time is 0 or more)',
        'row 6, column "age": is empty (a value is required)',
    ]


def test_missing_columns_are_named_with_what_the_file_has(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    found = problems(duckdb_engine, write(tmp_path, GOOD), time="followup_months", by="grade")
    assert found == [
        'column "followup_months" (time): not in the input (time, death, center, age)',
        'column "grade" (group): not in the input (time, death, center, age)',
    ]


def test_dotted_registry_column_names_work(tmp_path: Path, duckdb_engine: DuckDBEngine) -> None:
    text = GOOD.replace("age", "pathology.ki67_percent")
    data = SurvivalData.load(
        duckdb_engine,
        write(tmp_path, text, "parquet"),
        time="time",
        event="death",
        covariates=["pathology.ki67_percent"],
    )
    assert data.covariates == ["pathology.ki67_percent"]
    assert data.n == 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("registry.xlsx", "not a Parquet (.parquet) or CSV (.csv) file"),
        ("absent.csv", "no such file"),
    ],
)
def test_files_that_cannot_be_read(
    tmp_path: Path, duckdb_engine: DuckDBEngine, name: str, expected: str
) -> None:
    path = tmp_path / name
    if name.endswith(".xlsx"):
        path.write_bytes(b"PK\x03\x04")
    (line,) = problems(duckdb_engine, path)
    assert line == f"(file) {path}: {expected}"


def test_a_corrupt_parquet_file_is_one_clear_line(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    (line,) = problems(duckdb_engine, path)
    assert line.startswith(f"(file) {path}: cannot read as parquet: ")


def test_a_constant_covariate_is_refused(tmp_path: Path, duckdb_engine: DuckDBEngine) -> None:
    path = write(
        tmp_path,
        GOOD.replace(",60\n", ",50\n")
        .replace(",70\n", ",50\n")
        .replace(",65\n", ",50\n")
        .replace(",55\n", ",50\n"),
    )
    data = SurvivalData.load(duckdb_engine, path, time="time", event="death", covariates=["age"])
    with pytest.raises(SurvivalInputError) as caught:
        CoxPH().fit(data)
    assert caught.value.problems == ['column "age": the same value in every row; not a covariate']


def test_log_rank_needs_two_groups(tmp_path: Path, duckdb_engine: DuckDBEngine) -> None:
    path = write(tmp_path, GOOD.replace(",B,", ",A,"))
    data = SurvivalData.load(duckdb_engine, path, time="time", event="death", by="center")
    with pytest.raises(SurvivalInputError) as caught:
        LogRank().fit(data)
    assert caught.value.problems == [
        'column "center": one group only (A); a log-rank test compares two or more'
    ]


def test_collinear_covariates_are_refused(tmp_path: Path, duckdb_engine: DuckDBEngine) -> None:
    rows = "".join(f"{i + 1},{i % 2},A,{i},{2 * i}\n" for i in range(20))
    path = write(tmp_path, "time,death,center,a,b\n" + rows)
    data = SurvivalData.load(duckdb_engine, path, time="time", event="death", covariates=["a", "b"])
    with pytest.raises(SurvivalInputError) as caught:
        CoxPH().fit(data)
    assert "collinear" in caught.value.problems[0]


def test_log_rank_needs_events(tmp_path: Path, duckdb_engine: DuckDBEngine) -> None:
    path = write(tmp_path, GOOD.replace(",1,", ",0,"))
    data = SurvivalData.load(duckdb_engine, path, time="time", event="death", by="center")
    with pytest.raises(SurvivalInputError) as caught:
        LogRank().fit(data)
    assert caught.value.problems == [
        'column "death": no events (every row is censored); nothing to compare'
    ]


def test_a_categorical_covariate_is_checked_like_any_column(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    """Empty values are named by row; one value only, an unknown reference and a column of
    numbers given as categorical are refused with the column named."""
    factor = [Factor("center")]
    assert problems(duckdb_engine, write(tmp_path, GOOD + "5,1,,60\n"), factors=factor) == [
        'row 5, column "center": is empty (a value is required)'
    ]
    one_center = GOOD.replace(",B,", ",A,")
    assert problems(duckdb_engine, write(tmp_path, one_center), factors=factor) == [
        'column "center": the same value in every row; not a covariate'
    ]
    assert problems(duckdb_engine, write(tmp_path, GOOD), factors=[Factor("center", "C")]) == [
        'column "center": reference "C" is not one of its values (A, B)'
    ]
    many = "time,death,age\n" + "".join(f"{i},1,{i}\n" for i in range(1, 60))
    assert problems(duckdb_engine, write(tmp_path, many), factors=[Factor("age")]) == [
        'column "age": more than 50 different values; a categorical covariate (--factor) takes '
        "at most that many (a number belongs in --covariates)"
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_categorical_levels_in_the_columns_own_order(
    tmp_path: Path, duckdb_engine: DuckDBEngine, fmt: str
) -> None:
    """Numbers numerically (10 after 9) when the file types them, text as sorted text."""
    body = "time,death,grade\n" + "".join(
        f"{t},{t % 2},{g}\n" for t, g in enumerate([9, 10, 2, 9, 10, 2, 9, 10], start=1)
    )
    data = SurvivalData.load(
        duckdb_engine, write(tmp_path, body, fmt), time="time", event="death",
        factors=[Factor("grade")],
    )  # fmt: skip
    expected = ["grade=9", "grade=10"] if fmt == "csv" else ["grade=2", "grade=9"]  # ref 2 | "10"
    assert data.covariates == expected
    assert Factor.parse("grade = 10") == Factor("grade", "10")
    assert Factor.parse("grade") == Factor("grade", None)


def test_a_stratum_must_be_present_on_every_row(
    tmp_path: Path, duckdb_engine: DuckDBEngine
) -> None:
    path = write(tmp_path, GOOD + "5,1,,60\n")
    assert problems(duckdb_engine, path, covariates=["age"], strata=["center"]) == [
        'row 5, column "center": is empty (a value is required)'
    ]
    assert problems(duckdb_engine, path, covariates=["age"], strata=["age"]) == [
        'column "age": named twice (as stratum too)'
    ]
