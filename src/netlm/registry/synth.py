"""`netlm registry synth`: a synthetic registry whose distributions follow the clinical brief.

Each distribution names its source (`/work/shared/reference/clinical-brief.md`, section §);
where the brief gives no number the distribution is marked ILLUSTRATIVE: it only makes the data
look like a registry and carries no clinical claim. Generation is vectorised (numpy) and
seeded: the same --n and --seed always give the same file.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from netlm.knowledge.load import load_knowledge_base
from netlm.registry.care import assign_care
from netlm.registry.format import registry_columns

CHUNK = 200_000

# §2 (Mayo 2010, 339 patients): 40 % pancreas, 25 % small bowel. The rest: ILLUSTRATIVE.
SITES = {
    "pancreas": 0.40, "small_intestine": 0.25, "rectum": 0.08, "stomach": 0.05,
    "duodenum": 0.04, "colon": 0.05, "appendix": 0.03, "unknown": 0.10,
}  # fmt: skip
# §1/§1.1: diffuse (type III) 60-70 % (verified); simple 20-25 % and complex 10-15 % (Frilling
# 2009 split, UNVERIFIED in the brief).
PATTERNS = {"I": 0.22, "II": 0.13, "III": 0.65}
# The brief has no registry grade mix (§3 gives the WHO scheme; §11: NET G3 is 12-18 % of
# high-grade digestive NEN): ILLUSTRATIVE.
GRADES = {"G1": 0.35, "G2": 0.45, "G3": 0.10, "NEC": 0.10}
# §13.1 median overall survival by grade, months: G1 71, G2 56 (after Y-90, Eur J Radiol 2018);
# NET G3 21.8 and NEC 7.4 (palliative chemotherapy, NORDIC NEC 2). Exponential shape:
# ILLUSTRATIVE.
MEDIAN_OS = {"G1": 71.0, "G2": 56.0, "G3": 21.8, "NEC": 7.4}
# §13.2: hepatic resection, median OS 125 months (Mayo 2010).
MEDIAN_OS_RESECTED = 125.0
# Progression: ILLUSTRATIVE (half the survival median).
PFS_FRACTION = 0.5
# Centres: 8, as in the Mayo 2010 multicentre series (§2); their regions: ILLUSTRATIVE.
CENTRES = {f"C{i:02d}": region for i, region in enumerate(
    ("US", "US", "US", "EU", "EU", "EU", "CN", "CN"), start=1)}  # fmt: skip
SSTR_KRENNING = [0.05, 0.10, 0.25, 0.35, 0.25]  # ILLUSTRATIVE
ECOG = [0.45, 0.30, 0.12, 0.09, 0.04]  # ILLUSTRATIVE
MISSING = 0.15  # share of unrecorded optional findings: ILLUSTRATIVE


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.asarray(np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())])


def _blank(rng: np.random.Generator, values: np.ndarray, share: float = MISSING) -> list[Any]:
    out: list[Any] = values.tolist()
    for i in np.nonzero(rng.random(len(out)) < share)[0]:
        out[i] = None
    return out


def _ki67(rng: np.random.Generator, grade: np.ndarray) -> np.ndarray:
    """Ki-67 inside the WHO range of the drawn grade (thresholds from the knowledge base);
    NET G3 up to 55 % (§11: the NETTER-2 G3 population), NEC above 20 % (§3), up to 95 %
    (ILLUSTRATIVE); uniform within each range (ILLUSTRATIVE)."""
    t = load_knowledge_base().classification.grading.ki67_percent
    low = {"G1": 0.0, "G2": t.g2_from, "G3": t.g3_above + 0.1, "NEC": t.g3_above + 0.1}
    high = {"G1": t.g2_from - 0.1, "G2": t.g3_above, "G3": 55.0, "NEC": 95.0}
    lo = np.vectorize(low.__getitem__)(grade).astype(float)
    hi = np.vectorize(high.__getitem__)(grade).astype(float)
    return np.asarray(np.round(lo + rng.random(len(grade)) * (hi - lo), 1))


def _chunk(rng: np.random.Generator, start: int, n: int) -> dict[str, list[Any]]:
    cols: dict[str, Any] = {}
    grade = _pick(rng, GRADES, n)
    centre = _pick(rng, dict.fromkeys(CENTRES, 1.0), n)
    cols["id"] = [f"R{start + i:08d}" for i in range(n)]
    cols["region"] = [CENTRES[c] for c in centre]
    cols["patient.age_years"] = _blank(rng, np.round(rng.normal(60, 11, n).clip(18, 95)), 0.02)
    cols["patient.sex"] = _pick(rng, {"female": 0.47, "male": 0.53}, n).tolist()
    cols["patient.ecog"] = _blank(rng, rng.choice(5, size=n, p=ECOG))
    cols["primary.site"] = _pick(rng, SITES, n).tolist()
    cols["primary.status"] = _blank(rng, _pick(rng, {"in_place": 0.5, "resected": 0.5}, n))
    cols["primary.resectable"] = _blank(rng, rng.random(n) < 0.6, 0.4)
    cols["primary.functional_syndrome"] = _blank(
        rng, _pick(rng, {"none": 0.75, "carcinoid": 0.18, "insulinoma": 0.02,
                         "gastrinoma": 0.03, "vipoma": 0.02}, n))  # fmt: skip
    well = np.where(grade == "NEC", "poor", "well")
    cols["pathology.differentiation"] = _blank(rng, well, 0.2)
    cols["pathology.ki67_percent"] = _blank(rng, _ki67(rng, grade), 0.1)
    cols["pathology.mitoses_per_2mm2"] = [None] * n
    cols["pathology.morphology"] = [
        "large_cell_nec" if g == "NEC" and r < 0.5 else None
        for g, r in zip(grade, rng.random(n), strict=True)
    ]
    pattern = _pick(rng, PATTERNS, n)
    cols["liver.pattern"] = pattern.tolist()
    lesions = np.where(pattern == "I", 1, np.where(pattern == "II", rng.integers(2, 6, n),
                                                   rng.integers(6, 40, n)))  # fmt: skip
    cols["liver.lesion_count"] = _blank(rng, lesions, 0.1)
    cols["liver.largest_lesion_cm"] = _blank(rng, np.round(rng.gamma(2.0, 1.8, n) + 0.5, 1))
    cols["liver.distribution"] = _blank(rng, np.where(pattern == "I", "unilobar", "bilobar"))
    burden = np.where(pattern == "III", rng.uniform(10, 80, n), rng.uniform(1, 25, n))
    cols["liver.tumor_burden_percent"] = _blank(rng, np.round(burden), 0.25)
    cols["liver.resectable"] = _blank(rng, pattern == "I", 0.5)
    cols["liver.future_liver_remnant_percent"] = [None] * n
    cols["liver.synchronous"] = _blank(rng, rng.random(n) < 0.4, 0.3)
    ext_choice = rng.choice(4, size=n, p=[0.55, 0.2, 0.15, 0.10])
    cols["extrahepatic.sites"] = [
        ("[]", '["regional_lymph_nodes"]', '["bone"]', '["distant_lymph_nodes","lung"]')[c]
        for c in ext_choice
    ]
    cols["extrahepatic.resectable"] = _blank(rng, ext_choice <= 1, 0.5)
    # ILLUSTRATIVE: bone alone read as limited (liver-dominant), nodes and lung as not
    cols["extrahepatic.limited"] = _blank(rng, ext_choice == 2, 0.5)
    positive = rng.choice(5, size=n, p=SSTR_KRENNING)
    cols["sstr_imaging.modality"] = _blank(rng, np.full(n, "ga68_pet", dtype=object), 0.2)
    cols["sstr_imaging.krenning_score"] = _blank(rng, positive, 0.2)
    cols["sstr_imaging.all_lesions_positive"] = _blank(rng, positive >= 2, 0.3)
    course = _pick(rng, {"new_diagnosis": 0.5, "stable": 0.25, "progressive": 0.25}, n)
    cols["course.status"] = course.tolist()
    cols["course.months_stable"] = _blank(rng, np.round(rng.uniform(0, 36, n)), 0.5)
    cols["symptoms.bulky_symptomatic"] = _blank(rng, rng.random(n) < 0.2, 0.3)
    cols["symptoms.hormonal_refractory"] = _blank(rng, rng.random(n) < 0.1, 0.3)
    cols["symptoms.source"] = [None] * n  # not synthesised
    prior = json.dumps([{"option": "ssa", "outcome": "progression"}], separators=(",", ":"))
    cols["prior_therapies"] = [prior if c == "progressive" else "[]" for c in course]
    cols["history.bilioenteric_anastomosis"] = _blank(rng, rng.random(n) < 0.08, 0.3)
    cols["history.carcinoid_heart_disease"] = _blank(rng, rng.random(n) < 0.05, 0.3)
    labs = {
        "labs.bilirubin_x_uln": (0.7, 0.4), "labs.albumin_g_dl": (4.0, 0.5),
        "labs.creatinine_clearance_ml_min": (85, 25), "labs.platelets_10e9_per_l": (240, 70),
        "labs.hemoglobin_g_dl": (13, 1.6), "labs.neutrophils_10e9_per_l": (4.2, 1.5),
    }  # fmt: skip
    for name, (mean, sd) in labs.items():
        cols[name] = _blank(rng, np.round(rng.normal(mean, sd, n).clip(0.05, None), 2), 0.3)
    _ki67_bounds(cols, start)
    given = assign_care(rng, cols, arrow_schema())
    cols["treatment_given"] = given.tolist()
    year = rng.integers(2010, 2025, n)
    day = rng.integers(0, 365, n)
    cols["treatment_date"] = [
        str(np.datetime64(f"{y}-01-01") + np.timedelta64(d, "D"))
        for y, d in zip(year, day, strict=True)
    ]
    median = np.vectorize(MEDIAN_OS.__getitem__)(grade).astype(float)
    median = np.where(given == "curative_resection", MEDIAN_OS_RESECTED, median)
    death_time = rng.exponential(median / np.log(2))
    censor = rng.uniform(6, 120, n)  # administrative follow-up: ILLUSTRATIVE
    cols["followup_months"] = np.round(np.minimum(death_time, censor), 2).tolist()
    cols["death"] = (death_time <= censor).astype(int).tolist()
    progression = rng.exponential(median * PFS_FRACTION / np.log(2))
    cols["progression_months"] = np.round(np.minimum(progression, censor), 2).tolist()
    cols["progressed"] = (progression <= censor).astype(int).tolist()
    cols["center"] = centre.tolist()
    cols["diagnosis_year"] = year.tolist()
    return cols


def _ki67_bounds(cols: dict[str, Any], start: int) -> None:
    """Some reports give Ki-67 only as an upper bound (ILLUSTRATIVE shares, by row number so no
    draw moves): every 10th G1 row "<3" (decides G1), every 40th row under 25 % "<25" (decides no
    grade), every 60th G1 row "≤2". Applied before the care is drawn, which follows the
    report as recorded (as the audit reads it)."""
    below: list[float | None] = [None] * len(cols["id"])
    at_most: list[float | None] = [None] * len(cols["id"])
    values = cols["pathology.ki67_percent"]
    g2_from = float(load_knowledge_base().classification.grading.ki67_percent.g2_from)
    for i, value in enumerate(values):
        row = start + i
        if value is None:
            continue
        if value < g2_from and row % 10 == 0:
            below[i], values[i] = g2_from, None
        elif value < 25 and row % 40 == 1:
            below[i], values[i] = 25.0, None
        elif value <= 2 and row % 60 == 2:
            at_most[i], values[i] = 2.0, None
    cols["pathology.ki67_below_percent"] = below
    cols["pathology.ki67_at_most_percent"] = at_most


def arrow_schema() -> pa.Schema:
    types = {"number": pa.float64(), "integer": pa.int64(), "flag": pa.int64(),
             "boolean": pa.bool_()}  # fmt: skip
    return pa.schema([(c.name, types.get(c.kind, pa.string())) for c in registry_columns()])


def synthesise(n: int, seed: int, out: Path, progress: Callable[[int], None] | None = None) -> None:
    """Write `n` synthetic patients to `out` (.parquet or .csv), in chunks."""
    rng = np.random.default_rng(seed)
    schema = arrow_schema()
    csv_out = out.suffix.lower() == ".csv"
    writer: Any = pacsv.CSVWriter(out, schema) if csv_out else pq.ParquetWriter(out, schema)
    try:
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            columns = _chunk(rng, start + 1, size)
            table = pa.table({c.name: columns[c.name] for c in registry_columns()}, schema=schema)
            writer.write_table(table)
            if progress:
                progress(size)
    finally:
        writer.close()
