"""Turning untrusted input into a `Case`, with one plain-language line per problem.

Each problem names the JSON path in the case and what is wrong with it, e.g.
`pathology.ki67_percent: must be between 0 and 100, got 140`. The same messages serve the CLI
and (later) the HTTP API, so they live beside the model, not in an interface.
"""

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from netlm.model.case import Case
from netlm.model.schema_paths import allowed_values, node_at


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class CaseInputError(ValueError):
    """The input is not a valid `netlm.case/1`; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# Bounds on the shape of any JSON netlm reads: deeper nesting or longer integers than any
# clinical document needs are refused up front, instead of exhausting the recursion limit or
# Python's integer-conversion limit inside a parser.
MAX_JSON_DEPTH = 64
MAX_INTEGER_DIGITS = 30
_JSON_TOKENS = re.compile(rf'"(?:[^"\\]|\\.)*"|[\[\]{{}}]|-?\d{{{MAX_INTEGER_DIGITS + 1},}}')


def json_shape_problem(text: str) -> Problem | None:
    """Why `text` is too deeply nested or holds too long a number for netlm (None: it is not).

    A linear scan that skips strings, so it costs little beside the parse it protects.
    """
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return Problem("(json)", f"nested deeper than {MAX_JSON_DEPTH} levels")
        elif token in "]}":
            depth -= 1
        elif token[0] != '"':
            return Problem("(json)", f"a number longer than {MAX_INTEGER_DIGITS} digits")
    return None


def load_json(text: str | bytes) -> Any:
    """Untrusted JSON to Python data, or one `(json)` problem in words: malformed, duplicate
    keys, NaN/Infinity, too deep or too long a number, not UTF-8."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        shape = json_shape_problem(text)
        if shape is not None:
            raise CaseInputError([shape])
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_no_nan,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CaseInputError([Problem("(json)", f"malformed JSON at {where}: {exc.msg}")]) from None
    except _DuplicateKey as exc:
        raise CaseInputError([Problem("(json)", f"duplicate key {exc.args[0]!r}")]) from None
    except _NonFinite as exc:
        raise CaseInputError([Problem("(json)", f"{exc.args[0]} is not a valid number")]) from None
    except UnicodeDecodeError as exc:
        raise CaseInputError([Problem("(json)", f"not UTF-8 text: {exc.reason}")]) from None


def parse_case_json(text: str | bytes) -> Case:
    return parse_case(load_json(text))


def parse_case(data: Any) -> Case:
    if not isinstance(data, dict):
        got = type(data).__name__ if data is not None else "null"
        raise CaseInputError([Problem("(root)", f"must be a JSON object, got {got}")])
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        raise CaseInputError([_problem(err) for err in exc.errors()]) from None


class _DuplicateKey(ValueError):
    pass


class _NonFinite(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_nan(token: str) -> float:
    raise _NonFinite(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise _NonFinite(token)
    return value


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(root)"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, dict) else "an object"


def _problem(err: ErrorDetails) -> Problem:
    loc = tuple(err["loc"])
    kind = err["type"]
    got = _show(err.get("input"))
    node = node_at(loc)
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        message = "unknown field" + _suggestion(loc)
    elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        message = f"must be {_bounds(node)}, got {got}"
    elif kind == "literal_error":
        allowed = ", ".join(str(v) for v in allowed_values(node)) or err["msg"]
        message = f"must be one of: {allowed}; got {got}"
    elif kind in {"int_type", "int_from_float", "int_parsing"}:
        message = f"must be a whole number, got {got}"
    elif kind in {"float_type", "float_parsing", "finite_number"}:
        message = f"must be a number, got {got}"
    elif kind in {"bool_type", "bool_parsing"}:
        message = f"must be true or false, got {got}"
    elif kind == "string_type":
        message = f"must be a string, got {got}"
    elif kind == "list_type":
        message = f"must be a list, got {got}"
    elif kind in {"model_type", "dict_type", "model_attributes_type"}:
        message = f"must be an object, got {got}"
    elif kind == "string_pattern_mismatch":
        message = f"must be 1-64 characters of letters, digits, '.', '_' or '-'; got {got}"
    else:
        message = err["msg"]
    return Problem(_path(loc), message)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bounds(node: dict[str, Any]) -> str:
    lo, hi = node.get("minimum"), node.get("maximum")
    xlo = node.get("exclusiveMinimum")
    if lo is not None and hi is not None:
        return f"between {_number(lo)} and {_number(hi)}"
    if xlo is not None:
        return f"greater than {_number(xlo)}"
    if lo is not None:
        return f"at least {_number(lo)}"
    if hi is not None:
        return f"at most {_number(hi)}"
    return "within the allowed range"


def _suggestion(loc: tuple[int | str, ...]) -> str:
    parent = node_at(loc[:-1])
    known = list(parent.get("properties", {}))
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; allowed here: {', '.join(known)}" if known else ""
