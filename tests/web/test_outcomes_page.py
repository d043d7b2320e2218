"""The outcomes page's figures: a store with cases, decisions and follow-up gives the curves,
medians and numbers at risk that a Kaplan–Meier estimate by hand gives from the exported rows;
too few patients give no curves; the plot's text and line styles."""

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import pytest

from netlm import parse_case
from netlm.knowledge.load import KnowledgeBase
from netlm.model.decision import DecisionIn
from netlm.registry.export import _rows
from netlm.store.db import create_db_engine, upgrade
from netlm.store.followup import FollowUpIn, FollowUpKind
from netlm.store.identity import UserInfo
from netlm.store.repository import Store
from netlm.web.kmplot import km_svg
from netlm.web.pages.outcomes import GROUPS, OutcomeReport, outcome_report, regular_ticks
from netlm.web.service import Board
from tests.conftest import EXAMPLES, load_json

DECIDED = dt.date(2024, 1, 10)
# case number -> (group, days from the decision to the last event, died, days to progression)
PLAN = {
    1: ("concordant", 900, False, 400), 2: ("concordant", 700, True, 300),
    3: ("concordant", 500, False, None), 4: ("concordant", 650, True, 200),
    5: ("concordant", 300, False, None), 6: ("concordant", 820, False, 610),
    7: ("discordant", 200, True, 90), 8: ("discordant", 420, True, 150),
    9: ("discordant", 610, False, None), 10: ("no_decision", 150, True, 60),
    11: ("no_decision", 380, False, 240), 12: ("no_decision", 560, True, 330),
    13: ("concordant", 450, True, 250), 14: ("discordant", 330, False, 200),
}  # fmt: skip


def _store(folder: Path, kb: KnowledgeBase, plan: dict[int, tuple[str, int, bool, int | None]]
           ) -> tuple[Store, UserInfo]:  # fmt: skip
    url = f"sqlite:///{folder / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    user = store.add_user("dr.li", "correct horse battery", "clinician", display_name="Dr Li")
    board = Board(store, kb)
    document = load_json(EXAMPLES[1])  # SSA first; curative resection excluded
    for n, (group, days, died, progressed) in plan.items():
        case_id = f"o{n:02d}"
        board.create(parse_case({**document, "id": case_id}), user)
        if group != "no_decision":
            chosen = ["ssa"] if group == "concordant" else ["curative_resection"]
            reason = None if group == "concordant" else "the patient asked for surgery"
            board.decide(case_id, DecisionIn(decided_on=DECIDED, chosen_options=chosen,
                                             participants=["Dr Li"], override_reason=reason),
                         user)  # fmt: skip
        if progressed is not None:
            store.add_follow_up(case_id, FollowUpIn(
                kind=FollowUpKind.PROGRESSION, date=DECIDED + dt.timedelta(days=progressed),
                criteria="recist_1_1"), user)  # fmt: skip
        kind = FollowUpKind.DEATH if died else FollowUpKind.LAST_CONTACT
        store.add_follow_up(
            case_id, FollowUpIn(kind=kind, date=DECIDED + dt.timedelta(days=days)), user
        )
    return store, user


@pytest.fixture(scope="module")
def followed(
    tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase
) -> tuple[Store, OutcomeReport]:
    store, _ = _store(tmp_path_factory.mktemp("outcomes"), kb, PLAN)
    return store, outcome_report(store, kb)


def _by_hand(times: list[float], events: list[int]) -> list[tuple[float, float]]:
    """Product-limit estimate at each event time."""
    survival, out = 1.0, []
    for t in sorted({t for t, e in zip(times, events, strict=True) if e}):
        at_risk = sum(1 for x in times if x >= t)
        died = sum(1 for x, e in zip(times, events, strict=True) if x == t and e)
        survival *= 1 - died / at_risk
        out.append((t, survival))
    return out


def _median(curve: list[tuple[float, float]]) -> float | None:
    """The first time at or below one half; exactly one half: midway to the next (as R)."""
    for i, (t, s) in enumerate(curve):
        if s <= 0.5 + 1e-12:
            exact = abs(s - 0.5) < 1e-12 and i + 1 < len(curve)
            return (t + curve[i + 1][0]) / 2 if exact else t
    return None


def test_groups_follow_the_audits_concordance(followed: tuple[Store, OutcomeReport]) -> None:
    _, report = followed
    assert report.cases == 14
    assert report.counts == {"concordant": 7, "discordant": 4, "no_decision": 3}
    assert report.seconds > 0


