"""Turning untrusted input into a `Case`, with one plain-language line per problem.

Each problem names the JSON path in the case and what is wrong with it, e.g.
`pathology.ki67_percent: must be between 0 and 100, got 140`. The same messages serve the CLI
and (later) the HTTP API, so they live beside the model, not in an interface.
"""

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, repeat
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from netlm.model.case import Case
from netlm.model.schema_paths import allowed_values, node_at
from netlm.model.text import control_problem


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

# The shape check reads the text the way one regular expression did before it,
#     "(?:[^"\\]|\\.)*"  |  [\[\]{}]  |  -?\d{31,}     (the first token found at each place),
# but in linear time: that expression was tried again at every escaped quote inside a string
# that never closes, so `"` followed by thousands of `\"` cost time quadratic in its length.
# Here an unclosed string is followed once to where it stops, then its inside is read once as
# plain text (as the expression read it), so each character is read a few times at most.
#
# A string's inside: plain characters and backslash pairs, up to its closing quote or to where
# it cannot go on (the end of the text, or a backslash before a line break).
_INSIDE = r'[^"\\]*+(?:\\.[^"\\]*+)*+'
_STRING_INSIDE = re.compile(_INSIDE)
# Brackets come in runs, spaces and separators included, so a run is one step of the scan.
_BRACKETS = r"[\[\]{}][\[\]{}\s,:]*+"
# What the scan passes over: other text, closed strings and numbers of at most 30 digits; then
# the next thing it must read (brackets, a quote whose string does not close, a longer number).
_OUTSIDE = re.compile(
    rf'(?:[^"\[\]{{}}\d]++|"{_INSIDE}"|\d{{1,{MAX_INTEGER_DIGITS}}}(?!\d))*+({_BRACKETS}|["\d])?'
)
# The same inside a string that never closes, where quotes are plain text.
_UNCLOSED = re.compile(
    rf"(?:[^\[\]{{}}\d]++|\d{{1,{MAX_INTEGER_DIGITS}}}(?!\d))*+({_BRACKETS}|\d)?"
)
_TRAILING_DIGITS = re.compile(r"\d+\Z")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# No single step reads more than this many characters (more than MAX_INTEGER_DIGITS + 1), so a
# scan in a worker thread lets other threads (the event loop) run between steps: a regular
# expression holds the GIL while it runs.
_WINDOW = 1 << 16


def json_shape_problem(text: str) -> Problem | None:
    """Why `text` is too deeply nested or holds too long a number for netlm (None: it is not).

    Linear in the length of `text` (a string that never closes included), and done in steps of
    at most 64k characters, so it costs little beside the parse it protects.
    """
    depth = 0
    pos, size = 0, len(text)
    stop, pattern = size, _OUTSIDE  # stop < size: reading the inside of an unclosed string
    while pos < size:
        if pos >= stop:
            stop, pattern = size, _OUTSIDE
        start, end = pos, min(pos + _WINDOW, stop)
        for found in pattern.finditer(text, start, end):
            mark = found.group(1)
            if mark is None:  # nothing more to read up to the window's edge
                pos = end if end == stop else _digits_start(text, start, end)
                break
            if mark[0] in _STEP:
                change, peak = _short_run(mark) if len(mark) <= 16 else _bracket_run(mark)
                if depth + peak > MAX_JSON_DEPTH:
                    return Problem("(json)", f"nested deeper than {MAX_JSON_DEPTH} levels")
                depth, pos = depth + change, found.end()
            elif mark == '"':
                close, closed = _string_end(text, found.end())
                if closed:
                    pos = close + 1
                else:  # read its inside as plain text, then go on from where it stopped
                    pos, stop, pattern = found.end(), close, _UNCLOSED
                break
            else:
                return Problem("(json)", f"a number longer than {MAX_INTEGER_DIGITS} digits")
    return None


