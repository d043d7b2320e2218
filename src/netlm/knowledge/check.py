"""Consistency checks of a loaded knowledge base (`netlm kb check`).

Fails on what would make an answer untrustworthy: a rule citing missing evidence, evidence
without a DOI or PMID, an option without English and Chinese names, an unverified source
driving a `recommended` option, and conditions over unknown facts or impossible values.
"""

from collections.abc import Iterator

from netlm.knowledge.conditions import Condition, Leaf, leaves, refs
from netlm.knowledge.load import Compiled, KnowledgeBase
from netlm.model.codes import OPTION_CODES
from netlm.model.schema_paths import allowed_values, leaf_fields

NUMERIC = ("number", "integer")


def _rules(kb: KnowledgeBase) -> Iterator[tuple[str, Compiled]]:
    """Every compiled rule of the knowledge base, named by where it lives."""
    for code, entry in kb.options.items():
        for group, items in (
            ("indication", entry.indications),
            ("contraindication", entry.contraindications),
            ("caution", entry.cautions),
        ):
            for item in items:
                yield f"rules:{code}.{group}.{item.rule.id}", item
    for group, rules in (
        ("liver_pattern", kb.pattern_rules),
        ("unresectable", kb.unresectable_rules),
        ("potentially_resectable", kb.potentially_resectable_rules),
        ("flags", kb.flags),
    ):
        for compiled in rules:
            yield f"{group}.{compiled.rule.id}", compiled


def _citations(kb: KnowledgeBase) -> Iterator[tuple[str, list[str]]]:
    """Every place that cites evidence, with the ids it cites."""
    for where, compiled in _rules(kb):
        yield where, list(compiled.rule.evidence)
    for code, entry in kb.options.items():
        for region, status in entry.option.availability.items():
            yield f"options:{code}.availability.{region}", list(status.evidence)
    yield "classification.grading", list(kb.classification.grading.evidence)
    yield "classification.resectability", list(kb.classification.resectability.evidence)


def _conditions(kb: KnowledgeBase) -> Iterator[tuple[str, Condition]]:
    for where, compiled in _rules(kb):
        yield where, compiled.when
    for name, cond in kb.definitions.items():
        yield f"definitions:{name}", cond
    yield "classification.resectable_when", kb.resectable_when


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


def check(kb: KnowledgeBase) -> list[str]:
    """Every problem found, one line each; an empty list means the knowledge base is sound."""
    problems: list[str] = []
    for record in kb.evidence.values():
        if not record.doi and not record.pmid:
            problems.append(f"evidence:{record.id}: has neither a DOI nor a PMID")
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
    for where, cond in _conditions(kb):
        for ref in refs(cond):
            if ref not in kb.definitions:
                problems.append(f"{where}: refers to undefined definition {ref!r}")
        for leaf in leaves(cond):
            problems += _fact_problems(kb, where, leaf)
    if problems:
        return problems  # the checks below follow refs and need a consistent base

    for code, entry in kb.options.items():
        for ind in entry.indications:
            if ind.rule.strength == "recommended":
                problems += _unverified_driver(kb, f"rules:{code}.indication.{ind.rule.id}", ind)

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


def _unverified_driver(kb: KnowledgeBase, where: str, rule: Compiled) -> list[str]:
    problems = []
    cited = rule.rule.evidence
    if not any(kb.evidence[e].verified for e in cited):
        problems.append(f"{where}: a `recommended` option rests only on unverified evidence")
    for leaf in leaves(rule.when, kb.definitions):
        if leaf.source is not None and not kb.evidence[leaf.source].verified:
            problems.append(
                f"{where}: threshold on {leaf.fact} comes from unverified {leaf.source!r} "
                "and may not drive a `recommended` option"
            )
    return problems
