"""Consistency checks of a loaded knowledge base (`netlm kb check`).

Fails on what would make an answer untrustworthy: a rule citing missing evidence, evidence
without a DOI, PMID or (for labels and regulatory records) a URL read on a stated date, an option
without English and Chinese names, a medicine without a label record for each region, a raise
(an indication) without verified evidence or widened by an unverified threshold, and conditions
over unknown facts or impossible values.
"""

from collections.abc import Iterator
from typing import Any

from netlm.knowledge import effects
from netlm.knowledge.conditions import All, Condition, Leaf, leaves, refs
from netlm.knowledge.load import OUTCOME_FACT_PREFIX, Compiled, KnowledgeBase
from netlm.knowledge.schema import DOCUMENT_DESIGNS, DRUG_CATEGORIES
from netlm.knowledge.walk import all_conditions, all_rules
from netlm.model.codes import OPTION_CODES
from netlm.model.schema_paths import allowed_values, leaf_fields

NUMERIC = ("number", "integer")
WEB_DOCUMENT_DESIGNS = ("classification", "guideline", "consensus")


def _citations(kb: KnowledgeBase) -> Iterator[tuple[str, list[str]]]:
    """Every place that cites evidence, with the ids it cites."""
    for where, compiled in all_rules(kb):
        yield where, list(compiled.rule.evidence)
    for code, entry in kb.options.items():
        for region, status in entry.option.availability.items():
            yield f"options:{code}.availability.{region}", list(status.evidence)
    yield "classification.grading", list(kb.classification.grading.evidence)
    yield "classification.resectability", list(kb.classification.resectability.evidence)


def _fact_problems(kb: KnowledgeBase, where: str, leaf: Leaf) -> list[str]:
    fact = leaf.fact
    if fact.startswith("prior.") and fact not in kb.facts:
        if fact.removeprefix("prior.") not in OPTION_CODES:
            return [f"{where}: unknown fact {fact!r} (no such option code)"]
        spec = kb.facts["prior.*"]
    elif fact not in kb.facts:
        return [f"{where}: unknown fact {fact!r}"]
    else:
        spec = kb.facts[fact]
    op, operand = leaf.op, leaf.value
    problems = []
    if op in ("lt", "le", "gt", "ge") and spec.type not in NUMERIC:
        problems.append(f"{where}: `{op}` needs a numeric fact, {fact} is {spec.type}")
    if op == "is" and spec.type != "boolean":
        problems.append(f"{where}: `is` needs a boolean fact, {fact} is {spec.type}")
    if op == "contains" and spec.type != "list":
        problems.append(f"{where}: `contains` needs a list fact, {fact} is {spec.type}")
    if spec.values is not None and op in ("eq", "ne", "in", "not_in", "contains"):
        values = operand if isinstance(operand, tuple) else (operand,)
        for value in values:
            if value not in spec.values:
                problems.append(f"{where}: {value!r} is not a value of {fact}")
    if leaf.source is not None and leaf.source not in kb.evidence:
        problems.append(f"{where}: threshold source {leaf.source!r} is not in the evidence")
    if leaf.says is not None and not (leaf.says.get("en") and leaf.says.get("zh")):
        problems.append(f"{where}: `says` needs both en and zh")
    return problems


def _ref_cycles(kb: KnowledgeBase) -> list[str]:
    problems = []
    for name in kb.definitions:
        seen, stack = set(), list(refs(kb.definitions[name]))
        while stack:
            current = stack.pop()
            if current == name:
                problems.append(f"definitions:{name}: refers to itself (cycle)")
                break
            if current in seen or current not in kb.definitions:
                continue
            seen.add(current)
            stack.extend(refs(kb.definitions[current]))
    return problems


MAX_PRIORITIES = 15  # the registry's rank key packs the priority band into 4 bits (render.Codes)


