"""Expected failures of the service layer: each carries a stable code and a message safe to show.

Hierarchy: ServiceError → {InvalidInput, NotFound, AccessDenied}. The GraphQL layer passes these
through unmasked, the REST layer maps them to Detective's exception shapes; every other exception
is unexpected, masked and logged.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "ServiceError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    """An argument is malformed or out of range (a scope, a cursor, a page size)."""

    code = "ValidationException"


class NotFound(ServiceError):
    """The named entity does not exist in the graph."""

    code = "ResourceNotFoundException"


class AccessDenied(ServiceError):
    """The caller may not read the graph: it is not the graph's administrator account."""

    code = "AccessDeniedException"
