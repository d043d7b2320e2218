"""An EHR case as CDS Hooks stores it, for the completion-form tests: the chart imported, its
provenance, report-text proposals and therapy gaps in the version comment, by the service."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

from netlm.fhir.cds.completion import version_comment
from netlm.fhir.mapping import bundle_to_case
from netlm.store.repository import Store

FEEDS = Path(__file__).parents[2] / "examples" / "fhir" / "feeds"
CASE_ID = "n18"  # an EHR case id as the case form would show it in Chinese too


def narrative_ki67_chart() -> dict[str, Any]:
    """Epic-style pathology (epic-02) without its coded Ki-67: the report's conclusion ("Ki-67
    8%; mitoses 2/2 mm2") is then the only place the grade is written, and lanreotide has no
    stop reason, so the treatment history is incomplete."""
    chart = json.loads((FEEDS / "epic-02-pnet-pathology-report.json").read_text("utf-8"))
    chart["entry"] = [e for e in chart["entry"] if e["resource"].get("id") != "ki67"]
    for entry in chart["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DiagnosticReport":
            resource["result"] = [r for r in resource.get("result", [])
                                  if not r["reference"].endswith("/ki67")]  # fmt: skip
        if resource["resourceType"] == "MedicationStatement":
            resource.pop("statusReason", None)
    return chart


def store_ehr_case(store: Store, chart: dict[str, Any], case_id: str = CASE_ID) -> None:
    """Store the chart's case as the CDS service does on a first patient-view."""
    imported = bundle_to_case(chart, on=dt.date(2024, 3, 15), case_id=case_id)
    account = store.service_account("cds-hooks", "CDS Hooks (EHR integration)", role="clinician")
    comment = version_comment("https://ehr.example", "patient-view", imported, [])
    store.create_case(imported.case, account, comment=comment)
