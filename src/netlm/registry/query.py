"""The whole assessment as one SQL query, compiled from the knowledge base.

Each stage adds columns to the one before, in the order the engine works (`netlm.classify`
then `netlm.engine`): case facts and derived facts, WHO grade, liver pattern, resectability,
the options that read only case facts, the facts about the assessment itself (two-pass
regional approval, whether anything disease-directed was proposed), the options that read
those, then rank, tier and the output. Nothing here names a rule, threshold or option: they
are all read from the knowledge base, so a new rule needs no new SQL.

Per option the query keeps the engine's decision (`netlm.engine.decide`): the best indication
that holds (strength, then priority), exclusion by an absolute contraindication resting on
verified sources or by verified non-approval in the patient's region, the cap at `consider`
(a relative or not fully verified contraindication that holds, eligibility of the best
indication's evidence not met, unverified non-approval here), on- or off-label in the region
(or in every region when none is recorded), and, for an option no indication supports, the
indication that came closest (fewest unmet clauses).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from netlm.classify.facts import therapy_kind
from netlm.classify.grade import NEC_MORPHOLOGIES
from netlm.engine.assess import _NOT_DISEASE_DIRECTED
from netlm.engine.decide import STRENGTH_ORDER
from netlm.knowledge.conditions import leaves
from netlm.knowledge.load import OUTCOME_FACT_PREFIX, Compiled, CompiledOption, KnowledgeBase
from netlm.knowledge.schema import GradeThresholds
from netlm.model.case import KI67_BOUNDS
from netlm.model.codes import OPTION_CODES, REGIONS, Region
from netlm.registry.conditions import Scope, first_true, is_true, literal, truth, unmet
from netlm.registry.dialect import Dialect
from netlm.registry.format import registry_columns
from netlm.registry.render import (
    REGION,
    Codes,
    absolute,
    blocked_in,
    option_column,
    region_in,
    scoped,
)
from netlm.registry.validate import ROW, column_id

KI67 = "pathology.ki67_percent"

# The engine narrows an undecided G3 to "G3 or NEC" (netlm.classify.facts).
UNDECIDED_GRADES = ("G3", "NEC")
TEXT_COLUMNS = ("g_intent", "g_recommendations", "g_excluded")  # written from the codes (`texts`)
OUTPUT_COLUMNS = (
    "id", "classification.grade", "classification.liver_pattern",
    "classification.resectability", "classification.intent", "recommendations", "excluded",
)  # fmt: skip


@dataclass(frozen=True)
class _Stage:
    name: str
    columns: list[tuple[str, str]]  # (SQL expression, name)


class AssessmentQuery:
    """Builds the SQL that assesses every row of a checked registry relation."""

    def __init__(self, kb: KnowledgeBase, dialect: Dialect) -> None:
        self.kb, self.d = kb, dialect
        facts = {
            c.name: column_id(c.name)
            for c in registry_columns()
            if c.case_field and c.kind not in ("therapies",)
        }
        facts["extrahepatic.sites"] = "f_extrahepatic_sites"
        bounded = tuple((column_id(path), incl) for path, incl in KI67_BOUNDS.items())
        self.scope = Scope(dialect, kb.definitions, facts, bounded={KI67: bounded})
        self.stages: list[_Stage] = []
        self.codes = Codes(kb, dialect)
        self.catalogue = self.codes.catalogue
        self.priorities = self.codes.priorities
        self.code_columns: list[tuple[str, str]] = []  # (SQL, name): the codes of the text
        self._case_facts()
        self._grade()
        self._pattern()
        self._resectability()
        self._definitions()
        self._options(deferred=False)
        self._outcome_facts()
        self._options(deferred=True)
        self._ranking()

    # -- facts ---------------------------------------------------------------------------------
    def _add(self, columns: list[tuple[str, str]], facts: dict[str, str] | None = None) -> None:
        self.stages.append(_Stage(f"s{len(self.stages) + 1}", columns))
        if facts:
            self.scope = self.scope.with_facts(facts)

    def _case_facts(self) -> None:
        d = self.d
        ext = [column_id(c.name) for c in registry_columns() if c.section == "extrahepatic"]
        section = " OR ".join(f"{c} IS NOT NULL" for c in ext)
        sites_list = column_id("extrahepatic.sites")
        sites = f"(CASE WHEN {section} THEN coalesce({sites_list}, {d.empty_list(d.string)}) END)"
        judgement = column_id("liver.resectable")
        therapies = column_id("prior_therapies")
        columns = [
            (sites, "f_extrahepatic_sites"),
            (f"(CASE WHEN {judgement} IS NULL THEN 'not_stated' WHEN {judgement} "
             "THEN 'resectable' ELSE 'unresectable' END)", "f_surgeon_judgement"),
        ]  # fmt: skip
        facts = {"liver.surgeon_judgement": "f_surgeon_judgement"}
        present = f"(CASE WHEN {sites} IS NOT NULL THEN {d.size(sites)} > 0 END)"
        distant = d.exists(sites, "s", "s <> 'regional_lymph_nodes'")
        beyond = f"(CASE WHEN {sites} IS NOT NULL THEN {distant} END)"
        columns += [(present, "f_ext_present"), (beyond, "f_ext_beyond")]
        facts |= {
            "extrahepatic.present": "f_ext_present",
            "extrahepatic.beyond_regional_nodes": "f_ext_beyond",
        }
        therapy_list = f"coalesce({therapies}, {self._empty_therapies()})"
        # The history latest first, as two lists read by position: one pass over each row's
        # list, instead of a filter over it for every option.
        self._add(
            [
                (d.reverse(d.transform(therapy_list, "t", "t.option")), "f_prior_options"),
                (d.reverse(d.transform(therapy_list, "t", "t.outcome")), "f_prior_outcomes"),
            ]
        )
        progressing = f"coalesce({column_id('course.status')} = 'progressive', FALSE)"
        for code in OPTION_CODES:
            latest = d.at("f_prior_outcomes", d.position("f_prior_options", f"'{code}'"))
            outcome = f"coalesce({latest}, 'none')"
            failed = f"(CASE WHEN {progressing} AND {outcome} = 'ongoing' THEN 'progression' "
            columns.append((f"{failed}ELSE {outcome} END)", f"f_prior_{code}"))
            facts[f"prior.{code}"] = f"f_prior_{code}"
        options = self.kb.options
        systemic = [c for c in OPTION_CODES if options[c].option.systemic]
        lines = " + ".join(
            f"(CASE WHEN f_prior_{c} <> 'none' THEN 1 ELSE 0 END)" for c in systemic if c != "ssa"
        )
        kind = {c: therapy_kind(options[c].option) for c in systemic}
        kinds = " + ".join(
            "(CASE WHEN "
            + " OR ".join(f"f_prior_{c} <> 'none'" for c in systemic if kind[c] == k)
            + " THEN 1 ELSE 0 END)"
            for k in dict.fromkeys(kind.values())
        )
        self._add(columns, facts)
        self._add(
            [(f"({lines})", "f_prior_systemic_lines"), (f"({kinds})", "f_prior_systemic_kinds")],
            {
                "prior.systemic_lines": "f_prior_systemic_lines",
                "prior.systemic_kinds": "f_prior_systemic_kinds",
            },
        )

    def _empty_therapies(self) -> str:
        if self.d.name == "duckdb":
            return "CAST([] AS STRUCT(option VARCHAR, outcome VARCHAR)[])"
        return "CAST(array() AS array<struct<option:string,outcome:string>>)"

    @staticmethod
    def _index_grade(value: str, t: GradeThresholds) -> str:
        return (
            f"(CASE WHEN {value} IS NULL THEN NULL WHEN {value} < {t.g2_from} THEN 'G1' "
            f"WHEN {value} <= {t.g3_above} THEN 'G2' ELSE 'G3' END)"
        )

    def _ki67_grade(self, t: GradeThresholds) -> str:
        """`grade_by`, or G1 from an upper bound reported instead when it decides G1 ("<3")."""
        decides = " OR ".join(
            f"{column_id(path)} {'<' if inclusive else '<='} {t.g2_from}"
            for path, inclusive in KI67_BOUNDS.items()
        )
        by_bound = f"(CASE WHEN {decides} THEN 'G1' END)"
        return f"coalesce({self._index_grade(column_id(KI67), t)}, {by_bound})"

    def _grade(self) -> None:
        grading = self.kb.classification.grading
        ki67 = self._ki67_grade(grading.ki67_percent)
        mitoses = self._index_grade(
            column_id("pathology.mitoses_per_2mm2"), grading.mitoses_per_2mm2
        )
        self._add([(ki67, "f_ki67_grade"), (mitoses, "f_mitotic_grade")])
        diff, morph = column_id("pathology.differentiation"), column_id("pathology.morphology")
        nec_morph = ", ".join(literal(m) for m in NEC_MORPHOLOGIES)
        nec = f"coalesce({diff} = 'poor' OR {morph} IN ({nec_morph}), FALSE)"
        k, m = "f_ki67_grade", "f_mitotic_grade"
        raw = (
            f"(CASE WHEN {nec} THEN 'NEC' WHEN {k} IS NULL AND {m} IS NULL THEN 'unknown' "
            f"WHEN {k} IS NULL THEN {m} WHEN {m} IS NULL THEN {k} "
            f"WHEN {k} >= {m} THEN {k} ELSE {m} END)"
        )
        self._add([(raw, "out_grade")])
        known_net = f"coalesce({diff} = 'well' OR {morph} = 'net', FALSE)"
        undecided = f"(out_grade = 'G3' AND NOT {known_net})"
        self._add(
            [
                (undecided, "f_grade_undecided"),
                ("(CASE WHEN out_grade = 'unknown' THEN NULL ELSE out_grade END)", "f_grade"),
                (
                    f"(CASE WHEN {k} IS NULL OR {m} IS NULL THEN NULL ELSE {k} <> {m} END)",
                    "f_grade_discordant",
                ),
            ],
            {
                "grade": "f_grade",
                "grade_undecided": "f_grade_undecided",
                "grade_discordant": "f_grade_discordant",
            },
        )
        self.scope = Scope(
            self.d,
            self.kb.definitions,
            self.scope.columns,
            {"grade": ("f_grade_undecided", UNDECIDED_GRADES)},
            bounded=self.scope.bounded,
        )

    def _pattern(self) -> None:
        stated = column_id("liver.pattern")
        rules = [
            (is_true(c.when, self.scope), literal(c.rule.pattern)) for c in self.kb.pattern_rules
        ]
        pattern = first_true([(f"{stated} IS NOT NULL", stated), *rules])
        self._add([(pattern, "f_liver_pattern")], {"liver_pattern": "f_liver_pattern"})

    def _resectability(self) -> None:
        def any_holds(rules: tuple[Compiled, ...]) -> str:
            if not rules:
                return "FALSE"
            return f"coalesce({' OR '.join(truth(r.when, self.scope) for r in rules)}, FALSE)"

        requirement = truth(self.kb.resectable_when, self.scope)
        value = (
            f"(CASE WHEN {any_holds(self.kb.unresectable_rules)} THEN 'unresectable' "
            f"WHEN {any_holds(self.kb.potentially_resectable_rules)} "
            "THEN 'potentially_resectable' "
            f"WHEN coalesce({requirement}, FALSE) THEN 'resectable' "
            f"WHEN {requirement} IS NULL THEN NULL ELSE 'unresectable' END)"
        )
        self._add([(value, "f_resectability")], {"resectability": "f_resectability"})

    def _definitions(self) -> None:
        """Named conditions as columns, once every fact they read is known (not before: a fact
        still to come would read as unknown)."""
        columns, defined = [], {}
        for name, cond in self.kb.definitions.items():
            facts = [leaf.fact for leaf in leaves(cond, self.kb.definitions)]
            if all(
                f in self.scope.columns and not f.startswith(OUTCOME_FACT_PREFIX) for f in facts
            ):
                columns.append((truth(cond, self.scope), f"d_{name}"))
                defined[name] = f"d_{name}"
        self._add(columns)
        self.scope = self.scope.with_definitions(defined)

    # -- options -------------------------------------------------------------------------------
    def _rules(self, entry: CompiledOption) -> list[tuple[str, str]]:
        """The truth of each of the option's conditions, once per row."""
        code, scope = entry.option.code, self.scope
        columns = [(truth(c.when, scope), f"i_{code}_{j}") for j, c in enumerate(entry.indications)]
        columns += [
            (truth(c.when, scope), f"k_{code}_{j}") for j, c in enumerate(entry.contraindications)
        ]
        columns += [
            (truth(c.when, scope), f"e_{code}_{j}") for j, c in enumerate(entry.eligibility)
        ]
        columns += [(truth(cond, scope), f"l_{code}_{r}") for r, cond in entry.scopes.items()]
        if len(entry.indications) > 1:  # how close each indication came, for `nearest`
            columns += [
                (unmet(c.when, scope), f"u_{code}_{j}") for j, c in enumerate(entry.indications)
            ]
        return columns

    def _decision(self, entry: CompiledOption) -> list[tuple[str, str]]:
        """The engine's decision on one option (`OptionDecider.decide`), as columns."""
        code = entry.option.code
        col = partial(option_column, code)

        def holds_i(j: int) -> str:
            return f"coalesce(i_{code}_{j}, FALSE)"

        def holds_k(j: int) -> str:
            return f"coalesce(k_{code}_{j}, FALSE)"

        region = column_id("region")
        indications = list(entry.indications)
        ranked = sorted(
            range(len(indications)),
            key=lambda i: (
                STRENGTH_ORDER[indications[i].rule.strength],
                indications[i].rule.priority,
            ),
        )
        best = first_true([(holds_i(i), str(i)) for i in ranked])
        held = absolute(entry)
        softer = [j for j in range(len(entry.contraindications)) if j not in held]
        excluding = " OR ".join(holds_k(j) for j in held) or "FALSE"
        avail = entry.option.availability
        unconfirmed = [
            r for r in REGIONS if avail[r].status == "not_approved" and not avail[r].verified
        ]
        block = region_in(region, blocked_in(entry))
        ids = {ind.rule.id: i for i, ind in enumerate(indications)}
        caps = [holds_k(j) for j in softer]
        for j, rule in enumerate(entry.eligibility):
            outside = f"coalesce(NOT e_{code}_{j}, FALSE)"
            if rule.rule.indications:
                which = ", ".join(str(ids[i]) for i in rule.rule.indications if i in ids)
                outside = f"({col('best')} IN ({which}) AND {outside})"
            caps.append(outside)
        caps.append(region_in(region, unconfirmed))
        if any(avail[r].status == "not_approved" and avail[r].verified for r in REGIONS):
            caps.append(f"({region} IS NULL)")  # approval-dependent: region asked for first

        def by_best(value: Callable[[Compiled], str]) -> str:
            return first_true(
                [(f"{col('best')} = {i}", value(ind)) for i, ind in enumerate(indications)]
            )

        strength0 = by_best(lambda ind: literal(ind.rule.strength))
        label = {r: self._on_label(entry, r) for r in REGIONS}
        on_label = first_true(
            [(f"{region} = '{r}'", label[r]) for r in REGIONS],
            default="(" + " OR ".join(label.values()) + ")",
        )
        nearest = "1"  # 1 + the index of the indication that came closest to holding
        if len(indications) > 1:
            counts = [f"u_{code}_{j}" for j in range(len(indications))]
            nearest = first_true(
                [
                    (
                        f"{counts[i]} <= least({', '.join(counts[i + 1 :])})"
                        if i + 1 < len(counts) - 1
                        else f"{counts[i]} <= {counts[i + 1]}",
                        str(i + 1),
                    )
                    for i in range(len(indications) - 1)
                ],
                default=str(len(indications)),
            )
        bits = [f"(CASE WHEN {holds_k(j)} THEN {1 << b} ELSE 0 END)" for b, j in enumerate(held)]
        unmet_code = f"(CASE WHEN {col('best')} IS NULL THEN {nearest} ELSE 0 END)"
        ex = " + ".join([*bits, f"{unmet_code} * {1 << len(held)}"])
        off = [
            f"(CASE WHEN coalesce(NOT l_{code}_{r}, FALSE) THEN {1 << k} ELSE 0 END)"
            for k, r in enumerate(scoped(entry))
        ]
        self.code_columns.append(
            (f"(CASE WHEN {col('proposed')} THEN 0 ELSE {ex} END)", self.codes.excluded(code))
        )
        if off:
            self.code_columns.append(
                (
                    f"(CASE WHEN {col('proposed')} THEN {' + '.join(off)} ELSE 0 END)",
                    str(self.codes.off_label(code)),
                )
            )
        strength = (
            f"(CASE WHEN {strength0} = 'recommended' AND ({' OR '.join(caps)}) "
            f"THEN 'consider' ELSE {strength0} END)"
        )
        return [
            (best, col("best")),
            (f"({col('best')} IS NOT NULL AND NOT ({excluding}) AND NOT {block})", col("proposed")),
            (f"({col('best')} IS NOT NULL AND NOT ({excluding}) AND {block})", col("blocked")),
            (strength, col("strength")),
            (by_best(lambda ind: str(self.priorities.index(ind.rule.priority))), col("pidx")),
            (f"(NOT {on_label})", col("off_label")),
        ]

    def _on_label(self, entry: CompiledOption, region: Region) -> str:
        """Approved in the region and the case not shown to be outside the label's scope."""
        status = entry.option.availability[region].status
        if status != "approved":
            return "FALSE"
        if region not in entry.scopes:
            return "TRUE"
        return f"coalesce(l_{entry.option.code}_{region}, TRUE)"

    def _options(self, deferred: bool) -> None:
        entries = [e for e in self.kb.options.values() if e.deferred == deferred]
        self._add([c for e in entries for c in self._rules(e)])
        self._add([c for e in entries for c in self._decision(e)])

    def _outcome_facts(self) -> None:
        first = [e for e in self.kb.options.values() if not e.deferred]
        aimed = [e for e in first if e.option.category not in _NOT_DISEASE_DIRECTED]
        proposed = " OR ".join(option_column(e.option.code, "proposed") for e in aimed) or "FALSE"
        waiting = " OR ".join(self._undecided(e) for e in aimed) or "FALSE"
        directed = [f"(CASE WHEN {proposed} THEN TRUE WHEN {waiting} THEN NULL ELSE FALSE END)"]
        blocked = [option_column(e.option.code, "blocked") for e in first]
        prefix = OUTCOME_FACT_PREFIX
        self._add(
            [
                ("(" + (" OR ".join(directed) or "FALSE") + ")", "f_disease_directed"),
                ("(" + (" OR ".join(blocked) or "FALSE") + ")", "f_not_approved_here"),
            ],
            {
                f"{prefix}disease_directed_proposed": "f_disease_directed",
                f"{prefix}not_approved_here": "f_not_approved_here",
            },
        )

    def _undecided(self, entry: CompiledOption) -> str:
        """Not proposed, but an indication waits on unrecorded findings and nothing that is
        known excludes the option (`Decision.undecided`)."""
        code = entry.option.code
        col = partial(option_column, code)
        unknown = " OR ".join(f"i_{code}_{j} IS NULL" for j in range(len(entry.indications)))
        held = absolute(entry)
        excluding = " OR ".join(f"coalesce(k_{code}_{j}, FALSE)" for j in held) or "FALSE"
        block = region_in(column_id("region"), blocked_in(entry))
        waiting = f"({unknown or 'FALSE'})"
        return f"({col('best')} IS NULL AND {waiting} AND NOT ({excluding}) AND NOT {block})"

    # -- ranking and output ----------------------------------------------------------------------
    def _ranking(self) -> None:
        """Each proposed option's sort key (band of strength, label and priority, then
        catalogue order), and the codes the output text is written from (`render`)."""
        columns = []
        for i, code in enumerate(self.catalogue):
            col = partial(option_column, code)
            band = self.codes.band(col("strength"), col("off_label"), col("pidx"))
            key = f"(CASE WHEN {col('proposed')} THEN {band} * 100 + {i} ELSE -1 END)"
            columns.append((key, self.codes.key(code)))
        region = f"coalesce({column_id('region')}, '')"
        self._add([(region, REGION), *columns, *self.code_columns])

    def _stages(self, source: str) -> tuple[str, str]:
        """The WITH clause over `source` and the name of its last stage."""
        ctes, previous = [], source
        for stage in self.stages:
            body = ", ".join(f"{expr} AS {name}" for expr, name in stage.columns)
            ctes.append(f"{stage.name} AS (SELECT *, {body} FROM {previous})")
            previous = stage.name
        return f"WITH {', '.join(ctes)}", previous

    def _classification(self) -> str:
        q = self.d.quote
        return (
            f"{ROW}, {column_id('id')} AS id, out_grade AS {q('classification.grade')}, "
            f"coalesce(f_liver_pattern, 'unclassified') AS {q('classification.liver_pattern')}, "
            f"coalesce(f_resectability, 'undetermined') AS {q('classification.resectability')}"
        )

    def _text(self) -> str:
        q = self.d.quote
        return (
            f"g_intent AS {q('classification.intent')}, g_recommendations AS recommendations, "
            "g_excluded AS excluded"
        )

    def build(self, source: str, keep: list[str] | None = None) -> str:
        """The query over `source` (a relation of checked columns, see `validate`): the row
        number and the output columns, the text written row by row.

        `keep` adds source or intermediate columns to the output (e.g. for the audit).
        """
        with_clause, last = self._stages(source)
        extra = "".join(f", {k}" for k in keep or [])
        text = self.codes.text(last)
        return f"{with_clause} SELECT {self._classification()}, {self._text()}{extra} FROM ({text})"

    def coded(self, source: str) -> str:
        """The row number, the classification and the codes of every row of `source`."""
        with_clause, last = self._stages(source)
        codes = ", ".join(self.codes.columns())
        return f"{with_clause} SELECT {self._classification()}, {codes} FROM {last}"

    def texts(self, coded: str) -> str:
        """The text of every distinct combination of codes in the relation `coded` (see
        `coded`): a registry of a million patients has a few tens of thousands."""
        codes = ", ".join(self.codes.columns())
        return (
            f"SELECT {codes}, {', '.join(TEXT_COLUMNS)} "
            f"FROM ({self.codes.text(f'(SELECT DISTINCT {codes} FROM {coded})')})"
        )

    def from_codes(self, coded: str, texts: str) -> str:
        """The output of `build` from the relation `coded` and its `texts` (see `texts`),
        joined by the codes (row order is the caller's)."""
        codes = ", ".join(self.codes.columns())
        classification = ", ".join(
            self.d.quote(c)
            for c in OUTPUT_COLUMNS
            if c.startswith("classification.") and c != "classification.intent"
        )
        return (
            f"SELECT {ROW}, id, {classification}, {self._text()} "
            f"FROM {coded} JOIN {texts} USING ({codes})"
        )
