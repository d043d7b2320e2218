"""Survival analysis on registries too large for memory: Kaplan–Meier, log-rank and Cox PH.

The counts and risk-set sums are SQL aggregations and window functions run by DuckDB or Spark
(`engines`); Python keeps only per-distinct-time results and the small algebra on them.
Import the estimators from their modules (`km`, `logrank`, `cox`); this package itself loads
nothing heavy, so the CLI starts fast.
"""
