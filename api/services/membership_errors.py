"""Expected failures of the management services, beside api.services.errors.

Each maps to one of Detective's exceptions (the class's `code`): the REST layer answers with its
HTTP status and shape, the GraphQL layer returns it as a union member. Hierarchy:
ServiceError → {InvalidInput → InvalidRequest, NotFound, AccessDenied, Conflict, QuotaExceeded,
TooManyRequests}.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.services.errors import InvalidInput, ServiceError

INVALID_REQUEST_BODY = "INVALID_REQUEST_BODY"
INVALID_GRAPH_ARN = "INVALID_GRAPH_ARN"


class InvalidRequest(InvalidInput):
    """ValidationException with Detective's ErrorCode (INVALID_REQUEST_BODY, INVALID_GRAPH_ARN)."""

    def __init__(self, message: str, error_code: str = INVALID_REQUEST_BODY) -> None:
        super().__init__(message)
        self.error_code = error_code


class Conflict(ServiceError):
    """The action does not fit the current state (e.g. accepting an invitation twice)."""

    code = "ConflictException"


class QuotaExceeded(ServiceError):
    """A limit would be exceeded: members per graph, or the graph's daily volume."""

    code = "ServiceQuotaExceededException"

    def __init__(self, message: str, resources: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.resources = list(resources)


class TooManyRequests(ServiceError):
    """The caller's account exceeded its request rate (GUMSHOE_RATE_LIMIT)."""

    code = "TooManyRequestsException"
