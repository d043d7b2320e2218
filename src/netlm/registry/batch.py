"""`netlm registry assess`: check a registry, then assess every valid row in one query.

Bad rows stop the job (exit 2, one line per problem) unless the user asks to skip them; skipped
rows are then counted, listed and written out, never dropped silently.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.registry.engines import CODED, TEXTS, VALID, Engine, Progress, RegistryError
from netlm.registry.query import OUTPUT_COLUMNS, TEXT_COLUMNS, AssessmentQuery
from netlm.registry.validate import header_problems

SHOWN_PROBLEMS = 200  # problem lines printed before "… and N more"


@dataclass
class Checked:
    rows: int  # valid rows
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, problems)


def check(engine: Engine, skip_bad: bool) -> Checked:
    """Check the header and every cell; raise with the problems unless `skip_bad`."""
    header = header_problems(list(engine.columns()))
    if header:
        raise RegistryError(header)
    engine.prepare()
    if not skip_bad:
        found = engine.problems(SHOWN_PROBLEMS)
        if found.rows:
            lines = found.lines[:SHOWN_PROBLEMS]
            more = len(found.lines) - len(lines)
            tail = [f"… and more problems: {found.rows} rows in all are bad "
                    "(--skip-bad assesses the others and lists the skipped rows)"]  # fmt: skip
            raise RegistryError(lines + (tail if more or found.rows > len(lines) else []))
        skipped: list[tuple[int, str]] = []
    else:
        skipped = engine.bad_rows()
    total = engine.rows(f"SELECT count(*) FROM {VALID}")[0][0]
    return Checked(int(total), skipped)


def write_rejected(skipped: list[tuple[int, str]], path: Path) -> None:
    """Every skipped row with its problems (one line per problem)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "problem"])
        for row, problems in skipped:
            for line in problems.split("\n"):
                writer.writerow([row, line])


def write_assessment(
    engine: Engine, out: Path, kb: KnowledgeBase | None = None, progress: Progress | None = None
) -> None:
    """Assess the checked rows (see `check`) into `out`, in row order."""
    query = AssessmentQuery(kb or load_knowledge_base(), engine.dialect)
    assess_codes(engine, query)
    render_texts(engine, query)
    write_output(engine, query, out, progress)


# The phases of `write_assessment`, apart so that the benchmark can time each.
def assess_codes(engine: Engine, query: AssessmentQuery) -> None:
    """The compiled decisions: every valid row's classification and codes (`CODED`)."""
    engine.materialize(CODED, query.coded(VALID))


def render_texts(engine: Engine, query: AssessmentQuery) -> None:
    """The output text of each distinct combination of codes (`TEXTS`)."""
    engine.materialize_texts(TEXTS, query.texts(CODED), TEXT_COLUMNS)


def write_output(
    engine: Engine, query: AssessmentQuery, out: Path, progress: Progress | None = None
) -> None:
    """Every row with its text, in row order, into `out`."""
    columns = ", ".join(engine.dialect.quote(c) for c in OUTPUT_COLUMNS)
    text = query.from_codes(CODED, TEXTS)
    engine.write(engine.in_row_order(f"SELECT {columns} FROM ({text})"), out, progress)


def assess(
    engine: Engine,
    out: Path,
    skip_bad: bool = False,
    kb: KnowledgeBase | None = None,
    progress: Progress | None = None,
) -> Checked:
    checked = check(engine, skip_bad)
    write_assessment(engine, out, kb, progress)
    return checked
