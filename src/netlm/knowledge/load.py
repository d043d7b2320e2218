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
from netlm.knowledge.conditions import Condition, ConditionSyntaxError, parse

DATA_PACKAGE = "netlm.knowledge.data"
M = TypeVar("M", bound=BaseModel)
# libyaml's loader when PyYAML was built with it (it is in the PyPI wheels): 5x faster start-up.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KnowledgeBaseError(Exception):
    """The knowledge-base files are malformed; each line of the message names file and field."""


@dataclass(frozen=True)
class Compiled:
    """A rule and its parsed condition."""

    rule: Any
    when: Condition


@dataclass(frozen=True)
class CompiledOption:
    option: s.Option
    indications: tuple[Compiled, ...]
    contraindications: tuple[Compiled, ...]
    cautions: tuple[Compiled, ...]


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


def _compile(rule: Any, where: str) -> Compiled:
    try:
        return Compiled(rule, parse(rule.when, f"{where}.{rule.id}.when"))
    except ConditionSyntaxError as exc:
        raise KnowledgeBaseError(str(exc)) from None


def load_from(root: Traversable) -> KnowledgeBase:
    """Load a knowledge base from a folder laid out like `netlm/knowledge/data`."""
    manifest = _validate(s.Manifest, _read(root / "manifest.yaml"), "manifest.yaml")
    facts = _validate(TypeAdapter(dict[str, s.FactSpec]), _read(root / "facts.yaml"), "facts.yaml")
    messages = _validate(
        TypeAdapter(dict[str, s.Text]), _read(root / "messages.yaml"), "messages.yaml"
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
            if record.id in evidence:
                raise KnowledgeBaseError(f"evidence/{file.name}: duplicate evidence id {record.id}")
            evidence[record.id] = record

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
        options[option.code] = CompiledOption(
            option,
            tuple(_compile(r, where) for r in entry.indications),
            tuple(_compile(r, where) for r in entry.contraindications),
            tuple(_compile(r, where) for r in entry.cautions),
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
        pattern_rules=tuple(_compile(r, "liver_pattern") for r in classification.liver_pattern),
        unresectable_rules=tuple(_compile(r, "unresectable") for r in res.unresectable),
        potentially_resectable_rules=tuple(
            _compile(r, "potentially_resectable") for r in res.potentially_resectable
        ),
        resectable_when=resectable_when,
        flags=tuple(_compile(r, "flags") for r in flags),
        messages=messages,
    )


@cache
def load_knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped inside the package (loaded once per process)."""
    return load_from(resources.files(DATA_PACKAGE))
