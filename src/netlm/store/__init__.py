"""The case store: users, versioned cases, assessments, decisions and an audit trail.

`Store` is the only interface the web layer uses; ORM objects never leave this package.
"""

from netlm.store.audit import ChainReport, verify_chain
from netlm.store.db import create_db_engine, current_revision, head_revision, upgrade
from netlm.store.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    StoreError,
    Throttled,
    ValidationFailed,
)
from netlm.store.repository import (
    AssessmentInfo,
    AuditEntry,
    CaseRecord,
    CaseSummary,
    Store,
    TokenInfo,
    UserInfo,
    VersionInfo,
)

__all__ = [
    "AssessmentInfo",
    "AuditEntry",
    "CaseRecord",
    "CaseSummary",
    "ChainReport",
    "Conflict",
    "InvalidCredentials",
    "NotFound",
    "Store",
    "StoreError",
    "Throttled",
    "TokenInfo",
    "UserInfo",
    "ValidationFailed",
    "VersionInfo",
    "create_db_engine",
    "current_revision",
    "head_revision",
    "upgrade",
    "verify_chain",
]
