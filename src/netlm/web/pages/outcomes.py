"""The outcomes page: survival of this hospital's own patients by whether the treatment given
was concordant with netlm's recommendation.

Nothing here re-defines concordance or the registry: the store is exported as `netlm db
export-registry` writes it, `netlm registry audit` judges each patient (its per-patient file),
and the survival package fits the Kaplan–Meier curves and the log-rank test on that file, all
in a temporary folder that is removed afterwards. The comparison is observational: the board
chose each treatment for the patient in front of it.
"""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netlm.knowledge.load import KnowledgeBase
from netlm.registry.audit import run_audit, write_patients
from netlm.registry.batch import check
from netlm.registry.engines import DuckDBEngine as RegistryEngine
from netlm.registry.export import export_registry
from netlm.store.repository import Store
from netlm.survival.data import SurvivalData
from netlm.survival.engines import DuckDBEngine as SurvivalEngine
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank
from netlm.web import kmplot, state
from netlm.web.i18n import request_lang, word
from netlm.web.pages.render import page
from netlm.web.security import Viewer

router = APIRouter()

GROUPS = ("concordant", "discordant", "no_decision")
# The audit's categories: a treatment netlm recommends or considers is concordant with it.
GROUP_OF = {"recommended": "concordant", "considered": "concordant", "excluded": "discordant",
            "not_recorded": "no_decision"}  # fmt: skip
ENDPOINTS = (("os", "followup_months", "death"), ("pfs", "progression_months", "progressed"))
MIN_PATIENTS = 10  # fewer patients with follow-up give curves that mislead more than inform
TICK_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)  # months between the numbers at risk
MAX_TICKS = 7
THREADS = 1  # one core per page view: the server's other requests keep theirs


@dataclass(frozen=True)
class GroupCurve:
    """One group's Kaplan–Meier step function and its numbers at risk at the plot's ticks."""

    group: str
    patients: int
    events: int
    times: list[float]  # event times
    survival: list[float]  # the estimate from each event time on
    at_risk: list[int]  # at each tick
    survival_at: list[float]  # at each tick
    median: float | None  # None: not reached
    last_time: float  # the group's longest follow-up: where its curve ends
    censored: list[float]  # distinct times at which patients left follow-up without the event


@dataclass(frozen=True)
class Endpoint:
    """Overall or progression-free survival: the patients with data for it and their curves;
    no curves when there are fewer than MIN_PATIENTS."""

    key: str
    patients: int
    curves: list[GroupCurve]
    ticks: list[float]
    p_value: float | None  # None: one group only, or no event to compare
    max_time: float

    @property
    def enough(self) -> bool:
        return self.patients >= MIN_PATIENTS


@dataclass(frozen=True)
class OutcomeReport:
    cases: int
    counts: dict[str, int]  # patients per group, follow-up or not
    endpoints: list[Endpoint]
    seconds: float  # export, audit and survival together, as the page says


def outcome_report(store: Store, kb: KnowledgeBase) -> OutcomeReport:
    """Export the store, audit it and fit the curves of both endpoints by concordance."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="netlm-outcomes-") as folder:
        rows = _patients(store, kb, Path(folder))
        endpoints = [_endpoint(key, rows, time_column, event_column, Path(folder))
                     for key, time_column, event_column in ENDPOINTS]  # fmt: skip
    counts = dict.fromkeys(GROUPS, 0)
    for row in rows:
        counts[GROUP_OF[row["concordance"]]] += 1
    return OutcomeReport(len(rows), counts, endpoints, time.perf_counter() - started)


def _patients(store: Store, kb: KnowledgeBase, folder: Path) -> list[dict[str, Any]]:
    """One row per case: the audit's concordance and the outcome columns."""
    registry, patients = folder / "registry.parquet", folder / "patients.parquet"
    if export_registry(store, registry) == 0:
        return []
    engine = RegistryEngine(registry, threads=THREADS)
    try:
        checked = check(engine, skip_bad=True)  # a case the registry cannot hold is not counted
        run_audit(engine, "center", kb=kb, checked=checked)
        write_patients(engine, "center", patients)
    finally:
        engine.close()
    rows: list[dict[str, Any]] = pq.read_table(patients).to_pylist()
    return rows


def _endpoint(
    key: str, rows: list[dict[str, Any]], time_column: str, event_column: str, folder: Path
) -> Endpoint:
    usable = [r for r in rows if r[time_column] is not None and r[event_column] is not None]
    if len(usable) < MIN_PATIENTS:
        return Endpoint(key, len(usable), [], [], None, 0.0)
    times = [float(r[time_column]) for r in usable]
    groups = [GROUP_OF[r["concordance"]] for r in usable]
    events = [int(r[event_column]) for r in usable]
    longest: dict[str, float] = {}
    censored: dict[str, set[float]] = {}
    for t, e, g in zip(times, events, groups, strict=True):
        longest[g] = max(longest.get(g, 0.0), t)
        if not e:
            censored.setdefault(g, set()).add(t)
    path = folder / f"{key}.parquet"
    pq.write_table(pa.table({"t": times, "e": events, "g": groups}), path)
    engine = SurvivalEngine(threads=THREADS)
    try:
        data = SurvivalData.load(engine, path, time="t", event="e", by="g")
        km = KaplanMeier().fit(data)
        ticks = regular_ticks(km.max_time)
        at_risk = km.number_at_risk(ticks)
        p_value = None
        if len(data.groups) > 1 and data.events > 0:
            result = LogRank().fit(data).result
            p_value = result.p if result is not None else None
        sizes = {g.label: (g.n, g.events) for g in data.groups}
        curves = [
            GroupCurve(
                c.group, *sizes[c.group], [float(x) for x in c.time],
                [float(x) for x in c.survival], at_risk[c.group],
                [float(x) for x in c.at(ticks)], c.median()[0], longest[c.group],
                sorted(censored.get(c.group, ())),
            )
            for c in km.curves
        ]  # fmt: skip
    finally:
        engine.close()
    return Endpoint(key, len(usable), curves, ticks, p_value, km.max_time)


def regular_ticks(end: float) -> list[float]:
    """0 and every step up to `end`, the step (in months) the smallest giving few enough."""
    step = next((s for s in TICK_STEPS if end / s <= MAX_TICKS - 1), TICK_STEPS[-1])
    return [float(step * i) for i in range(int(end // step) + 1)]


def format_p(p: float) -> str:
    """As `netlm survival` prints it: never 0."""
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def format_months(value: float | None, lang: str) -> str:
    return word("outcomes.not_reached", lang) if value is None else f"{value:.1f}"


@router.get("/outcomes")
def outcomes_page(request: Request, current: Viewer) -> HTMLResponse:
    """The curves of this hospital's store, each with its data table and numbers at risk."""
    lang = request_lang(request)
    report = outcome_report(state.store(request), state.kb(request))
    names = {g: word(f"outcomes.group.{g}", lang) for g in GROUPS}
    labels = {**names, "months": word("outcomes.months", lang),
              "at_risk": word("outcomes.at_risk", lang)}  # fmt: skip
    charts = {
        e.key: kmplot.km_svg(e.curves, e.ticks, e.max_time, labels, lang,
                             word(f"outcomes.{e.key}", lang))
        for e in report.endpoints if e.enough
    }  # fmt: skip
    return page(
        request, "outcomes.html", current, report=report, charts=charts, names=names,
        groups=GROUPS, minimum=MIN_PATIENTS, format_p=format_p,
        months=lambda v: format_months(v, lang),
    )  # fmt: skip
