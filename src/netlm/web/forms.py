"""The case form, generated from the case schema and the knowledge base's fact labels.

Every field of netlm.case/1 appears with its label, unit and allowed values in the page's
language; a submitted form is turned back into a case document and validated by the same parser
as the CLI and API, so inline messages are the same words.
"""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser, format_number
from netlm.model.case import KI67_BOUNDS, Case
from netlm.model.codes import OPTION_CODES, BestResponse
from netlm.model.parse import CaseInputError, parse_case
from netlm.model.schema_paths import allowed_values, leaf_fields
from netlm.web.i18n import word

PRIOR_ROWS = 4
OUTCOMES = ("progression", "intolerance", "ongoing", "completed")
NONE = "none"  # the "no extrahepatic disease" box of the sites list
# Graded scales chosen from their grades with the meaning of each in words, never typed.
SCALES = {"patient.ecog": "ecog", "sstr_imaging.krenning_score": "krenning"}

# A submitted form: one text per field, a list for fields with several boxes.
FormData = dict[str, str | list[str]]


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
    exclusive_minimum: bool = False
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
        if path == "schema" or path.startswith("prior_therapies") or path in KI67_BOUNDS:
            continue  # a Ki-67 bound is written in the Ki-67 field itself ("<3")
        key = path.split(".")[0] if "." in path else "case"
        section = out.setdefault(key, Section(key, word(f"form.section.{key}", lang)))
        values = allowed_values(node)
        kind = {"integer": "integer", "number": "number", "boolean": "boolean"}.get(
            str(node.get("type")), "text"
        )
        if values:
            kind = "multi" if path == "extrahepatic.sites" else "enum"
        choices = tuple(Choice(str(v), say.value(path, v)) for v in values)
        if path in SCALES:
            kind, choices = "enum", _grades(path, node, lang)
        spec = kb.facts.get(path)
        section.fields.append(
            Field(
                name=path,
                label=word("form.case_id", lang) if path == "id" else _capitalised(say.label(path)),
                kind=kind,
                unit=say.unit(path) if spec else None,
                minimum=node.get("minimum", node.get("exclusiveMinimum")),
                maximum=node.get("maximum"),
                exclusive_minimum="exclusiveMinimum" in node,
                choices=choices,
                required=path in required,
            )
        )
    return list(out.values())


def _grades(path: str, node: Mapping[str, Any], lang: str) -> tuple[Choice, ...]:
    grades = range(int(node["minimum"]), int(node["maximum"]) + 1)
    return tuple(Choice(str(g), word(f"form.scale.{SCALES[path]}.{g}", lang)) for g in grades)


def _capitalised(label: str) -> str:
    """Fact labels are written for the middle of a sentence; a form label starts one."""
    return label[:1].upper() + label[1:]


def prior_choices(kb: KnowledgeBase, lang: str) -> tuple[list[Choice], list[Choice]]:
    say = Phraser(kb, lang)
    options = [Choice(code, say.option_short(code)) for code in OPTION_CODES]
    outcomes = [Choice(o, say.value("prior.x", o)) for o in OUTCOMES]
    return options, outcomes


def response_choices(lang: str) -> list[Choice]:
    """RECIST best responses for the prior-therapy rows."""
    return [Choice(r, word(f"response.{r}", lang)) for r in get_args(BestResponse)]