def check(kb: KnowledgeBase) -> list[str]:
    """Every problem found, one line each; an empty list means the knowledge base is sound."""
    problems: list[str] = []
    for record in kb.evidence.values():
        problems += _identifier_problems(record)
        problems += effects.record_problems(record)
    for where, ids in _citations(kb):
        problems += [f"{where}: cites missing evidence {e!r}" for e in ids if e not in kb.evidence]

    catalogue = set(kb.options)
    for code in sorted(set(OPTION_CODES) - catalogue):
        problems.append(f"options: option code {code} has no catalogue entry")
    for entry in kb.options.values():
        if not (entry.option.name.en.strip() and entry.option.name.zh.strip()):
            problems.append(f"options:{entry.option.code}: needs a name in English and Chinese")

    for name, cond in kb.definitions.items():
        for ref in refs(cond):
            if ref not in kb.definitions:
                problems.append(f"definitions:{name}: refers to undefined {ref!r}")
    problems += _ref_cycles(kb)
    for where, cond in all_conditions(kb):
        for ref in refs(cond):
            if ref not in kb.definitions:
                problems.append(f"{where}: refers to undefined definition {ref!r}")
        for leaf in leaves(cond):
            problems += _fact_problems(kb, where, leaf)
    if problems:
        return problems  # the checks below follow refs and need a consistent base

    for code, entry in kb.options.items():
        for ind in entry.indications:
            problems += _unverified_driver(kb, f"rules:{code}.indication.{ind.rule.id}", ind)
            records = [kb.evidence[e] for e in ind.rule.evidence]
            problems += effects.indication_problems(code, ind.rule.id, records)
        known = {ind.rule.id for ind in entry.indications}
        for rule in entry.eligibility:
            problems += [
                f"rules:{code}.eligibility.{rule.rule.id}: no indication {name!r}"
                for name in rule.rule.indications
                if name not in known
            ]
    problems += _outcome_fact_problems(kb)
    problems += _label_problems(kb)
    problems += _population_problems(kb)
    priorities = {i.rule.priority for e in kb.options.values() for i in e.indications}
    if len(priorities) > MAX_PRIORITIES:
        problems.append(
            f"rules: {len(priorities)} distinct indication priorities; the registry ranks with "
            f"at most {MAX_PRIORITIES} (reuse a neighbouring priority)"
        )

    for path, node in leaf_fields().items():
        values = allowed_values(node)
        if path in ("schema", "id"):
            continue
        spec = kb.facts.get(path)
        if spec is None:
            if not path.startswith("prior_therapies"):
                problems.append(f"facts.yaml: case field {path} has no entry (label needed)")
            continue
        if values and set(values) != set(spec.values or {}):
            problems.append(f"facts.yaml: {path} values differ from the case schema {values}")
    return problems


def _population_problems(kb: KnowledgeBase) -> list[str]:
    """Population fidelity: an indication that cites a trial tests each dimension on which
    the trial's population is defined (in its condition or in an eligibility gate that applies
    to it); otherwise the trial's result would reach patients it did not include."""
    problems = []
    for record in kb.evidence.values():
        problems += [
            f"evidence:{record.id}: unknown population dimension {name!r}"
            for name in record.population_tests
            if name not in kb.dimensions
        ]
    if problems:
        return problems
    for code, entry in kb.options.items():
        for ind in entry.indications:
            gates = [
                g.when
                for g in entry.eligibility
                if not g.rule.indications or ind.rule.id in g.rule.indications
            ]
            tested = {
                leaf.fact for cond in (ind.when, *gates) for leaf in leaves(cond, kb.definitions)
            }
            for evidence_id in ind.rule.evidence:
                for name in kb.evidence[evidence_id].population_tests:
                    if not tested & set(kb.dimensions[name].facts):
                        problems.append(
                            f"rules:{code}.indication.{ind.rule.id}: cites {evidence_id}, whose "
                            f"population is defined by {name}, but neither the rule nor an "
                            f"eligibility gate for it tests {', '.join(kb.dimensions[name].facts)}"
                        )
    return problems


