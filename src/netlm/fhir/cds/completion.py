"""What came from the EHR, and what the tumour board completed because no chart holds it.

Provenance is kept on each case version the EHR writes, inside the version comment (the store
schema has no other place for it and is not changed): a line `EHR facts: {"case path":
"ResourceType/id", ...}` names every fact the EHR gave and where it came from. On the next
patient-view, facts from the EHR replace the stored ones; a fact the board entered itself (one
the last EHR version did not give) is kept, so completing a case in netlm survives a refresh.

The values the import read from report text (proposals, never facts) travel the same way, on a
line `EHR proposals: [{"field", "value", "comparator", "quote", "source", "in_case"}, ...]`, so
the completion form can show them to the board to confirm; a confirmed one is a board fact.
So do the therapies the import could not read (`EHR therapy gaps: [...]`): the form then asks
the board for the treatment history and its outcomes. The therapy rows the EHR gave are listed
(`EHR therapies: ["prior_therapies[ssa:progression]", ...]`), so a therapy the board adds to an
incomplete history is told from the EHR's own and kept beside them on the next refresh.
"""

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from netlm.fhir.codes import NO_STANDARD_CODE
from netlm.fhir.mapping.result import FhirImport, Proposal
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.parse import CaseInputError, parse_case

FACTS_PREFIX = "EHR facts: "
PROPOSALS_PREFIX = "EHR proposals: "
GAPS_PREFIX = "EHR therapy gaps: "
THERAPIES_PREFIX = "EHR therapies: "
KEPT_PREFIX = "kept from netlm: "
_INDEX = re.compile(r"\[\d+\]$")
_NOT_FACTS = ("schema", "id")
PRIOR_THERAPIES = "prior_therapies"


def fact_path(source_path: str) -> str:
    """A `sources` key as the case fact it fills (`prior_therapies[1]` -> `prior_therapies`)."""
    return _INDEX.sub("", source_path)


def version_comment(issuer: str, hook: str, imported: FhirImport, kept: Iterable[str]) -> str:
    """The comment of a version the EHR writes: where each fact came from, what the board's
    completion kept, the therapy rows the EHR gave, and what is left for the board (report-text
    proposals, therapies not read)."""
    facts = {fact_path(path): source for path, source in sorted(imported.sources.items())}
    lines = [f"from the EHR ({issuer}) via CDS Hooks {hook}", FACTS_PREFIX + json.dumps(facts)]
    kept = sorted(kept)
    if kept:
        lines.append(KEPT_PREFIX + ", ".join(kept))
    therapies = [_therapy_key(row) for row in _rows(imported.case.to_json_dict())]
    if therapies:
        lines.append(THERAPIES_PREFIX + json.dumps(therapies))
    shown = [p.to_json() for p in imported.proposals]
    if shown:
        lines.append(PROPOSALS_PREFIX + json.dumps(shown, ensure_ascii=False))
    gaps = therapy_gaps(imported)
    if gaps:
        lines.append(GAPS_PREFIX + json.dumps(gaps, ensure_ascii=False))
    return "\n".join(lines)


def _recorded(comment: str, prefix: str) -> Any:
    """The JSON a version comment records after `prefix`; None when absent or malformed."""
    for line in comment.splitlines():
        if line.startswith(prefix):
            try:
                return json.loads(line.removeprefix(prefix))
            except ValueError:
                return None
    return None


def ehr_facts(comment: str) -> dict[str, str] | None:
    """The EHR provenance a version comment records; None for a version the EHR did not write."""
    facts = _recorded(comment, FACTS_PREFIX)
    return facts if isinstance(facts, dict) else None


def ehr_proposals(comment: str) -> list[Proposal]:
    """The report-text proposals a version comment records; a malformed item is left out."""
    items = _recorded(comment, PROPOSALS_PREFIX)
    return [p for i in items if (p := _proposal(i))] if isinstance(items, list) else []


def _proposal(item: Any) -> Proposal | None:
    if not isinstance(item, dict):
        return None
    texts = [item.get(k) for k in ("field", "quote", "source")]
    comparator = item.get("comparator")
    if not all(isinstance(t, str) for t in texts) or not isinstance(comparator, str | None):
        return None
    value = item.get("value")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    return Proposal(item["field"], value, item["quote"], item["source"], comparator,
                    item.get("in_case"))  # fmt: skip