def to_form(case: Case) -> FormData:
    """The form a browser would submit for a stored case: the exact inverse of `parse_form`.

    Numbers are written in their shortest exact form (35, 2.5, 1e-05), booleans as true/false,
    an empty list of extrahepatic sites as the ticked "none", and absent findings not at all.
    """
    out: FormData = {}

    def walk(prefix: str, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(path, value)
            elif key == "prior_therapies":
                for i, row in enumerate(value):
                    for name, item in row.items():
                        out[f"prior_therapies.{i}.{name}"] = str(item)
            elif isinstance(value, list):
                out[path] = [str(v) for v in value] or [NONE]
            elif isinstance(value, bool):
                out[path] = "true" if value else "false"
            elif path in KI67_BOUNDS:
                out[KI67] = ("≤" if KI67_BOUNDS[path] else "<") + number_text(float(value))
            elif isinstance(value, float):
                out[path] = number_text(value)
            elif path != "schema":
                out[path] = str(value)

    walk("", case.to_json_dict())
    return out


def number_text(value: float) -> str:
    """A number in its shortest exact form, as the form writes it (35, 2.5, 1e-05)."""
    return str(int(value)) if value.is_integer() else repr(value)


def prior_rows(values: Mapping[str, Any]) -> int:
    """Rows of the prior-therapy table: every filled row and at least two free ones."""
    used = [int(m.group(1)) + 1 for k in values if (m := _PRIOR.fullmatch(k)) and values[k]]
    return max(PRIOR_ROWS, max(used, default=0) + 2)


def parse_form(
    form: FormData, kb: KnowledgeBase, lang: str = "en"
) -> tuple[Case | None, FormData, dict[str, str]]:
    """(case or None, the values exactly as entered, {field name: message in `lang`})."""
    document: dict[str, Any] = {"schema": "netlm.case/1", "liver": {}}
    values: FormData = {}
    problems: dict[str, str] = {}
    for section in sections(kb, lang):
        for f in section.fields:
            if f.kind == "multi":  # "none" = assessed and absent; nothing ticked = not known
                chosen = _as_list(form.get(f.name))
                values[f.name] = chosen
                problem = _check_multi(f, chosen, lang)
                if problem:
                    problems[f.name] = problem
                elif chosen:
                    _put(document, f.name, [] if NONE in chosen else chosen)
                continue
            raw = as_text(form.get(f.name))
            values[f.name] = raw
            text = raw.strip()
            if not text:
                if f.required:
                    problems[f.name] = word("form.problem.required", lang)
                continue
            try:
                if f.name == KI67:
                    _put(document, *_ki67(f, text, lang))
                    continue
                _put(document, f.name, _convert(f, text, lang))
            except ValueError as exc:
                problems[f.name] = str(exc)
    _check_extrahepatic(form, values, problems, lang)
    priors, rows = _priors(form, values, problems, lang)
    if priors:
        document["prior_therapies"] = priors
    if problems:
        return None, values, problems
    try:
        return parse_case(document), values, {}
    except CaseInputError as exc:  # checked above field by field; kept as a safety net
        return None, values, {_field_name(p.path, rows): p.message for p in exc.problems}


def as_text(value: str | list[str] | None) -> str:
    """A submitted field's one text (the first, when several were sent)."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _convert(f: Field, text: str, lang: str) -> Any:
    if f.kind in ("integer", "number"):
        number = _number(f, text, lang)
        _check_range(f, number, text, lang)
        return number
    if f.kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(word("form.problem.choose", lang))
        return text == "true"
    if f.kind == "enum":
        if text not in {c.value for c in f.choices}:
            raise ValueError(word("form.problem.choose", lang))
        return int(text) if f.name in SCALES else text
    if f.name == "id" and not _ID.fullmatch(text):
        raise ValueError(word("form.problem.id", lang, got=text))
    return text


def _number(f: Field, text: str, lang: str) -> float:
    pattern = _INTEGER if f.kind == "integer" else _NUMBER
    written = text
    if f.kind == "number" and "," in text:  # a decimal comma, 12,5, is 12.5; 12,500 is unclear
        if _THOUSANDS.fullmatch(text):
            raise ValueError(word("form.problem.ambiguous_comma", lang, got=text))
        written = _DECIMAL_COMMA.sub(".", text)
    if not pattern.fullmatch(written):
        key = "form.problem.whole_number" if f.kind == "integer" else "form.problem.number"
        raise ValueError(word(key, lang, got=text))
    number = int(written) if f.kind == "integer" else float(written)
    if not math.isfinite(number):
        raise ValueError(word("form.problem.number", lang, got=text))
    return number


def _ki67(f: Field, text: str, lang: str) -> tuple[str, float]:
    """Ki-67 as a report writes it: "12", "12,5", "8 %", or a bound "<1", "< 3", "≤2". A bound
    is not a value: it goes to its own field (where it decides only what it decides)."""
    sign = _BOUND_SIGN.match(text)
    rest = text[sign.end() if sign else 0 :].strip().removesuffix("%").strip()
    try:
        number = _number(f, rest, lang)
    except ValueError:
        if _THOUSANDS.fullmatch(rest):
            raise  # "1,250": the comma's own message says what to write
        raise ValueError(word("form.problem.ki67", lang, got=text)) from None
    _check_range(f, number, text, lang)
    if sign is None:
        return f.name, number
    inclusive = sign.group() in ("≤", "<=")
    if number == 0 and not inclusive:  # "<0": no Ki-67 is below zero
        raise ValueError(word("form.problem.ki67", lang, got=text))
    return next(p for p, incl in KI67_BOUNDS.items() if incl == inclusive), number


def _check_range(f: Field, number: float, text: str, lang: str) -> None:
    lo, hi = f.minimum, f.maximum
    low_ok = lo is None or (number > lo if f.exclusive_minimum else number >= lo)
    if low_ok and (hi is None or number <= hi):
        return
    show = {"lo": format_number(lo) if lo is not None else "",
            "hi": format_number(hi) if hi is not None else "", "got": text}  # fmt: skip
    if lo is not None and hi is not None:
        key = "form.problem.between"
    elif f.exclusive_minimum:
        key = "form.problem.greater_than"
    else:
        key = "form.problem.at_least"
    raise ValueError(word(key, lang, **show))


def _check_multi(f: Field, chosen: list[str], lang: str) -> str | None:
    allowed = {c.value for c in f.choices} | {NONE}
    if any(v not in allowed for v in chosen):
        return word("form.problem.choose", lang)
    if NONE in chosen and len(chosen) > 1:
        return word("form.problem.none_and_sites", lang)
    return None


def _check_extrahepatic(
    form: FormData, values: FormData, problems: dict[str, str], lang: str
) -> None:
    """Recording whether extrahepatic disease is resectable needs its sites (or "none"): the
    case format would otherwise read an empty list of sites as "no extrahepatic disease"."""
    if values.get("extrahepatic.resectable", "") and not values.get("extrahepatic.sites"):
        problems.setdefault("extrahepatic.sites", word("form.problem.sites_first", lang))


PRIOR_DETAILS = ("started", "stopped", "best_response", "line")  # optional, per row
_PRIOR = re.compile(
    r"prior_therapies\.(\d+)\.(?:option|outcome|started|stopped|best_response|line)"
)
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")
KI67 = "pathology.ki67_percent"
_BOUND_SIGN = re.compile(r"<=|≤|<")
_THOUSANDS = re.compile(r"[+-]?[1-9][0-9]{0,2},[0-9]{3}")
_DECIMAL_COMMA = re.compile(r"(?<=[0-9]),(?=[0-9]+$)")  # one comma before the last digits
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def _priors(
    form: FormData, values: FormData, problems: dict[str, str], lang: str
) -> tuple[list[dict[str, str]], list[int]]:
    """The filled rows, in order, and the form row of each (for placing a message)."""
    count = max((int(m.group(1)) + 1 for k in form if (m := _PRIOR.fullmatch(k))), default=0)
    priors: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in range(count):
        option = as_text(form.get(f"prior_therapies.{i}.option"))
        outcome = as_text(form.get(f"prior_therapies.{i}.outcome"))
        values[f"prior_therapies.{i}.option"] = option
        values[f"prior_therapies.{i}.outcome"] = outcome
        details: dict[str, Any] = {}
        for name in PRIOR_DETAILS:
            text = as_text(form.get(f"prior_therapies.{i}.{name}"))
            values[f"prior_therapies.{i}.{name}"] = text
            if text:
                details[name] = text
        if not (option or outcome or details):
            continue
        if option not in OPTION_CODES:
            problems[f"prior_therapies.{i}.option"] = word("form.problem.prior_option", lang)
        if outcome not in OUTCOMES:
            problems[f"prior_therapies.{i}.outcome"] = word("form.problem.prior_outcome", lang)
        if "line" in details:
            if _INTEGER.fullmatch(details["line"]):
                details["line"] = int(details["line"])
            else:
                got = details["line"]
                problems[f"prior_therapies.{i}.line"] = word(
                    "form.problem.whole_number", lang, got=got
                )
        priors.append({"option": option, "outcome": outcome, **details})
        rows.append(i)
    return priors, rows


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _field_name(path: str, rows: list[int]) -> str:
    """`prior_therapies[0].option` → the form's `prior_therapies.<row>.option`."""
    found = re.fullmatch(r"prior_therapies\[(\d+)\](.*)", path)
    if found and int(found.group(1)) < len(rows):
        return f"prior_therapies.{rows[int(found.group(1))]}{found.group(2)}"
    return path.replace("[", ".").replace("]", "")


def whatif_form(stored: Case, posted: Mapping[str, list[str]]) -> FormData:
    """The case form of a what-if: the stored case as its form, with the panel's fields in place.

    Starting from the stored case written as its form makes an unchanged what-if the stored case
    exactly. A list of boxes replaces the stored one only when the panel names it in
    `whatif.lists` (a browser sends nothing when no box is ticked); the prior-therapy rows
    replace the stored ones when the panel sent any.
    """
    data = to_form(stored)
    lists = posted.get("whatif.lists", [])
    for name in whatif_fields():
        if name in lists:
            data[name] = list(posted.get(name, []))
        elif name in posted:
            data[name] = posted[name][0] if posted[name] else ""
    if any(_PRIOR.fullmatch(key) for key in posted):
        data = {k: v for k, v in data.items() if not _PRIOR.fullmatch(k)}
        data.update({k: v[0] for k, v in posted.items() if _PRIOR.fullmatch(k) and v})
    return data


def whatif_fields() -> Iterable[str]:
    """Every finding of the case form but its id, laboratory values included: a board may ask
    about any of them ("what if creatinine clearance were 25?")."""
    return [
        path
        for path in leaf_fields()
        if path not in ("schema", "id", *KI67_BOUNDS) and not path.startswith("prior_therapies")
    ]
