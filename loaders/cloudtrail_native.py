"""CloudTrail S3 delivery objects staged by the native core (loaders/native, Rust).

Most CloudTrail objects are S3 deliveries of ordinary API calls. For them, building one Python
object per event (the typed decode) and counting it into its tuple (`CloudTrailDeltas.add_all`)
was most of a load's CPU. `loaders._native.Staging` decodes such an object in one pass and counts
its ordinary events into the same tuples without per-event Python objects (for a local file,
`stage_file`, it also reads, hashes and gunzips the file); Python keeps every rule that is not
plain counting:
- objects the core does not read (not UTF-8, not a delivery object, not valid JSON, fields of
  the wrong type; for files, anything but one whole gzip member) go to the Python path whole,
  with its error messages;
- events with relationships (`SPECIAL`), CreateBucket/DeleteBucket, S3 bodies that are not an
  object, missing fields and timestamps in other formats come back as fallback records, which
  `add_all` stages in file order, exactly as it would have;
- identities are resolved here before the object's tuples are committed, so an unusable
  userIdentity sends the whole object to the Python path (which reports the record) and leaves
  nothing staged.

`GUMSHOE_NATIVE=0` turns the core off (the Python path alone, for comparison); without the built
extension (a machine with no Rust toolchain) the Python path is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import msgspec

from graph.model import ACCESSED_BUCKET, AGENT, API, BUCKET, CALLED, USED_AGENT, USED_IP, VertexRef
from loaders.cloudtrail import EMPTY, Event, Item, checked
from loaders.cloudtrail_relations import SPECIAL
from loaders.jsonstream import WHOLE_LIMIT

if TYPE_CHECKING:
    from collections.abc import Callable

    from graph.batch import DeltaBuffer
    from loaders._native import _Scan
    from loaders.cloudtrail_graph import CloudTrailDeltas, Folded, Principals, Staged
    from loaders.identity import Principal
    from loaders.ip_refs import IpRefs

try:
    from loaders import _native
except ImportError:  # built without Rust: the Python path alone
    _native = None  # type: ignore[assignment]

BUILT = _native is not None
ENABLED = BUILT and os.environ.get("GUMSHOE_NATIVE", "1") != "0"
_SPECIAL = sorted(SPECIAL)
# the relationships of the core's folded edges, by number (loaders/native/src/fold.rs)
LABELS = (CALLED, USED_IP, USED_AGENT, ACCESSED_BUCKET)
_Raws = tuple[bytes | None, bytes | None, bytes | None]


def new_staging() -> _native.Staging:
    return _native.Staging(_SPECIAL)


def stage_delivery(
    deltas: CloudTrailDeltas, data: bytes, hint: str | None, errors: list[str]
) -> Staged | None:
    """Stage a delivery object's events into `deltas`; None when the object is not one the core
    reads (nothing staged: the caller reads it the Python way)."""
    native = _staging(deltas)
    return _stage(deltas, native, native.scan(data, hint), hint, errors)


def stage_file(
    deltas: CloudTrailDeltas,
    path: str,
    size: int,
    sniff: bool,
    hint: str | None,
    errors: list[str],
) -> tuple[int, str, Staged] | None:
    """`stage_delivery` of a local file the core reads, hashes and gunzips itself:
    `(size, version, staged)`, or None when it is not a plain CloudTrail delivery object (then
    nothing is staged and the caller reads the file the Python way, from the start). `sniff`:
    the load detects sources from content (the core applies `detect`'s CloudTrail rules);
    `size`: the file's size when listed (a file that has grown since is still read whole)."""
    native = _staging(deltas)
    read = native.scan_file(path, size, sniff, hint, WHOLE_LIMIT)
    if read is None:
        return None
    size_read, version, scan = read
    staged = _stage(deltas, native, scan, hint, errors)
    return None if staged is None else (size_read, version, staged)


def _staging(deltas: CloudTrailDeltas) -> _native.Staging:
    native = deltas.native
    if native is None:
        native = deltas.native = new_staging()
    return native


def _stage(
    deltas: CloudTrailDeltas,
    native: _native.Staging,
    scan: _Scan | None,
    hint: str | None,
    errors: list[str],
) -> Staged | None:
    from loaders.cloudtrail_graph import Staged

    if scan is None:
        return None
    records, loaded, fallback, identities, firsts, last = scan
    principals = deltas.principals
    try:
        for raw, recipient in identities:
            principals.get(raw, recipient)
    except ValueError:
        native.discard()
        return None
    native.commit()
    deltas.events += loaded
    out = Staged(records=records, loaded=loaded)
    # as add_all: the account and region of the first loaded record with an account, or the
    # region of the last loaded record when none has one
    first_index = last_index = None
    for index, recipient, raw, region in firsts:
        account = recipient or principals.get(raw, recipient).account
        if account is not None:
            first_index, out.first_account, out.first_region = index, account, region
            break
    if first_index is None and last is not None:
        last_index, out.first_region = last
    if fallback:
        _stage_fallback(deltas, native, fallback, hint, errors, out, first_index, last_index)
    return out


def _stage_fallback(
    deltas: CloudTrailDeltas,
    native: _native.Staging,
    fallback: list[tuple[int, tuple[str | None, ...], _Raws]],
    hint: str | None,
    errors: list[str],
    out: Staged,
    first_index: int | None,
    last_index: int | None,
) -> None:
    """Stage the records the core left to Python with `add_all`, in file order, then hand their
    tuples to the core after the object's own (so that the tuples of a batch stay in the order
    their objects were read, which the FIRST properties of a vertex follow)."""
    from loaders.cloudtrail_graph import CloudTrailDeltas

    apart = CloudTrailDeltas(deltas.principals)
    apart.direct = deltas.direct  # relationship events write straight into the batch's deltas
    for index, strings, raws in fallback:
        staged = apart.add_all((_item(index, strings, raws),), hint, errors, None, index)
        out.loaded += staged.loaded
        out.skipped += staged.skipped
        if not staged.loaded:
            continue
        if staged.first_account is not None:
            if first_index is None or index < first_index:
                first_index = index
                out.first_account, out.first_region = staged.first_account, staged.first_region
        elif first_index is None and (last_index is None or index > last_index):
            last_index, out.first_region = index, staged.first_region
    deltas.events += apart.events
    add = native.add
    for (p, hour, source, name, ip, agent, bucket, ok), (n, first, last) in apart.tuples.items():
        assert p.key is not None  # (every principal of add_all comes from the cache)
        add(p.key[0], p.key[1], hour, source, name, ip, agent, bucket, ok, n, first, last)


def _item(index: int, strings: tuple[str | None, ...], raws: _Raws) -> Item:
    """The item `delivery_items` yields for a fallback record."""
    when, stamp, p_time, source, name, region, ip, agent, error, recipient = strings
    identity, request, response = (EMPTY if r is None else msgspec.Raw(r) for r in raws)
    ev = Event(
        eventTime=when,
        timestamp=stamp,
        p_event_time=p_time,
        eventSource=source,
        eventName=name,
        awsRegion=region,
        sourceIPAddress=ip,
        userAgent=agent,
        errorCode=error,
        recipientAccountId=recipient,
        userIdentity=identity,
        requestParameters=request,
        responseElements=response,
    )
    return checked(ev, f"record {index}")


def drained(native: _native.Staging, principals: Principals) -> dict[tuple[Any, ...], list[int]]:
    """The core's staged tuples keyed by resolved principal, in the order they were staged; the
    core starts empty again. (Its keys are distinct, and so are their principals, one per
    (identity, recipient) in the cache: nothing merges here.)"""
    cache, principal_of = principals.cache, principals.get
    return {
        (cache.get((i, r)) or principal_of(i, r), hour, s, name, ip, ua, b, ok): [n, f, la]
        for i, r, hour, s, name, ip, ua, b, ok, n, f, la in native.drain()
    }


def folded(
    native: _native.Staging,
    principals: Principals,
    out: DeltaBuffer,
    ip_refs: Callable[[set[str]], IpRefs],
) -> tuple[IpRefs, *Folded]:
    """`CloudTrailDeltas.expand`'s folds of the core's tuples, run by the core: API vertices and
    edges go into `out`; returns the batch's IP vertices (`ip_refs` of the tuples' addresses)
    and what `CloudTrailDeltas._fold` returns. The core starts empty again.

    Python decides what the core's ids mean: the principal of each (userIdentity, recipient)
    and the vertices it rolls up to, and the address (if any) of each sourceIPAddress."""
    pairs, raw_ips = native.fold_keys()
    cache, principal_of = principals.cache, principals.get
    number: dict[int, int] = {}  # id(principal) -> its number
    people: list[Principal] = []
    principal: list[int] = []
    for identity, recipient in pairs:
        p = cache.get((identity, recipient)) or principal_of(identity, recipient)
        k = number.get(id(p))
        if k is None:
            k = number[id(p)] = len(people)
            people.append(p)
        principal.append(k)
    sources: dict[VertexRef, int] = {}
    rollups = [[sources.setdefault(t, len(sources)) for t in p.targets] for p in people]
    ips = ip_refs(set(filter(None, raw_ips)))
    addresses: dict[VertexRef, int] = {}
    address = [
        -1 if (ref := ips.ref(raw)) is None else addresses.setdefault(ref, len(addresses))
        for raw in raw_ips
    ]
    apis, targets, edges, principal_totals, address_totals = native.fold(
        principal, rollups, address
    )
    api_refs: dict[tuple[str, str], VertexRef] = {}
    for source, name, first, last in apis:
        api = api_refs[(source, name)] = VertexRef(API, f"{source}:{name}")
        out.vertex(api, first, last, {"service": source, "method": name})
    by_address, by_source = list(addresses), list(sources)
    dsts: list[VertexRef] = []
    spans: dict[VertexRef, list[int]] = {}
    for kind, a, b, first, last in targets:
        if kind == 0:  # (every API is a CALLED target)
            ref = api_refs[(a, b)]
        elif kind == 1:
            ref = by_address[a]
        else:
            ref = VertexRef(AGENT if kind == 2 else BUCKET, a)
        dsts.append(ref)
        spans[ref] = [0, first, last]
    add = out.add_counted
    for label, src, dst, qualifier, first, last, hours in edges:
        add(LABELS[label], by_source[src], dsts[dst], qualifier, first, last, hours)
    principal_hours = {(people[k], h): [n, f, la] for k, h, n, f, la in principal_totals}
    ip_hours = {(by_address[k].key, h): [n, f, la] for k, h, n, f, la in address_totals}
    return ips, principal_hours, ip_hours, spans
