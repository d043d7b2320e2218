"""What changed between two knowledge bases, as far as a decision can tell.

Only what can move a patient's first tier, strengths or exclusions is listed: an option's
indications (condition, strength, priority, evidence), contraindications (condition, relative,
evidence), eligibility rules, regional availability and catalogue position; named definitions;
the classification rules; evidence whose verification changed. Reworded rationale and cautions
change no decision, so they are left out.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from netlm.knowledge.conditions import All, Condition, Leaf, Not, Ref, refs
from netlm.knowledge.load import Compiled, CompiledOption, KnowledgeBase

Scope = Literal["option", "definition", "classification", "evidence"]
# The fields of each rule kind that a decision reads.
DECISION_FIELDS = {
    "indication": ("strength", "priority", "when", "evidence"),
    "contraindication": ("when", "relative", "evidence"),
    "eligibility": ("requires", "indications", "evidence"),
    "availability": ("status", "verified", "scope", "evidence"),
}
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in",
        "not_in": "not in", "is": "is", "contains": "contains", "known": "known"}  # fmt: skip


class RuleChange(BaseModel):
    """One decision-relevant change; `before`/`after` say the changed fields compactly."""

    id: str
    scope: Scope
    option: str | None
    kind: str
    rule: str
    change: Literal["added", "removed", "changed"]
    fields: list[str]
    text: str
    before: dict[str, str] | None = Field(description="Field -> value before (None: added).")
    after: dict[str, str] | None = Field(description="Field -> value after (None: removed).")


def condition_text(data: Any, top: bool = True) -> str:
    """A rule condition in one line: `(a and b)`, `not a`, a definition's name, `fact < 10`."""
    if isinstance(data, dict):
        for key, word in (("all", " and "), ("any", " or ")):
            if key in data:
                inner = word.join(condition_text(item, False) for item in data[key])
                return inner if top else f"({inner})"
        if "not" in data:
            return f"not {condition_text(data['not'], False)}"
        if "ref" in data:
            return str(data["ref"])
        if "fact" in data:
            op = next((o for o in _OPS if o in data), None)
            if op is not None:
                value = json.dumps(data[op], ensure_ascii=False)
                return f"{data['fact']} {_OPS[op]} {value}"
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def compiled_text(cond: Condition, top: bool = True) -> str:
    """A compiled condition (a definition's: the YAML is not kept) in the same words."""
    if isinstance(cond, Leaf):
        return f"{cond.fact} {_OPS[cond.op]} {json.dumps(cond.value, ensure_ascii=False)}"
    if isinstance(cond, Ref):
        return cond.name
    if isinstance(cond, Not):
        return f"not {compiled_text(cond.item, False)}"
    word = " and " if isinstance(cond, All) else " or "
    inner = word.join(compiled_text(item, False) for item in cond.items)
    return inner if top else f"({inner})"


def _normal(data: Any) -> Any:
    """Condition data without its wording (`says`), which decides nothing."""
    if isinstance(data, dict):
        return {k: _normal(v) for k, v in data.items() if k != "says"}
    if isinstance(data, list):
        return [_normal(v) for v in data]
    return data


