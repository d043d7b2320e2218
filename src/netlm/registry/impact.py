"""`netlm kb impact`: which patients a knowledge-base change moves, and which rules move them.

The registry is assessed twice on one engine (DuckDB or Spark), once per knowledge base, by the
same compiled query as `netlm registry assess` (parity with the single-case engine is tested).
A patient counts as changed when their first tier (its options and strength), the strength of
any option, or an exclusion changes. An option no indication supports is "not indicated"
whichever indication came closest; an excluded one is named with the rules that exclude it.
Changed patients are grouped by the transition of their first tier, each with the rule changes
that touch the options involved (`netlm.knowledge.releases.diff.touching`).
"""

import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.releases.diff import RuleChange, diff, touching
from netlm.registry.batch import check, write_assessment
from netlm.registry.engines import Engine

EXAMPLES = 5  # patient ids shown per transition
SYNTHETIC_N, SYNTHETIC_SEED = 10_000, 1  # `netlm registry synth`'s defaults
SHIFTS = 6  # option changes shown per transition in text (all in JSON and HTML)
NOT_INDICATED = "not indicated"
EXCLUDED = "excluded: "
UNMET = "unmet:"


class KbVersion(BaseModel):
    version: str
    released: str
    source: str = Field(description="Where it was read: working tree, release, folder, git ref.")


class OptionShift(BaseModel):
    """One option's state before and after (recommended, consider, not indicated, excluded)."""

    option: str
    name: str
    before: str
    after: str
    patients: int


class Transition(BaseModel):
    before: str = Field(description='The first tier before, in words ("nothing proposed").')
    after: str
    before_options: list[str]
    after_options: list[str]
    patients: int
    share: float = Field(description="Of the registry's assessed patients.")
    first_tier: int = Field(description="Patients whose first tier changed.")
    strength: int = Field(description="Patients with an option whose strength changed.")
    exclusions: int = Field(description="Patients with an exclusion that changed.")
    options: list[OptionShift]
    causes: list[str] = Field(description="Ids of the rule changes that touch these options.")
    direct: bool = Field(
        description="False when no change touches these options: all changes are listed."
    )
    examples: list[str] = Field(description="The first patients' ids, as the text shows them.")
    ids: list[str] = Field(description="Every patient's id, in registry order.")


