"""Which JanusGraph server errors a load retries: a transaction that failed on a healthy server
for a passing reason (backend timeout, contended lock, evaluation timeout) is retried; a request
the server will always refuse is not (retrying it would only delay the error)."""

from __future__ import annotations

import pytest
from gremlin_python.driver.protocol import GremlinServerError

from graph.janusgraph import _transient, _unavailable


def _error(code: int, message: str) -> GremlinServerError:
    # what gremlinpython raises from a server response's status
    return GremlinServerError({"code": code, "message": message, "attributes": {}})


@pytest.mark.parametrize(
    "error",
    [
        _error(597, "org.janusgraph.diskstorage.TemporaryBackendException: Could not successfully"
                    " complete backend operation due to repeated temporary exceptions after PT10S"),
        _error(597, "Could not commit transaction due to exception during persistence"),
        _error(597, "org.janusgraph.diskstorage.locking.PermanentLockingException: Local lock"
                    " contention"),
        _error(598, "Evaluation exceeded the configured 'evaluationTimeout' threshold of 120000"
                    " ms"),
        _error(597, "com.datastax.oss.driver.api.core.DriverTimeoutException: Query timed out"
                    " after PT2S"),
    ],
)  # fmt: skip
def test_passing_server_failures_are_retried(error: GremlinServerError) -> None:
    assert _transient(error)


@pytest.mark.parametrize(
    "error",
    [
        _error(499, "The traversal source [g] for alias [g] is not configured on the server."),
        _error(597, "Property Key with given name does not exist: nope"),
        _error(597, "Custom string id contains reserved string (-)"),
        _error(599, "Error during serialization: not a known type"),
    ],
)
def test_requests_the_server_always_refuses_are_not(error: GremlinServerError) -> None:
    assert not _transient(error) and not _unavailable(error)


@pytest.mark.parametrize(
    "message",
    [
        # each seen from a server restarted in the middle of a load (tests/integration's restart
        # tests); the transaction rolled back, so the loader reconnects and writes it again
        "The transaction has already been closed",
        "The transaction is closed",
        "Graph has been shut down",
        'Cannot invoke "org.janusgraph.graphdb.types.TypeDefinitionMap.getValue()"',
        "Vertex with id 123 was removed",
        "java.lang.IllegalStateException: Session is closed",
    ],
)
def test_a_server_shutting_down_is_a_lost_connection(message: str) -> None:
    assert _unavailable(_error(500, message))


def test_only_server_errors_are_transient() -> None:
    assert not _transient(RuntimeError("timed out"))
    assert _unavailable(ConnectionRefusedError("refused"))  # handled as a lost connection