def _value(name: str, value: Any) -> str:
    if name in ("when", "requires", "scope"):
        return condition_text(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _say(fields: Iterable[str], data: dict[str, Any]) -> dict[str, str]:
    return {f: _value(f, data.get(f)) for f in fields}


def _rule_text(rule: Any, lang: str) -> str:
    for name in ("rationale", "reason", "label", "basis"):
        text = getattr(rule, name, None)
        if text is not None:
            return str(text(lang))
    return ""


def _compare(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    fields: tuple[str, ...],
    make: dict[str, Any],
    lang: str,
) -> list[RuleChange]:
    """Added, removed and changed entries of two id -> model maps, by the given fields."""
    out = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        o = old.model_dump(mode="json") if old is not None else {}
        n = new.model_dump(mode="json") if new is not None else {}
        changed = [f for f in fields if _normal(o.get(f)) != _normal(n.get(f))]
        if old is not None and new is not None and not changed:
            continue
        kind = "added" if old is None else "removed" if new is None else "changed"
        shown = changed if kind == "changed" else list(fields)
        out.append(
            RuleChange(
                id=f"{make['prefix']}{key}",
                scope=make["scope"],
                option=make.get("option"),
                kind=make["kind"],
                rule=key,
                change=kind,
                fields=shown,
                text=_rule_text(new if new is not None else old, lang),
                before=_say(shown, o) if old is not None else None,
                after=_say(shown, n) if new is not None else None,
            )
        )
    return out


def _rules(entry: CompiledOption | None, kind: str) -> dict[str, Any]:
    if entry is None:
        return {}
    compiled: tuple[Compiled, ...] = getattr(entry, {"indication": "indications",
        "contraindication": "contraindications", "eligibility": "eligibility"}[kind])  # fmt: skip
    return {c.rule.id: c.rule for c in compiled}


def _option_changes(base: KnowledgeBase, head: KnowledgeBase, lang: str) -> list[RuleChange]:
    out: list[RuleChange] = []
    codes = [*base.options, *(c for c in head.options if c not in base.options)]
    order_before, order_after = list(base.options), list(head.options)
    for code in codes:
        old, new = base.options.get(code), head.options.get(code)
        if old is None or new is None:
            entry = new or old
            assert entry is not None
            out.append(RuleChange(
                id=f"{code}", scope="option", option=code, kind="option", rule=code,
                change="added" if old is None else "removed", fields=[],
                text=entry.option.name(lang), before=None, after=None))  # fmt: skip
            continue
        if order_before.index(code) != order_after.index(code):
            out.append(RuleChange(
                id=f"{code}.catalogue_position", scope="option", option=code, kind="catalogue",
                rule="position", change="changed", fields=["position"], text=new.option.name(lang),
                before={"position": str(order_before.index(code) + 1)},
                after={"position": str(order_after.index(code) + 1)}))  # fmt: skip
        for kind in ("indication", "contraindication", "eligibility"):
            make = {"prefix": f"{code}.{kind}.", "scope": "option", "option": code, "kind": kind}
            out += _compare(_rules(old, kind), _rules(new, kind), DECISION_FIELDS[kind], make, lang)
        make = {"prefix": f"{code}.availability.", "scope": "option", "option": code,
                "kind": "availability"}  # fmt: skip
        before, after = ({str(k): v for k, v in o.option.availability.items()} for o in (old, new))
        out += _compare(before, after, DECISION_FIELDS["availability"], make, lang)
    return out


def _classification_changes(
    base: KnowledgeBase, head: KnowledgeBase, lang: str
) -> list[RuleChange]:
    b, h = base.classification, head.classification
    out: list[RuleChange] = []
    old_t, new_t = b.grading.ki67_percent.model_dump(), h.grading.ki67_percent.model_dump()
    for name in old_t:
        if old_t[name] != new_t.get(name):
            out.append(RuleChange(
                id=f"grading.ki67_percent.{name}", scope="classification", option=None,
                kind="grading", rule=f"ki67_percent.{name}", change="changed", fields=[name],
                text="WHO grade by Ki-67", before={name: str(old_t[name])},
                after={name: str(new_t.get(name))}))  # fmt: skip
    for kind, old_rules, new_rules, fields in (
        ("liver_pattern", b.liver_pattern, h.liver_pattern, ("when", "pattern")),
        ("unresectable", b.resectability.unresectable, h.resectability.unresectable, ("when",)),
        ("potentially_resectable", b.resectability.potentially_resectable,
         h.resectability.potentially_resectable, ("when",)),
    ):  # fmt: skip
        make = {"prefix": f"{kind}.", "scope": "classification", "kind": kind}
        out += _compare({r.id: r for r in old_rules}, {r.id: r for r in new_rules},
                        fields, make, lang)  # fmt: skip
    if b.resectability.resectable_when != h.resectability.resectable_when:
        out.append(RuleChange(
            id="resectable_when", scope="classification", option=None, kind="resectable",
            rule="resectable_when", change="changed", fields=["when"],
            text=h.resectability.resectable_reason(lang),
            before={"when": condition_text(b.resectability.resectable_when)},
            after={"when": condition_text(h.resectability.resectable_when)}))  # fmt: skip
    return out


def _definition_changes(base: KnowledgeBase, head: KnowledgeBase, lang: str) -> list[RuleChange]:
    out = []
    for name in [*base.definitions, *(d for d in head.definitions if d not in base.definitions)]:
        old, new = base.definitions.get(name), head.definitions.get(name)
        before = None if old is None else compiled_text(old)
        after = None if new is None else compiled_text(new)
        if before == after:
            continue
        label = (head if new is not None else base).definition_labels[name](lang)
        out.append(RuleChange(
            id=f"definition.{name}", scope="definition", option=None, kind="definition",
            rule=name, change="added" if old is None else "removed" if new is None else "changed",
            fields=["when"], text=label,
            before=None if before is None else {"when": before},
            after=None if after is None else {"when": after}))  # fmt: skip
    return out


def _evidence_changes(base: KnowledgeBase, head: KnowledgeBase) -> list[RuleChange]:
    out = []
    for key in sorted(base.evidence.keys() & head.evidence.keys()):
        old, new = base.evidence[key], head.evidence[key]
        if old.verified != new.verified:
            out.append(RuleChange(
                id=f"evidence.{key}", scope="evidence", option=None, kind="evidence", rule=key,
                change="changed", fields=["status"], text=new.short_name,
                before={"status": old.status}, after={"status": new.status}))  # fmt: skip
    return out


def diff(base: KnowledgeBase, head: KnowledgeBase, lang: str = "en") -> list[RuleChange]:
    """Every decision-relevant change from `base` to `head`."""
    return [
        *_classification_changes(base, head, lang),
        *_definition_changes(base, head, lang),
        *_option_changes(base, head, lang),
        *_evidence_changes(base, head),
    ]


def _option_reads(kb: KnowledgeBase, code: str) -> tuple[set[str], set[str]]:
    """The definitions (transitively) and evidence the rules of option `code` read."""
    entry = kb.options.get(code)
    if entry is None:
        return set(), set()
    rules = (*entry.indications, *entry.contraindications, *entry.eligibility)
    pending = [name for c in rules for name in refs(c.when)]
    names: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in names and name in kb.definitions:
            names.add(name)
            pending += refs(kb.definitions[name])
    evidence = {e for c in rules for e in (*c.rule.evidence, *c.unverified)}
    evidence |= {e for status in entry.option.availability.values() for e in status.evidence}
    return names, evidence


def touching(
    changes: list[RuleChange], options: Iterable[str], base: KnowledgeBase, head: KnowledgeBase
) -> list[RuleChange]:
    """The changes that can move these options: their own rules, the definitions and evidence
    those rules read (in either version), and the classification every rule reads."""
    codes = set(options)
    definitions: set[str] = set()
    evidence: set[str] = set()
    for kb in (base, head):
        for code in codes:
            names, cited = _option_reads(kb, code)
            definitions |= names
            evidence |= cited
    return [
        c
        for c in changes
        if c.scope == "classification"
        or (c.scope == "option" and c.option in codes)
        or (c.scope == "definition" and c.rule in definitions)
        or (c.scope == "evidence" and c.rule in evidence)
    ]
