"""Abuse limits and scopes, checked without a server: what is refused, and what is not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from graphql import get_introspection_query, parse, validate

from api.graphql.limits import MAX_COST, QueryLimits
from api.graphql.queries import decode_cursor, encode_cursor
from api.graphql.schema import schema
from api.services.errors import InvalidInput
from api.services.scope import default_scope, make_scope
from bench.graphql_profile import PROFILE

SCHEMA = schema._schema


def refusals(query: str) -> list[str]:
    return [e.message for e in validate(SCHEMA, parse(query), [QueryLimits])]


def test_a_full_profile_and_introspection_are_allowed() -> None:
    assert refusals(PROFILE) == []
    assert refusals(get_introspection_query(descriptions=True)) == []


def test_profiles_of_a_whole_page_cost_too_much() -> None:
    page = """query($n: Int) { search(graphArn: "g", type: AWS_ROLE, query: "", first: $n) {
      nodes { ... on AwsRole { apiCallVolume { totalSuccess } newBehaviors { apiCalls { method } }
      resourceInteraction { sessions { entityId } } involvedFindings { id } } } } }"""
    (message,) = refusals(page)  # a variable page size counts as the largest page
    assert f"more than the limit of {MAX_COST}" in message
    assert refusals(page.replace("first: $n", "first: 5")) == []
    assert refusals(page.replace("($n: Int)", "($n: Int = 5)")) == []


def test_page_size_depth_and_aliases() -> None:
    (big,) = refusals('{ search(graphArn: "g", type: AWS_USER, query: "") { nodes { id } } }'
                      .replace('query: ""', 'query: "", first: 201'))  # fmt: skip
    assert "between 1 and 200" in big
    nest = "resourceInteraction { sessions { entity { ... on AwsRoleSession { %s } } } }"
    deep = "id"
    for _ in range(4):
        deep = nest % deep
    query = '{ entity(graphArn: "g", type: AWS_ROLE_SESSION, id: "s") { ... on AwsRoleSession { '
    assert any("maximum depth" in m for m in refusals(query + deep + " } } }"))
    aliases = "{ " + " ".join(f"a{i}: graphs {{ arn }}" for i in range(31)) + " }"
    assert any("31 aliases" in m for m in refusals(aliases))


def test_fragments_are_measured_once_each() -> None:
    frags = "\n".join(f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 60))
    query = "{ ...F59 }\nfragment F0 on Query { graphs { arn } }\n" + frags
    began = time.perf_counter()
    (message,) = refusals(query)
    assert time.perf_counter() - began < 0.5
    assert "more than the limit" in message


def test_scopes() -> None:
    day = datetime(2025, 4, 1, tzinfo=UTC)
    scope = make_scope(day, day + timedelta(hours=24))
    assert (scope.start, scope.end - scope.start) == (int(day.timestamp()), 86_400)
    assert scope.baseline_start == scope.start - 45 * 86_400
    # a time without an offset is UTC; one with an offset is converted
    assert make_scope(day.replace(tzinfo=None), day.replace(tzinfo=None) + timedelta(hours=1))
    plus2 = timezone(timedelta(hours=2))
    assert make_scope(datetime(2025, 4, 1, 2, tzinfo=plus2), day + timedelta(hours=1)).start == (
        scope.start
    )
    for start, end in (
        (day + timedelta(minutes=30), day + timedelta(hours=2)),
        (day, day),
        (day, day + timedelta(days=367)),
    ):
        with pytest.raises(InvalidInput):
            make_scope(start, end)
    now = day.timestamp() + 3600 * 5 + 17
    assert default_scope(now).end == day.timestamp() + 3600 * 6
    assert default_scope(now).end - default_scope(now).start == 86_400


def test_cursors_round_trip_and_reject_garbage() -> None:
    for key in ("AIDAALICE", "arn:aws:iam::111122223333:user/a b", "ü"):
        assert decode_cursor(encode_cursor(key)) == key
    for bad in ("nonsense", "a2V5", encode_cursor("x")[:-3] + "!!!"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)
