"""graph.sqlite_bulk.insert_rows: grouped INSERTs store exactly what one INSERT per row would."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.sqlite_bulk import ROWS_PER_STATEMENT, insert_rows

values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=5),
    st.binary(max_size=5),
)


def _table(width: int) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:", isolation_level=None)
    columns = ", ".join(f"v{i}" for i in range(width))
    con.execute(f"CREATE TABLE t (n INTEGER PRIMARY KEY, {columns})")
    return con


def _stored(con: sqlite3.Connection) -> list[tuple[object, ...]]:
    return con.execute("SELECT * FROM t ORDER BY rowid").fetchall()


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=4),
    count=st.sampled_from(
        [0, 1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, 2 * ROWS_PER_STATEMENT + 5]
    ),
    data=st.data(),
)
def test_grouped_rows_equal_row_by_row(width: int, count: int, data: st.DataObject) -> None:
    rows = [(n, *data.draw(st.tuples(*[values] * width))) for n in range(count)]
    grouped, single = _table(width), _table(width)
    insert_rows(grouped, "t", width + 1, iter(rows), count)
    single.executemany(f"INSERT INTO t VALUES ({', '.join('?' * (width + 1))})", rows)
    assert _stored(grouped) == _stored(single)
    assert len(_stored(grouped)) == count


def test_columns_zipped_and_a_column_list() -> None:
    con = _table(2)
    n = 3 * ROWS_PER_STATEMENT + 1
    insert_rows(con, "t(n, v1)", 2, zip(range(n), range(100, 100 + n), strict=True), n)
    assert _stored(con) == [(i, None, 100 + i) for i in range(n)]


def test_replace_verb_keeps_the_last_row_of_a_key() -> None:
    con = _table(1)
    rows = [(i % 10, i) for i in range(ROWS_PER_STATEMENT + 3)]
    insert_rows(con, "t", 2, rows, len(rows), verb="INSERT OR REPLACE")
    expected = dict(rows)
    assert _stored(con) == sorted(expected.items())


@pytest.mark.parametrize("count", [ROWS_PER_STATEMENT + 1, 2 * ROWS_PER_STATEMENT])
def test_a_count_above_the_rows_fails(count: int) -> None:
    # grouping would silently drop the short last group: the count check must catch it
    con = _table(1)
    rows = [(i, i) for i in range(count - 1)]
    with pytest.raises(ValueError, match=f"expected {count} rows of 2 values"):
        insert_rows(con, "t", 2, rows, count)


def test_a_count_below_the_rows_fails() -> None:
    con = _table(1)
    rows = [(i, i) for i in range(ROWS_PER_STATEMENT + 2)]
    with pytest.raises(ValueError, match=f"inserted {len(rows)}"):
        insert_rows(con, "t", 2, rows, len(rows) - 1)


def test_an_integer_past_int64_raises_overflow_as_row_by_row() -> None:
    # the writers catch OverflowError to saturate counters: the grouped insert must raise it too
    con = _table(1)
    rows = [(i, 2**63 if i == ROWS_PER_STATEMENT + 1 else i) for i in range(2 * ROWS_PER_STATEMENT)]
    with pytest.raises(OverflowError):
        insert_rows(con, "t", 2, rows, len(rows))
