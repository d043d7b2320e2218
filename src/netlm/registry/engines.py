"""Where the compiled SQL runs: DuckDB in-process, or a Spark session (local or a cluster).

Both read the registry file, number its rows, check every cell (`validate`), and run the same
query text (`query`), each in its own dialect. The source becomes the view `registry_raw`,
the checked rows the view `registry_checked`.
"""

import csv
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netlm import spark as netlm_spark
from netlm.registry.dialect import DUCKDB, SPARK, Dialect
from netlm.registry.validate import (
    PROBLEMS,
    ROW,
    checked_select,
    duplicate_ids,
    header_problems,
    repr_sql,
    with_duplicates,
)
from netlm.spark import SparkSetupError, file_uri

RAW, CHECKED, VALID = "registry_raw", "registry_checked", "registry_valid"
CELLS, DUPLICATES = "registry_cells", "registry_duplicate_ids"
CORRUPT = "_corrupt_record"  # Spark: the text of a CSV record that does not fit the header
CODED = "registry_coded"  # the assessment as codes (see `render`)
TEXTS = "registry_texts"  # the output text of each distinct combination of codes
Progress = Callable[[float], None]  # fraction done, 0..1


class RegistryError(Exception):
    """Bad registry input: one line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def csv_header(path: Path) -> list[str]:
    """The column names on the first line of a CSV registry."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise RegistryError([f"{path}: empty file (a header row is required)"]) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise RegistryError([f"{path}: the header row cannot be read ({exc})"]) from None


