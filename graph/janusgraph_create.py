"""Creating elements that cannot exist yet: one compiled server-side script per request.

The batched writer's create-only path (graph.janusgraph_writes, `write_batch`) covers vertices
that a look-up at the start of the transaction did not find, and every edge with such an
endpoint — most of a load. `mergeV`/`mergeE` with a `fail()` on match did that at about 4,700
elements/s on the local server (bench.janusgraph_write); the same elements added through
JanusGraph's own API by a statically compiled Groovy function (`CREATE`, compiled once: Gremlin
Server caches scripts by their text) go at about 16,000 — no traversal interpreted per element,
no dynamic dispatch (dynamic Groovy managed 12,400). Figures: docker/janusgraph/NOTES.md.

The function keeps the merges' guarantees: a vertex is added with its custom id, and JanusGraph
refuses an id that exists ("Vertex with given id already exists") — the script turns that
into the writer's `CONTENDED` failure, as the merge's `fail()` did, so the transaction rolls back
and the batch is written again with full merges. Edges need no such check: an endpoint was
created by this transaction, so the edge cannot exist before it, and a batch holds each edge
once. The script runs in the writer's session, inside its transaction, between its bytecode
requests; the session's commit commits it all.

Values are the ones the merges' `onCreate` maps carried (identity keys included: `q` and `hour`
of edges), so every read and `gumshoe export` see the same elements either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graph.batch import EdgeDelta, VertexDelta
from graph.janusgraph_schema import COUNTERS, HOURLY, vertex_id
from graph.model import COUNTER_MAX

# the message of the failure that aborts a create whose element already exists (kept equal to
# the merges' `fail()` message: write_batch recognises one text)
CONTENDED = "gumshoe: element created by another writer during this transaction"

# vs: [[id, label, {property: value}]], es: [[out id, in id, label, {property: value}]]
CREATE = f"""
import org.apache.tinkerpop.gremlin.structure.Graph
import org.apache.tinkerpop.gremlin.structure.T
import org.apache.tinkerpop.gremlin.structure.Vertex

@groovy.transform.CompileStatic
int gumshoeCreate(Graph graph, List vs, List es) {{
  for (Object o in vs) {{
    List r = (List) o
    Object[] kv = keyValues((Map) r[2], 4)
    kv[0] = T.id; kv[1] = r[0]; kv[2] = T.label; kv[3] = r[1]
    try {{
      graph.addVertex(kv)
    }} catch (RuntimeException e) {{
      if (e.message != null && e.message.contains('already exists')) {{
        throw new IllegalStateException('{CONTENDED}: ' + r[0])
      }}
      throw e
    }}
  }}
  Map<Object, Vertex> ends = new HashMap<Object, Vertex>()
  for (Object o in es) {{
    List r = (List) o
    Vertex out = end(graph, ends, r[0])
    out.addEdge((String) r[2], end(graph, ends, r[1]), keyValues((Map) r[3], 0))
  }}
  return vs.size() + es.size()
}}

@groovy.transform.CompileStatic
Vertex end(Graph graph, Map<Object, Vertex> ends, Object id) {{
  Vertex v = ends.get(id)
  if (v == null) {{
    Iterator<Vertex> found = graph.vertices(id)
    if (!found.hasNext()) {{
      throw new IllegalStateException('gumshoe: edge endpoint not found: ' + id)
    }}
    v = found.next()
    ends.put(id, v)
  }}
  return v
}}

@groovy.transform.CompileStatic
Object[] keyValues(Map props, int offset) {{
  Object[] kv = new Object[offset + 2 * props.size()]
  int i = offset
  for (Object o in props.entrySet()) {{
    Map.Entry e = (Map.Entry) o
    kv[i++] = e.key
    kv[i++] = e.value
  }}
  return kv
}}

gumshoeCreate(graph, vs, es)
"""


def clamped(counts: Any) -> dict[str, int]:
    """The four counters of an hour or a total, saturated at COUNTER_MAX (the server's longs)."""
    padded = (*counts, 0, 0, 0, 0)[:4]
    return dict(zip(COUNTERS, (min(c, COUNTER_MAX) for c in padded), strict=True))


def totals(ed: EdgeDelta) -> dict[str, int]:
    """An edge's all-time counters: the sums of its hours, saturated."""
    sums = [0, 0, 0, 0]
    for counts in ed.hours.values():
        for i, c in enumerate(counts):
            sums[i] += c
    return clamped(sums)


def vertex_values(graph: str, vd: VertexDelta) -> dict[str, Any]:
    """A new vertex's properties (None values are left out: JanusGraph stores no nulls)."""
    props = {k: v for k, v in vd.props.items() if v is not None}
    return {"graph": graph, "nkey": vd.key, "first": vd.first, "last": vd.last, **props}


def vertex_item(graph: str, vd: VertexDelta) -> list[Any]:
    return [vertex_id(graph, vd.label, vd.key), vd.label, vertex_values(graph, vd)]


def edge_items(graph: str, ed: EdgeDelta, src: str, dst: str) -> Iterator[list[Any]]:
    """The summary edge, then one hourly edge per hour (`src`, `dst`: the ends' vertex ids)."""
    q = ed.qualifier
    span = {"first": ed.first, "last": ed.last}
    yield [src, dst, ed.label, {"graph": graph, **span, **totals(ed), "q": q}]
    label = ed.label + HOURLY
    for hour, counts in ed.hours.items():
        yield [src, dst, label, {"graph": graph, **clamped(counts), "q": q, "hour": hour}]


Submit = Callable[[str, dict[str, Any]], None]


def session_submit(tx: Any) -> Submit:
    """A function that runs a script in the session of gremlinpython's transaction `tx` (begun):
    its requests share the transaction of the session's bytecode requests."""
    try:
        client = tx._session_based_connection._client
    except AttributeError as e:  # gremlinpython's internals moved (pinned <3.8 for this)
        raise RuntimeError("gremlinpython's Transaction has no session client") from e

    def submit(script: str, bindings: dict[str, Any]) -> None:
        client.submit(script, bindings).all().result()

    return submit
