"""`netlm registry`: synthetic registries, batch assessment and concordance audit.

The heavy lifting happens in an SQL engine (DuckDB in-process by default, Spark with
`--engine spark`); the command line only shows progress and results. Bad registry data exits 2
with one line per problem (row, column, value) unless `--skip-bad`, which assesses the other
rows and lists the skipped ones (also written to `<out stem>.rejected.csv`).
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from netlm.cli.common import fail, word_table

if TYPE_CHECKING:
    from netlm.registry.audit import Audit

registry_app = typer.Typer(
    help="Registry analytics: synthetic data, batch assessment, concordance audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class GroupBy(StrEnum):
    CENTER = "center"
    DIAGNOSIS_YEAR = "diagnosis_year"
    GRADE = "grade"
    PATTERN = "pattern"
    SITE = "site"


class AuditFormat(StrEnum):
    table = "table"
    json = "json"


EngineOption = Annotated[EngineName, typer.Option("--engine", help="duckdb (embedded) or spark")]
MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master",
        metavar="URL",
        help="With --engine spark: local[N], spark://host:port, yarn or k8s://… (default "
        "NETLM_SPARK_MASTER, else local[2]).",
    ),
]
ConfOption = Annotated[
    list[str] | None,
    typer.Option(
        "--conf",
        metavar="KEY=VALUE",
        help="With --engine spark: a Spark setting KEY=VALUE (repeatable; after those in "
        "NETLM_SPARK_CONF), e.g. spark.executor.memory=4g.",
    ),
]
SkipOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Skip rows with bad data: listed on stderr, and every problem written to "
        "NAME.rejected.csv, NAME being the output's (assess: --out; audit: --html, else --csv, "
        "else the source) without its extension.",
    ),
]


@contextmanager
def _progress(label: str, total: float | None = 1.0) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr; yields a callback taking the fraction (or count) done."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


@contextmanager
def _engine(
    path: Path, engine: EngineName, master: str | None, conf: list[str] | None
) -> Iterator[Any]:
    from netlm.registry.engines import DuckDBEngine, RegistryError, SparkEngine, spark_session

    if not path.is_file():
        raise fail([f"{path}: no such file"])
    try:
        if engine is EngineName.duckdb:
            for option, given in (("--master", master is not None), ("--conf", conf)):
                if given:
                    raise fail([f"{option}: only with --engine spark"])
            opened: Any = DuckDBEngine(path)
        else:
            with _progress("starting Spark", None):
                session = spark_session(master, conf or ())
            opened = SparkEngine(path, session)
    except RegistryError as exc:
        raise fail(exc.lines) from None
    try:
        yield opened
    except RegistryError as exc:
        raise fail(exc.lines) from None
    finally:
        opened.close()


def _report_skipped(skipped: list[tuple[int, str]], where: Path) -> None:
    """Each skipped row's problems (the first lines on screen, every line in `where`)."""
    from netlm.registry.batch import SHOWN_PROBLEMS, write_rejected

    if not skipped:
        return
    lines = [line for _, problems in skipped for line in problems.split("\n")]
    for line in lines[:SHOWN_PROBLEMS]:
        typer.echo(line, err=True)
    if len(lines) > SHOWN_PROBLEMS:
        typer.echo(f"… and {len(lines) - SHOWN_PROBLEMS} more problem lines", err=True)
    rows = ", ".join(str(r) for r, _ in skipped[:20]) + (", …" if len(skipped) > 20 else "")
    write_rejected(skipped, where)
    which = "row" if len(skipped) == 1 else "rows"
    typer.echo(f"skipped {len(skipped)} {which} with bad data ({which} {rows}); every problem is "
               f"listed in {where}", err=True)  # fmt: skip


