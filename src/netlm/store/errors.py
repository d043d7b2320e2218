"""Errors the store raises, so callers map them to HTTP statuses or exit codes, not SQL errors."""


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class NotFound(StoreError):
    """The record does not exist (or was deleted)."""


class Conflict(StoreError):
    """The write would overwrite or duplicate something: an existing id or a newer version."""


class Throttled(StoreError):
    """Too many failed logins recently; says when to try again."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed attempts; retry after {retry_after} seconds")


class InvalidCredentials(StoreError):
    """Login failed; deliberately the same for unknown, disabled and wrong-password users."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class ValidationFailed(StoreError):
    """A request is well-formed but breaks a clinical rule of the record, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
