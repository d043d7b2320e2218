"""Rule ids of the batch output back in words: the engine's exclusion reasons.

The batch assessment names the rules that excluded an option (`nec`, `not_approved:CN`,
`unmet:<closest indication>`); the single-case engine words them. Wording the ids gives the
engine's text exactly, which is how the parity tests compare the two, and how the audit report
says why care was discordant.
"""

from collections.abc import Mapping
from typing import Any

from netlm.knowledge.conditions import explain
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.codes import Language
from netlm.registry.render import EXCLUDED_BY_REGION, NO_INDICATION


def rule_reasons(
    kb: KnowledgeBase,
    option: str,
    rule: str,
    facts: Mapping[str, Any] | None = None,
    lang: Language = "en",
) -> list[str]:
    """The engine's reason lines for one rule id; an unmet indication needs the case's facts
    (without them, its requirement is named instead)."""
    say = Phraser(kb, lang)
    entry = kb.options[option]
    if rule.startswith(EXCLUDED_BY_REGION):
        region = rule.removeprefix(EXCLUDED_BY_REGION)
        status = entry.option.availability[region]  # type: ignore[index]
        return [
            say.text(
                "region.excluded", region=say.value("region", region), basis=status.basis(lang)
            )
        ]
    if rule.startswith(NO_INDICATION):
        wanted = rule.removeprefix(NO_INDICATION)
        (indication,) = [i for i in entry.indications if i.rule.id == wanted]
        if facts is None:
            return [indication.rule.rationale(lang)]
        return explain(indication.when, facts, kb.definitions, say.unmet, either=say.either)
    (contra,) = [c for c in entry.contraindications if c.rule.id == rule]
    return [contra.rule.reason(lang)]
