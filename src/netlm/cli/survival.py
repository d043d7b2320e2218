"""`netlm survival km|logrank|cox`: survival analysis of a registry file on DuckDB or Spark.

Bad input exits 2 with one line per problem naming the column, the row and the value; a
progress display on stderr follows each long step; results go to stdout (JSON or a table).
"""

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlm.cli.common import fail, word_table
from netlm.survival.errors import SurvivalInputError
from netlm.survival.options import ConfType, Ties

if TYPE_CHECKING:  # the estimators load NumPy, SciPy and matplotlib: only when a command runs
    from netlm.survival.data import Factor, SurvivalData
    from netlm.survival.engines import SqlEngine
    from netlm.survival.km import KaplanMeier

survival_app = typer.Typer(
    help="Survival analysis of a registry file (Parquet or CSV): Kaplan–Meier, log-rank, Cox.",
    no_args_is_help=True,
)
Note = Callable[[str], None]


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


Source = Annotated[Path, typer.Argument(help="Registry file: .parquet or .csv.")]
TimeOption = Annotated[
    str, typer.Option("--time", help="Follow-up time column, e.g. followup_months.")
]
EventOption = Annotated[
    str, typer.Option("--event", help="Event column: 1 event (e.g. death), 0 censored.")
]
ByOption = Annotated[str | None, typer.Option("--by", help="Group column, e.g. center.")]
EngineOption = Annotated[EngineName, typer.Option("--engine", help="SQL engine.")]
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
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
SkipOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Leave out rows with bad or empty values (counted and listed on stderr; nothing "
        "is written).",
    ),
]
PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Write the Kaplan–Meier plot (.png or .svg).")
]


@survival_app.command("km")
def km_command(
    source: Source,
    time: TimeOption,
    event: EventOption,
    by: ByOption = None,
    plot: PlotOption = None,
    conf_type: Annotated[
        ConfType, typer.Option("--conf-type", help="Confidence interval (R's conf.type).")
    ] = ConfType.log,
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    output: FormatOption = OutputFormat.table,
    skip_bad: SkipOption = False,
) -> None:
    """Kaplan–Meier curves with Greenwood confidence intervals, one per group."""
    from netlm.survival.km import KaplanMeier
    from netlm.survival.plotting import plot_km

    with _session(engine, spark_master, spark_conf, plot) as (sql, note):
        data = _load(sql, note, source, time, event, by, [], skip_bad)
        note("Kaplan–Meier")
        km = KaplanMeier(conf_type).fit(data)
        if plot is not None:
            note(f"plotting {plot}")
            plot_km(km, plot, time_label=time, group_label=by)
    if output is OutputFormat.json:
        _echo_json(km.to_json_dict())
    else:
        _km_table(km, data)


@survival_app.command("logrank")
def logrank_command(
    source: Source,
    time: TimeOption,
    event: EventOption,
    by: Annotated[str, typer.Option("--by", help="Group column whose groups are compared.")],
    plot: PlotOption = None,
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    output: FormatOption = OutputFormat.table,
    skip_bad: SkipOption = False,
) -> None:
    """Log-rank test of equal survival across the groups of --by (R's survdiff)."""
    from netlm.survival.km import KaplanMeier
    from netlm.survival.logrank import LogRank
    from netlm.survival.plotting import plot_km

    with _session(engine, spark_master, spark_conf, plot) as (sql, note):
        data = _load(sql, note, source, time, event, by, [], skip_bad)
        note("log-rank test")
        test = LogRank().fit(data)
        assert test.result is not None
        if plot is not None:
            note(f"plotting {plot}")
            km = KaplanMeier().fit(data)
            plot_km(
                km, plot, time_label=time, group_label=by, note=f"log-rank p = {test.result.p:.3g}"
            )
    result = test.result
    if output is OutputFormat.json:
        _echo_json(result.to_json_dict())
        return
    table = Table(title=f"log-rank test by {by}")
    for column in ("group", "n", "observed", "expected", "(O-E)²/E"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for group, o, e in zip(data.groups, result.observed, result.expected, strict=True):
        table.add_row(group.label, str(group.n), f"{o:.0f}", f"{e:.2f}", f"{(o - e) ** 2 / e:.3f}")
    console = Console()
    console.print(table)
    console.print(
        f"chisq = {result.chisq:.4g} on {result.df} degrees of freedom, p = {result.p:.3g}"
    )


@survival_app.command("cox")
def cox_command(
    source: Source,
    time: TimeOption,
    event: EventOption,
    covariates: Annotated[
        list[str] | None,
        typer.Option(
            "--covariates",
            help="Numeric covariate columns, comma-separated (or the option repeated).",
        ),
    ] = None,
    factors: Annotated[
        list[str] | None,
        typer.Option(
            "--factor",
            help="Categorical covariate: COLUMN, or COLUMN=REFERENCE to choose the reference "
            "value (default: the first in the column's order); one 0/1 covariate per other "
            "value, named COLUMN=VALUE. Comma-separated or repeated.",
        ),
    ] = None,
    strata: Annotated[
        list[str] | None,
        typer.Option(
            "--strata",
            help="Stratify by these columns (R's strata()): each stratum has its own baseline "
            "hazard and risk sets. Comma-separated or repeated.",
        ),
    ] = None,
    ties: Annotated[Ties, typer.Option("--ties", help="Handling of tied event times.")] = (
        Ties.efron
    ),
    engine: EngineOption = EngineName.duckdb,
    spark_master: MasterOption = None,
    spark_conf: ConfOption = None,
    output: FormatOption = OutputFormat.table,
    skip_bad: SkipOption = False,
) -> None:
    """Cox proportional hazards: coefficients, hazard ratios with 95 % CI, p, concordance."""
    from netlm.survival.cox import CoxPH
    from netlm.survival.data import Factor

    names = _split(covariates)
    categorical = [Factor.parse(spec) for spec in _split(factors)]
    with _session(engine, spark_master, spark_conf, None) as (sql, note):
        data = _load(
            sql, note, source, time, event, None, names, skip_bad, categorical, _split(strata)
        )
        model = CoxPH(ties).fit(data, progress=note)
    if not model.converged:
        typer.echo(
            f"warning: the Cox model did not converge in {model.iterations} iterations "
            "(a coefficient may be infinite: an event group without events?)",
            err=True,
        )
    if output is OutputFormat.json:
        _echo_json(model.to_json_dict())
        return
    stratified = f", stratified by {', '.join(model.strata)}" if model.strata else ""
    rows = [
        [
            c.name,
            f"{c.coef:.4g}",
            f"{c.se:.4g}",
            f"{c.hr:.4g}",
            f"{c.hr_lower:.4g}–{c.hr_upper:.4g}",
            _p_value(c.p),
        ]
        for c in model.coefficients
    ]
    headers = ["covariate", "coef", "se", "HR", "95 % CI", "p"]
    console = Console()
    title = f"Cox proportional hazards ({ties.value} ties{stratified})"
    table = word_table(title, headers, rows, console.width, breaks=".=")
    console.print(table)
    console.print(
        f"n = {model.n}, events = {model.events}, concordance = {model.concordance:.4f}, "
        f"log partial likelihood = {model.loglik:.4f}, {model.iterations} Newton iterations"
    )


@contextmanager
def _session(
    engine: EngineName, spark_master: str | None, spark_conf: list[str] | None, plot: Path | None
) -> Iterator[tuple["SqlEngine", Note]]:
    """The engine and a progress display; bad input anywhere inside exits 2 with its lines."""
    from netlm.survival.engines import SparkEngine, open_engine
    from netlm.survival.plotting import plot_format

    sql: SqlEngine | None = None
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),  # pulses: the steps of a fit are known, their durations are not
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        if plot is not None:
            plot_format(plot)
        with progress:
            task = progress.add_task("starting the engine", total=None)

            def note(step: str) -> None:
                progress.update(task, description=step)

            if engine is EngineName.spark:
                note("starting Spark")
            sql = open_engine(engine.value, spark_master, spark_conf or ())
            if isinstance(sql, SparkEngine):
                note(f"Spark session ready in {sql.startup_seconds:.1f} s")
            yield sql, note
    except SurvivalInputError as exc:
        raise fail([*exc.problems, *([SKIP_HINT] if exc.skippable else [])]) from None
    finally:
        if sql is not None:
            sql.close()


