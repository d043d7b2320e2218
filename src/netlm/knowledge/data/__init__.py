"""Versioned knowledge-base data files (YAML)."""
