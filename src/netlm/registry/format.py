"""The registry format: one flat row per patient (Parquet or CSV).

The case columns are the fields of `netlm.case/1` by dotted path, read from the case schema, so
the registry follows the case contract without a second list to keep in step. Lists are JSON
text (`extrahepatic.sites`: `["bone"]`; `prior_therapies`: `[{"option": …, "outcome": …}]`).
The outcome columns record what was done and what happened, for the audit and for survival.

A row becomes a case the way a form does: empty cells are "not recorded", and an optional
section (e.g. `extrahepatic`) exists when any of its cells is filled.
"""

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from netlm.model.case import CASE_SCHEMA_ID, Case
from netlm.model.codes import OPTION_CODES
from netlm.model.schema_paths import allowed_values, case_schema, leaf_fields, node_at, resolve

REGISTRY_SCHEMA_ID = "netlm.registry/1"

Kind = Literal[
    "id", "string", "number", "integer", "boolean", "enum", "enum_list", "therapies", "date",
    "flag", "options",
]  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str = ""
    values: tuple[str, ...] = ()  # enum members (enum, enum_list), option codes (options)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    required: bool = False
    pattern: str | None = None
    case_field: bool = True

    @property
    def section(self) -> str | None:
        """The optional case object the column belongs to (None for top-level fields)."""
        return self.name.split(".", 1)[0] if "." in self.name else None


def _required_path(path: str) -> bool:
    """A field is required when it and every object above it are required."""
    node: dict[str, Any] = resolve(case_schema())
    for part in path.split("."):
        if part not in node.get("required", []):
            return False
        node = resolve(node["properties"][part])
    return True


def _case_column(path: str, leaf: dict[str, Any]) -> Column:
    whole = node_at(tuple(path.split(".")))
    description = str(whole.get("description", ""))
    if whole.get("type") == "array":
        kind: Kind = "therapies" if leaf.get("type") == "object" else "enum_list"
        values = tuple(allowed_values(leaf)) if kind == "enum_list" else OPTION_CODES
        return Column(path, kind, description, values=values)
    values = tuple(allowed_values(leaf))
    if path == "id":
        return Column(path, "id", "Patient identifier, unique in the registry.", required=True,
                      pattern=leaf.get("pattern"))  # fmt: skip
    kind = "enum" if values else leaf["type"]
    return Column(
        path,
        kind,
        description,
        values=values,
        minimum=leaf.get("minimum"),
        maximum=leaf.get("maximum"),
        exclusive_minimum=leaf.get("exclusiveMinimum"),
        required=_required_path(path),
    )


# What was done and what happened; none of these changes the assessment.
OUTCOME_COLUMNS = (
    Column("treatment_given", "options", "Option code(s) of the treatment given; several "
           "separated by `+` (e.g. `ssa+prrt`).", values=OPTION_CODES, case_field=False),
    Column("treatment_date", "date", "ISO date the treatment started.", case_field=False),
    Column("followup_months", "number", "Months from treatment (or diagnosis) to death or last "
           "follow-up.", minimum=0, case_field=False),
    Column("death", "flag", "1 = died at `followup_months`, 0 = alive (censored).",
           case_field=False),
    Column("progression_months", "number", "Months to progression or last assessment.",
           minimum=0, case_field=False),
    Column("progressed", "flag", "1 = progressed at `progression_months`, 0 = censored.",
           case_field=False),
    Column("center", "string", "Treating centre.", case_field=False),
    Column("diagnosis_year", "integer", "Year of diagnosis of the liver metastases.",
           minimum=1900, maximum=2100, case_field=False),
)  # fmt: skip


@cache
def registry_columns() -> tuple[Column, ...]:
    """Every registry column, case fields first (in case-schema order), then outcomes."""
    cases = tuple(
        _case_column(path, leaf) for path, leaf in leaf_fields().items() if path != "schema"
    )
    return cases + OUTCOME_COLUMNS


def columns_by_name() -> dict[str, Column]:
    return {c.name: c for c in registry_columns()}


def _json_type(column: Column) -> dict[str, Any]:
    if column.kind in ("id", "string"):
        node: dict[str, Any] = {"type": "string"}
        if column.pattern:
            node["pattern"] = column.pattern
        return node
    if column.kind in ("number", "integer"):
        node = {"type": column.kind}
        for key, value in (("minimum", column.minimum), ("maximum", column.maximum),
                           ("exclusiveMinimum", column.exclusive_minimum)):  # fmt: skip
            if value is not None:
                node[key] = value
        return node
    if column.kind == "boolean":
        return {"type": "boolean"}
    if column.kind == "enum":
        return {"type": "string", "enum": list(column.values)}
    if column.kind == "flag":
        return {"type": "integer", "enum": [0, 1]}
    if column.kind == "date":
        return {"type": "string", "format": "date"}
    if column.kind == "options":
        code = "(" + "|".join(column.values) + ")"
        return {"type": "string", "pattern": f"^{code}(\\+{code})*$"}
    items: dict[str, Any] = (
        {"type": "string", "enum": list(column.values)}
        if column.kind == "enum_list"
        else {
            "type": "object",
            "properties": {
                "option": {"type": "string", "enum": list(OPTION_CODES)},
                "outcome": resolve(node_at(("prior_therapies", 0, "outcome"))),
                **{
                    name: resolve(node_at(("prior_therapies", 0, name)))
                    for name in ("started", "stopped", "best_response", "line")
                },
            },
            "required": ["option", "outcome"],
            "additionalProperties": False,
        }
    )
    return {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"type": "array", "items": items},
    }


def registry_json_schema() -> dict[str, Any]:
    """JSON Schema of one registry row (`netlm schema registry`); empty cells are null."""
    properties: dict[str, Any] = {}
    for column in registry_columns():
        node = _json_type(column)
        if column.description:
            node["description"] = column.description
        if not column.required:
            node = {
                "anyOf": [node, {"type": "null"}],
                **({"description": node.pop("description")} if "description" in node else {}),
            }
        properties[column.name] = node
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://netlm.org/schema/{REGISTRY_SCHEMA_ID}",
        "title": REGISTRY_SCHEMA_ID,
        "description": "One patient per row: the fields of netlm.case/1 by dotted path (lists as "
        "JSON text) and the outcome columns. Parquet or CSV (header row, empty cell = null).",
        "type": "object",
        "properties": properties,
        "required": [c.name for c in registry_columns() if c.required],
        "additionalProperties": False,
    }


def case_from_row(row: dict[str, Any]) -> Case:
    """The case a (valid) registry row describes: filled cells only, nested by path."""
    data: dict[str, Any] = {"schema": CASE_SCHEMA_ID, "liver": {}}
    for column in registry_columns():
        value = row.get(column.name)
        if not column.case_field or value is None:
            continue
        if column.kind in ("enum_list", "therapies"):
            value = json.loads(value)
        elif column.kind == "integer":
            value = int(value)
        target = data
        *parents, leaf = column.name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return Case.model_validate(data)


def row_from_case(case: Case) -> dict[str, Any]:
    """The registry row of a case (outcome columns empty)."""
    row: dict[str, Any] = dict.fromkeys(c.name for c in registry_columns())
    data = case.to_json_dict()
    for column in registry_columns():
        if not column.case_field:
            continue
        value: Any = data
        for part in column.name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if column.kind in ("enum_list", "therapies"):
            if value is not None:
                row[column.name] = json.dumps(value, separators=(",", ":"))
            elif column.kind == "enum_list" and case.extrahepatic is not None:
                row[column.name] = "[]"
        else:
            row[column.name] = value
    return row
