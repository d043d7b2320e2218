"""Seeded random valid cases for the parity tests: the space of tests/strategies.py, drawn fast.

Every optional field is left out a third of the time (unknowns), numbers come from the knowledge
base's own thresholds (exactly on, just below and just above) or uniformly from the allowed range,
so the compiled rules are exercised at their boundaries.
"""

import json
import random
from collections import defaultdict
from typing import Any, get_args

from netlm.knowledge.conditions import leaves
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.model import codes

RANGES = {
    "patient.age_years": (0, 120), "pathology.ki67_percent": (0, 100),
    "pathology.mitoses_per_2mm2": (0, 80), "liver.largest_lesion_cm": (0.1, 25),
    "liver.tumor_burden_percent": (0, 100), "liver.future_liver_remnant_percent": (0, 100),
    "course.months_stable": (0, 120), "labs.bilirubin_x_uln": (0, 10), "labs.albumin_g_dl": (0, 6),
    "labs.creatinine_clearance_ml_min": (0, 200), "labs.platelets_10e9_per_l": (0, 600),
    "labs.hemoglobin_g_dl": (0, 20), "labs.neutrophils_10e9_per_l": (0, 20),
}  # fmt: skip
# Some cases give Ki-67 as an upper bound ("<3", "≤20"), chosen by case number (no draw moves).
KI67_AS_BOUND = {3: "pathology.ki67_below_percent", 5: "pathology.ki67_at_most_percent"}
INTEGERS = {
    "patient.ecog": (0, 4),
    "liver.lesion_count": (1, 60),
    "sstr_imaging.krenning_score": (0, 4),
}
ENUMS = {
    "region": codes.Region, "patient.sex": codes.Sex, "primary.status": codes.PrimaryStatus,
    "primary.functional_syndrome": codes.FunctionalSyndrome,
    "pathology.differentiation": codes.Differentiation, "pathology.morphology": codes.Morphology,
    "liver.distribution": codes.Distribution, "liver.pattern": codes.LiverPattern,
    "sstr_imaging.modality": codes.SstrModality, "course.status": codes.CourseStatus,
}  # fmt: skip
# Prior therapies: the systemic options whose history the rules read, more often than the rest.
PRIOR = (*codes.OPTION_CODES, *("ssa", "prrt", "everolimus", "sunitinib", "captem") * 3)
BOOLEANS = (
    "primary.resectable", "liver.resectable", "liver.synchronous", "extrahepatic.resectable",
    "sstr_imaging.all_lesions_positive", "symptoms.bulky_symptomatic",
    "symptoms.hormonal_refractory", "history.bilioenteric_anastomosis",
    "history.carcinoid_heart_disease",
)  # fmt: skip


def thresholds(kb: KnowledgeBase) -> dict[str, list[float]]:
    """Every numeric threshold a rule compares a fact with, and its neighbours."""
    found: dict[str, set[float]] = defaultdict(set)
    conditions = [
        c.when
        for e in kb.options.values()
        for c in (*e.indications, *e.contraindications, *e.eligibility, *e.cautions)
    ]
    conditions += list(kb.definitions.values()) + [c.when for c in kb.unresectable_rules]
    conditions += [c.when for c in kb.potentially_resectable_rules] + [kb.resectable_when]
    for cond in conditions:
        for leaf in leaves(cond, kb.definitions):
            numeric = isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool)
            if leaf.op in ("lt", "le", "gt", "ge", "eq") and numeric:
                v = float(leaf.value)
                found[leaf.fact] |= {v, v - 0.5, v + 0.5}
    for index in ("ki67_percent", "mitoses_per_2mm2"):
        t = getattr(kb.classification.grading, index)
        found[f"pathology.{index}"] |= {t.g2_from, t.g3_above, t.g3_above + 0.5, t.g2_from - 0.5}
    return {k: sorted(v) for k, v in found.items()}


class CaseGenerator:
    def __init__(self, seed: int, kb: KnowledgeBase | None = None) -> None:
        self.rng = random.Random(seed)
        self.edges = thresholds(kb or load_knowledge_base())

    def _maybe(self) -> bool:
        return self.rng.random() < 0.67

    def _number(self, path: str) -> float:
        lo, hi = RANGES[path]
        edges = [e for e in self.edges.get(path, []) if lo <= e <= hi and not (e == 0 and lo > 0)]
        if edges and self.rng.random() < 0.5:
            return self.rng.choice(edges)
        return round(self.rng.uniform(lo, hi), self.rng.choice((0, 1, 3)))

    def case(self, index: int) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {
            "schema": "netlm.case/1",
            "id": f"p{index}",
            "primary": {"site": rng.choice(get_args(codes.PrimarySite))},
            "liver": {},
        }

        def put(path: str, value: Any) -> None:
            target = data
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value

        for path in RANGES:
            if self._maybe():
                value = self._number(path)
                if path == "liver.largest_lesion_cm" and value <= 0:
                    value = 0.1
                put(path, value)
        ki67 = data.get("pathology", {}).get("ki67_percent")
        if ki67 and index % 7 in KI67_AS_BOUND:  # reported as a bound, on the thresholds too
            put(KI67_AS_BOUND[index % 7], data["pathology"].pop("ki67_percent"))
        for path, (lo, hi) in INTEGERS.items():
            if self._maybe():
                put(path, rng.randint(lo, hi))
        for path, literal in ENUMS.items():
            if self._maybe():
                put(path, rng.choice(get_args(literal)))
        for path in BOOLEANS:
            if path.startswith("extrahepatic"):
                continue
            if self._maybe():
                put(path, rng.random() < 0.5)
        if self._maybe():
            ext: dict[str, Any] = {}
            if rng.random() < 0.8:
                sites = list(get_args(codes.ExtrahepaticSite))
                ext["sites"] = rng.sample(sites, rng.choice((0, 0, 1, 1, 2, 3)))
            if self._maybe():
                ext["resectable"] = rng.random() < 0.5
            data["extrahepatic"] = ext
        if self._maybe():
            data["prior_therapies"] = [
                {"option": rng.choice(PRIOR), "outcome": rng.choice(get_args(codes.TherapyOutcome))}
                for _ in range(rng.choice((0, 1, 1, 2, 3, 4)))
            ]
        return data


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))
