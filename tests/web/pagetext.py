"""The text a reader sees on a page: text nodes and the visible attributes (placeholder, title,
aria-label), each marked with whether it sits inside `translate="no"` (names, citations, what a
user typed), which is left as it is in every language."""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label")


@dataclass(frozen=True)
class Text:
    text: str
    keep: bool  # inside translate="no"
    where: str  # the enclosing element, for messages


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.texts: list[Text] = []

    def _keep(self) -> bool:
        return any(keep for _, keep in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        keep = a.get("translate") == "no"
        for name in SHOWN_ATTRIBUTES:
            if a.get(name):
                self.texts.append(Text(a[name] or "", self._keep() or keep, f"{tag}[{name}]"))
        if tag == "option" and a.get("value") is not None:
            pass  # an option's value is sent, not shown
        if tag not in VOID:
            self.stack.append((tag, keep))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not data.strip() or any(tag in ("script", "style", "svg") for tag, _ in self.stack):
            return
        where = self.stack[-1][0] if self.stack else "(top)"
        self.texts.append(Text(" ".join(data.split()), self._keep(), where))


def visible_texts(html: str) -> list[Text]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.texts


CJK = re.compile(r"[\u3400-\u9fff]")
# Codes, JSON paths and enum values: what a clinician must never be shown.
MACHINE = [
    re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b"),  # snake_case: enum values, field and flag codes
    re.compile(
        r"\b(?:patient|primary|pathology|liver|extrahepatic|sstr_imaging|course|symptoms"
        r"|history|labs|prior_therapies|region|prior)\.[a-z]"
    ),
    re.compile(r"\b(?:tae|tace|tare|ssa|prrt|captem|nec|ki67)\b"),  # option and finding codes
    re.compile(r"\{[a-z_]+\}"),  # a placeholder left unfilled
    re.compile(r"\((?:json|root|request|path|resource|server|credentials)\)"),
    re.compile(r"\b(?:True|False|None|null|undefined)\b"),
]
# In a Chinese page, an English word outside translate="no" is an untranslated string; these
# are the international abbreviations and names written in Latin letters in Chinese medicine.
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
LATIN_OK = {
    "netlm", "API", "PDF", "ECOG", "SSTR", "NET", "NEC", "MDT", "WHO", "CAPTEM", "TACE", "TAE",
    "TARE", "PRRT", "HR", "RCT", "CI", "PFS", "UTC", "ULN", "Krenning", "LAR", "DOTATATE",
    "DOTATOC", "MINEN", "PET", "CT", "MRI", "Milan", "RFA", "FLR", "NCCN", "ENETS", "ESMO", "ASCO",
    "CSCO", "NANETS", "FDA", "EMA", "NMPA", "ALT", "AST", "CDS", "Hooks", "EHR", "FHIR", "RECIST",
    "PMID", "DOI", "Octreoscan", "SPECT", "IMRT", "SIRT", "MWA", "SBRT", "TKI", "mTOR", "VEGF",
    "VIP", "VIPoma", "OS", "ORR", "TTP", "GEP", "pNET", "SSA", "KPS", "Lutathera",
    "III", "min", "GBq", "MBq", "Dotatate", "Child", "Pugh", "Oddi", "Karnofsky", "CIRSE", "NORDIC",
    "DPYD", "DPD", "DEB", "OHSU", "RETNET", "Scott", "Boudreaux", "Graff", "Baker", "Maxwell",
    "Origin", "Referer", "Cookie",  # HTTP header names a script must send as written
    "Choi",  # the Choi response criteria (CT density), named after their author
}  # fmt: skip
HALF_WIDTH = re.compile(r"[\u3400-\u9fff][,;:?!()]|[,;:?!(][\u3400-\u9fff]|\)[\u3400-\u9fff]")


def machine_text(texts: list[Text]) -> list[str]:
    return [f"{t.where}: {t.text}" for t in texts if any(p.search(t.text) for p in MACHINE)]


def untranslated(texts: list[Text], names: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Chinese page texts holding an English word that is not a name or abbreviation (`names`:
    further proper names, such as the studies' short names)."""
    out = []
    for t in texts:
        if t.keep:
            continue
        words = [w for w in LATIN_WORD.findall(t.text) if w not in LATIN_OK and w not in names]
        if words:
            out.append(f"{t.where}: {t.text} ({', '.join(words)})")
    return out


def half_width_punctuation(texts: list[Text], names: tuple[str, ...] = ()) -> list[str]:
    """Chinese page texts with ASCII punctuation beside Chinese characters; `names` (written
    as their owners write them, e.g. a label's name) are left out."""
    out = []
    for t in texts:
        text = t.text
        for name in names:
            text = text.replace(name, "")
        if not t.keep and HALF_WIDTH.search(text):
            out.append(f"{t.where}: {t.text}")
    return out
