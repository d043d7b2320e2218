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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from netlm.classify.grade import NEC_MORPHOLOGIES
from netlm.engine.assess import _NOT_DISEASE_DIRECTED
from netlm.engine.decide import STRENGTH_ORDER
from netlm.knowledge.conditions import leaves
from netlm.knowledge.load import OUTCOME_FACT_PREFIX, Compiled, CompiledOption, KnowledgeBase
from netlm.knowledge.schema import GradeThresholds
from netlm.model.codes import OPTION_CODES, REGIONS, Region
from netlm.registry.conditions import Scope, first_true, is_true, literal, truth, unmet
from netlm.registry.dialect import Dialect
from netlm.registry.format import registry_columns
from netlm.registry.validate import ROW, column_id, repr_sql

# The engine narrows an undecided G3 to "G3 or NEC" (netlm.classify.facts).
UNDECIDED_GRADES = ("G3", "NEC")
EXCLUDED_BY_REGION = "not_approved:"  # + region: verified non-approval in the patient's region
NO_INDICATION = "unmet:"  # + the indication that came closest to holding
OUTPUT_COLUMNS = (
    "id", "classification.grade", "classification.liver_pattern",
    "classification.resectability", "classification.intent", "recommendations", "excluded",
)  # fmt: skip


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
        self.scope = Scope(dialect, kb.definitions, facts)
        self.stages: list[_Stage] = []
        self.catalogue = list(kb.options)
        self.priorities = sorted(
            {i.rule.priority for e in kb.options.values() for i in e.indications}
        )

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
        for code in OPTION_CODES:
            outcome = d.last_match(therapy_list, "t", f"t.option = '{code}'", "t.outcome", "'none'")
            columns.append((outcome, f"f_prior_{code}"))
            facts[f"prior.{code}"] = f"f_prior_{code}"
        systemic = [c for c in OPTION_CODES if c != "ssa" and self.kb.options[c].option.systemic]
        lines = " + ".join(f"(CASE WHEN f_prior_{c} <> 'none' THEN 1 ELSE 0 END)" for c in systemic)
        self._add(columns, facts)
        self._add([(f"({lines})", "f_prior_systemic_lines")],
                  {"prior.systemic_lines": "f_prior_systemic_lines"})  # fmt: skip

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

    def _grade(self) -> None:
        grading = self.kb.classification.grading
        ki67 = self._index_grade(column_id("pathology.ki67_percent"), grading.ki67_percent)
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

        def held(j: int) -> str:
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
        best = first_true([(held(i), str(i)) for i in ranked])
        contras = list(enumerate(entry.contraindications))
        absolute = [(j, c) for j, c in contras if not c.rule.relative and not c.unverified]
        softer = [j for j, c in contras if c.rule.relative or c.unverified]
        excluding = " OR ".join(holds_k(j) for j, _ in absolute) or "FALSE"
        avail = entry.option.availability
        blocked_in = [r for r in REGIONS if avail[r].status == "not_approved" and avail[r].verified]
        unconfirmed = [
            r for r in REGIONS if avail[r].status == "not_approved" and not avail[r].verified
        ]
        block = self._region_in(region, blocked_in)
        ids = {ind.rule.id: i for i, ind in enumerate(indications)}
        caps = [holds_k(j) for j in softer]
        for j, rule in enumerate(entry.eligibility):
            outside = f"coalesce(NOT e_{code}_{j}, FALSE)"
            if rule.rule.indications:
                which = ", ".join(str(ids[i]) for i in rule.rule.indications if i in ids)
                outside = f"({col('best')} IN ({which}) AND {outside})"
            caps.append(outside)
        caps.append(self._region_in(region, unconfirmed))

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
        nearest = literal(indications[0].rule.id)
        if len(indications) > 1:
            counts = [f"u_{code}_{j}" for j in range(len(indications))]
            nearest = first_true(
                [
                    (
                        f"{counts[i]} <= least({', '.join(counts[i + 1 :])})"
                        if i + 1 < len(counts) - 1
                        else f"{counts[i]} <= {counts[i + 1]}",
                        literal(ind.rule.id),
                    )
                    for i, ind in enumerate(indications[:-1])
                ],
                default=literal(indications[-1].rule.id),
            )
        reasons = [f"CASE WHEN {holds_k(j)} THEN '\"{c.rule.id}\"' END" for j, c in absolute]
        reasons.append(
            f"CASE WHEN {block} THEN concat('\"{EXCLUDED_BY_REGION}', {region}, '\"') END"
        )
        listed = f"nullif(concat_ws(',', {', '.join(reasons)}), '')"
        rules = (
            f"coalesce({listed}, CASE WHEN {col('best')} IS NULL "
            f"THEN concat('\"{NO_INDICATION}', {nearest}, '\"') END)"
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
            (rules, col("rules")),
            (self._availability(entry, region), col("availability")),
        ]

    @staticmethod
    def _region_in(region: str, regions: Sequence[str]) -> str:
        if not regions:
            return "FALSE"
        return f"coalesce({region} IN ({', '.join(literal(r) for r in regions)}), FALSE)"

    def _on_label(self, entry: CompiledOption, region: Region) -> str:
        """Approved in the region and the case not shown to be outside the label's scope."""
        status = entry.option.availability[region].status
        if status != "approved":
            return "FALSE"
        if region not in entry.scopes:
            return "TRUE"
        return f"coalesce(l_{entry.option.code}_{region}, TRUE)"

    def _availability(self, entry: CompiledOption, region: str) -> str:
        """JSON text: approved / off_label / not_approved per region (the patient's, or all);
        a fixed literal unless a label's scope decides between approved and off-label."""
        parts: dict[str, list[str | Sql]] = {}
        for r in REGIONS:
            status = entry.option.availability[r].status
            value: str | Sql = status
            if status == "approved" and r in entry.scopes:
                scope = f"l_{entry.option.code}_{r}"
                value = Sql(
                    f"CASE WHEN coalesce(NOT {scope}, FALSE) THEN 'off_label' ELSE 'approved' END"
                )
            parts[r] = [f'"{r}":"', value, '"']
        everywhere: list[str | Sql] = ["{"]
        for i, r in enumerate(REGIONS):
            everywhere += [","] * (i > 0) + parts[r]
        return first_true(
            [(f"{region} = '{r}'", joined("{", *parts[r], "}")) for r in REGIONS],
            default=joined(*everywhere, "}"),
        )

    def _options(self, deferred: bool) -> None:
        entries = [e for e in self.kb.options.values() if e.deferred == deferred]
        self._add([c for e in entries for c in self._rules(e)])
        self._add([c for e in entries for c in self._decision(e)])

    def _outcome_facts(self) -> None:
        first = [e for e in self.kb.options.values() if not e.deferred]
        directed = [
            option_column(e.option.code, "proposed")
            for e in first
            if e.option.category not in _NOT_DISEASE_DIRECTED
        ]
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

    # -- ranking and output ----------------------------------------------------------------------
    def _ranking(self) -> None:
        """Order by (strength, on-label first, priority, catalogue order); a tier is one band of
        (strength, label, priority): the tier of an option is one more than the number of bands
        held by proposed options before its own, counted in a bit mask of bands."""
        d, p = self.d, len(self.priorities)
        if 4 * p > 62:
            raise ValueError("more than 15 distinct indication priorities: widen the band mask")
        columns = []
        for code in self.catalogue:
            col = partial(option_column, code)
            band = (
                f"(CASE WHEN {col('proposed')} THEN "
                f"(CASE WHEN {col('strength')} = 'recommended' THEN 0 ELSE {2 * p} END) "
                f"+ (CASE WHEN {col('off_label')} THEN {p} ELSE 0 END) + {col('pidx')} END)"
            )
            columns.append((band, col("band")))
        self._add(columns)
        bits = [
            f"(CASE WHEN {option_column(c, 'proposed')} THEN {d.bit(option_column(c, 'band'))} "
            "ELSE 0 END)"
            for c in self.catalogue
        ]
        keys = [
            (f"({option_column(c, 'band')} * 100 + {i})", option_column(c, "key"))
            for i, c in enumerate(self.catalogue)
        ]
        self._add([("(" + " | ".join(bits) + ")", "band_mask"), *keys])
        keys_all = [option_column(c, "key") for c in self.catalogue]
        ranked = d.sort(d.filter(d.array(keys_all), "k", "k IS NOT NULL"))
        self._add([(ranked, "ranked"), (f"least({', '.join(keys_all)})", "first_key")])

    def _output(self) -> str:
        """The output columns. Each proposed option's text is fixed pieces around its values
        (strength, rank = position of its key among the sorted keys, tier, availability); the
        texts are then picked in key order."""
        d = self.d
        excluded, fragments = [], []
        for code in self.catalogue:
            col = partial(option_column, code)
            rules = joined(f'{{"option":"{code}","rules":[', Sql(col("rules")), "]}")
            excluded.append(f"(CASE WHEN NOT {col('proposed')} THEN {rules} END)")
            rank = d.cast_str(d.position("ranked", col("key")))
            tier = d.cast_str(f"(bit_count(band_mask & ({d.bit(col('band'))} - 1)) + 1)")
            fragment = joined(
                f'{{"option":"{code}","strength":"', Sql(col("strength")),
                '","rank":', Sql(rank), ',"tier":', Sql(tier),
                ',"availability":', Sql(col("availability")), "}",
            )  # fmt: skip
            fragments.append(f"(CASE WHEN {col('proposed')} THEN {fragment} END)")
        order = d.transform("ranked", "k", "k % 100 + 1")
        recommendations = f"concat('[', {d.join(d.pick(d.array(fragments), order), ',')}, ']')"
        intent = first_true(
            [
                (f"first_key % 100 = {i}", literal(self.kb.options[c].option.intent))
                for i, c in enumerate(self.catalogue)
            ],
            default="'palliative'",
        )
        q = d.quote
        return (
            f"{ROW}, {column_id('id')} AS id, out_grade AS {q('classification.grade')}, "
            f"coalesce(f_liver_pattern, 'unclassified') AS {q('classification.liver_pattern')}, "
            f"coalesce(f_resectability, 'undetermined') AS {q('classification.resectability')}, "
            f"{intent} AS {q('classification.intent')}, "
            f"{recommendations} AS recommendations, "
            f"concat('[', concat_ws(',', {', '.join(excluded)}), ']') AS excluded"
        )

    def build(self, source: str, keep: list[str] | None = None) -> str:
        """The query over `source` (a relation of checked columns, see `validate`).

        `keep` adds source or intermediate columns to the output (e.g. for the audit).
        """
        self.stages = []
        self._case_facts()
        self._grade()
        self._pattern()
        self._resectability()
        self._definitions()
        self._options(deferred=False)
        self._outcome_facts()
        self._options(deferred=True)
        self._ranking()
        ctes, previous = [], source
        for stage in self.stages:
            body = ", ".join(f"{expr} AS {name}" for expr, name in stage.columns)
            ctes.append(f"{stage.name} AS (SELECT *, {body} FROM {previous})")
            previous = stage.name
        extra = "".join(f", {k}" for k in keep or [])
        return f"WITH {', '.join(ctes)} SELECT {self._output()}{extra} FROM {previous}"
