"""The batched writer's write script: creating and upserting elements through JanusGraph's API.

One statically compiled Groovy function (`WRITE`; Gremlin Server compiles a script once and
caches it by its text) runs per request, in the writer's session and transaction, between its
bytecode requests; the session's commit commits it all. It takes three lists (the bindings):
- vertices that cannot exist yet (a look-up at the start of the transaction did not find them):
  `graph.addVertex(T.id, id, T.label, label, k, v, ...)`. JanusGraph refuses an id that exists
  ("Vertex with given id already exists"), which the script turns into the writer's `CONTENDED`
  failure: another writer committed the vertex meanwhile, so the transaction rolls back and the
  batch is written again with nothing taken as new;
- edges with such an endpoint: they cannot exist before the transaction, and a batch holds each
  edge once, so they are added without a look-up;
- edges between existing vertices: looked up (label, ends, `q`, and `hour` through the
  vertex-centric index), their counts added (saturating at COUNTER_MAX = Long.MAX_VALUE, as
  SQLite's writer does) and first/last widened, or created when not found.
A request looks up all its edges before it changes any: a vertex's query in JanusGraph also
filters, one by one, the relations that the transaction has added to the vertex, so a look-up
after a thousand additions on the same vertex costs ~0.4 ms instead of ~50 µs (the writer sends
these edges first in the transaction, grouped by source vertex, for the same reason).
Each item carries the values a new element takes — the ones the `mergeV`/`mergeE` maps carried
before, identity keys included — so reads and `gumshoe export` see the same elements.

The server must evaluate Groovy scripts in sessions, as it already must for the schema (installed
by a management script, graph.janusgraph_schema) and for transactions: the official image's
server configuration does both.

Against those merges, on the local server (bench.janusgraph_write, docker/janusgraph/NOTES.md):
new elements about 4,700 → 16,000 elements/s (dynamic Groovy managed 12,400: the compiled
function does no per-element dispatch), edges between existing vertices about 4,000 → 10,000+.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graph.batch import EdgeDelta, VertexDelta
from graph.janusgraph_schema import COUNTERS, HOURLY
from graph.model import COUNTER_MAX

# the message of the failure that aborts a create whose element already exists (kept equal to
# the merges' `fail()` message: write_batch recognises one text)
CONTENDED = "gumshoe: element created by another writer during this transaction"

# vs: [[id, label, {property: value}]] vertices to create; es: [[out id, in id, label,
# {property: value}]] edges to create; us: edges of the same shape to add into (created when not
# found). The property maps are the values a new element takes; for an existing edge, its `c*`
# are the deltas and `first`/`last` (summary edges) widen the stored span.
WRITE = f"""
import org.apache.tinkerpop.gremlin.structure.Direction
import org.apache.tinkerpop.gremlin.structure.Edge
import org.apache.tinkerpop.gremlin.structure.Graph
import org.apache.tinkerpop.gremlin.structure.T
import org.apache.tinkerpop.gremlin.structure.Vertex
import org.janusgraph.core.JanusGraphVertex
import org.janusgraph.core.JanusGraphVertexQuery

@groovy.transform.CompileStatic
int gumshoeWrite(Graph graph, List vs, List es, List us) {{
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
  // every look-up before any change: a vertex's query also filters the relations this
  // transaction added to it, one by one (see the module's notes)
  Edge[] stored = new Edge[us.size()]
  int i = 0
  for (Object o in us) {{
    List r = (List) o
    JanusGraphVertex out = (JanusGraphVertex) end(graph, ends, r[0])
    stored[i++] = lookup(out, end(graph, ends, r[1]), (String) r[2], (Map) r[3])
  }}
  i = 0
  for (Object o in us) {{
    List r = (List) o
    Edge e = stored[i++]
    if (e == null) {{
      Vertex out = end(graph, ends, r[0])
      out.addEdge((String) r[2], end(graph, ends, r[1]), keyValues((Map) r[3], 0))
    }} else {{
      addInto(e, (Map) r[3])
    }}
  }}
  return vs.size() + es.size() + us.size()
}}

@groovy.transform.CompileStatic
Edge lookup(JanusGraphVertex out, Vertex inV, String label, Map p) {{
  JanusGraphVertexQuery query = (JanusGraphVertexQuery) out.query().labels(label)
      .direction(Direction.OUT).adjacent(inV).has('q', p.get('q'))
  Object hour = p.get('hour')
  if (hour != null) {{
    query = (JanusGraphVertexQuery) query.has('hour', ((Number) hour).longValue())
  }}
  Iterator<? extends Edge> found = query.edges().iterator()
  return found.hasNext() ? found.next() : null
}}

@groovy.transform.CompileStatic
void addInto(Edge e, Map p) {{
  if (p.containsKey('first')) {{
    long first = ((Number) p.get('first')).longValue()
    long last = ((Number) p.get('last')).longValue()
    if (first < ((Number) e.value('first')).longValue()) e.property('first', first)
    if (last > ((Number) e.value('last')).longValue()) e.property('last', last)
  }}
  for (String c in ['c0', 'c1', 'c2', 'c3']) {{
    long delta = ((Number) p.get(c)).longValue()
    if (delta == 0L) continue
    long stored = ((Number) e.value(c)).longValue()
    // saturating at Long.MAX_VALUE (COUNTER_MAX) as SQLite's writer does; the addition wraps
    e.property(c, stored > Long.MAX_VALUE - delta ? Long.MAX_VALUE : stored + delta)
  }}
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

gumshoeWrite(graph, vs, es, us)
"""
# the bindings of WRITE: every request names all three, two of them empty
CREATE_VERTICES, CREATE_EDGES, UPSERT_EDGES = "vs", "es", "us"
BINDINGS = (CREATE_VERTICES, CREATE_EDGES, UPSERT_EDGES)


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


def vertex_item(graph: str, vd: VertexDelta, vid: str) -> list[Any]:
    """A vertex to create (`vid`: its vertex id)."""
    return [vid, vd.label, vertex_values(graph, vd)]


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
