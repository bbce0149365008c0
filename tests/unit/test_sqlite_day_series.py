"""The SQLite store's day series (graph.sqlite_days) always equal the sums of its hourly rows:
after any sequence of batches, after retention cuts a day in two, after a graph is deleted, and
after a file written before they existed is opened. Their sums are checked here against sums
computed in Python from `edge_hours` (not through graph.sqlite_days)."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import sqlite_days
from graph.batch import DeltaBuffer, LedgerEntry
from graph.membership import DAY
from graph.model import ACCOUNT, API, CALLED, COUNTER_MAX, HOUR, IP, ROLE, USED_IP, VertexRef
from graph.sqlite import SqliteStore
from graph.store import Direction, GraphInfo

GRAPH = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32
OTHER = "arn:aws:detective:us-east-1:111122223333:graph:" + "b" * 32
D0 = 1_709_596_800 - 1_709_596_800 % DAY  # a UTC midnight
PRINCIPALS = [VertexRef(ROLE, "AROAEXAMPLE000001"), VertexRef(ACCOUNT, "111122223333")]
APIS = [VertexRef(API, f"s3.amazonaws.com:{m}") for m in ("GetObject", "PutObject", "ListBuckets")]
IPS = ["198.51.100.1", "198.51.100.2", "203.0.113.7"]

Days = dict[tuple[int, str, int, int], dict[int, tuple[int, ...]]]


def _expected(con: sqlite3.Connection) -> Days:
    sums: dict[tuple[int, str, int, int], dict[int, list[int]]] = {}
    for src, label, dst, hour, c0, c1 in con.execute(
        "SELECT e.src, e.label, e.dst, h.hour, h.c0, h.c1 FROM edges e"
        " JOIN edge_hours h ON h.edge = e.id WHERE e.label = 'CALLED'"
    ):
        day = hour - hour % DAY
        cell = sums.setdefault((src, label, day, dst), {}).setdefault((hour - day) // HOUR, [0, 0])
        cell[0] += c0
        cell[1] += c1
    return {
        k: {h: tuple(min(v, COUNTER_MAX) for v in c) for h, c in hours.items()}
        for k, hours in sums.items()
    }


def _stored(con: sqlite3.Connection) -> Days:
    out: Days = {}
    for src, label, day, dst, blob in con.execute("SELECT * FROM day_series"):
        entries = list(struct.iter_unpack("<Bqq", blob))
        hours = [h for h, *_ in entries]
        assert hours == sorted(set(hours)) and all(0 <= h < 24 for h in hours)
        out[(src, label, day, dst)] = {h: tuple(c) for h, *c in entries}
    return out


def _check(store: SqliteStore) -> Days:
    con = sqlite3.connect(store.path)
    try:
        expected, stored = _expected(con), _stored(con)
    finally:
        con.close()
    assert stored == expected
    return stored


Call = tuple[int, int, int, int, int, int]  # principal, api, ip, hour offset, success, failed

calls = st.tuples(
    st.integers(0, len(PRINCIPALS) - 1),
    st.integers(0, len(APIS) - 1),
    st.integers(0, len(IPS) - 1),
    st.integers(0, 3 * 24 - 1),
    st.one_of(st.integers(0, 50), st.just(COUNTER_MAX), st.just(COUNTER_MAX - 1)),
    st.integers(0, 5),
)


def _write(store: SqliteStore, graph: str, batch: list[Call], n: int) -> None:
    buf = DeltaBuffer()
    for p, a, ip, offset, ok, failed in batch:
        ts = D0 + offset * HOUR + 17
        buf.edge(CALLED, PRINCIPALS[p], APIS[a], ts, (ok, failed), qualifier=IPS[ip])
        # other labels stay out of the day series
        buf.edge(USED_IP, PRINCIPALS[p], VertexRef(IP, IPS[ip]), ts, (ok, failed))
    entry = LedgerEntry(f"s3://b/{n}", "v1", 1, "loaded", "cloudtrail", 1, 1, 0, (), D0)
    store.write(buf.take(graph, [entry]))


def _store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    for arn in (GRAPH, OTHER):
        store.create_graph(GraphInfo(arn, "111122223333", D0))
    return store


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(calls, min_size=1, max_size=12), min_size=1, max_size=5),
    cut=st.integers(1, 3 * 24 - 1),
)
def test_day_series_are_the_sums_of_the_hours_after_writes_retention_and_deletes(
    tmp_path_factory: object, batches: list[list[Call]], cut: int
) -> None:
    path = tmp_path_factory.mktemp("days") / "s.db"  # type: ignore[attr-defined]
    store = _store(path)
    for n, batch in enumerate(batches):
        _write(store, GRAPH, batch, n)
        _write(store, OTHER, batch[::-1], n)
    _check(store)
    # a cutoff inside a day: that day's row keeps only the hours after it
    store.expire(GRAPH, D0 + cut * HOUR)
    _check(store)
    store.delete_graph(OTHER)
    stored = _check(store)
    assert all(
        day + max(hours) * HOUR >= D0 + cut * HOUR for (_, _, day, _), hours in stored.items()
    )
    store.close()


def test_series_by_other_reads_the_day_series_like_the_hours(tmp_path: Path) -> None:
    """Reads over ranges that start and end inside days, with saturated sums: the same as
    `series` per (principal, API) summed over source addresses."""
    store = _store(tmp_path / "s.db")
    rng = np.random.default_rng(7)
    batch = [
        (int(p), int(a), int(ip), int(h), int(ok), int(f))
        for p, a, ip, h, ok, f in zip(
            rng.integers(0, 2, 300), rng.integers(0, 3, 300), rng.integers(0, 3, 300),
            rng.integers(0, 72, 300), rng.integers(0, 9, 300), rng.integers(0, 3, 300),
            strict=True,
        )
    ]  # fmt: skip
    batch += [(0, 0, 0, 30, COUNTER_MAX, 0), (0, 0, 1, 30, COUNTER_MAX, 1)]
    _write(store, GRAPH, batch, 0)
    _check(store)
    for start, end in ((D0, D0 + 3 * DAY), (D0 + 5 * HOUR, D0 + 2 * DAY + 7 * HOUR + 1)):
        got = store.series_by_other(
            GRAPH, PRINCIPALS, CALLED, direction=Direction.OUT, start=start, end=end
        )
        hours = -(-(end - start) // HOUR)
        for p in PRINCIPALS:
            for api in APIS:
                rows = store.series(
                    GRAPH, [p], CALLED, direction=Direction.OUT, start=start, end=end, others=[api]
                )[p]
                want = np.zeros((2, hours), dtype=np.int64)
                for hour, counts in rows:
                    want[:, (hour - start) // HOUR] = counts
                if rows:
                    assert np.array_equal(got[p][api], want)
                else:
                    assert api not in got.get(p, {})
    # two source addresses at the maximum in one hour: the sum saturates, it does not wrap
    saturated = store.series_by_other(
        GRAPH, [PRINCIPALS[0]], CALLED, direction=Direction.OUT, start=D0 + DAY, end=D0 + 2 * DAY
    )[PRINCIPALS[0]][APIS[0]]
    assert saturated[0, 6] == COUNTER_MAX and saturated.dtype == np.int64
    store.close()


def test_a_file_from_before_the_day_series_gets_them_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = _store(path)
    batch = [(p, a, ip, h, h + 1, h % 3) for p in (0, 1) for a in (0, 2) for ip in (0, 2)
             for h in range(0, 72, 5)]  # fmt: skip
    _write(store, GRAPH, batch, 0)
    before = _check(store)
    read = store.series_by_other(
        GRAPH, PRINCIPALS, CALLED, direction=Direction.OUT, start=D0, end=D0 + 3 * DAY
    )
    store.close()
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE day_series; UPDATE meta SET v = '1' WHERE k = 'schema';")
    con.close()
    again = SqliteStore(path)
    assert _check(again) == before
    con = sqlite3.connect(path)
    assert con.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone() == ("2",)
    con.close()
    reread = again.series_by_other(
        GRAPH, PRINCIPALS, CALLED, direction=Direction.OUT, start=D0, end=D0 + 3 * DAY
    )
    assert reread.keys() == read.keys()
    for p, by_api in read.items():
        assert by_api.keys() == reread[p].keys()
        assert all(np.array_equal(by_api[a], reread[p][a]) for a in by_api)
    again.close()


_ids = st.integers(0, 2**40) | st.integers(1, 50)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_ids, st.integers(-3, 400), _ids, st.integers(0, 23)), max_size=60),
)
def test_the_packed_sort_orders_entries_as_lexsort_does(
    rows: list[tuple[int, int, int, int]],
) -> None:
    # large ids too: past what one int64 can pack, the order falls back to lexsort
    columns = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(4)]
    src, day, dst, hod = columns
    day = D0 + day * DAY
    order = sqlite_days._order(src, day, dst, hod)
    reference = np.lexsort((hod, dst, day, src))
    keys = np.stack([src, day, dst, hod])
    assert (keys[:, order] == keys[:, reference]).all()
