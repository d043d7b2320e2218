"""Page vocabulary in English and Simplified Chinese, and the language of a request."""

from functools import cache
from importlib import resources
from typing import Any

import yaml
from fastapi import Request

from netlm.model.codes import Language

LANGUAGES = ("en", "zh")
LANG_COOKIE = "netlm_lang"


@cache
def _words() -> dict[str, dict[str, str]]:
    text = resources.files("netlm.web").joinpath("words.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = yaml.safe_load(text)
    return data


def word(key: str, lang: str, **values: Any) -> str:
    entry = _words()[key]
    return entry.get(lang, entry["en"]).format(**values) if values else entry.get(lang, entry["en"])


def request_lang(request: Request) -> Language:
    """`?lang=` wins, then the language cookie, then the browser's preference."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked == "zh":
        return "zh"
    if asked == "en":
        return "en"
    accept = request.headers.get("accept-language", "")
    return "zh" if accept.lower().startswith("zh") else "en"
