"""Entities: find one by any of its identifiers, search many, look many up at once.

Identifiers follow Detective's search keys (graph.model declares them per label): the key
(principal id, session id, instance id, address, ...) and the label's search terms (name, ARN, a
session's role name). Search is case-sensitive, matches prefixes and takes `*` as a wildcard.
Archived findings are hidden unless asked for, as in Detective, which never ingests them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.services.errors import InvalidInput
from graph.model import FINDING, VERTEX_TYPES, VertexRef
from graph.store import GraphReads, Vertex

MAX_PAGE = 200
DEFAULT_PAGE = 20
# pages of findings read to fill one page with unarchived ones; past this the page is short and
# the cursor resumes the scan, so that a search never reads without bound
_SCAN_PAGES = 5
# candidates read to resolve an exact name or ARN (names are unique per account, and Detective
# graphs hold at most 1,200 accounts)
_EXACT_CANDIDATES = 2000


@dataclass(frozen=True, slots=True)
class SearchResult:
    vertices: list[Vertex]
    next_after: str | None  # resume key of the scan; None on the last page


def is_archived(v: Vertex) -> bool:
    return v.label == FINDING and v.props.get("archived") is True


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"page size `first` must be between 1 and {MAX_PAGE}, got {first}")


def get_vertices(
    *, store: GraphReads, graph: str, refs: Sequence[VertexRef]
) -> dict[VertexRef, Vertex]:
    return store.vertices(graph, refs) if refs else {}


def find_entity(*, store: GraphReads, graph: str, label: str, identifier: str) -> Vertex | None:
    """The entity whose key, or else whose name, ARN or other search term, is `identifier`.

    Raises InvalidInput when a name matches several entities (the same user name in two
    accounts): the key or the ARN then says which one."""
    if not identifier:
        return None
    found = store.vertices(graph, [VertexRef(label, identifier)])
    if found:
        return next(iter(found.values()))
    terms = VERTEX_TYPES[label].search
    if not terms or "*" in identifier:
        return None
    page = store.search(graph, label, identifier, limit=_EXACT_CANDIDATES)
    exact = [v for v in page.vertices if any(v.props.get(t) == identifier for t in terms)]
    if len(exact) > 1:
        keys = ", ".join(v.key for v in exact[:5])
        raise InvalidInput(
            f"{identifier!r} names {len(exact)} {label} entities ({keys}, ...): "
            "give the id or the ARN"
        )
    return exact[0] if exact else None


def search_entities(
    *,
    store: GraphReads,
    graph: str,
    label: str,
    query: str,
    first: int,
    after: str | None,
    include_archived: bool = False,
) -> SearchResult:
    """A page of entities matching `query`, ordered by key, after the key `after`."""
    check_page_size(first)
    if include_archived or label != FINDING:
        page = store.search(graph, label, query, limit=first, after=after)
        return SearchResult(page.vertices, page.next_after)
    out: list[Vertex] = []
    cursor = after
    for _ in range(_SCAN_PAGES):
        page = store.search(graph, label, query, limit=first, after=cursor)
        for v in page.vertices:
            if not is_archived(v):
                out.append(v)
                if len(out) == first:
                    more = v is not page.vertices[-1] or page.next_after is not None
                    return SearchResult(out, v.key if more else None)
        cursor = page.next_after
        if cursor is None:
            return SearchResult(out, None)
    return SearchResult(out, cursor)
