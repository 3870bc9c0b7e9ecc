"""Domain errors. Services raise these; the app maps them to HTTP statuses in one place."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class IllegalTransition(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403
