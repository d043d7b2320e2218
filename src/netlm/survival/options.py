"""The choices the estimators offer, kept apart so the CLI can name them without NumPy loaded."""

from enum import StrEnum


class ConfType(StrEnum):
    """How the Kaplan–Meier confidence interval is built (R's `conf.type`)."""

    log = "log"
    log_log = "log-log"
    plain = "plain"


class Ties(StrEnum):
    """How a Cox model treats deaths at the same time (R's `ties`)."""

    efron = "efron"
    breslow = "breslow"
