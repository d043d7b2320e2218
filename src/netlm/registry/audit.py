"""`netlm registry audit`: was the treatment given one netlm recommends, considers or excludes?

The assessment runs in the engine (the compiled query); the audit is three more aggregations
over it: concordance per group, the exclusion rules behind discordant care, and the discordant
patients themselves. Only these small results come back to Python, for the table, the CSV
and the self-contained HTML report (inline SVG, no scripts, no network).
"""

import csv
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.registry.batch import Checked, check
from netlm.registry.engines import VALID, Engine
from netlm.registry.explain import rule_reasons
from netlm.registry.query import AssessmentQuery
from netlm.registry.validate import column_id

GROUPS = {
    "center": column_id("center"),
    "diagnosis_year": column_id("diagnosis_year"),
    "grade": "out_grade",
    "pattern": "coalesce(f_liver_pattern, 'unclassified')",
    "site": column_id("primary.site"),
}
CATEGORIES = ("recommended", "considered", "excluded", "not_recorded")
# Outcome columns carried into the per-patient file, so survival can be related to concordance.
OUTCOMES = ("followup_months", "death", "progression_months", "progressed")
TOP_REASONS = 5
DISCORDANT_SHOWN = 500


@dataclass
class GroupRow:
    group: str
    patients: int
    counts: dict[str, int]
    reasons: list[tuple[str, str, int]] = field(default_factory=list)  # option, rule, patients

    def share(self, category: str) -> float:
        treated = self.patients - self.counts["not_recorded"]
        if category == "not_recorded":
            return self.counts[category] / self.patients if self.patients else 0.0
        return self.counts[category] / treated if treated else 0.0


@dataclass
class Audit:
    by: str
    groups: list[GroupRow]
    discordant: list[dict[str, Any]]
    discordant_total: int
    checked: Checked

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "patients": sum(g.patients for g in self.groups),
            "skipped_rows": [r for r, _ in self.checked.skipped],
            "groups": [
                {
                    "group": g.group,
                    "patients": g.patients,
                    **g.counts,
                    **{f"share_{c}": round(g.share(c), 6) for c in CATEGORIES},
                    "top_exclusion_reasons": [
                        {"option": o, "rule": r, "patients": n} for o, r, n in g.reasons
                    ],
                }
                for g in self.groups
            ],
            "discordant_total": self.discordant_total,
            "discordant": self.discordant,
        }


def _per_patient(query: AssessmentQuery, by: str) -> str:
    """One row per patient: group, given treatment, and its concordance with the assessment."""
    d, catalogue = query.d, query.catalogue

    def by_option(var: str, what: str | dict[str, str]) -> str:
        whens = " ".join(
            f"WHEN '{c}' THEN {what[c] if isinstance(what, dict) else what.format(c=c)}"
            for c in catalogue
        )
        return f"CASE {var} {whens} END"

    status = "CASE WHEN o_{c}__proposed THEN o_{c}__strength ELSE 'excluded' END"
    given = d.split_plus(column_id("treatment_given"))
    statuses = d.transform(given, "g", by_option("g", status))
    any_excluded = d.exists(statuses, "s", "s = 'excluded'")
    any_considered = d.exists(statuses, "s", "s = 'consider'")
    category = (
        f"CASE WHEN {column_id('treatment_given')} IS NULL THEN 'not_recorded' "
        f"WHEN {any_excluded} THEN 'excluded' WHEN {any_considered} THEN 'considered' "
        "ELSE 'recommended' END"
    )
    excluded_rules = d.transform(
        d.filter(given, "g", f"NOT ({by_option('g', 'o_{c}__proposed')})"),
        "g",
        f"concat(g, '|', {by_option('g', {c: query.codes.rules(c) for c in catalogue})})",
    )
    keep = [
        f"{GROUPS[by]} AS audit_group",
        f"{column_id('treatment_given')} AS treatment_given",
        f"{category} AS concordance",
        f"{excluded_rules} AS excluded_given",
        *(f"{column_id(name)} AS {name}" for name in OUTCOMES),
    ]
    return query.build(VALID, keep=keep)


