"""Which errors reach the client as they are, and which are masked and logged.

Expected errors are part of the API: GraphQL syntax and validation errors (including the abuse
limits), permission denials, and the service layer's `ServiceError`s (a bad scope, a bad cursor,
an ambiguous name). They keep their message and get `extensions.code`. Anything else is a bug or
an outage: the client sees "Unexpected error." with the path, and the server logs the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from api.services.errors import ServiceError
from graph.store import StoreUnavailable

log = logging.getLogger("gumshoe.graphql")
UNEXPECTED = "Unexpected error."


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:  # syntax and validation errors carry no original error
        return True
    return isinstance(original, ServiceError | StrawberryGraphQLError)


def log_errors(errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_expected(error):
            log.debug("refused: %s", error.message)
        elif isinstance(error.original_error, StoreUnavailable):
            log.error("store unavailable at %s: %s", error.path, error.original_error)
        else:
            original = error.original_error
            log.error(
                "unexpected error at %s",
                error.path,
                exc_info=(type(original), original, original.__traceback__) if original else None,
            )


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=lambda e: not is_expected(e), error_message=UNEXPECTED)


class ErrorCodes(SchemaExtension):
    """Adds `extensions.code` to expected errors, so that clients branch on codes, not text."""

    def on_operation(self) -> Iterator[None]:
        yield
        result: Any = self.execution_context.result
        for error in getattr(result, "errors", None) or ():
            original = error.original_error
            code: str | None = None
            if isinstance(original, ServiceError):
                code = original.code
            elif original is None and not error.extensions:
                code = "GRAPHQL_VALIDATION_FAILED"
            if code is not None:
                error.extensions = {**(error.extensions or {}), "code": code}
