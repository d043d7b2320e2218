"""Load the knowledge base from its data files and compile its conditions.

The files are validated against `netlm.knowledge.schema` and every condition is parsed once, so
the engine only ever sees a consistent, compiled knowledge base.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from netlm.knowledge import schema as s
from netlm.knowledge.conditions import Condition, ConditionSyntaxError, leaves, parse

DATA_PACKAGE = "netlm.knowledge.data"
M = TypeVar("M", bound=BaseModel)


# libyaml's loader when PyYAML was built with it (it is in the PyPI wheels): 5x faster start-up.
class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A YAML loader that refuses a mapping key given twice: YAML keeps the last silently, which
    in a rule file would drop a whole list of contraindications without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_LOADER = _UniqueKeyLoader


class KnowledgeBaseError(Exception):
    """The knowledge-base files are malformed; each line of the message names file and field."""


# Facts about the assessment itself (e.g. whether any disease-directed option was proposed):
# known only after the other options are decided, so options that use them are decided last.
OUTCOME_FACT_PREFIX = "assessment."


@dataclass(frozen=True)
class Compiled:
    """A rule and its parsed condition (`when`, or `requires` for an eligibility rule).

    `unverified` names the sources behind the rule (its evidence and the thresholds in its
    condition) that are not verified: a safety rule that rests on any of them only cautions.
    """

    rule: Any
    when: Condition
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompiledOption:
    option: s.Option
    indications: tuple[Compiled, ...]
    contraindications: tuple[Compiled, ...]
    eligibility: tuple[Compiled, ...]
    cautions: tuple[Compiled, ...]
    scopes: dict[str, Condition]  # region -> within the authorised indication
    deferred: bool  # decided after the others: its rules read facts about the assessment


def _reads_outcome(rules: tuple[Compiled, ...]) -> bool:
    return any(leaf.fact.startswith(OUTCOME_FACT_PREFIX) for c in rules for leaf in leaves(c.when))


@dataclass(frozen=True)
class KnowledgeBase:
    manifest: s.Manifest
    facts: dict[str, s.FactSpec]
    definitions: dict[str, Condition]
    definition_labels: dict[str, s.Text]
    evidence: dict[str, s.Evidence]
    options: dict[str, CompiledOption]  # catalogue order
    classification: s.Classification
    pattern_rules: tuple[Compiled, ...]
    unresectable_rules: tuple[Compiled, ...]
    potentially_resectable_rules: tuple[Compiled, ...]
    resectable_when: Condition
    flags: tuple[Compiled, ...]
    messages: dict[str, s.Text]
    dimensions: dict[str, s.Dimension]  # population dimensions of trials (dimensions.yaml)


def _files(root: Traversable, pattern_dir: str) -> Iterator[Traversable]:
    folder = root / pattern_dir
    yield from sorted(
        (f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name
    )


def _read(file: Traversable) -> Any:
    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{file.name}: not valid YAML: {exc}") from None


def _validate(model: type[M] | TypeAdapter[Any], data: Any, where: str) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{where}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise KnowledgeBaseError("\n".join(lines)) from None


def _compile(
    rule: Any, where: str, evidence: dict[str, s.Evidence], definitions: dict[str, Condition]
) -> Compiled:
    field = "requires" if isinstance(rule, s.Eligibility) else "when"
    try:
        when = parse(getattr(rule, field), f"{where}.{rule.id}.{field}")
    except ConditionSyntaxError as exc:
        raise KnowledgeBaseError(str(exc)) from None
    thresholds = (leaf.source for leaf in leaves(when, definitions) if leaf.source)
    sources = [*rule.evidence, *thresholds]
    unverified = [e for e in sources if e not in evidence or not evidence[e].verified]
    return Compiled(rule, when, tuple(dict.fromkeys(unverified)))


def _label_sections(record: s.Evidence) -> list[s.Evidence]:
    """Each section of a label as a citable record of its own (`<label id>.<key>`)."""
    if record.label is None:
        return []
    return [
        record.model_copy(
            update={
                "id": f"{record.id}.{key}",
                "short_name": f"{record.short_name}, {section.section}",
                "key_result": section.says,
                "status": "verified"
                if record.verified and section.status == "verified"
                else "unverified",
                "label": None,
                "section_of": record.id,
            }
        )
        for key, section in record.label.sections().items()
    ]


def _scopes(option: s.Option) -> dict[str, Condition]:
    try:
        return {
            region: parse(status.scope, f"options:{option.code}.availability.{region}.scope")
            for region, status in option.availability.items()
            if status.scope is not None
        }
    except ConditionSyntaxError as exc:
        raise KnowledgeBaseError(str(exc)) from None


def load_from(root: Traversable) -> KnowledgeBase:
    """Load a knowledge base from a folder laid out like `netlm/knowledge/data`."""
    manifest = _validate(s.Manifest, _read(root / "manifest.yaml"), "manifest.yaml")
    facts = _validate(TypeAdapter(dict[str, s.FactSpec]), _read(root / "facts.yaml"), "facts.yaml")
    messages = _validate(
        TypeAdapter(dict[str, s.Text]), _read(root / "messages.yaml"), "messages.yaml"
    )
    dimensions = _validate(
        TypeAdapter(dict[str, s.Dimension]), _read(root / "dimensions.yaml"), "dimensions.yaml"
    )
    raw_defs = _validate(
        TypeAdapter(dict[str, s.Definition]), _read(root / "definitions.yaml"), "definitions.yaml"
    )
    try:
        definitions = {k: parse(d.when, f"definitions.yaml:{k}") for k, d in raw_defs.items()}
    except ConditionSyntaxError as exc:
        raise KnowledgeBaseError(str(exc)) from None

    evidence: dict[str, s.Evidence] = {}
    for file in _files(root, "evidence"):
        records = _validate(TypeAdapter(list[s.Evidence]), _read(file), f"evidence/{file.name}")
        for record in records:
            for item in (record, *_label_sections(record)):
                if item.id in evidence:
                    raise KnowledgeBaseError(
                        f"evidence/{file.name}: duplicate evidence id {item.id}"
                    )
                evidence[item.id] = item

    catalogue = _validate(TypeAdapter(list[s.Option]), _read(root / "options.yaml"), "options.yaml")
    rules: dict[str, s.OptionRules] = {}
    for file in _files(root, "rules"):
        for entry in _validate(TypeAdapter(list[s.OptionRules]), _read(file), f"rules/{file.name}"):
            if entry.option in rules:
                raise KnowledgeBaseError(f"rules/{file.name}: second rule set for {entry.option}")
            rules[entry.option] = entry
    options: dict[str, CompiledOption] = {}
    for option in catalogue:
        entry = rules.get(option.code)
        if entry is None:
            raise KnowledgeBaseError(f"rules: no rules for option {option.code}")
        where = f"rules:{option.code}"

        def compiled(rules_: list[Any], where: str = where) -> tuple[Compiled, ...]:
            return tuple(_compile(r, where, evidence, definitions) for r in rules_)

        indications, contras = compiled(entry.indications), compiled(entry.contraindications)
        eligibility = compiled(entry.eligibility)
        options[option.code] = CompiledOption(
            option,
            indications,
            contras,
            eligibility,
            compiled(entry.cautions),
            scopes=_scopes(option),
            deferred=_reads_outcome(indications + contras + eligibility),
        )
    for code in rules.keys() - options.keys():
        raise KnowledgeBaseError(f"rules: option {code} is not in options.yaml")

    classification = _validate(
        s.Classification, _read(root / "classification.yaml"), "classification.yaml"
    )
    res = classification.resectability
    flags = _validate(TypeAdapter(list[s.FlagRule]), _read(root / "flags.yaml"), "flags.yaml")
    try:
        resectable_when = parse(res.resectable_when, "classification.yaml:resectable_when")
    except ConditionSyntaxError as exc:
        raise KnowledgeBaseError(str(exc)) from None
    return KnowledgeBase(
        manifest=manifest,
        facts=facts,
        definitions=definitions,
        definition_labels={k: d.label for k, d in raw_defs.items()},
        evidence=evidence,
        options=options,
        classification=classification,
        pattern_rules=tuple(
            _compile(r, "liver_pattern", evidence, definitions)
            for r in classification.liver_pattern
        ),
        unresectable_rules=tuple(
            _compile(r, "unresectable", evidence, definitions) for r in res.unresectable
        ),
        potentially_resectable_rules=tuple(
            _compile(r, "potentially_resectable", evidence, definitions)
            for r in res.potentially_resectable
        ),
        resectable_when=resectable_when,
        flags=tuple(_compile(r, "flags", evidence, definitions) for r in flags),
        messages=messages,
        dimensions=dimensions,
    )


@cache
def load_knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped inside the package (loaded once per process)."""
    return load_from(resources.files(DATA_PACKAGE))
