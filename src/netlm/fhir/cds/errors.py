"""A CDS Hooks request that cannot be answered, and the OperationOutcome that says why."""

from typing import Any


class CdsFailure(Exception):
    """A request that cannot be answered; rendered as an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def operation_outcome(code: str, message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