def run_audit(
    engine: Engine,
    by: str,
    skip_bad: bool = False,
    kb: KnowledgeBase | None = None,
    checked: Checked | None = None,
) -> Audit:
    """The audit of the registry; `checked` when the caller has already checked it."""
    kb = kb or load_knowledge_base()
    checked = checked or check(engine, skip_bad)
    query = AssessmentQuery(kb, engine.dialect)
    d = engine.dialect
    patients = _per_patient(query, by)
    engine.materialize("registry_audit", patients)
    group = d.cast_str("audit_group")
    counts = ", ".join(f"sum(CASE WHEN concordance = '{c}' THEN 1 ELSE 0 END)" for c in CATEGORIES)
    rows = engine.rows(
        f"SELECT coalesce({group}, '(none)') AS g, count(*), {counts} FROM registry_audit "
        "GROUP BY 1 ORDER BY 1"
    )
    groups = {
        str(r[0]): GroupRow(
            str(r[0]), int(r[1]), dict(zip(CATEGORIES, map(int, r[2:]), strict=True))
        )
        for r in rows
    }
    # Each excluded given option carries "option|<JSON rule list without brackets>".
    pairs = (
        f"SELECT coalesce({group}, '(none)') AS g, {d.explode('excluded_given')} AS e "
        "FROM registry_audit"
    )
    reasons = engine.rows(
        f"SELECT g, e, count(*) AS n FROM ({pairs}) GROUP BY g, e ORDER BY g, n DESC, e"
    )
    tallies: dict[str, dict[tuple[str, str], int]] = {}
    for g, entry, n in reasons:
        option, _, listed = str(entry).partition("|")
        for rule in json.loads(f"[{listed}]"):
            tally = tallies.setdefault(str(g), {})
            tally[(option, rule)] = tally.get((option, rule), 0) + int(n)
    for name, tally in tallies.items():
        top = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
        groups[name].reasons = [(o, r, n) for (o, r), n in top]
    total = engine.rows("SELECT count(*) FROM registry_audit WHERE concordance = 'excluded'")
    listed_rows = engine.rows(
        f"SELECT id, coalesce({group}, '(none)'), treatment_given, excluded_given, "
        "recommendations FROM registry_audit WHERE concordance = 'excluded' "
        f"ORDER BY _row LIMIT {DISCORDANT_SHOWN}"
    )
    discordant = []
    for pid, g, given, excluded, recommendations in listed_rows:
        recs = json.loads(recommendations)
        discordant.append(
            {
                "id": pid,
                "group": g,
                "treatment_given": given,
                "excluded_by": [
                    {"option": o, "rules": json.loads(f"[{r}]")}
                    for o, _, r in (str(e).partition("|") for e in excluded)
                ],
                "recommended_first": [r["option"] for r in recs if r["tier"] == 1],
            }
        )
    return Audit(by, list(groups.values()), discordant, int(total[0][0]), checked)


def write_patients(engine: Engine, by: str, path: Path) -> None:
    """One row per patient of the audit just run (`run_audit`), in registry order: id, the group,
    the treatment given, its concordance and the outcome columns (a file `netlm survival` reads,
    e.g. `--by concordance`). Parquet, or CSV by the file name."""
    group = engine.dialect.cast_str("audit_group")
    q = engine.dialect.quote
    columns = ", ".join(
        ["id", f"{group} AS {q(by)}", "treatment_given", "concordance",
         q("classification.grade"), *OUTCOMES]
    )  # fmt: skip
    engine.write(engine.in_row_order(f"SELECT {columns} FROM registry_audit"), path)


def write_csv(audit: Audit, path: Path) -> None:
    """The per-group summary, one row per group."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([audit.by, "patients", *CATEGORIES,
                         *(f"share_{c}" for c in CATEGORIES), "top_exclusion_reasons"])  # fmt: skip
        for g in audit.groups:
            reasons = "; ".join(f"{o}:{r} ({n})" for o, r, n in g.reasons)
            writer.writerow([g.group, g.patients, *(g.counts[c] for c in CATEGORIES),
                             *(f"{g.share(c):.4f}" for c in CATEGORIES), reasons])  # fmt: skip


COLOURS = {"recommended": "#2e7d32", "considered": "#f9a825", "excluded": "#c62828",
           "not_recorded": "#9e9e9e"}  # fmt: skip


def _bars(audit: Audit) -> str:
    """Stacked horizontal bars (share of patients per category), as inline SVG."""
    width, row, label = 560, 26, 140
    height = row * len(audit.groups) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label + 20}" '
             f'height="{height}" role="img" aria-label="Concordance by {audit.by}">']  # fmt: skip
    for i, g in enumerate(audit.groups):
        y, x = 10 + i * row, float(label)
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end" '
                     f'font-size="12">{html.escape(g.group)}</text>')  # fmt: skip
        for c in CATEGORIES:
            w = width * (g.counts[c] / g.patients if g.patients else 0)
            title = f"<title>{c}: {g.counts[c]}</title>"
            parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{row - 6}" '
                         f'fill="{COLOURS[c]}">{title}</rect>')  # fmt: skip
            x += w
    legend_y = height - 10
    for j, c in enumerate(CATEGORIES):
        parts.append(f'<rect x="{label + j * 130}" y="{legend_y - 10}" width="10" height="10" '
                     f'fill="{COLOURS[c]}"/><text x="{label + j * 130 + 14}" y="{legend_y}" '
                     f'font-size="11">{c.replace("_", " ")}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def write_html(audit: Audit, path: Path, kb: KnowledgeBase | None = None) -> None:
    kb = kb or load_knowledge_base()
    env = Environment(
        loader=PackageLoader("netlm.registry", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )

    def reason(option: str, rule: str) -> str:
        return "; ".join(rule_reasons(kb, option, rule))

    page = env.get_template("audit.html").render(
        audit=audit,
        categories=CATEGORIES,
        chart=_bars(audit),
        reason=reason,
        kb_version=kb.manifest.version,
        shown=DISCORDANT_SHOWN,
    )
    path.write_text(page, encoding="utf-8")
