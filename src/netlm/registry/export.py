"""`netlm db export-registry`: the board's own store in the registry format, to audit its boards.

Each live case (its latest version) becomes one row. The latest MDT decision and the case's
follow-up (netlm.registry.outcomes) give the outcome columns: `treatment_given` and
`treatment_date` are the first treatment recorded as started on or after the decision (the
options joined by `+`), else the options the decision chose and its date; `followup_months`,
`death`, `progression_months` and `progressed` count from that treatment start (else the
decision date) and stay empty for a case without a decision or without follow-up.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from netlm.registry.format import registry_columns, row_from_case
from netlm.registry.outcomes import origin, outcome_columns, treatments_started
from netlm.registry.synth import arrow_schema

if TYPE_CHECKING:
    from netlm.store import Store

PAGE = 1000


def _rows(store: "Store", center: str | None) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = store.list_cases(limit=PAGE, offset=offset)
        for summary in page:
            row = row_from_case(store.get_case(summary.case_id).case)
            decisions = store.list_decisions(summary.case_id)
            if decisions:
                latest = max(decisions, key=lambda d: (d.decided_on, d.id))
                events = store.list_follow_up(summary.case_id)
                given = treatments_started(events, latest.decided_on)
                start = origin(events, latest.decided_on)
                row["treatment_given"] = "+".join(given or latest.chosen_options)
                row["treatment_date"] = start.isoformat()
                row.update(outcome_columns(events, start))
            row["center"] = center
            row["diagnosis_year"] = None
            yield row
        if len(page) < PAGE:
            return
        offset += PAGE


def export_registry(
    store: "Store", out: Path, center: str | None = None, progress: Callable[[], None] | None = None
) -> int:
    """Write every live case of the store to `out` (.parquet or .csv); returns the count."""
    schema = arrow_schema()
    rows = []
    for row in _rows(store, center):
        rows.append(row)
        if progress:
            progress()
    table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
    table = table.select([c.name for c in registry_columns()])
    if out.suffix.lower() == ".csv":
        pacsv.write_csv(table, out)
    else:
        pq.write_table(table, out)
    return len(rows)
