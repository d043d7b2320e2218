"""Numbers and words in a report's narrative, as proposals for a clinician, never as facts.

A pathology or imaging conclusion ("well-differentiated neuroendocrine tumor, WHO grade 2;
Ki-67 8%; mitoses 2/2 mm2; three liver metastases") holds what decides the case, but free text
is read by patterns, and patterns misread negations, ranges and other specimens. So what is
found here is returned as a Proposal with the sentence quoted, for the completion form to show
prefilled and marked "from the report text: confirm"; it never enters the case. Ambiguous text
(a range, "more than five", both differentiations in one sentence) gives no proposal.
"""

import re
from collections.abc import Iterator
from typing import Any

from netlm.fhir.mapping.result import STATED_GRADE, Proposal

_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = r"(?P<v>\d+(?:[.,]\d+)?)"
_CMP = r"(?P<cmp><=|>=|<|>|≤|≥)?\s*"
_PER_2MM2 = r"\s*(?:/|per)\s*2\s*mm(?:2|²|\^2)"
_KI67 = re.compile(rf"\bki[\s-]?67\b[^0-9<>≤≥]{{0,30}}?{_CMP}{_NUMBER}\s*%(?!\s*-)", re.I)
_MITOSES = (
    re.compile(
        rf"\b(?:mitos\w*|mitotic\s+(?:count|rate|index|figures?))[^0-9<>≤≥]{{0,30}}?{_CMP}"
        rf"{_NUMBER}\s*(?:mitos\w*|mitotic\s+figures?)?{_PER_2MM2}",
        re.I,
    ),
    re.compile(rf"{_CMP}{_NUMBER}\s*(?:mitos\w*|mitotic\s+figures?){_PER_2MM2}", re.I),
)
_DIFFERENTIATION = (
    (re.compile(r"\bwell[\s-]+differentiated\b", re.I), "well"),
    (re.compile(r"\bpoorly[\s-]+differentiated\b", re.I), "poor"),
)
_WELL_AND_POORLY = re.compile(r"\bwell\b.*\bpoorly\b|\bpoorly\b.*\bwell\b", re.I)
_NEGATED = re.compile(r"\b(?:not|no|without)\s+(?:\w+\s+)?$", re.I)
_MORPHOLOGY = (
    (re.compile(r"\blarge[\s-]+cell\s+neuroendocrine\s+carcinoma", re.I), "large_cell_nec"),
    (re.compile(r"\bsmall[\s-]+cell\s+(?:neuroendocrine\s+)?carcinoma", re.I), "small_cell_nec"),
    (re.compile(r"\bminen\b|\bmixed\s+neuroendocrine[\s-]+non[\s-]?neuroendocrine", re.I), "minen"),
    (re.compile(r"\bwell[\s-]+differentiated\s+neuroendocrine\s+tumou?r", re.I), "net"),
)
_GRADE = re.compile(
    r"\b(?:WHO\s+)?grade\s*(?P<g>[123]|III|II|I)\b(?!\s*[-/])|\bG(?P<h>[123])\b", re.I
)
_ROMAN = {"I": "1", "II": "2", "III": "3"}
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "single": 1, "solitary": 1}  # fmt: skip
_LESIONS = re.compile(
    r"\b(?P<n>\d+|" + "|".join(_WORDS) + r")\s+(?:[a-z-]+\s+){0,3}?(?:liver|hepatic)\s+"
    r"(?:lesions?|metastas[ie]s|deposits?|nodules?)\b",
    re.I,
)
_NOT_EXACT = re.compile(
    r"(?:more\s+than|over|at\s+least|up\s+to|about|approximately|[<>~])\s*$", re.I
)
_SIGNS = {"≤": "<=", "≥": ">="}


def sentences(text: str) -> Iterator[str]:
    """The sentences of a narrative, trimmed; decimals ("2.5") and semicolons do not end one."""
    for part in _SENTENCES.split(text):
        if part.strip():
            yield part.strip()


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _comparator(found: re.Match[str]) -> str | None:
    sign = found.groupdict().get("cmp")
    return _SIGNS.get(sign, sign) if sign else None


def _in_sentence(sentence: str) -> Iterator[tuple[str, Any, str | None]]:
    """(field, value, comparator) for each finding the sentence states unambiguously."""
    for found in _KI67.finditer(sentence):
        yield "pathology.ki67_percent", _number(found["v"]), _comparator(found)
    for pattern in _MITOSES:
        found_m = pattern.search(sentence)
        if found_m:
            yield "pathology.mitoses_per_2mm2", _number(found_m["v"]), _comparator(found_m)
            break
    stated = {
        value
        for pattern, value in _DIFFERENTIATION
        for m in pattern.finditer(sentence)
        if not _NEGATED.search(sentence[: m.start()])
    }
    both = _WELL_AND_POORLY.search(sentence)  # "well and poorly differentiated areas"
    if len(stated) == 1 and not both:
        yield "pathology.differentiation", stated.pop(), None
    for pattern, morphology in _MORPHOLOGY:
        m = pattern.search(sentence)
        if m and not _NEGATED.search(sentence[: m.start()]):
            yield "pathology.morphology", morphology, None
            break
    grades = {
        _ROMAN.get((m["g"] or m["h"]).upper(), m["g"] or m["h"]) for m in _GRADE.finditer(sentence)
    }
    if len(grades) == 1:
        yield STATED_GRADE, f"G{grades.pop()}", None
    for m in _LESIONS.finditer(sentence):
        if not _NOT_EXACT.search(sentence[: m.start()]):
            n = m["n"].lower()
            yield "liver.lesion_count", _WORDS.get(n) or int(n), None
            break


def propose(text: str, source: str) -> list[Proposal]:
    """Every finding the narrative states, each with its sentence quoted and its source."""
    return [
        Proposal(field, value, sentence, source, comparator)
        for sentence in sentences(text)
        for field, value, comparator in _in_sentence(sentence)
    ]
