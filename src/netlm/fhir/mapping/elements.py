"""Reading FHIR JSON elements: dates, codings, and the words of a concept."""

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from netlm.model.schema_paths import allowed_values, node_at

EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def instant(value: Any) -> dt.datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates: their first day)."""
    if not isinstance(value, str):
        return None
    partial = _PARTIAL.match(value)
    if partial:
        return dt.datetime(int(partial[1]), int(partial[2] or 1), 1, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def first_date(data: dict[str, Any], *paths: str) -> dt.datetime | None:
    for path in paths:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        when = instant(node)
        if when is not None:
            return when
    return None


def observation_date(data: dict[str, Any]) -> dt.datetime | None:
    return first_date(
        data,
        "effectiveDateTime",
        "effectiveInstant",
        "effectivePeriod.end",
        "effectivePeriod.start",
        "issued",
    )


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [x for x in concept.get("coding", []) if isinstance(x, dict)]


def codes(concepts: Iterable[Any], *systems: str) -> list[str]:
    """The codes of `concepts` in any of `systems`."""
    return [
        str(x["code"])
        for cc in concepts
        for x in codings(cc)
        if x.get("system") in systems and "code" in x
    ]


def words(concept: Any) -> str:
    """The human text of a concept (text and displays), lower case, for text matching."""
    if not isinstance(concept, dict):
        return ""
    parts = [str(concept.get("text", ""))] + [str(x.get("display", "")) for x in codings(concept)]
    return " ".join(parts).lower()


def describe(concept: Any) -> str:
    """`system|code 'display'` for every coding, then the text: what the chart said."""
    shown, displays = [], set()
    for x in codings(concept):
        display = f" {x['display']!r}" if x.get("display") else ""
        displays.add(x.get("display"))
        shown.append(f"{x.get('system', '?')}|{x.get('code', '?')}{display}")
    text = concept.get("text") if isinstance(concept, dict) else None
    if not shown:
        return repr(text) if text else "no code or text"
    return ", ".join(shown) + (f" ({text!r})" if text and text not in displays else "")


def has_word(text: str, word: str) -> bool:
    """`word` starts a word of `text`; abbreviations (up to 4 letters) must be the whole word,
    so "tae" does not match "taenia" while "chemoemboli" matches "chemoembolization"."""
    end = r"(?![a-z0-9])" if len(word) <= 4 else ""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}{end}", text) is not None


def allowed(path: str, value: Any) -> bool:
    return value in allowed_values(node_at(tuple(path.split("."))))