def csv_error(path: Path, message: str) -> str:
    """DuckDB's CSV error as one line: where in the file, and what."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    where = f"{path}, line {line.group(1)}" if line else str(path)
    if counts:
        return f"{where}: {counts.group(2)} fields where the header has {counts.group(1)}"
    return f"{where}: {message.splitlines()[0]}"


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".csv"):
        return suffix[1:]
    raise RegistryError([f"{path}: the registry must be a .parquet or .csv file"])


@dataclass
class Problems:
    rows: int  # rows with at least one problem
    lines: list[str]  # the first problem lines, in row order


def _category(type_name: str) -> str:
    t = type_name.upper()
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "INT", "BIGINT", "SMALLINT",
                     "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT",
                     "LONG", "SHORT", "BYTE")):  # fmt: skip
        return "numeric"
    if t.startswith("BOOL"):
        return "boolean"
    if t == "DATE":
        return "date"
    return "text"


class Engine(ABC):
    dialect: Dialect

    @abstractmethod
    def columns(self) -> dict[str, str]:
        """Source column -> category (numeric, boolean, date, text)."""

    @abstractmethod
    def sql(self, query: str) -> None: ...

    @abstractmethod
    def rows(self, query: str) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def write(self, query: str, out: Path, progress: Progress | None = None) -> None: ...

    @abstractmethod
    def materialize(self, name: str, query: str) -> None:
        """Compute `query` once and keep it as the relation `name`."""

    def materialize_texts(self, name: str, query: str, columns: tuple[str, ...]) -> None:
        """`materialize`, for a small relation whose text `columns` are joined to every row:
        an engine may keep them as dictionaries (see DuckDB's)."""
        self.materialize(name, query)

    def in_row_order(self, select: str) -> str:
        """`select` (which carries the row number) with its rows in the source's order."""
        return f"{select} ORDER BY {ROW}"

    def prepare(self) -> None:
        """Check every cell of the source once (kept), then the ids across rows; define the
        checked rows (`CHECKED`) and the valid ones (`VALID`)."""
        d = self.dialect
        self.materialize(CELLS, checked_select(RAW, self.columns(), d))
        self.materialize(DUPLICATES, duplicate_ids(CELLS, d))
        self.sql(f"CREATE OR REPLACE TEMP VIEW {CHECKED} AS "
                 f"{with_duplicates(CELLS, DUPLICATES, d)}")  # fmt: skip
        self.sql(f"CREATE OR REPLACE TEMP VIEW {VALID} AS "
                 f"SELECT * FROM {CHECKED} WHERE {PROBLEMS} IS NULL")  # fmt: skip

    def problems(self, limit: int) -> Problems:
        bad = f"FROM {CHECKED} WHERE {PROBLEMS} IS NOT NULL"
        count = self.rows(f"SELECT count(*) {bad}")[0][0]
        lines: list[str] = []
        if count:
            for (text,) in self.rows(f"SELECT {PROBLEMS} {bad} ORDER BY {ROW} LIMIT {limit}"):
                lines += str(text).split("\n")
        return Problems(int(count), lines)

    def bad_rows(self) -> list[tuple[int, str]]:
        bad = f"FROM {CHECKED} WHERE {PROBLEMS} IS NOT NULL ORDER BY {ROW}"
        return [(int(r), str(p)) for r, p in self.rows(f"SELECT {ROW}, {PROBLEMS} {bad}")]

    @abstractmethod
    def close(self) -> None: ...


class DuckDBEngine(Engine):
    dialect = DUCKDB

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import duckdb

        self.con = duckdb.connect()
        if threads:
            self.con.execute(f"SET threads = {threads}")
        fmt, source = file_format(path), str(path).replace("'", "''")
        if fmt == "parquet":
            reader = f"read_parquet('{source}', file_row_number = true)"
            self.con.execute(
                f"CREATE TEMP VIEW {RAW} AS SELECT * EXCLUDE (file_row_number), "
                f"file_row_number + 1 AS {ROW} FROM {reader}"
            )
        else:  # keep the file's order: a table's rowid is its insertion order
            names = csv_header(path)
            problems = header_problems(names)
            if problems:
                raise RegistryError(problems)
            columns = ", ".join(f"{repr_sql(n)}: 'VARCHAR'" for n in names)
            try:
                self.con.execute(
                    f"CREATE TEMP TABLE {RAW}_text AS SELECT * FROM read_csv('{source}', "
                    f"header = true, columns = {{{columns}}}, auto_detect = false, "
                    """delim = ',', quote = '"', escape = '"', strict_mode = true)"""
                )
            except duckdb.InvalidInputException as exc:
                raise RegistryError([csv_error(path, str(exc))]) from None
            self.con.execute(
                f"CREATE TEMP VIEW {RAW} AS SELECT *, rowid + 1 AS {ROW} FROM {RAW}_text"
            )
        # Every row carries its number from here on, and whatever is ordered is ordered by it:
        # the tables need not keep their insertion order (which costs a pass that orders them).
        self.con.execute("SET preserve_insertion_order = false")

    def columns(self) -> dict[str, str]:
        described = self.con.execute(f"DESCRIBE {RAW}").fetchall()
        return {str(n): _category(str(t)) for n, t, *_ in described if n != ROW}

    def sql(self, query: str) -> None:
        self.con.execute(query)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.con.execute(query).fetchall()

    def materialize(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")

    def materialize_texts(self, name: str, query: str, columns: tuple[str, ...]) -> None:
        """Each text column as an ENUM of its distinct values: a row joined to it carries a
        small index instead of a copy of its kilobyte of JSON through the join and the sort,
        and the Parquet writer writes each value once (a dictionary) instead of hashing and
        compressing every row's text."""
        plain = f"{name}_plain"
        self.con.execute(f"DROP TABLE IF EXISTS {name}")  # its columns have the old types
        self.materialize(plain, query)
        for column in columns:
            values = f"SELECT DISTINCT {column} FROM {plain} WHERE {column} IS NOT NULL"
            self.con.execute(f"CREATE OR REPLACE TYPE {name}_{column} AS ENUM ({values})")
        typed = ", ".join(f"CAST({c} AS {name}_{c}) AS {c}" for c in columns)
        self.materialize(name, f"SELECT * REPLACE ({typed}) FROM {plain}")
        self.con.execute(f"DROP TABLE {plain}")

    def write(self, query: str, out: Path, progress: Progress | None = None) -> None:
        target = str(out).replace("'", "''")
        fmt = "csv, header true" if out.suffix.lower() == ".csv" else "parquet"
        with self._watch(progress):
            self.con.execute(f"COPY ({query}) TO '{target}' (FORMAT {fmt})")

    def _watch(self, progress: Progress | None) -> AbstractContextManager[None]:
        """Report DuckDB's own progress of the running query."""

        def fraction() -> float | None:
            value = self.con.query_progress()
            return min(value / 100, 1.0) if value >= 0 else None

        return _polling(progress, fraction, 0.2)

    def close(self) -> None:
        self.con.close()


@contextmanager
def _polling(
    progress: Progress | None, fraction: Callable[[], float | None], every: float
) -> Iterator[None]:
    """While the block runs, report `fraction()` (None: not known yet) every `every` seconds
    from a watcher thread; 1.0 once it ends."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(every):
            value = fraction()
            if value is not None:
                progress(value)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        progress(1.0)


def _join_parquet(parts: list[Path], out: Path) -> None:
    """The parts, in order, in one Parquet file (one part in memory at a time)."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(out, pq.read_schema(parts[0])) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part))


def _join_csv(parts: list[Path], columns: list[str], out: Path) -> None:
    """A header line, then the parts' lines in order."""
    with out.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerow(columns)
    with out.open("ab") as target:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, target)


def spark_session(master: str | None = None, conf: Sequence[str] = ()) -> Any:
    """A Spark session for the registry jobs on `master` (None: NETLM_SPARK_MASTER, else
    local[2]; see `netlm.spark`)."""
    try:
        return netlm_spark.spark_session(master, "netlm-registry", conf, local_partitions=4)
    except SparkSetupError as exc:
        raise RegistryError(exc.lines) from None


class SparkEngine(Engine):
    dialect = SPARK

    def __init__(self, path: Path, session: Any) -> None:
        from pyspark.sql import functions as F

        self.spark = session
        fmt = file_format(path)
        reader = session.read
        names: list[str] = []
        if fmt == "csv":  # every cell as text; a line with too few or many fields is kept apart
            from pyspark.sql.types import StringType, StructField, StructType

            names = csv_header(path)
            problems = header_problems(names)
            if problems:
                raise RegistryError(problems)
            fields = [StructField(n, StringType()) for n in [*names, CORRUPT]]
            options = {"header": True, "multiLine": True, "escape": '"', "mode": "PERMISSIVE",
                       "columnNameOfCorruptRecord": CORRUPT}  # fmt: skip
            df = reader.schema(StructType(fields)).options(**options).csv(file_uri(path))
        else:
            df = reader.parquet(file_uri(path))
        # Row numbers without a single-partition window: partition offsets plus the position
        # inside the partition, both carried by monotonically_increasing_id.
        mid = F.monotonically_increasing_id()
        df = df.withColumn("_mid", mid)
        part, pos = F.shiftright(F.col("_mid"), 33), F.col("_mid").bitwiseAND((1 << 33) - 1)
        # The first ragged record per partition (with a real column read too: Spark refuses
        # a scan that reads only the corrupt-record column).
        checks = []
        if names:
            checks = [F.min(F.when(F.col(CORRUPT).isNotNull(), pos)), F.count(F.col(names[0]))]
        counted = df.groupBy(part.alias("p")).agg(F.max(pos) + 1, *checks).collect()
        sizes = sorted((int(r[0]), int(r[1]), r[2] if names else None) for r in counted)
        offsets, total, ragged = {}, 0, []
        for p, n, bad_at in sizes:
            offsets[p] = total
            if bad_at is not None:
                ragged.append(total + int(bad_at) + 1)
            total += n
        if ragged:
            raise RegistryError([self._ragged(path, names, min(ragged), df, part, pos, offsets)])
        offset = F.lit(0)
        for p, start in offsets.items():
            offset = F.when(part == p, F.lit(start)).otherwise(offset)
        df = df.withColumn(ROW, offset + pos + 1).drop("_mid", *([CORRUPT] if names else []))
        self.types = {f.name: _category(f.dataType.simpleString()) for f in df.schema.fields}
        self.types.pop(ROW)
        df.createOrReplaceTempView(RAW)

    @staticmethod
    def _ragged(
        path: Path, names: list[str], row: int, df: Any, part: Any, pos: Any, offsets: Any
    ) -> str:
        """The first record whose number of fields differs from the header's, as DuckDB
        reports it (but by row: Spark does not count lines)."""
        p = next(p for p, start in sorted(offsets.items(), reverse=True) if start < row)
        found = df.where((part == p) & (pos == row - offsets[p] - 1))
        record = found.select(CORRUPT, names[0]).first()[0]
        fields = len(next(csv.reader([str(record)])))
        return f"{path}, row {row}: {fields} fields where the header has {len(names)}"

    def columns(self) -> dict[str, str]:
        return dict(self.types)

    def sql(self, query: str) -> None:
        self.spark.sql(query)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(query).collect()]

    def materialize(self, name: str, query: str) -> None:
        frame = self.spark.sql(query).cache()
        frame.count()
        frame.createOrReplaceTempView(name)

    def write(self, query: str, out: Path, progress: Progress | None = None) -> None:
        """One output file, as with DuckDB. The executors sort and write the rows in
        parallel, one part per range of row numbers (`query` is ordered); the driver then
        joins the parts, in order, into the one file (the folder of parts sits beside `out`,
        so on a cluster `out` must be on storage the driver and the executors share)."""
        df = self.spark.sql(query)
        csv_out = out.suffix.lower() == ".csv"
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            folder = Path(tmp) / "out"
            with self._watch(progress):
                if csv_out:
                    df.write.option("header", False).option("escape", '"').csv(file_uri(folder))
                else:
                    df.write.parquet(file_uri(folder))
            parts = sorted(p for p in folder.iterdir() if p.name.startswith("part-"))
            if csv_out:
                _join_csv(parts, df.columns, out)
            else:
                _join_parquet(parts, out)

    def _watch(self, progress: Progress | None) -> AbstractContextManager[None]:
        """Report finished tasks of the running stages."""
        tracker = self.spark.sparkContext.statusTracker()

        def fraction() -> float | None:
            stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
            tasks = sum(s.numTasks for s in stages if s)
            done = sum(s.numCompletedTasks for s in stages if s)
            return min(done / tasks, 0.99) if tasks else None

        return _polling(progress, fraction, 0.5)

    def close(self) -> None:
        """The session is the caller's; only the views go."""
        for view in (RAW, CELLS, DUPLICATES, CHECKED, VALID, CODED, TEXTS):
            self.spark.catalog.dropTempView(view)
