"""The case form, generated from the case schema and the knowledge base's fact labels.

Every field of netlm.case/1 appears with its label, unit and allowed values in the page's
language; a submitted form is turned back into a case document and validated by the same parser
as the CLI and API, so inline messages are the same words.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.case import Case
from netlm.model.codes import OPTION_CODES
from netlm.model.parse import CaseInputError, Problem, parse_case
from netlm.model.schema_paths import allowed_values, leaf_fields
from netlm.web.i18n import word

PRIOR_ROWS = 6
OUTCOMES = ("progression", "intolerance", "ongoing", "completed")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    name: str  # the JSON path, also the form field name
    label: str
    kind: str  # integer | number | boolean | enum | multi | text
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = False


@dataclass
class Section:
    key: str
    title: str
    fields: list[Field] = field(default_factory=list)


def sections(kb: KnowledgeBase, lang: str) -> list[Section]:
    say = Phraser(kb, lang)
    out: dict[str, Section] = {}
    required = {"id", "primary.site"}
    for path, node in leaf_fields().items():
        if path == "schema" or path.startswith("prior_therapies"):
            continue
        key = path.split(".")[0] if "." in path else "case"
        section = out.setdefault(key, Section(key, word(f"form.section.{key}", lang)))
        values = allowed_values(node)
        kind = {"integer": "integer", "number": "number", "boolean": "boolean"}.get(
            str(node.get("type")), "text"
        )
        if values:
            kind = "multi" if path == "extrahepatic.sites" else "enum"
        choices = tuple(Choice(str(v), say.value(path, v)) for v in values)
        spec = kb.facts.get(path)
        section.fields.append(
            Field(
                name=path,
                label=word("form.case_id", lang) if path == "id" else _capitalised(say.label(path)),
                kind=kind,
                unit=say.unit(path) if spec else None,
                minimum=node.get("minimum", node.get("exclusiveMinimum")),
                maximum=node.get("maximum"),
                choices=choices,
                required=path in required,
            )
        )
    return list(out.values())


def _capitalised(label: str) -> str:
    """Fact labels are written for the middle of a sentence; a form label starts one."""
    return label[:1].upper() + label[1:]


def prior_choices(kb: KnowledgeBase, lang: str) -> tuple[list[Choice], list[Choice]]:
    say = Phraser(kb, lang)
    options = [Choice(code, say.option_short(code)) for code in OPTION_CODES]
    outcomes = [Choice(o, say.value("prior.x", o)) for o in OUTCOMES]
    return options, outcomes


def flatten(case: Case) -> dict[str, Any]:
    """Form values of a stored case, keyed by field name."""
    out: dict[str, Any] = {}

    def walk(prefix: str, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(path, value)
            elif key == "prior_therapies":
                for i, row in enumerate(value):
                    out[f"prior_therapies.{i}.option"] = row["option"]
                    out[f"prior_therapies.{i}.outcome"] = row["outcome"]
            elif isinstance(value, float) and value.is_integer():
                out[path] = int(value)  # show 35, not 35.0
            else:
                out[path] = value

    walk("", case.to_json_dict())
    return out


def _convert(f: Field, raw: str) -> Any:
    if f.kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f'must be a whole number, got "{raw}"') from None
    if f.kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f'must be a number, got "{raw}"') from None
    if f.kind == "boolean":
        return raw == "true"
    return raw


def parse_form(
    form: Mapping[str, str], lists: Mapping[str, list[str]], kb: KnowledgeBase
) -> tuple[Case | None, dict[str, Any], dict[str, str]]:
    """(case or None, the values to show again, {field name: message})."""
    document: dict[str, Any] = {"schema": "netlm.case/1"}
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for section in sections(kb, "en"):
        for f in section.fields:
            if f.kind == "multi":  # "none" = assessed and absent; nothing ticked = not known
                chosen = lists.get(f.name, [])
                values[f.name] = chosen
                if chosen:
                    _put(document, f.name, [] if "none" in chosen else chosen)
                continue
            raw = (form.get(f.name) or "").strip()
            values[f.name] = raw
            if not raw:
                continue
            try:
                _put(document, f.name, _convert(f, raw))
            except ValueError as exc:
                problems.append(Problem(f.name, str(exc)))
    priors = []
    for i in range(PRIOR_ROWS):
        option = (form.get(f"prior_therapies.{i}.option") or "").strip()
        outcome = (form.get(f"prior_therapies.{i}.outcome") or "").strip()
        values[f"prior_therapies.{i}.option"] = option
        values[f"prior_therapies.{i}.outcome"] = outcome
        if option or outcome:
            priors.append({"option": option, "outcome": outcome})
    if priors:
        document["prior_therapies"] = priors
    if problems:
        return None, values, {p.path: p.message for p in problems}
    try:
        return parse_case(document), values, {}
    except CaseInputError as exc:
        return None, values, {_field_name(p.path): p.message for p in exc.problems}


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _field_name(path: str) -> str:
    """`prior_therapies[0].option` → `prior_therapies.0.option` (the form's naming)."""
    return path.replace("[", ".").replace("]", "")


def whatif_fields() -> Iterable[str]:
    """The findings offered in the what-if panel: those that most often change the answer."""
    return (
        "pathology.ki67_percent", "pathology.mitoses_per_2mm2", "pathology.differentiation",
        "sstr_imaging.krenning_score", "sstr_imaging.all_lesions_positive", "liver.pattern",
        "liver.resectable", "liver.tumor_burden_percent", "course.status", "patient.ecog",
        "region",
    )  # fmt: skip
