"""The assessment's output text, written from a few small codes per patient.

The query (`query`) reduces each patient's assessment to codes: the region, and per option its
sort key (strength, label, priority band and catalogue position; -1 when not proposed), which
absolute contraindications exclude it and which indication came closest when none holds, and
whether it is off-label in each region whose label has a scope. The text (the
recommendations and excluded JSON, the intent) depends on nothing else, so it can be written
for each distinct combination of codes once and joined back: a registry of a million patients
has a few thousand.
"""

from dataclasses import dataclass

from netlm.knowledge.load import CompiledOption, KnowledgeBase
from netlm.model.codes import REGIONS, Region
from netlm.registry.conditions import first_true, literal
from netlm.registry.dialect import Dialect
from netlm.registry.validate import repr_sql

EXCLUDED_BY_REGION = "not_approved:"  # + region: verified non-approval in the patient's region
NO_INDICATION = "unmet:"  # + the indication that came closest to holding
REGION = "g_region"  # the patient's region, '' when not recorded


def option_column(code: str, what: str) -> str:
    return f"o_{code}__{what}"


@dataclass(frozen=True)
class Sql:
    """A SQL value among fixed text pieces (see `joined`)."""

    expr: str


def joined(*pieces: "str | Sql") -> str:
    """SQL text of fixed pieces and SQL values in a row: adjacent fixed text is merged into one
    literal, and a wholly fixed text is a plain literal (no concat() to run per row)."""
    merged: list[str | Sql] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    sql = [repr_sql(p) if isinstance(p, str) else p.expr for p in merged]
    if len(sql) == 1 and isinstance(merged[0], str):
        return sql[0]
    return f"concat({', '.join(sql) or repr_sql('')})"


def region_in(region: str, regions: list[Region]) -> str:
    if not regions:
        return "FALSE"
    return f"coalesce({region} IN ({', '.join(literal(r) for r in regions)}), FALSE)"


def absolute(entry: CompiledOption) -> list[int]:
    """The contraindications that exclude (absolute, resting on verified sources)."""
    return [
        j for j, c in enumerate(entry.contraindications) if not c.rule.relative and not c.unverified
    ]


def blocked_in(entry: CompiledOption) -> list[Region]:
    """Regions where verified non-approval excludes the option."""
    avail = entry.option.availability
    return [r for r in REGIONS if avail[r].status == "not_approved" and avail[r].verified]


def scoped(entry: CompiledOption) -> list[Region]:
    """Regions where the option is approved within a label scope (else off-label)."""
    avail = entry.option.availability
    return [r for r in REGIONS if avail[r].status == "approved" and r in entry.scopes]


