"""DeltaBuffer.count_hours (the CloudTrail expand's hot path) against plain `count` calls."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from graph.batch import DeltaBuffer, EdgeDelta
from graph.model import ACCOUNT, AGENT, API, CALLED, ROLE, SESSION, USED_AGENT, VertexRef

SOURCES = (
    VertexRef(SESSION, "AROA1:alice"),
    VertexRef(ROLE, "arn:aws:iam::111122223333:role/admin"),
    VertexRef(ACCOUNT, "111122223333"),
)
TARGETS = [(CALLED, VertexRef(API, "s3:GetObject")), (USED_AGENT, VertexRef(AGENT, "aws-cli"))]
H = 3600

# (target, qualifier, hour index, offset of first, span to last, count 0, count 1)
observations = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from(["", "10.0.0.1"]),
        st.integers(0, 3),
        st.integers(0, 3000),
        st.integers(0, 599),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=30,
)


def _edges(buf: DeltaBuffer) -> dict[tuple[str, VertexRef, VertexRef, str], EdgeDelta]:
    return {(e.label, e.src, e.dst, e.qualifier): e for e in buf.take("g", []).edges}


@given(observations, st.integers(1, 3), st.booleans())
def test_count_hours_equals_counting_each_hour_from_each_source(
    obs: list[tuple[int, str, int, int, int, int, int]], n_sources: int, seeded: bool
) -> None:
    sources = SOURCES[:n_sources]
    folded, plain = DeltaBuffer(), DeltaBuffer()
    if seeded:  # an edge already in the buffer: count_hours widens it and adds into its rows
        for buf in (folded, plain):
            buf.count(CALLED, sources[0], TARGETS[0][1], "", 5 * H + 10, 5 * H + 20, (1, 1))
            buf.count(CALLED, sources[0], TARGETS[0][1], "", 1 * H + 7, 1 * H + 9, (2, 0))
    # (target, qualifier) -> [first, last, {hour: [count 0, count 1]}], as expand folds them
    grouped: dict[tuple[int, str], list[Any]] = {}
    for target, qualifier, hour, offset, span, good, bad in obs:
        first = hour * H + offset
        last = first + span
        label, dst = TARGETS[target]
        for src in sources:
            plain.count(label, src, dst, qualifier, first, last, (good, bad))
        entry = grouped.setdefault((target, qualifier), [first, last, {}])
        entry[0], entry[1] = min(entry[0], first), max(entry[1], last)
        row = entry[2].setdefault(hour * H, [0, 0])
        row[0] += good
        row[1] += bad
    for (target, qualifier), (first, last, by_hour) in grouped.items():
        label, dst = TARGETS[target]
        folded.count_hours(label, sources, dst, qualifier, first, last, by_hour)
    assert folded.hour_rows == plain.hour_rows
    mine, theirs = _edges(folded), _edges(plain)
    assert mine.keys() == theirs.keys()
    for key, ed in theirs.items():
        got = mine[key]
        assert (got.first, got.last, got.hours) == (ed.first, ed.last, ed.hours)


def test_count_hours_copies_the_counts() -> None:
    """The caller's rows are not the edges': counting into an edge later leaves them alone,
    whether the edge was new, gained disjoint hours or gained an hour beside one it had."""
    buf = DeltaBuffer()
    api = TARGETS[0][1]
    new = {0: [1, 0]}
    buf.count_hours(CALLED, SOURCES, api, "", 10, 20, new)  # three new edges
    disjoint = {H: [5, 5]}
    buf.count_hours(CALLED, SOURCES[1:2], api, "", H, H, disjoint)
    beside = {0: [1, 1], 2 * H: [3, 3]}
    buf.count_hours(CALLED, SOURCES[2:], api, "", 0, 2 * H, beside)
    again = {0: [1, 0], H: [1, 0], 2 * H: [1, 0]}
    for src in SOURCES:  # adds into every row above
        buf.count_hours(CALLED, (src,), api, "", 0, 2 * H, again)
    assert (new, disjoint, beside) == ({0: [1, 0]}, {H: [5, 5]}, {0: [1, 1], 2 * H: [3, 3]})
    hours = {e.src: e.hours for e in buf.take("g", []).edges}
    assert hours == {
        SOURCES[0]: {0: [2, 0], H: [1, 0], 2 * H: [1, 0]},
        SOURCES[1]: {0: [2, 0], H: [6, 5], 2 * H: [1, 0]},
        SOURCES[2]: {0: [3, 1], H: [1, 0], 2 * H: [4, 3]},
    }