class Impact(BaseModel):
    """The JSON report (`--json`); `netlm.kb-impact/1`."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["netlm.kb-impact/1"] = Field("netlm.kb-impact/1", alias="schema")
    base: KbVersion
    head: KbVersion
    registry: str
    patients: int
    skipped: int
    changed: int
    transitions: list[Transition]
    changes: list[RuleChange]
    names: dict[str, str] = Field(description="Option code -> short name (English).")

    def change(self, key: str) -> RuleChange:
        return next(c for c in self.changes if c.id == key)


@dataclass
class _Patient:
    first: tuple[tuple[str, str], ...]  # first tier: (option, strength) in rank order
    states: dict[str, str]  # option -> strength, "not indicated" or "excluded: rules"

    @classmethod
    def read(cls, recommendations: str, excluded: str) -> "_Patient":
        recs = json.loads(recommendations)
        states = {r["option"]: r["strength"] for r in recs}
        for entry in json.loads(excluded):
            rules = [r for r in entry["rules"] if not r.startswith(UNMET)]
            states[entry["option"]] = EXCLUDED + ", ".join(rules) if rules else NOT_INDICATED
        first = tuple((r["option"], r["strength"]) for r in recs if r["tier"] == 1)
        return cls(first, states)


@dataclass
class _Group:
    ids: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    shifts: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def _strength(state: str | None) -> str | None:
    return state if state in ("recommended", "consider") else None


def _excluded(state: str | None) -> bool:
    return state is not None and state.startswith(EXCLUDED)


def _tier_words(first: tuple[tuple[str, str], ...], names: dict[str, str]) -> str:
    if not first:
        return "nothing proposed"
    words = " + ".join(names.get(code, code) for code, _ in first)
    return words if first[0][1] == "recommended" else f"{words} (consider)"


# A differing row: id, then recommendations and excluded of each version.
Differing = list[tuple[str, str, str, str, str]]


def _differing(base: Path, head: Path) -> Differing:
    """The rows whose output text differs, in row order (DuckDB over the two output files, so
    memory holds the differing rows only, whichever engine wrote them). Rows are matched by id,
    which the registry check makes unique."""
    import duckdb

    def source(path: Path) -> str:
        quoted = str(path).replace("'", "''")
        return f"read_parquet('{quoted}', file_row_number = true)"

    with duckdb.connect() as con:
        found = con.execute(
            "SELECT b.id, b.recommendations, b.excluded, h.recommendations, h.excluded "
            f"FROM {source(base)} b JOIN {source(head)} h USING (id) "
            "WHERE b.recommendations IS DISTINCT FROM h.recommendations "
            "OR b.excluded IS DISTINCT FROM h.excluded ORDER BY b.file_row_number"
        ).fetchall()
    return [(str(i), str(rb), str(eb), str(rh), str(eh)) for i, rb, eb, rh, eh in found]


def assess_twice(
    engine: Engine, base: KnowledgeBase, head: KnowledgeBase, skip_bad: bool = False
) -> tuple[int, int, Differing]:
    """Check the registry once, assess it with each knowledge base: (assessed rows, skipped
    rows, the rows whose output differs)."""
    checked = check(engine, skip_bad)
    with tempfile.TemporaryDirectory(prefix="netlm-impact-") as folder:
        outs = Path(folder) / "base.parquet", Path(folder) / "head.parquet"
        for out, kb in zip(outs, (base, head), strict=True):
            write_assessment(engine, out, kb)
        return checked.rows, len(checked.skipped), _differing(*outs)


@dataclass
class Versions:
    base: KnowledgeBase
    head: KnowledgeBase
    base_source: str
    head_source: str


def compare(
    versions: Versions, registry: str, total: int, differing: Differing, skipped: int = 0
) -> Impact:
    """The impact report on `total` patients, from the rows whose output differs."""
    base, head = versions.base, versions.head
    names = {code: e.option.short("en") for code, e in base.options.items()}
    names |= {code: e.option.short("en") for code, e in head.options.items()}
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    tiers: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for pid, recs_b, excl_b, recs_h, excl_h in differing:
        old, new = _Patient.read(recs_b, excl_b), _Patient.read(recs_h, excl_h)
        if old == new:
            continue
        key = (_tier_words(old.first, names), _tier_words(new.first, names))
        tiers[key] = ([c for c, _ in old.first], [c for c, _ in new.first])
        group = groups[key]
        group.ids.append(pid)
        codes = [*old.states, *(c for c in new.states if c not in old.states)]
        moved = [c for c in codes if old.states.get(c) != new.states.get(c)]
        group.kinds["first_tier"] += old.first != new.first
        group.kinds["strength"] += any(
            _strength(old.states.get(c)) != _strength(new.states.get(c)) for c in moved
        )
        group.kinds["exclusions"] += any(
            _excluded(old.states.get(c)) or _excluded(new.states.get(c)) for c in moved
        )
        for code in moved:
            group.shifts[
                (code, old.states.get(code, "absent"), new.states.get(code, "absent"))
            ] += 1
    changes = diff(base, head)
    transitions = []
    for key, group in groups.items():
        involved = {*tiers[key][0], *tiers[key][1], *(code for code, _, _ in group.shifts)}
        causes = touching(changes, involved, base, head)
        shifts = [
            OptionShift(option=code, name=names.get(code, code), before=b, after=a, patients=n)
            for (code, b, a), n in sorted(group.shifts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        transitions.append(
            Transition(
                before=key[0],
                after=key[1],
                before_options=tiers[key][0],
                after_options=tiers[key][1],
                patients=len(group.ids),
                share=len(group.ids) / total if total else 0.0,
                first_tier=group.kinds["first_tier"],
                strength=group.kinds["strength"],
                exclusions=group.kinds["exclusions"],
                options=shifts,
                causes=[c.id for c in (causes or changes)],
                direct=bool(causes),
                examples=group.ids[:EXAMPLES],
                ids=group.ids,
            )
        )
    # A new first tier first: what a tumour board would now propose first.
    transitions.sort(key=lambda t: (t.before == t.after, -t.patients, t.before, t.after))

    def version(kb: KnowledgeBase, source: str) -> KbVersion:
        return KbVersion(version=kb.manifest.version, released=kb.manifest.released, source=source)

    return Impact(
        base=version(base, versions.base_source),
        head=version(head, versions.head_source),
        registry=registry,
        patients=total,
        skipped=skipped,
        changed=sum(t.patients for t in transitions),
        transitions=transitions,
        changes=changes,
        names=names,
    )


def synthetic_registry(folder: Path) -> tuple[Path, str]:
    """`netlm registry synth`'s default registry, written into `folder`, and its description:
    the bundled registry a knowledge-base change is measured on (`make kb-impact`)."""
    from netlm.registry.synth import synthesise

    out = folder / "synthetic.parquet"
    synthesise(SYNTHETIC_N, SYNTHETIC_SEED, out, lambda _: None)
    described = (
        f"`netlm registry synth`'s registry ({SYNTHETIC_N:,} patients, seed {SYNTHETIC_SEED})"
    )
    return out, described


def run(engine: Engine, versions: Versions, registry: str, skip_bad: bool = False) -> Impact:
    """Assess the registry on `engine` with both versions and compare them."""
    total, skipped, differing = assess_twice(engine, versions.base, versions.head, skip_bad)
    return compare(versions, registry, total, differing, skipped)


def _patients(n: int) -> str:
    return f"{n:,} patient" if n == 1 else f"{n:,} patients"


def _percent(share: float) -> str:
    """One decimal; two below 1 % (4 of 10,000 patients is 0.04 %, not 0.0 %)."""
    return f"{100 * share:.2f} %" if 0 < share < 0.01 else f"{100 * share:.1f} %"


def title(t: Transition) -> str:
    """`PRRT → curative resection`, or the first tier alone when it did not change."""
    if t.before == t.after:
        return f"{t.before}, first tier unchanged"
    return f"{t.before} → {t.after}"


def summary(impact: Impact) -> str:
    """The headline: versions, registry and how many patients change."""
    b, h = impact.base, impact.head
    skipped = f"; {impact.skipped} rows with bad data skipped" if impact.skipped else ""
    first = sum(t.patients for t in impact.transitions if t.before != t.after)
    n = len(impact.changes)

    def share(count: int) -> str:
        return _percent(count / impact.patients if impact.patients else 0.0)

    return (
        f"Knowledge base {b.version} ({b.source}, released {b.released}) → {h.version} "
        f"({h.source}, released {h.released}) on {impact.registry}: {impact.patients:,} patients"
        f"{skipped}. {_patients(impact.changed)} ({share(impact.changed)}) change first tier, "
        f"strength or exclusions, {first:,} of them their first tier ({share(first)}); "
        f"{n} decision-relevant rule {'change' if n == 1 else 'changes'}."
    )


def change_name(c: RuleChange) -> str:
    """Which rule and how: `prrt contraindication `severe_renal_impairment` changed`."""
    where = f"{c.option} {c.kind}" if c.option else c.kind
    return f"{where} `{c.rule}` {c.change}" + (
        f" ({', '.join(c.fields)})" if c.fields and c.change == "changed" else ""
    )


def change_values(c: RuleChange) -> str:
    """The changed fields: `priority: 15 → 22; when: …`, or each value of a rule added or
    removed."""
    if c.before is not None and c.after is not None:
        return "; ".join(f"{f}: {c.before[f]} → {c.after[f]}" for f in c.fields)
    values = c.after if c.after is not None else c.before or {}
    return "; ".join(f"{f}: {v}" for f, v in values.items())


def change_line(c: RuleChange) -> str:
    """One rule change in words: which rule, how, and its values."""
    where = f"{c.option} {c.kind}" if c.option else c.kind
    values = change_values(c)
    return f"{where} `{c.rule}` {c.change}" + (f": {values}" if values else "")


def text_lines(impact: Impact, markdown: bool = False) -> list[str]:
    """The report as lines: terminal text, or Markdown (the committed CI report)."""
    item, sub = ("- ", "  - ") if markdown else ("  ", "    ")

    def heading(words: str) -> list[str]:
        return [f"## {words}", ""] if markdown else [words]

    lines = [f"# Knowledge-base impact: {impact.base.version} → {impact.head.version}", ""]
    lines = [*(lines if markdown else []), summary(impact), ""]
    for t in impact.transitions:
        lines += heading(f"{title(t)}: {_patients(t.patients)} ({_percent(t.share)})")
        lines.append(f"{item}patients whose first tier changed: {t.first_tier:,}, an option's "
                     f"strength: {t.strength:,}, an exclusion: {t.exclusions:,}")  # fmt: skip
        lines += [f"{item}{s.name}: {s.before} → {s.after} ({s.patients:,})"
                  for s in t.options[:SHIFTS]]  # fmt: skip
        if len(t.options) > SHIFTS:
            lines.append(f"{item}… and {len(t.options) - SHIFTS} more option changes")
        intro = "caused by" if t.direct else "no change touches these options; all changes"
        lines.append(f"{item}{intro}:")
        lines += [f"{sub}{change_name(impact.change(key))}" for key in t.causes]
        lines += [f"{item}examples: {', '.join(t.examples)}", ""]
    if impact.changes:
        lines += heading("Rule changes")
        for c in impact.changes:
            lines.append(f"{item}{change_line(c)}")
            lines += [f"{sub}{c.text}"] if c.text else []
    return [line.rstrip() for line in lines]


def write_html(impact: Impact, path: Path) -> None:
    """One self-contained page: inline CSS, no script, no network."""
    env = Environment(
        loader=PackageLoader("netlm.registry", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    page = env.get_template("impact.html").render(
        impact=impact, summary=summary(impact), title=title, percent=_percent
    )
    path.write_text(page, encoding="utf-8")


def write_json(impact: Impact, path: Path) -> None:
    path.write_text(impact.model_dump_json(by_alias=True, indent=2) + "\n", encoding="utf-8")