def _load(
    sql: "SqlEngine",
    note: Note,
    source: Path,
    time: str,
    event: str,
    by: str | None,
    covariates: list[str],
    skip_bad: bool,
    factors: list["Factor"] | None = None,
    strata: list[str] | None = None,
) -> "SurvivalData":
    from netlm.survival.data import SurvivalData

    note(f"reading and checking {source}")
    data = SurvivalData.load(
        sql,
        source,
        time=time,
        event=event,
        by=by,
        covariates=covariates,
        factors=factors or [],
        strata=strata or [],
        skip_bad=skip_bad,
    )
    if data.skipped.count:
        rows = "row" if data.skipped.count == 1 else "rows"
        typer.echo(f"skipped {data.skipped.count} {rows} with bad values (--skip-bad):", err=True)
        for line in data.skipped.problems:
            typer.echo(f"  {line}", err=True)
    return data


def _split(options: list[str] | None) -> list[str]:
    """Column names given comma-separated, the option repeated, or both."""
    return [name.strip() for option in options or [] for name in option.split(",") if name.strip()]


def _km_table(km: "KaplanMeier", data: "SurvivalData") -> None:
    console = Console()
    summary = Table(title=f"Kaplan–Meier ({km.conf_type.value} confidence interval)")
    for column in ("group", "n", "events", "median", "95 % CI"):
        summary.add_column(column, justify="left" if column == "group" else "right")
    for group, curve in zip(data.groups, km.curves, strict=True):
        median, low, high = curve.median()
        summary.add_row(
            group.label, str(group.n), str(group.events), _num(median), f"{_num(low)}–{_num(high)}"
        )
    console.print(summary)
    for curve in km.curves:
        steps = Table(title=f"{curve.group}: survival at each event time")
        for column in ("time", "n at risk", "events", "survival", "lower", "upper"):
            steps.add_column(column, justify="right")
        shown = list(range(len(curve.time)))
        if len(curve.time) > 40:  # a long curve: every k-th event time and the last
            step = math.ceil(len(curve.time) / 20)
            shown = sorted({*range(0, len(curve.time), step), len(curve.time) - 1})
            steps.caption = (
                f"{len(shown)} of {len(curve.time)} event times shown; --format json for all"
            )
        for i in shown:
            steps.add_row(
                f"{curve.time[i]:g}",
                str(curve.n_risk[i]),
                str(curve.n_event[i]),
                f"{curve.survival[i]:.4f}",
                _num(curve.lower[i], ".4f"),
                _num(curve.upper[i], ".4f"),
            )
        console.print(steps)


SKIP_HINT = (
    "run again with --skip-bad to analyse the other rows (the rows left out are counted and "
    "listed on stderr; nothing is written)"
)


def _p_value(p: float) -> str:
    """A p-value as a reader takes it: never "0" (a p below what doubles hold underflows)."""
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def _num(value: float | None, spec: str = "g") -> str:
    if value is None or not math.isfinite(value):
        return "NA"
    return format(value, spec)


def _echo_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(_finite(payload), allow_nan=False))


def _finite(value: Any) -> Any:
    """NaN and infinities (R's NA) become null: JSON has no literal for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
