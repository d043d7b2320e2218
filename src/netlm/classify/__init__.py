"""Classification computed from raw findings: WHO grade, liver pattern, resectability."""

from netlm.classify.facts import Derived, derive

__all__ = ["Derived", "derive"]