@registry_app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of patients.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 1,
) -> None:
    """Write a synthetic registry: published NETLM series where they give a figure, the rest
    illustrative; the outcomes show how the analyses work, not medicine."""
    from netlm.registry.synth import synthesise

    if out.suffix.lower() not in (".parquet", ".csv"):
        raise fail([f"{out}: the registry must be a .parquet or .csv file"])
    done = 0

    with _progress(f"synthesising {n} patients", n) as update:

        def step(size: int) -> None:
            nonlocal done
            done += size
            update(done)

        synthesise(n, seed, out, step)
    typer.echo(f"wrote {_patients(n)} to {out}")


def _patients(n: int) -> str:
    return f"{n} patient" if n == 1 else f"{n} patients"


def _check_output(path: Path, option: str = "") -> None:
    """An output file is Parquet or CSV, told by its name."""
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise fail([f"{option}{path}: the output must be a .parquet or .csv file"])


@registry_app.command("assess")
def assess_command(
    source: Annotated[Path, typer.Argument(help="Registry file (.parquet or .csv).")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    skip_bad: SkipOption = False,
) -> None:
    """Assess every patient with the knowledge base compiled to SQL."""
    from netlm.registry import batch

    _check_output(out)
    with _engine(source, engine, spark_master, spark_conf) as opened:
        checked = batch.check(opened, skip_bad)
        with _progress(f"assessing on {engine.value}") as update:
            batch.write_assessment(opened, out, progress=update)
        _report_skipped(checked.skipped, out.with_suffix(".rejected.csv"))
    typer.echo(f"assessed {_patients(checked.rows)} into {out}")


@registry_app.command("audit")
def audit_command(
    source: Annotated[Path, typer.Argument(help="Registry file (.parquet or .csv).")],
    by: Annotated[GroupBy, typer.Option("--by", help="Group the audit by this.")] = GroupBy.CENTER,
    html: Annotated[Path | None, typer.Option("--html", help="Self-contained HTML report.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Per-group summary as CSV.")] = None,
    patients: Annotated[
        Path | None,
        typer.Option(
            "--patients",
            help="One row per patient (.parquet or .csv): id, group, treatment given, "
            "concordance, grade and the outcome columns, for `netlm survival … --by concordance`.",
        ),
    ] = None,
    output: Annotated[AuditFormat, typer.Option("--format")] = AuditFormat.table,
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    skip_bad: SkipOption = False,
) -> None:
    """Was the treatment given recommended, considered or excluded by netlm?"""
    from netlm.registry.audit import run_audit, write_csv, write_html, write_patients
    from netlm.registry.batch import check

    if patients is not None:
        _check_output(patients, "--patients ")
    with _engine(source, engine, spark_master, spark_conf) as opened:
        checked = check(opened, skip_bad)
        with _progress(f"auditing on {engine.value}", None):
            result = run_audit(opened, by.value, checked=checked)
            if patients is not None:
                write_patients(opened, by.value, patients)
        rejected = (html or csv or source).with_suffix(".rejected.csv")
        _report_skipped(result.checked.skipped, rejected)
    if html is not None:
        write_html(result, html)
    if csv is not None:
        write_csv(result, csv)
    if output is AuditFormat.json:
        typer.echo(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2))
        return
    _print_audit(result, by.value)


def _print_audit(result: "Audit", by: str) -> None:
    """The audit as a table that cuts no word at 80 columns, the reasons as lines below it
    (rule names are long words a table column would cut)."""
    from netlm.registry.audit import CATEGORIES

    rows = [
        [
            g.group,
            str(g.patients),
            *(f"{g.counts[c]} ({100 * g.share(c):.1f}%)" for c in CATEGORIES),
        ]
        for g in result.groups
    ]
    headers = [by, "patients", *(c.replace("_", " ") for c in CATEGORIES)]
    console = Console()
    title = f"Concordance by {by} ({result.discordant_total} discordant)"
    table = word_table(title, headers, rows, console.width)
    console = Console()
    console.print(table)
    reasons = [
        f"{g.group}: " + "; ".join(f"{o} {r} ({n})" for o, r, n in g.reasons[:3])
        for g in result.groups
        if g.reasons
    ]
    if reasons:
        console.print("Top reasons for discordant care (option, rule, patients):")
        for line in reasons:
            console.print(f"  {line}", highlight=False)