@pytest.mark.parametrize(
    ("key", "time", "event"),
    [("os", "followup_months", "death"), ("pfs", "progression_months", "progressed")],
)
def test_curves_and_numbers_at_risk_match_a_kaplan_meier_by_hand(
    followed: tuple[Store, OutcomeReport], key: str, time: str, event: str
) -> None:
    store, report = followed
    rows = {r["id"]: r for r in _rows(store, None)}
    endpoint = next(e for e in report.endpoints if e.key == key)
    assert endpoint.enough
    assert endpoint.patients == 11  # without a decision, follow-up has no origin
    assert [c.group for c in endpoint.curves] == ["concordant", "discordant"]
    followed = [float(r[time]) for r in rows.values() if r[time] is not None]
    assert endpoint.ticks == regular_ticks(max(followed))
    for curve in endpoint.curves:
        mine = [r for n, (g, *_) in PLAN.items() if g == curve.group for r in [rows[f"o{n:02d}"]]]
        times, events = [float(r[time]) for r in mine], [int(r[event]) for r in mine]
        expected = _by_hand(times, events)
        assert curve.patients == len(mine)
        assert curve.events == sum(events)
        assert curve.times == pytest.approx([t for t, _ in expected])
        assert curve.survival == pytest.approx([s for _, s in expected])
        assert curve.at_risk == [sum(1 for t in times if t >= tick) for tick in endpoint.ticks]
        assert curve.median == _median(expected)
        assert curve.last_time == pytest.approx(max(times))
        left = {t for t, e in zip(times, events, strict=True) if not e}
        assert curve.censored == pytest.approx(sorted(left))
    assert endpoint.p_value is not None
    assert 0 < endpoint.p_value <= 1


def test_deaths_follow_the_recorded_events(followed: tuple[Store, OutcomeReport]) -> None:
    _, report = followed
    os_ = next(e for e in report.endpoints if e.key == "os")
    deaths = {c.group: c.events for c in os_.curves}
    assert deaths == {"concordant": 3, "discordant": 2}


def test_too_few_patients_give_no_curves(tmp_path: Path, kb: KnowledgeBase) -> None:
    plan = {n: PLAN[n] for n in (1, 7, 10)}
    store, _ = _store(tmp_path, kb, plan)
    report = outcome_report(store, kb)
    assert report.cases == 3
    for endpoint in report.endpoints:
        assert not endpoint.enough
        assert endpoint.curves == []
    assert next(e for e in report.endpoints if e.key == "os").patients == 2  # 10: no decision


def test_an_empty_store_is_no_error(tmp_path: Path, kb: KnowledgeBase) -> None:
    store, _ = _store(tmp_path, kb, {})
    report = outcome_report(store, kb)
    assert report.cases == 0
    assert all(e.patients == 0 for e in report.endpoints)


def test_ticks_are_regular_and_few() -> None:
    assert regular_ticks(29.5) == [0, 6, 12, 18, 24]
    assert regular_ticks(4) == [0, 1, 2, 3, 4]
    assert regular_ticks(0) == [0]
    for end in (0.5, 7, 13, 40, 100, 400):
        ticks = regular_ticks(end)
        assert 1 <= len(ticks) <= 7
        assert ticks[-1] <= end


def test_plot_text_is_legible_and_groups_differ_by_line_style(
    followed: tuple[Store, OutcomeReport],
) -> None:
    """Every group, the one without a decision too, has its own colour and dash pattern."""
    _, report = followed
    endpoint = report.endpoints[0]
    extra = replace(endpoint.curves[0], group="no_decision")
    curves = [*endpoint.curves, extra]
    names = {g: g.title() for g in GROUPS} | {"months": "Months", "at_risk": "Number at risk"}
    svg = km_svg(curves, endpoint.ticks, endpoint.max_time, names, "en", "OS")
    assert min(float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)) >= 11
    paths = re.findall(r'<path d="[^>]*>', svg)
    assert len(paths) == len(GROUPS)
    colours = {re.findall(r'stroke="([^"]+)"', p)[0] for p in paths}
    dashes = {"".join(re.findall(r'stroke-dasharray="([^"]+)"', p)) for p in paths}
    assert len(colours) == len(GROUPS)
    assert len(dashes) == len(GROUPS)
    assert "<title>OS</title>" in svg
    assert "<script" not in svg
    for count in endpoint.curves[0].at_risk:
        assert f">{count}</text>" in svg
    marks = re.findall(r'<path class="censored" d="([^"]*)"', svg)
    assert [m.count("M") for m in marks] == [len(c.censored) for c in curves if c.censored]
