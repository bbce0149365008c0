"""VPC Flow Logs: to graph. Records become hourly FLOW deltas, aggregated before any write.

A file is aggregated on its own first, and only a file that parsed to its end is merged into the
batch (`CloudTrailDeltas.flows`), so a corrupt tail stages nothing. Text and Parquet blocks are
split, validated and aggregated column-wise (loaders/vpcflow_columns.py; text blocks by the
native core when it is built, loaders/vpcflow_native.py, by the same rules); the rows the arrays
cannot vouch for, and JSON records, take the per-record loop below, one dict operation per record
with fields validated once per distinct raw tuple. Both kinds of aggregates are then staged
together (loaders/vpcflow_stage.py), interfaces in first-seen order; `expand_flows` there turns a
batch's flows into FLOW edge rows.

Graph shape (see graph/model.py):
- FLOW NetworkInterface → remote IpAddress, counted per hour with bytes_in, bytes_out,
  packets_in, packets_out; qualifier `<protocol>/<local port>/<remote port>/<direction>/<action>`
  ("-" for a field the format lacks or AWS left empty); first/last observed = start/end.
- The same FLOW edge for the Ec2Instance (a rollup) when the record names it (`instance-id`,
  v3+), with HAS_INTERFACE instance → interface; interface and instance BELONGS_TO `account-id`.
- ENI → instance mappings that only CloudTrail knows (RunInstances, CreateNetworkInterface,
  AttachNetworkInterface) stay HAS_INTERFACE edges and are *not* used to write rollups at load
  time: what a lookup finds depends on which files were loaded before and on batch boundaries,
  and a load killed and run again must end with the graph an uninterrupted load writes. Readers
  get an instance's traffic as the FLOW edges of its interfaces (HAS_INTERFACE in the hour);
  the instance's own FLOW edges are the in-file subset of that, never to be added to it.

Membership (loaders/graphs.py): when a load routes records to graphs by account, a file's
aggregates are split by account (`account-id`, else the file's `AWSLogs/<account>/` path) just
before staging, and each set of target graphs gets one `stage` call (`FileFlows.commit`).

Direction (`ingress` = packets into the interface, counted as *_in): `flow-direction` (v5) when
present. Otherwise the interface's own address decides: among a file's records of an interface
the interface's address is in every record, a peer only in some, so the endpoint seen in more
of the interface's records is local. Ties (every record between the same two hosts) go to the
private address (interfaces carry VPC addresses; NAT hides the public one), then to the
destination. The decision is per unordered address pair, so a connection's two halves agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np

from loaders import vpcflow_native
from loaders.cloudtrail import RecordError
from loaders.collector import collector_paused
from loaders.graphs import RoutedStaging
from loaders.vpcflow import Chunk, FlowFormat, read_flows, region_of
from loaders.vpcflow_columns import (
    Block,
    Groups,
    Layout,
    Split,
    aggregate,
    split_columns,
    split_text,
)
from loaders.vpcflow_fields import (
    KEY_FIELDS,
    MAX_COUNTER,
    MAX_EPOCH,
    VOCABS,
    FlowKey,
    checkpoint,
    decode,
    key_cache,
    key_ids,
    number_problem,
    problem,
)
from loaders.vpcflow_stage import stage

_ACCOUNT, _REGION = KEY_FIELDS.index("account-id"), KEY_FIELDS.index("region")

if TYPE_CHECKING:
    from loaders.cloudtrail_graph import CloudTrailDeltas
    from loaders.objects import ObjectResult
    from loaders.sources import ByteStream, SourceObject

_SKIP_STATUS = frozenset({b"NODATA", b"SKIPDATA"})


class _Plan:
    """How records of one format are cut: field positions and the key getter."""

    def __init__(self, fmt: FlowFormat, region: str | None) -> None:
        self.width = len(fmt.fields)
        idx = fmt.fields.index  # parse_format made sure of the required fields
        self.start, self.packets, self.bytes = idx("start"), idx("packets"), idx("bytes")
        end = fmt.index("end")
        self.end = self.start if end is None else end
        self.status = fmt.index("log-status")
        self.numbers = (
            ("start", self.start),
            ("end", self.end),
            ("packets", self.packets),
            ("bytes", self.bytes),
        )
        self.src, self.dst = fmt.fields.index("srcaddr"), fmt.fields.index("dstaddr")
        self.names = [f for f in KEY_FIELDS if f in fmt.fields]
        self.key = itemgetter(*(fmt.fields.index(f) for f in self.names))
        self.region = region
        # raw → key, or the error message: shared by every file of the same format, since
        # interfaces and peers recur from one 5-minute file to the next
        self.keys = key_cache(tuple(self.names), region)
        # (raw, hour) -> [packets, bytes, records, first start, last end, position in the file]
        self.agg: dict[tuple[tuple[bytes, ...], int], list[int]] = {}
        self.layout = Layout(fmt)  # for the columnar path


class FileFlows:
    """One file's records, aggregated; `commit` hands them to the batch. `columnar=False` keeps
    every record on the per-record path (the reference the columnar path is tested against);
    `native=False` splits text blocks with pyarrow, not the native core (loaders/vpcflow_native.py;
    None: the core when it is built and enabled)."""

    def __init__(self, where: str, *, columnar: bool = True, native: bool | None = None) -> None:
        self.plans: dict[tuple[FlowFormat, str | None], _Plan] = {}
        self.records = self.loaded = self.skipped = 0
        self.errors: list[str] = []
        self.where = where
        self.columnar = columnar
        self.native = vpcflow_native.ENABLED if native is None else native
        self.blocks: list[Groups] = []  # aggregates of the columnar path
        self.position = 0  # of the next chunk's first row in the file (first-seen order)
        checkpoint()

    def add(self, chunk: Chunk) -> None:
        plan = self.plans.get((chunk.fmt, chunk.region))
        if plan is None:
            plan = self.plans[(chunk.fmt, chunk.region)] = _Plan(chunk.fmt, chunk.region)
        split: Split | None = None
        block: Block | None = None
        if self.columnar and chunk.region is None:  # text and Parquet chunks
            if chunk.text is not None:
                if self.native:
                    block = vpcflow_native.aggregate_text(
                        plan.layout, chunk.text, chunk.header, self.position
                    )
                if block is None:
                    split = split_text(chunk.text, plan.width, chunk.header)
            elif chunk.columns is not None:
                split = split_columns(chunk.columns)
        if block is None:
            if split is None:
                self.position += self._add_rows(plan, chunk, enumerate(chunk.rows))
                return
            block = aggregate(plan.layout, split, self.position)
        self.records += block.records
        self.loaded += block.loaded
        self.skipped += block.skipped
        if block.groups is not None:
            self.blocks.append(block.groups)
        if block.fallback:
            self._add_rows(plan, chunk, _fields(chunk, block.fallback))
        self.position += block.lines

    def _add_rows(self, plan: _Plan, chunk: Chunk, rows: Iterable[tuple[int, list[bytes]]]) -> int:
        """Aggregate records one by one (kept free of calls per record); returns the number of
        positions the rows spanned."""
        width, status, keyof, agg, keys = plan.width, plan.status, plan.key, plan.agg, plan.keys
        i_start, i_end, i_packets, i_bytes = plan.start, plan.end, plan.packets, plan.bytes
        base = self.position
        records = loaded = skipped = 0
        i = -1
        for i, f in rows:
            if len(f) != width:
                if not f:
                    continue  # a blank line
                records += 1
                self._error(chunk, i, f"expected {width} fields, found {len(f)}")
                continue
            records += 1
            if status is not None and f[status] != b"OK" and f[status] != b"-":
                if f[status] in _SKIP_STATUS:
                    skipped += 1  # no traffic in the window, or records AWS had to drop
                else:
                    self._error(
                        chunk, i, problem("log-status", "not OK, NODATA or SKIPDATA", f[status])
                    )
                continue
            try:
                start, end = int(f[i_start]), int(f[i_end])
                packets, nbytes = int(f[i_packets]), int(f[i_bytes])
            except ValueError:
                if status is None and f[plan.src] == f[plan.dst] == b"-":
                    skipped += 1  # NODATA/SKIPDATA of a format without log-status
                else:
                    self._error(chunk, i, number_problem(plan.numbers, f))
                continue
            if (
                start < 0
                or end < start
                or end > MAX_EPOCH
                or not 0 <= packets <= MAX_COUNTER
                or not 0 <= nbytes <= MAX_COUNTER
            ):
                self._error(chunk, i, number_problem(plan.numbers, f))
                continue
            raw = keyof(f)
            hour = start - start % 3600
            acc = agg.get((raw, hour))
            if acc is None:
                key = keys.get(raw)
                if key is None:
                    key = keys[raw] = decode(plan.names, raw, plan.region)
                if type(key) is str:
                    self._error(chunk, i, key)
                    continue
                agg[(raw, hour)] = [packets, nbytes, 1, start, end, base + i]
            else:
                acc[0] += packets
                acc[1] += nbytes
                acc[2] += 1
                if start < acc[3]:
                    acc[3] = start
                if end > acc[4]:
                    acc[4] = end
            loaded += 1
        self.records += records
        self.loaded += loaded
        self.skipped += skipped
        return i + 1

    def _error(self, chunk: Chunk, i: int, message: str) -> None:
        self.errors.append(f"{chunk.where(i)}: {message}")

    def groups(self) -> Groups | None:
        """Every aggregate of the file, columnar and per-record, in one table."""
        ids: list[list[int]] = []
        numbers: list[list[int]] = []
        for plan in self.plans.values():
            for (raw, hour), acc in plan.agg.items():
                k = plan.keys[raw]
                assert isinstance(k, FlowKey)  # bad keys never get an aggregate
                ids.append(key_ids(k))
                numbers.append([hour, *acc])
        parts = list(self.blocks)
        if numbers:
            try:
                table = np.array(numbers, dtype=np.int64)
            except OverflowError:
                # counters or times beyond int64 (the per-record path takes any digits): kept
                # as exact Python ints, as the per-record loader always kept them
                table = np.array(numbers, dtype=object)
            hour, packets, nbytes, n, first, last, seq = table.T
            parts.append(
                Groups(
                    np.array(ids, dtype=np.int64),
                    hour,
                    packets,
                    nbytes,
                    n.astype(np.int64),
                    first,
                    last,
                    seq.astype(np.int64),
                )
            )
        if len(parts) < 2:
            return parts[0] if parts else None
        return Groups(
            np.concatenate([p.ids for p in parts]),
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("hour", "packets", "nbytes", "n", "first", "last", "seq")
            ),
        )

    def commit(self, deltas: CloudTrailDeltas, obj: SourceObject) -> tuple[str | None, str | None]:
        """Merge the file into `deltas` (only once it has parsed to its end); returns the first
        record's account and region."""
        account_hint, region_hint = obj.account_hint, region_of(obj.uri)
        if isinstance(deltas, RoutedStaging):
            return self._commit_routed(deltas, account_hint, region_hint)
        # (not counted in deltas.events: a batch's flows are bounded by LoadOptions.batch_flows)
        groups = self.groups()
        if groups is None:
            return account_hint, region_hint
        return stage(groups, deltas, account_hint, region_hint)

    def _commit_routed(
        self, staging: RoutedStaging, account_hint: str | None, region_hint: str | None
    ) -> tuple[str | None, str | None]:
        """Membership routing: the file's aggregates split by account (`account-id`, else the
        file's `AWSLogs/<account>/` path), each set of target graphs staged once into its own
        part of the batch; the records of accounts no graph takes move from loaded to skipped.

        An interface belongs to one account, so every entry of an interface stays in one part
        and direction inference (per interface, over the file) sees what it sees unrouted."""
        groups = self.groups()
        if groups is None:
            return account_hint, region_hint
        vocab = VOCABS["account-id"]
        account = groups.ids[:, _ACCOUNT]
        account = np.where(account == vocab.id(None), vocab.id(account_hint), account)
        ids, which = np.unique(account, return_inverse=True)
        which = which.reshape(-1)
        records = np.bincount(which, weights=groups.n, minlength=len(ids)).astype(np.int64)
        wanted: dict[frozenset[str], list[int]] = {}
        dropped = 0
        for k, (aid, n) in enumerate(zip(ids.tolist(), records.tolist(), strict=True)):
            name = vocab.values[aid]
            targets = staging.targets_of(name)
            staging.counted(name, n, targets)
            if targets:
                wanted.setdefault(targets, []).append(k)
            else:
                dropped += n
        self.loaded -= dropped
        self.skipped += dropped
        first: tuple[int, tuple[str | None, str | None]] | None = None
        for targets, accounts in wanted.items():
            subset = groups if len(ids) == 1 else groups.take(np.isin(which, accounts))
            part = staging.part(targets)
            staged = stage(subset, part, account_hint, region_hint)
            seq = int(subset.seq.min())
            if first is None or seq < first[0]:
                first = seq, staged
        if first is not None:
            return first[1]
        head = int(np.argmin(groups.seq))  # nothing staged: the first record's account
        region = VOCABS["region"].values[int(groups.ids[head, _REGION])]
        return vocab.values[int(account[head])], region or region_hint