def _leaves(data: Mapping[str, Any]) -> dict[str, Any]:
    """Case facts by path: section fields one level down, lists and scalars whole."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _NOT_FACTS:
            continue
        if isinstance(value, dict):
            out |= {f"{key}.{field}": item for field, item in value.items()}
        elif value != []:  # an empty prior_therapies is "none recorded", not a fact
            out[key] = value
    return out


def with_board_facts(
    from_ehr: Case, stored: Case | None, last_ehr_facts: Iterable[str]
) -> tuple[Case, list[str]]:
    """The EHR's case plus what the board entered that the EHR does not hold, and those paths.

    `last_ehr_facts` is what the last EHR version gave (`ehr_given`). Prior therapies are rows:
    a therapy the board added to a history the chart left incomplete is kept after the EHR's
    rows, unless the EHR now gives that therapy itself. A board fact that breaks the contract
    together with the EHR's facts is left out.
    """
    if stored is None:
        return from_ehr, []
    data = from_ehr.to_json_dict()
    held = _leaves(data)
    given_before = set(last_ehr_facts)
    board = {
        path: value
        for path, value in _leaves(stored.to_json_dict()).items()
        if path not in held and path not in given_before
    }
    added = _board_therapies(data, stored, given_before)
    if added:
        board[PRIOR_THERAPIES] = _rows(data) + added
    while board:
        merged = json.loads(json.dumps(data))
        for path, value in board.items():
            section, _, field = path.partition(".")
            if field:
                merged.setdefault(section, {})[field] = value
            else:
                merged[section] = value
        try:
            return parse_case(merged), sorted(board)
        except CaseInputError as exc:
            bad = {p.path for p in exc.problems}
            kept = {path: v for path, v in board.items() if path not in bad}
            if len(kept) == len(board):
                break
            board = kept
    return from_ehr, []


def _rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A case document's prior-therapy rows."""
    rows = data.get(PRIOR_THERAPIES)
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _therapy_key(row: Mapping[str, Any]) -> str:
    """A therapy row the EHR gave, as `ehr_given` lists it: `prior_therapies[ssa:progression]`."""
    return f"{PRIOR_THERAPIES}[{row['option']}:{row['outcome']}]"


def _board_therapies(
    data: Mapping[str, Any], stored: Case, given_before: set[str]
) -> list[dict[str, Any]]:
    """The stored therapy rows the board added beside the EHR's: neither given by the last EHR
    version nor of a therapy the EHR gives now. None when the last version did not list its rows
    (written before they were recorded): the EHR's history then replaces the stored one."""
    ehr_rows = _rows(data)
    listed = any(k.startswith(f"{PRIOR_THERAPIES}[") for k in given_before)
    if PRIOR_THERAPIES in given_before and not listed:
        return []
    if not ehr_rows and PRIOR_THERAPIES not in given_before:
        return []  # the whole stored history is the board's: a board fact like any other
    options = {row["option"] for row in ehr_rows}
    return [
        row
        for row in _rows(stored.to_json_dict())
        if row["option"] not in options and _therapy_key(row) not in given_before
    ]


def ehr_given(comment: str) -> set[str]:
    """What an EHR-written version gave: its fact paths, and each therapy row it gave."""
    rows = _recorded(comment, THERAPIES_PREFIX)
    facts = set(ehr_facts(comment) or {})
    return facts | ({r for r in rows if isinstance(r, str)} if isinstance(rows, list) else set())


def fields_to_complete(assessment: Assessment) -> list[str]:
    """Missing findings that only netlm's own codes carry: a standard chart never holds them."""
    return list(
        dict.fromkeys(m.field for m in assessment.missing_data if m.field in NO_STANDARD_CODE)
    )


def therapy_gaps(imported: FhirImport) -> list[str]:
    """Why the chart's treatment history is incomplete: each therapy the import could not read
    (no outcome, a drug not resolved, a regimen part alone), in the import's words."""
    return [u.reason for u in imported.unmapped if u.field == PRIOR_THERAPIES]


def ehr_therapy_gaps(comment: str) -> list[str]:
    """The therapy gaps a version comment records."""
    items = _recorded(comment, GAPS_PREFIX)
    return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []
