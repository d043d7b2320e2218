"""Words for facts, values and requirements, in English or Chinese, from the knowledge base.

Labels and value names come from `facts.yaml`, connecting phrases from `messages.yaml`; nothing
user-facing is spelled out in code, so a new language is a data change.
"""

from typing import Any

from netlm.knowledge.conditions import Leaf, OneOf, UpTo
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.schema import FactSpec

COMPARISONS = ("lt", "le", "gt", "ge")  # worded "below", "at most", "above", "at least"


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Phraser:
    def __init__(self, kb: KnowledgeBase, lang: str) -> None:
        self.kb = kb
        self.lang = lang

    def text(self, key: str, **values: object) -> str:
        return self.kb.messages[key](self.lang).format(**values)

    def spec(self, fact: str) -> FactSpec:
        if fact.startswith("prior.") and fact not in self.kb.facts:
            return self.kb.facts["prior.*"]
        return self.kb.facts[fact]

    def unit(self, fact: str) -> str | None:
        unit = self.spec(fact).unit
        return unit if unit is None or isinstance(unit, str) else unit(self.lang)

    def label(self, fact: str) -> str:
        label = self.spec(fact).label(self.lang)
        if "{option}" in label:
            code = fact.removeprefix("prior.")
            return label.format(option=self.option_name(code))
        return label

    def option_name(self, code: str) -> str:
        return self.kb.options[code].option.name(self.lang)

    def option_short(self, code: str) -> str:
        return self.kb.options[code].option.short(self.lang)

    def join(self, items: list[str], conjunction: str = "word.list_sep") -> str:
        return self.text(conjunction).join(items)

    def value(self, fact: str, value: Any) -> str:
        spec = self.spec(fact)
        if isinstance(value, bool):
            return self.text("word.yes" if value else "word.no")
        if isinstance(value, OneOf):
            values = self.join([self.value(fact, v) for v in value], "word.or")
            return self.text("word.undecided", values=values)
        if isinstance(value, UpTo):  # "<3%", "≤2 %": the bound as the report gave it
            return ("≤" if value.inclusive else "<") + self.value(fact, value.bound)
        if isinstance(value, list | tuple):
            if not value:
                return self.text("word.none")
            return self.join([self.value(fact, v) for v in value])
        if isinstance(value, int | float):
            number = format_number(value)
            unit = self.unit(fact)
            if not unit:
                return number
            tight = unit == "%" or (self.lang == "zh" and not unit.isascii())  # 10%, 45岁
            return f"{number}{unit}" if tight else f"{number} {unit}"
        if spec.values and value in spec.values:
            return spec.values[value](self.lang)
        return str(value)

    def requirement(self, leaf: Leaf) -> str:
        op, operand = leaf.op, leaf.value
        if op in COMPARISONS:
            return self.text(f"op.{op}", value=self.value(leaf.fact, operand))
        if op == "eq" or op == "is":
            return self.value(leaf.fact, operand)
        if op == "in":
            return self.join([self.value(leaf.fact, v) for v in operand], "word.or")
        if op == "not_in":
            values = self.join([self.value(leaf.fact, v) for v in operand], "word.or")
            return self.text("op.not_in", value=values)
        if op == "known":
            return self.text("op.known.true" if operand else "op.known.false")
        return self.text(f"op.{op}", value=self.value(leaf.fact, operand))

    def either(self, branches: list[list[str]]) -> str:
        """A failed alternative in words: "one of: A; or B and C" (each branch's unmet parts)."""
        options = [self.text("word.and").join(parts) for parts in branches]
        return self.text("phrase.either", options=self.text("word.or_next").join(options))

    def unmet(self, leaf: Leaf, actual: Any) -> str:
        """One requirement that is not met (or cannot be checked), in words."""
        label = self.label(leaf.fact)
        if leaf.says:
            says = leaf.says[self.lang]
            if actual is None:
                return self.text("phrase.says_unknown", says=says, label=label)
            return self.text(
                "phrase.says", says=says, label=label, actual=self.value(leaf.fact, actual)
            )
        requirement = self.requirement(leaf)
        if actual is None:
            return self.text("phrase.unknown", label=label, requirement=requirement)
        actual_text = self.value(leaf.fact, actual)
        return self.text("phrase.value", label=label, actual=actual_text, requirement=requirement)