class Codes:
    """Names and meaning of the codes, shared by the query that computes them and the text."""

    def __init__(self, kb: KnowledgeBase, dialect: Dialect) -> None:
        self.kb, self.d = kb, dialect
        self.catalogue = list(kb.options)
        self.priorities = sorted(
            {i.rule.priority for e in kb.options.values() for i in e.indications}
        )
        if 4 * len(self.priorities) > 62:
            raise ValueError("more than 15 distinct indication priorities: widen the band mask")

    # Band: (strength, label, priority) in order; key: band * 100 + catalogue position.
    def band(self, strength: str, off_label: str, pidx: str) -> str:
        p = len(self.priorities)
        return (
            f"((CASE WHEN {strength} = 'recommended' THEN 0 ELSE {2 * p} END) "
            f"+ (CASE WHEN {off_label} THEN {p} ELSE 0 END) + {pidx})"
        )

    def key(self, code: str) -> str:
        return f"g_{code}_key"

    def excluded(self, code: str) -> str:
        """Bit j: the j-th absolute contraindication holds; above them, 1 + the index of the
        indication that came closest when none holds (0 when one does)."""
        return f"g_{code}_ex"

    def off_label(self, code: str) -> str | None:
        """Bit k: off-label in the k-th scoped region (None: the option has no scoped label)."""
        return f"g_{code}_av" if scoped(self.kb.options[code]) else None

    def columns(self) -> list[str]:
        names = [REGION]
        for code in self.catalogue:
            av = self.off_label(code)
            names += [self.key(code), self.excluded(code), *([av] if av else [])]
        return names

    # -- the text --------------------------------------------------------------------------------
    def rules(self, code: str) -> str:
        """JSON list items: the rules that exclude the option."""
        entry, ex, d = self.kb.options[code], self.excluded(code), self.d
        held = absolute(entry)
        reasons = [
            f"CASE WHEN ({ex} & {1 << b}) <> 0 THEN '\"{entry.contraindications[j].rule.id}\"' END"
            for b, j in enumerate(held)
        ]
        block = region_in(REGION, blocked_in(entry))
        reasons.append(
            f"CASE WHEN {block} THEN concat('\"{EXCLUDED_BY_REGION}', {REGION}, '\"') END"
        )
        nearest = d.shift_right(ex, len(held))
        named = first_true(
            [
                (f"{nearest} = {i + 1}", repr_sql(f'"{NO_INDICATION}{ind.rule.id}"'))
                for i, ind in enumerate(entry.indications)
            ]
        )
        return f"coalesce(nullif(concat_ws(',', {', '.join(reasons)}), ''), {named})"

    def _availability(self, code: str) -> str:
        """JSON object: approved / off_label / not_approved per region (the patient's, or
        every region when none is recorded)."""
        entry = self.kb.options[code]
        bits = {r: 1 << k for k, r in enumerate(scoped(entry))}
        parts: dict[str, list[str | Sql]] = {}
        for r in REGIONS:
            value: str | Sql = entry.option.availability[r].status
            if r in bits:
                test = f"({self.off_label(code)} & {bits[r]}) <> 0"
                value = Sql(f"CASE WHEN {test} THEN 'off_label' ELSE 'approved' END")
            parts[r] = [f'"{r}":"', value, '"']
        everywhere: list[str | Sql] = ["{"]
        for i, r in enumerate(REGIONS):
            everywhere += [","] * (i > 0) + parts[r]
        return first_true(
            [(f"{REGION} = '{r}'", joined("{", *parts[r], "}")) for r in REGIONS],
            default=joined(*everywhere, "}"),
        )

    def text(self, source: str) -> str:
        """SELECT of every column of `source` (which has the codes) plus the intent, the
        recommendations and the excluded options. Each proposed option's text is fixed pieces
        around its values (strength, rank = position of its key among the sorted keys, tier =
        1 + the bands held before its own, availability); the texts are picked in key order."""
        d, p = self.d, len(self.priorities)
        keys = [self.key(c) for c in self.catalogue]
        ranked = d.sort(d.filter(d.array(keys), "k", "k >= 0"))
        bands = {c: f"CAST(({self.key(c)} - {i}) / 100 AS BIGINT)"
                 for i, c in enumerate(self.catalogue)}  # fmt: skip
        mask = " | ".join(
            f"(CASE WHEN {self.key(c)} >= 0 THEN {d.bit(bands[c])} ELSE 0 END)"
            for c in self.catalogue
        )
        first = f"least({', '.join(f'nullif({k}, -1)' for k in keys)})"
        prepared = (
            f"SELECT *, {ranked} AS g_ranked, ({mask}) AS g_mask, {first} AS g_first FROM {source}"
        )
        fragments, excluded = [], []
        for code in self.catalogue:
            key, band = self.key(code), bands[code]
            strength = f"(CASE WHEN {band} >= {2 * p} THEN 'consider' ELSE 'recommended' END)"
            rank = d.cast_str(d.position("g_ranked", key))
            tier = d.cast_str(f"(bit_count(g_mask & ({d.bit(band)} - 1)) + 1)")
            fragment = joined(
                f'{{"option":"{code}","strength":"', Sql(strength),
                '","rank":', Sql(rank), ',"tier":', Sql(tier),
                ',"availability":', Sql(self._availability(code)), "}",
            )  # fmt: skip
            fragments.append(f"(CASE WHEN {key} >= 0 THEN {fragment} END)")
            rules = joined(f'{{"option":"{code}","rules":[', Sql(self.rules(code)), "]}")
            excluded.append(f"(CASE WHEN {key} < 0 THEN {rules} END)")
        order = d.transform("g_ranked", "k", "k % 100 + 1")
        recommendations = f"concat('[', {d.join(d.pick(d.array(fragments), order), ',')}, ']')"
        intent = first_true(
            [
                (f"g_first % 100 = {i}", literal(self.kb.options[c].option.intent))
                for i, c in enumerate(self.catalogue)
            ],
            default="'undetermined'",
        )
        return (
            f"SELECT *, {intent} AS g_intent, {recommendations} AS g_recommendations, "
            f"concat('[', concat_ws(',', {', '.join(excluded)}), ']') AS g_excluded "
            f"FROM ({prepared})"
        )
