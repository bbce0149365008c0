"""A faster path through graphql-core for objects made only of plain leaf fields.

A 45-day profile holds over a thousand hourly buckets, each an object of six scalars: resolving
every scalar through graphql-core's general machinery (resolve info, awaitability checks, error
paths) costs far more than the data. For an object type whose fields are all scalars or enums
read straight from attributes, or computed by a plain resolver method (synchronous, taking only
`self`: no arguments, info, permission or extension), as far as the query selects them, the
response dict is built directly: attribute or method, then the scalar's own `serialize`, exactly
as graphql-core would do; a list of such objects (a method's source IPs) is built the same way,
item by item. Anything else, any value graphql-core would have to report as an error (null in a
non-null field) and any exception goes the general way for the whole object, which then resolves
and reports it as usual.

How to build an object is worked out once per request for each (type, selection): graphql-core
memoizes a selection's collected fields, so hundreds of rows of one list share one recipe.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

LEAF, LIST, TYPENAME = 0, 1, 2
# field name -> (kind, getter, serialize or item type, non-null), or None for a field that needs
# graphql-core. LEAF: a scalar or enum, with its `serialize`. LIST: a list of objects of one type
# (items never null), built the same way when their selected fields are plain too.
Plan = dict[str, tuple[int, Callable[[Any], Any], Any, bool] | None]
_PLANS: dict[GraphQLObjectType, Plan] = {}
# one selected field: (response name, kind, getter, serialize or item type, non-null, the item
# selection of a LIST); a whole selection, or None when graphql-core must build it
Step = tuple[str, int, Callable[[Any], Any], Any, bool, Any]
Recipe = tuple[Step, ...] | None


def _unwrap(t: Any) -> Any:
    return t.of_type if isinstance(t, GraphQLNonNull) else t


def _getter(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """How to read the field from its object without graphql-core: the attribute, or the
    resolver method called with the object alone; None when it needs more than that."""
    if definition.extensions or definition.permission_classes or definition.directives:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        return attrgetter(definition.python_name)
    func = resolver.wrapped_func
    if resolver.is_async or not inspect.isfunction(func):
        return None
    if list(inspect.signature(func).parameters) != ["self"]:
        return None
    return func


def _plan(parent: GraphQLObjectType) -> Plan:
    """How to read each plain field of the type. The fast path is taken when every field a
    query selects on the type is plain: a type may also have others (an async resolver, a
    union) that this query does not ask for."""
    plan = _PLANS.get(parent)
    if plan is not None:
        return plan
    plan = {}
    for name, field in parent.fields.items():
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        inner = _unwrap(field.type)
        get = _getter(definition) if isinstance(definition, StrawberryField) else None
        if get is None or field.args:
            plan[name] = None
        elif is_leaf_type(inner):
            plan[name] = (LEAF, get, inner.serialize, inner is not field.type)
        elif (
            isinstance(inner, GraphQLList)
            and isinstance(inner.of_type, GraphQLNonNull)
            and isinstance(inner.of_type.of_type, GraphQLObjectType)
            and inner.of_type.of_type.is_type_of is None
        ):
            item = inner.of_type.of_type
            plan[name] = (LIST, get, item, inner is not field.type)
        else:
            plan[name] = None
    _PLANS[parent] = plan
    return plan


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _recipes: dict[tuple[GraphQLObjectType, int], tuple[Any, Recipe]]

    def _recipe(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Recipe:
        """The steps building an object of `parent_type` for this selection (memoized like
        graphql-core's subfields: by the selection's identity, kept alive with the result)."""
        try:
            recipes = self._recipes
        except AttributeError:
            recipes = self._recipes = {}
        key = (parent_type, id(grouped_field_set))
        found = recipes.get(key)
        if found is not None:
            return found[1]
        recipe = _steps(self, parent_type, grouped_field_set)
        recipes[key] = (grouped_field_set, recipe)
        return recipe

    def _fast(
        self, parent_type: GraphQLObjectType, source_value: Any, grouped_field_set: Any
    ) -> dict[str, Any] | None:
        """The object's response built directly, or None when graphql-core must do it (a
        field that is not plain, a null it would report as an error, deferred fragments)."""
        recipe = self._recipe(parent_type, grouped_field_set)
        if recipe is None:
            return None
        out: dict[str, Any] = {}
        for response_name, kind, get, how_to, non_null, sub in recipe:
            if kind == TYPENAME:
                out[response_name] = how_to
                continue
            value = get(source_value)
            if value is None:
                if non_null:
                    return None
                out[response_name] = None
            elif kind == LEAF:
                out[response_name] = how_to(value)
            elif not isinstance(value, list | tuple):
                return None  # an iterator: graphql-core must be the one to consume it
            else:
                items = []
                for item in value:
                    built = None if item is None else self._fast(how_to, item, sub)
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
        try:
            out = self._fast(parent_type, source_value, grouped_field_set)
        except Exception:  # graphql-core resolves the object again and reports it properly
            out = None
        if out is not None:
            return out
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )


def _steps(
    context: FastExecutionContext, parent_type: GraphQLObjectType, grouped_field_set: Any
) -> Recipe:
    plan = _plan(parent_type)
    if not plan:
        return None
    steps: list[Step] = []
    for response_name, details in grouped_field_set.items():
        name = details[0].node.name.value
        if name == "__typename":
            steps.append((response_name, TYPENAME, _none, parent_type.name, False, None))
            continue
        how = plan.get(name)
        if how is None:
            return None
        kind, get, how_to, non_null = how
        sub = None
        if kind == LIST:
            sub, defers, _ = context.collect_subfields(how_to, details)
            if defers:
                return None
        steps.append((response_name, kind, get, how_to, non_null, sub))
    return tuple(steps)


def _none(_: Any) -> None:
    return None