def _bracket_run(run: str) -> tuple[int, int]:
    """How much a run of brackets changes the depth, and the most it raises it on the way."""
    depths = list(accumulate(map(_STEP.get, run, repeat(0)), initial=0))
    return depths[-1], max(depths)


# Short runs (`}, {`, `]]`) repeat through a document.
_short_run = lru_cache(maxsize=1024)(_bracket_run)


def _digits_start(text: str, start: int, end: int) -> int:
    """Where the next window starts after the window `text[start:end]` was read: `end`, or the
    start of a run of digits reaching `end` (it may go on beyond it, so it is read again whole;
    it is at most MAX_INTEGER_DIGITS long, or it would have been refused, so it is not the whole
    window)."""
    run = _TRAILING_DIGITS.search(text, max(start, end - MAX_INTEGER_DIGITS), end)
    return run.start() if run is not None and run.start() > start else end


def _string_end(text: str, pos: int) -> tuple[int, bool]:
    """Where the string whose inside starts at `pos` ends: the index of its closing quote and
    True, or the index where it cannot go on and False."""
    size = len(text)
    while True:
        end = min(pos + _WINDOW, size)
        found = _STRING_INSIDE.match(text, pos, end)
        assert found is not None
        pos = found.end()
        if pos == end:
            if end == size:
                return pos, False
        elif text[pos] == '"':
            return pos, True
        elif pos + 1 < end or end == size:  # a backslash before a line break, or at the end
            return pos, False
        # else a backslash at the window's edge: read on from it


# What a JSON document may hold that its shape does not show: control characters in its strings
# (raw, or escaped as \u0000, \b, \f) and the NaN and Infinity Python's parser accepts. One fast
# search spots them; only a document where one turns up (rarely a false alarm, such as an
# escaped backslash before a "b") is parsed and walked to name the field.
_SUSPECT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\\[bf]|\\u00[01789]|NaN|Infinity")
_SUSPECT_LONGEST = len("Infinity")


class _Constant(str):
    """NaN, Infinity or -Infinity as the parser met it, to be named by where it stands."""


def json_value_problem(text: str) -> Problem | None:
    """The first NaN or Infinity in the JSON `text`, or the first string (key or value) holding
    a control character (tab, LF and CR allowed), named by its path; None when there is none,
    or when `text` is not JSON (its parser will say so). Run after `json_shape_problem`, which
    bounds the depth of the walk."""
    if not _suspect(text):
        return None
    try:
        data = json.loads(text, strict=False, parse_constant=_Constant)
    except (ValueError, RecursionError):
        return None
    return _value_problem(data, ())


def _suspect(text: str) -> bool:
    """Whether `text` may hold what `json_value_problem` looks for, searched a window at a time
    (a regular expression holds the GIL while it runs)."""
    for start in range(0, len(text), _WINDOW):
        if _SUSPECT.search(text, start, start + _WINDOW + _SUSPECT_LONGEST - 1):
            return True
    return False


def _value_problem(value: Any, loc: tuple[int | str, ...]) -> Problem | None:
    if isinstance(value, _Constant):
        return Problem(_path(loc), f"{value} is not a valid number")
    if isinstance(value, str):
        message = control_problem(value)
        return None if message is None else Problem(_path(loc), message)
    items: list[tuple[int | str, Any]] = []
    if isinstance(value, dict):
        for key in value:
            message = control_problem(key)
            if message is not None:
                return Problem(_path(loc), f"a key {message}")
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        found = _value_problem(item, (*loc, key))
        if found is not None:
            return found
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
    elif kind == "string_pattern_mismatch" and loc and loc[-1] in ("started", "stopped"):
        message = f"must be a date as YYYY-MM-DD, got {got}"
    elif kind == "string_pattern_mismatch":
        message = f"must be 1-64 characters of letters, digits, '.', '_' or '-'; got {got}"
    elif kind == "value_error":
        message = str(err.get("ctx", {}).get("error", err["msg"]))
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
