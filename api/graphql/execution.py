"""A faster path through graphql-core for objects made only of plain leaf fields.

A 45-day profile holds over a thousand hourly buckets, each an object of six scalars: resolving
every scalar through graphql-core's general machinery (resolve info, awaitability checks, error
paths) costs far more than the data. For an object type whose fields are all scalars or enums
read straight from attributes (no resolver, no arguments, no permission) as far as the query
selects them, the response dict is built directly: attribute, then the scalar's own
`serialize`, exactly as graphql-core would do; a list of such objects (a method's source IPs)
is built the same way, item by item. Anything else, and any value graphql-core would have to
report as an error (null in a non-null field), goes the general way for the whole object.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

LEAF, LIST = 0, 1
# field name -> (kind, attribute, serialize or item type, non-null), or None for a field that
# needs graphql-core. LEAF: a scalar or enum, with its `serialize`. LIST: a list of objects of
# one type (items never null), built the same way when their selected fields are plain too.
Plan = dict[str, tuple[int, str, Any, bool] | None]
_PLANS: dict[GraphQLObjectType, Plan] = {}


def _unwrap(t: Any) -> Any:
    return t.of_type if isinstance(t, GraphQLNonNull) else t


def _plan(parent: GraphQLObjectType) -> Plan:
    """How to read each plain field of the type. The fast path is taken when every field a
    query selects on the type is plain: a type may also have others (a resolver, a union) that
    this query does not ask for."""
    plan = _PLANS.get(parent)
    if plan is not None:
        return plan
    plan = {}
    for name, field in parent.fields.items():
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        inner = _unwrap(field.type)
        if (
            not isinstance(definition, StrawberryField)
            or definition.base_resolver is not None
            or definition.extensions
            or field.args
        ):
            plan[name] = None
        elif is_leaf_type(inner):
            plan[name] = (LEAF, definition.python_name, inner.serialize, inner is not field.type)
        elif (
            isinstance(inner, GraphQLList)
            and isinstance(inner.of_type, GraphQLNonNull)
            and isinstance(inner.of_type.of_type, GraphQLObjectType)
            and inner.of_type.of_type.is_type_of is None
        ):
            item = inner.of_type.of_type
            plan[name] = (LIST, definition.python_name, item, inner is not field.type)
        else:
            plan[name] = None
    _PLANS[parent] = plan
    return plan


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def _fast(
        self, parent_type: GraphQLObjectType, source_value: Any, grouped_field_set: Any
    ) -> dict[str, Any] | None:
        """The object's response built directly, or None when graphql-core must do it (a
        field that is not plain, a null it would report as an error, deferred fragments)."""
        plan = _plan(parent_type)
        if not plan:
            return None
        out: dict[str, Any] = {}
        for response_name, details in grouped_field_set.items():
            name = details[0].node.name.value
            if name == "__typename":
                out[response_name] = parent_type.name
                continue
            how = plan.get(name)
            if how is None:
                return None
            kind, attribute, how_to, non_null = how
            value = getattr(source_value, attribute)
            if value is None:
                if non_null:
                    return None
                out[response_name] = None
            elif kind == LEAF:
                out[response_name] = how_to(value)
            elif not isinstance(value, list | tuple):
                return None  # an iterator: graphql-core must be the one to consume it
            else:
                fields, defers, _ = self.collect_subfields(how_to, details)
                if defers:
                    return None
                items = []
                for item in value:
                    built = None if item is None else self._fast(how_to, item, fields)
                    if built is None:
                        return None
                    items.append(built)
                out[response_name] = items
        return out

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        out = self._fast(parent_type, source_value, grouped_field_set)
        if out is not None:
            return out
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )
