"""JanusGraph vertex ids: printable ASCII without '-', one id per (graph, label, key), stable.

The ids are stored: `escape` must give exactly what the per-character rule gives (its fast paths
change no id), and different texts must never share an id."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.janusgraph_schema import escape, graph_hash, vertex_id


def _reference(text: str) -> str:
    """The rule, one character at a time: printable ASCII but '%' and '-' stays, anything else
    becomes %XX of its UTF-8 bytes."""
    out = []
    for ch in text:
        if ch in "%-" or not " " <= ch <= "~":
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


@settings(max_examples=500)
@given(st.text())
def test_escape_follows_the_rule(text: str) -> None:
    assert escape(text) == _reference(text)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("ab-%\x7f\x1f é✓~ ")), st.text())
def test_escaped_texts_are_distinct_and_safe(a: str, b: str) -> None:
    for text in (a, b):
        escaped = escape(text)
        assert "-" not in escaped and escaped.isascii() and escaped.isprintable()
        assert "\x7f" not in escaped
    assert (escape(a) == escape(b)) == (a == b)


def test_examples() -> None:
    assert escape("AROA1234:session-1") == "AROA1234:session%2D1"
    assert escape("100%") == "100%25"
    assert escape("a\x7fb") == "a%7Fb"
    assert escape("Zürich") == "Z%C3%BCrich"
    assert escape("plain text: ok") == "plain text: ok"


def test_vertex_ids_are_per_graph() -> None:
    one, two = (f"arn:aws:detective:us-east-1:111122223333:graph:{c * 32}" for c in "ab")
    assert graph_hash(one) != graph_hash(two)
    assert vertex_id(one, "AwsUser", "x-1") == f"{graph_hash(one)}|AwsUser|x%2D1"
    assert vertex_id(one, "AwsUser", "x") != vertex_id(two, "AwsUser", "x")
