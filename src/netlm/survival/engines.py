"""The SQL engines the estimators run on: DuckDB embedded, Apache Spark for data that outgrows
one machine.

Every estimator speaks one SQL that both engines accept; the few places where their dialects
differ (quoting, exploding a count into rows, finiteness, numbering rows in file order) are
methods here, so the statistics never know which engine they run on.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from netlm.spark import SparkSetupError, file_uri, spark_session
from netlm.survival.errors import SurvivalInputError

Arrays = dict[str, npt.NDArray[Any]]

SOURCE_VIEW = "netlm_source"


def source_format(path: Path) -> str:
    """`parquet` or `csv`, from the file name; anything else is refused by name."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".txt"}:
        return "csv"
    raise SurvivalInputError([f"(file) {path}: not a Parquet (.parquet) or CSV (.csv) file"])


def sql_string(text: str) -> str:
    """A SQL string literal (both dialects double the single quote)."""
    return "'" + text.replace("'", "''") + "'"


class SqlEngine(ABC):
    """One connection: a source file registered as a view, temporary tables, queries."""

    name: str
    streaming_windows = False  # may a window without ORDER BY run in table order?
    frame_rank = False  # rank(ORDER BY …) OVER (…): a row's rank inside its window frame

    def __init__(self) -> None:
        self._source_rows_sql = ""

    @abstractmethod
    def quote(self, column: str) -> str:
        """The column name as an identifier (dotted registry names included)."""

    @abstractmethod
    def explode_range(self, count: str) -> str:
        """A select-list expression that turns each row into `count` rows numbered 0..count-1."""

    @abstractmethod
    def is_finite(self, expr: str) -> str:
        """A predicate: the DOUBLE `expr` is neither NaN nor infinite."""

    @abstractmethod
    def _register(self, path: Path, fmt: str) -> None: ...

    @abstractmethod
    def materialise(self, name: str, sql: str) -> None:
        """Keep the result of `sql` as table `name` for the queries that follow."""

    @abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small result, as tuples."""

    @abstractmethod
    def arrays(self, sql: str) -> Arrays:
        """A result as one NumPy array per column (per-distinct-time tables)."""

    @abstractmethod
    def column_names(self, table: str) -> list[str]: ...

    @abstractmethod
    def close(self) -> None:
        """Release the connection and the tables kept for the analysis."""

    def register(self, path: Path) -> None:
        """Register a Parquet or CSV file as the view `netlm_source`."""
        fmt = source_format(path)
        if not path.is_file():
            raise SurvivalInputError([f"(file) {path}: no such file"])
        try:
            self._register(path, fmt)
            self.column_names(SOURCE_VIEW)
        except SurvivalInputError:
            raise
        except Exception as exc:  # the engines' own reader errors, one line each
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SurvivalInputError([f"(file) {path}: cannot read as {fmt}: {first}"]) from None

    @property
    def numbered_source(self) -> str:
        """SQL of the source with `_row`, its 1-based row number in the file (header excluded).

        Only the error path uses it: numbering rows costs a pass in file order.
        """
        return self._source_rows_sql


class DuckDBEngine(SqlEngine):
    """Embedded DuckDB: the default, for files up to the size of a local disk."""

    name = "duckdb"

    frame_rank = True

    def __init__(self, threads: int | None = None) -> None:
        self.streaming_windows = True
        import duckdb

        super().__init__()
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")  # stdout is for results
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")

    def quote(self, column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    def explode_range(self, count: str) -> str:
        return f"unnest(range(CAST({count} AS BIGINT)))"

    def is_finite(self, expr: str) -> str:
        return f"isfinite({expr})"

    def _register(self, path: Path, fmt: str) -> None:
        literal = sql_string(str(path))
        if fmt == "parquet":
            reader = f"read_parquet({literal})"
            self._source_rows_sql = (
                f"SELECT *, file_row_number + 1 AS _row "
                f"FROM read_parquet({literal}, file_row_number = true)"
            )
        else:
            reader = f"read_csv({literal}, header = true)"
            # DuckDB's CSV reader keeps file order (preserve_insertion_order, the default).
            self._source_rows_sql = f"SELECT *, row_number() OVER () AS _row FROM {reader}"
        self._con.execute(f"CREATE OR REPLACE VIEW {SOURCE_VIEW} AS SELECT * FROM {reader}")

    def materialise(self, name: str, sql: str) -> None:
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self._con.execute(sql).fetchall()

    def arrays(self, sql: str) -> Arrays:
        return {key: np.asarray(value) for key, value in self._con.sql(sql).fetchnumpy().items()}

    def column_names(self, table: str) -> list[str]:
        return [str(column) for column in self._con.sql(f"SELECT * FROM {table} LIMIT 0").columns]

    def close(self) -> None:
        self._con.close()


class SparkEngine(SqlEngine):
    """Apache Spark: `local[2]` on one machine, `spark://…` (or yarn, k8s) for a cluster."""

    name = "spark"

    def __init__(self, master: str | None = None, conf: Sequence[str] = ()) -> None:
        super().__init__()
        started = time.perf_counter()
        try:  # few shuffle partitions when local: the aggregated tables are small
            self._spark = spark_session(master, "netlm-survival", conf, local_partitions=8)
        except SparkSetupError as exc:
            raise SurvivalInputError(exc.lines) from None
        self.startup_seconds = time.perf_counter() - started
        self._cached: list[Any] = []

    def quote(self, column: str) -> str:
        return "`" + column.replace("`", "``") + "`"

    def explode_range(self, count: str) -> str:
        return f"explode(sequence(0, CAST({count} AS INT) - 1))"

    def is_finite(self, expr: str) -> str:
        return f"(NOT isnan({expr}) AND abs({expr}) < double('Infinity'))"

    def _register(self, path: Path, fmt: str) -> None:
        reader, uri = self._spark.read, file_uri(path)
        frame = (
            reader.parquet(uri)
            if fmt == "parquet"
            else reader.csv(uri, header=True, inferSchema=True)
        )
        frame.createOrReplaceTempView(SOURCE_VIEW)
        # Spark reads one file in order, partition after partition; the generated id follows it.
        self._source_rows_sql = (
            f"SELECT *, row_number() OVER (ORDER BY monotonically_increasing_id()) AS _row "
            f"FROM {SOURCE_VIEW}"
        )

    def materialise(self, name: str, sql: str) -> None:
        frame = self._spark.sql(sql).cache()
        frame.count()
        frame.createOrReplaceTempView(name)
        self._cached.append(frame)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._spark.sql(sql).collect()]

    def arrays(self, sql: str) -> Arrays:
        table = self._spark.sql(sql).toArrow()  # columnar, not one Python object per row
        return {
            name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names
        }

    def column_names(self, table: str) -> list[str]:
        return list(self._spark.table(table).columns)

    def close(self) -> None:
        # A session stopped meanwhile (by another user of the same process's session) has
        # dropped its cache already, and unpersisting on it fails.
        if self._spark.sparkContext._jsc is not None:
            for frame in self._cached:
                frame.unpersist()
        self._cached.clear()


def open_engine(
    name: str, spark_master: str | None = None, spark_conf: Sequence[str] = ()
) -> SqlEngine:
    """The engine called `name` (`duckdb` or `spark`); `--master` and `--conf` only with spark
    (the master defaults to NETLM_SPARK_MASTER, else local[2])."""
    if name == "duckdb":
        for option, given in (("--master", spark_master is not None), ("--conf", spark_conf)):
            if given:
                raise SurvivalInputError([f"{option}: only with --engine spark"])
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine(spark_master, spark_conf)
    raise SurvivalInputError([f"--engine: {name!r} is not duckdb or spark"])
