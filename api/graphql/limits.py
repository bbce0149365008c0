"""Abuse limits, all checked before a query runs, so a refused query costs milliseconds.

- size: at most MAX_TOKENS tokens (the parser stops there);
- depth: at most MAX_DEPTH nested selections (introspection fields are not counted);
- aliases: at most MAX_ALIASES per document;
- page size: `first` at most 200 (services.entities.MAX_PAGE);
- cost: every field costs 1, a profile panel PANEL_COST more (it reads the store), and the
  selection under a paginated field counts once per requested item (`first`, or MAX_PAGE when
  a variable gives it). A query costing more than MAX_COST is refused.

Depth, aliases and cost are computed here in one pass with each fragment evaluated once:
strawberry's QueryDepthLimiter and MaxAliasesLimiter re-walk a fragment at every spread, which a
document of fragments spreading each other twice takes exponential time to walk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension

from api.services.entities import DEFAULT_PAGE, MAX_PAGE

MAX_TOKENS = 5000
MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_COST = 10_000
PANEL_COST = 10
PANELS = frozenset(
    {
        "apiCallVolume",
        "newBehaviors",
        "resourceInteraction",
        "vpcFlowVolume",
        "involvedFindings",
        "findingGroups",
        "involvedEntities",
        "findings",
    }
)
PAGINATED = frozenset({"search"})


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int
    cost: int

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases,
                       self.cost + other.cost)  # fmt: skip


ZERO = Measure(0, 0, 0)


class _Walker:
    def __init__(self, context: ValidationContext, defaults: dict[str, Any]) -> None:
        self.fragments = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.defaults = defaults
        self.memo: dict[str, Measure] = {}
        self.visiting: set[str] = set()

    def page(self, field: FieldNode) -> int:
        for arg in field.arguments or ():
            if arg.name.value == "first":
                if isinstance(arg.value, IntValueNode):
                    return max(int(arg.value.value), 1)
                if isinstance(arg.value, NullValueNode):
                    return DEFAULT_PAGE
                if isinstance(arg.value, VariableNode):
                    default = self.defaults.get(arg.value.name.value)
                    return default if isinstance(default, int) else MAX_PAGE
                return MAX_PAGE
        return DEFAULT_PAGE

    def selections(self, selection_set: SelectionSetNode | None) -> Measure:
        total = ZERO
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total = total + self.field(sel)
            elif isinstance(sel, InlineFragmentNode):
                total = total + self.selections(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                total = total + self.fragment(sel.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return ZERO  # unknown fragments and cycles are reported by graphql-core's rules
        self.visiting.add(name)
        found = self.memo[name] = self.selections(definition.selection_set)
        self.visiting.discard(name)
        return found

    def field(self, node: FieldNode) -> Measure:
        name = node.name.value
        if name.startswith("__"):
            return ZERO  # introspection: bounded by the schema, and what GraphiQL needs
        inner = self.selections(node.selection_set)
        times = self.page(node) if name in PAGINATED else 1
        weight = 1 + (PANEL_COST if name in PANELS else 0)
        return Measure(
            inner.depth + 1 if node.selection_set else 1,
            inner.aliases + (1 if node.alias else 0),
            weight + times * inner.cost,
        )


def _literal_defaults(op: OperationDefinitionNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in op.variable_definitions or ():
        if isinstance(var.default_value, IntValueNode):
            out[var.variable.name.value] = int(var.default_value.value)
    return out


class QueryLimits(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        m = _Walker(self.context, _literal_defaults(node)).selections(node.selection_set)
        name = node.name.value if node.name else "anonymous"
        for problem in (
            m.depth > MAX_DEPTH and f"'{name}' exceeds the maximum depth of {MAX_DEPTH}",
            m.aliases > MAX_ALIASES
            and f"'{name}' has {m.aliases} aliases; at most {MAX_ALIASES} are allowed",
            m.cost > MAX_COST
            and f"'{name}' costs {m.cost}, more than the limit of {MAX_COST}: ask for fewer "
            "items per page or fewer panels per item",
        ):
            if problem:
                self.report_error(GraphQLError(problem, node))

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        for arg in node.arguments or ():
            if (
                arg.name.value == "first"
                and isinstance(arg.value, IntValueNode)
                and not 1 <= int(arg.value.value) <= MAX_PAGE
            ):
                self.report_error(GraphQLError(f"`first` must be between 1 and {MAX_PAGE}", arg))


def limit_extensions() -> list[Callable[[], SchemaExtension]]:
    """Extension factories (strawberry deprecates passing extension instances)."""
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([QueryLimits]),
    ]