def _identifier_problems(record: Any) -> list[str]:
    where = f"evidence:{record.id}"
    if record.design in DOCUMENT_DESIGNS:
        if not (record.url and record.read):
            return [f"{where}: a {record.design} record needs the URL it was read at and the date"]
        if record.design == "label" and record.label is None and record.section_of is None:
            return [f"{where}: a label record needs its `label` sections"]
        return []
    if record.label is not None:
        return [f"{where}: only a record of design `label` may carry label sections"]
    # Standards and society lists published only on the web are cited like labels: URL + date.
    web_document = record.design in WEB_DOCUMENT_DESIGNS and record.url and record.read
    if not record.doi and not record.pmid and not web_document:
        return [f"{where}: has neither a DOI nor a PMID"]
    return []


def _unverified_driver(kb: KnowledgeBase, where: str, rule: Compiled) -> list[str]:
    """An indication raises an option: only verified evidence may do that.

    A threshold from an unverified source may only narrow a raise (a top-level conjunct of an
    indication that is `consider` at most); it may never widen one, nor shape a `recommended`.
    """
    problems = []
    if not any(kb.evidence[e].verified for e in rule.rule.evidence):
        problems.append(f"{where}: an indication (a raise) rests only on unverified evidence")
    recommended = rule.rule.strength == "recommended"
    narrowing = {id(leaf) for leaf in _top_level_conjuncts(rule.when)}
    for leaf in leaves(rule.when, kb.definitions):
        if leaf.source is None or kb.evidence[leaf.source].verified:
            continue
        if recommended or id(leaf) not in narrowing:
            problems.append(
                f"{where}: threshold on {leaf.fact} comes from unverified {leaf.source!r} "
                + ("and may not drive a `recommended` option" if recommended
                   else "and may only narrow the indication (a top-level `all` item)")
            )  # fmt: skip
    return problems


def _top_level_conjuncts(cond: Condition) -> list[Leaf]:
    if isinstance(cond, All) and len(cond.items) > 1:
        return [item for item in cond.items if isinstance(item, Leaf)]
    return []


def _outcome_fact_problems(kb: KnowledgeBase) -> list[str]:
    """Facts about the assessment exist only once options are decided: classification rules and
    definitions (which any option may use) must not read them."""
    problems = []
    early: list[tuple[str, Condition]] = [
        (f"definitions:{k}", c) for k, c in kb.definitions.items()
    ]
    early.append(("classification.resectable_when", kb.resectable_when))
    early += [
        (f"{group}.{c.rule.id}", c.when)
        for group, rules in (
            ("liver_pattern", kb.pattern_rules),
            ("unresectable", kb.unresectable_rules),
            ("potentially_resectable", kb.potentially_resectable_rules),
        )
        for c in rules
    ]
    for where, cond in early:
        for leaf in leaves(cond):
            if leaf.fact.startswith(OUTCOME_FACT_PREFIX):
                problems.append(f"{where}: reads {leaf.fact}, known only after options are decided")
    return problems


def _label_problems(kb: KnowledgeBase) -> list[str]:
    """Every medicine has, for every region, a label or regulatory record behind its status."""
    problems = []
    for code, entry in kb.options.items():
        option = entry.option
        for region, status in option.availability.items():
            where = f"options:{code}.availability.{region}"
            records = [kb.evidence[e] for e in status.evidence]
            if status.scope is not None and status.status != "approved":
                problems.append(f"{where}: only an approved status has a label scope")
            if option.category not in DRUG_CATEGORIES:
                continue
            if status.verified and not any(r.verified for r in records):
                problems.append(f"{where}: marked verified but cites no verified evidence")
            own = [
                r for r in records
                if (r.label is not None and r.label.region == region and r.label.option == code)
                or (r.design == "regulatory")
            ]  # fmt: skip
            if not own:
                problems.append(
                    f"{where}: a medicine needs the {region} label or regulatory record"
                )
    for record in kb.evidence.values():
        if record.label is not None and record.label.option not in kb.options:
            problems.append(f"evidence:{record.id}: label for unknown option {record.label.option}")
    return problems
