"""What a what-if changed, and why: the inputs that differ and each option that moved.

A board asking "what if creatinine clearance were 25?" needs more than two ranked lists side by
side: it needs to see that PRRT left the proposals and which gate took it out, in the words the
assessment itself uses for that gate.
"""

from dataclasses import dataclass

from netlm.knowledge.phrasing import Phraser
from netlm.model.assessment import Assessment, Recommendation
from netlm.web.i18n import word


@dataclass(frozen=True)
class Moved:
    """An option whose place changed: proposed (tier, strength), excluded, or neither."""

    option: str
    name: str
    before: str
    after: str
    why: list[str]


def _status(rec: Recommendation | None, excluded: bool, say: Phraser) -> str:
    if rec is not None:
        strength = say.text(f"strength.{rec.strength}")
        return word("whatif.status.proposed", say.lang, tier=rec.tier, strength=strength)
    return word("whatif.status.excluded" if excluded else "whatif.status.not_proposed", say.lang)


def _shift(
    was: Recommendation, now: Recommendation, before: Assessment, after: Assessment, say: Phraser
) -> list[str]:
    """Why an option changed tier with the same strength: options left or joined those above."""
    if was.strength != now.strength or was.tier == now.tier:
        return []
    ahead_before = {r.option for r in before.recommendations if r.tier < was.tier}
    ahead_after = {r.option for r in after.recommendations if r.tier < now.tier}
    key, codes = (
        ("whatif.why.up", ahead_before - ahead_after)
        if now.tier < was.tier
        else ("whatif.why.down", ahead_after - ahead_before)
    )
    if not codes:
        return []
    names = say.join([say.option_short(c) for c in sorted(codes)])
    return [word(key, say.lang, options=names)]


def moved_options(before: Assessment, after: Assessment, say: Phraser) -> list[Moved]:
    """Each option newly proposed, newly excluded, or proposed in another tier or strength, in
    the order of the changed assessment, with the reasons the changed assessment gives."""
    old = {r.option: r for r in before.recommendations}
    new = {r.option: r for r in after.recommendations}
    old_out = {e.option for e in before.excluded}
    new_out = {e.option: e for e in after.excluded}
    codes = list(dict.fromkeys([*new, *new_out, *old, *old_out]))
    out = []
    for code in codes:
        was, now = old.get(code), new.get(code)
        if was is not None and now is not None:
            if (was.tier, was.strength) == (now.tier, now.strength):
                continue
            why = [*_shift(was, now, before, after, say), now.order_basis]
            why += [c for c in now.cautions if c not in was.cautions]
        elif now is not None:
            why = list(now.rationale)
        elif code in new_out and (was is not None or code not in old_out):
            why = list(new_out[code].reasons)
        elif was is not None:
            why = [word("whatif.why.not_proposed", say.lang)]
        else:
            continue  # excluded before and after, or never named
        out.append(
            Moved(
                code,
                say.option_name(code),
                _status(was, code in old_out, say),
                _status(now, code in new_out, say),
                [w for w in why if w],
            )
        )
    return out
