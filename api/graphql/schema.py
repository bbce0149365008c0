"""The GraphQL schema, assembled from the Query and Mutation types of its modules.

Adding fields from another module (e.g. `api/graphql/membership.py`):

1. write `@strawberry.type class MembershipQuery:` and/or `class MembershipMutation:` with the
   fields, resolvers taking `info: api.graphql.context.Info` (the typed context: `caller`,
   `store`, `loaders`, `graph(arn)`), `CanReadGraph` from `api.graphql.queries` or your own
   `BasePermission` classes, and union results for expected errors;
2. import them here and append them to QUERY_TYPES / MUTATION_TYPES (merged with strawberry's
   `merge_types`; a field name may appear in one module only);
3. regenerate the exported schema: `python -m api.graphql.schema` writes `schema.graphql`
   (tests/unit/test_graphql_schema.py fails while it is stale).

Types reachable only through an interface (every entity type) are listed in `types=`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.graphql import findings, principals, resources
from api.graphql.entities import ENTITY_TYPES, EksCluster, KubernetesPod, NetworkInterface
from api.graphql.errors import ErrorCodes, log_errors, mask_errors
from api.graphql.execution import FastExecutionContext
from api.graphql.investigations import InvestigationMutation, InvestigationQuery
from api.graphql.limits import limit_extensions
from api.graphql.membership import MembershipMutation, MembershipQuery
from api.graphql.queries import ProfileQuery
from api.graphql.types import LONG_SCALAR, Long

QUERY_TYPES: tuple[type, ...] = (ProfileQuery, MembershipQuery, InvestigationQuery)
MUTATION_TYPES: tuple[type, ...] = (MembershipMutation, InvestigationMutation)
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"

# every concrete entity type, so that interface members are in the schema
ENTITY_CLASSES: tuple[type, ...] = (
    principals.AwsAccount,
    principals.AwsUser,
    principals.AwsRole,
    principals.AwsRoleSession,
    principals.FederatedUser,
    principals.AwsService,
    resources.Ec2Instance,
    resources.IpAddress,
    resources.UserAgent,
    resources.S3Bucket,
    NetworkInterface,
    EksCluster,
    KubernetesPod,
    findings.Finding,
)


class GumshoeSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # instead of strawberry's logger, which logs expected refusals with tracebacks
        log_errors(errors)


def build_schema() -> strawberry.Schema:
    if set(ENTITY_TYPES.values()) != set(ENTITY_CLASSES):
        raise RuntimeError("ENTITY_CLASSES must list every registered entity type")
    query = merge_types("Query", QUERY_TYPES)
    mutation: Any = merge_types("Mutation", MUTATION_TYPES) if MUTATION_TYPES else None
    return GumshoeSchema(
        query=query,
        mutation=mutation,
        types=list(ENTITY_CLASSES),
        config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
        execution_context_class=FastExecutionContext,
        extensions=[
            *limit_extensions(),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            mask_errors,
            ErrorCodes,
        ],
    )


schema = build_schema()


def sdl() -> str:
    return schema.as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the exported schema (default: schema.graphql at the repository root)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else SCHEMA_FILE
    target.write_text(sdl(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
