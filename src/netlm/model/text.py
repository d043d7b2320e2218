"""Which characters netlm accepts in text, wherever it comes from (web, API, CDS Hooks, CLI).

Control characters (C0, DEL, C1) are never data: NUL makes PostgreSQL fail, the others corrupt
logs, CSV exports and terminals. Free text (notes, reasons) keeps tab, LF and CR, where line
breaks make sense; names and identifiers are single lines.

Characters that change how text *looks* without being visible are refused too: bidirectional
overrides, embeddings and isolates (U+202A-U+202E, U+2066-U+2069) can make a name or a note read
differently from what is stored ("Trojan Source"), and zero-width characters can make two names
that look the same differ. netlm refuses them rather than showing them escaped, in free text as
in names, so that pages, the PDF, exports and the audit trail never hold text that reads
otherwise than it is. ZWJ and ZWNJ (U+200D, U+200C) stay allowed: scripts and emoji need them,
and the bidirectional marks (LRM, RLM, ALM) only nudge neighbouring characters.
"""

import re

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# Every C0 control but tab, LF and CR; DEL; every C1 control.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same, tab, LF and CR included: what a single line or an identifier may not hold.
ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
ZERO_WIDTH = re.compile("[\u180e\u200b\u2060\ufeff]")


def control_problem(value: str, *, multiline: bool = True) -> str | None:
    """The control character in `value`, in words (None: there is none); tab, LF and CR count
    only when not `multiline`. What every input is checked for as it enters (web/guard.py)."""
    found = (CONTROL if multiline else ANY_CONTROL).search(value)
    return None if found is None else f"must not contain the control character {_code(found)}"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with `value` as text (None: nothing); `multiline` allows tab, LF and CR."""
    problem = control_problem(value, multiline=multiline)
    if problem is not None:
        return problem
    found = BIDI_CONTROL.search(value)
    if found is not None:
        return f"must not contain the bidirectional control {_code(found)}"
    found = ZERO_WIDTH.search(value)
    if found is not None:
        return f"must not contain the zero-width character {_code(found)}"
    return None


def _code(found: re.Match[str]) -> str:
    return f"U+{ord(found.group()):04X}"


def _single_line(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("text_characters", problem)
    return value


def _free_text(value: str) -> str:
    problem = text_problem(value, multiline=True)
    if problem is not None:
        raise PydanticCustomError("text_characters", problem)
    return value


# A name, label or identifier: one line of visible characters.
SingleLine = AfterValidator(_single_line)
# Notes, comments, reasons: line breaks and tabs allowed.
FreeText = AfterValidator(_free_text)
