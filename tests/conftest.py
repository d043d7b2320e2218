"""Shared fixtures: the shipped knowledge base and a builder for cases."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from netlm import Case, parse_case
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = sorted((ROOT / "tests" / "vignettes").glob("v*.json"))
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))

BASE_CASE: dict[str, Any] = {
    "schema": "netlm.case/1",
    "id": "t",
    "patient": {"age_years": 60, "sex": "female", "ecog": 0},
    "primary": {"site": "small_intestine", "status": "resected"},
    "pathology": {"differentiation": "well", "ki67_percent": 5},
    "liver": {"lesion_count": 10, "distribution": "bilobar", "tumor_burden_percent": 20},
    "extrahepatic": {"sites": []},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `changes` into a copy of `base`; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def make_case(*layers: dict[str, Any], **changes: Any) -> Case:
    """A valid case: BASE_CASE with each layer, then `changes`, deep-merged on top."""
    data = BASE_CASE
    for layer in (*layers, changes):
        data = merge(data, layer)
    return parse_case(data)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()