def _fields(chunk: Chunk, rows: list[int]) -> Iterable[tuple[int, list[bytes]]]:
    """The fields of the given rows of a block, as the per-record path reads them."""
    if chunk.text is not None:
        lines = chunk.text.split(b"\n")
        return ((i, lines[i].split()) for i in rows)
    columns = chunk.columns or []
    return ((i, [col[i].as_py() for col in columns]) for i in rows)


def stage_flow_file(
    res: ObjectResult,
    obj: SourceObject,
    deltas: CloudTrailDeltas,
    stream: ByteStream,
    flow_format: str | None,
    *,
    columnar: bool = True,
    native: bool | None = None,
) -> None:
    """Stage every record of one flow file into `deltas`; fill res.records/loaded/skipped,
    res.errors ("<where>: <message>" per bad record), res.first_account/first_region.
    Raise loaders.cloudtrail.FileError when the file as a whole is unusable."""
    flows = FileFlows(obj.uri, columnar=columnar, native=native)
    # The aggregates are many small lists and tuples that live until the file is staged; the
    # cyclic GC would scan them again and again (40% of the time) and they hold no cycles.
    with collector_paused():
        for item in read_flows(stream, flow_format):
            if type(item) is Chunk:
                flows.add(item)
            elif type(item) is RecordError:
                flows.records += 1
                flows.errors.append(f"{item.where}: {item.message}")
            else:
                flows.records += 1
                flows.skipped += 1
        res.first_account, res.first_region = flows.commit(deltas, obj)
        # after commit: membership routing moves records of accounts no graph takes to skipped
        res.records, res.loaded, res.skipped = flows.records, flows.loaded, flows.skipped
        res.errors.extend(flows.errors)
