"""Which behavior graphs a load writes into, and which of them takes each record.

- `--graph ARN`: that graph (created when missing, taking every account);
- otherwise the store's only graph; a store without graphs gets one at the first record, taking
  every account (a graph made by a load, as before membership existed);
- a store whose graphs were all made by CreateGraph: every one of them, each taking its own
  records (a store holding several graphs of which some take every account needs --graph).

Membership decides the rest (`Router`): a record goes to each target graph that takes every
account, or whose administrator or ENABLED member (with DETECTIVE_CORE started) owns the
record's account. Records no target graph takes are skipped and counted per account.
`RoutedStaging` applies it per record while a file is staged: per CloudTrail event in `add_all`;
a VPC flow file's aggregates are split by account (their `account-id`, else the file's
`AWSLogs/<account>/` path) and staged once per set of target graphs (loaders/vpcflow_graph.py);
each GuardDuty finding goes by its AccountId (loaders/guardduty_graph.py); an object too large
to read whole is staged into a routed staging of its own (`apart`), merged once it read to its
end. A load into one graph taking every account has no RoutedStaging and no per-record work.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from graph.batch import DeltaBuffer
from graph.membership import graph_arn
from graph.store import GraphInfo, GraphStore
from loaders.cloudtrail import Cursor, Event, Item
from loaders.cloudtrail_graph import CloudTrailDeltas, Principals, Staged

__all__ = ["GraphTarget", "Router", "RoutedStaging", "UsageError", "check_graph_arn", "graph_arn"]

GRAPH_ARN = re.compile(r"^arn:aws[-\w]{0,10}?:detective:[-\w]{2,20}?:\d{12}?:graph:[a-f\d]{32}?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
DEFAULT_REGION = "us-east-1"
NOWHERE: frozenset[str] = frozenset()


class UsageError(Exception):
    """The command line asks for something impossible (exit code 2)."""


def check_graph_arn(arn: str) -> str:
    if not GRAPH_ARN.match(arn):
        raise UsageError(
            f"not a behavior graph ARN: {arn!r}"
            " (expected arn:aws:detective:<region>:<account>:graph:<32 hex digits>)"
        )
    return arn


class Router:
    """Target graphs per account, from the graphs and their member records at load start
    (membership changed during a load applies from the next load on)."""

    def __init__(self, store: GraphStore, graphs: list[GraphInfo]) -> None:
        self.graphs = [g.arn for g in graphs]
        self.take_all = frozenset(g.arn for g in graphs if g.takes_all_accounts)
        takes: dict[str, set[str]] = {}
        # accounts with a membership the graph does not ingest yet: their bytes are recorded as
        # skipped volume, which the administrator's volume check reads before enabling them
        self.pending: dict[str, set[str]] = {}
        for g in graphs:
            if g.takes_all_accounts:
                continue
            takes.setdefault(g.admin_account, set()).add(g.arn)
            for m in store.members(g.arn):
                if m.ingesting:
                    takes.setdefault(m.account_id, set()).add(g.arn)
                else:
                    self.pending.setdefault(m.account_id, set()).add(g.arn)
        self._takes = {a: frozenset(gs) | self.take_all for a, gs in takes.items()}

    def targets(self, account: str | None) -> frozenset[str]:
        if account is None:
            return self.take_all
        return self._takes.get(account, self.take_all)

    def pending_graphs(self, account: str | None) -> set[str]:
        return self.pending.get(account, set()) if account is not None else set()


class RoutedStaging(CloudTrailDeltas):
    """Staging that sends each record to the part of the batch for its target graphs.

    CloudTrail events are routed by `add_all`; flow and finding stagers ask `targets_of` and
    `part` themselves and report what they routed with `counted`. Whatever still lands in this
    object's own tables is routed whole by the pipeline after the file is read (`route_rest`)."""

    def __init__(
        self, principals: Principals, router: Router, parts: dict[frozenset[str], CloudTrailDeltas]
    ) -> None:
        super().__init__(principals)
        self.router = router
        self.parts = parts
        self.exclude: frozenset[str] = NOWHERE  # graphs whose ledger already holds the file
        self.per_account: dict[str | None, int] = {}  # the current file's records, by account
        # ... of them, those no graph takes (not those only graphs holding the file take)
        self.dropped: dict[str | None, int] = {}

    def part(self, targets: frozenset[str]) -> CloudTrailDeltas:
        found = self.parts.get(targets)
        if found is None:
            found = self.parts[targets] = CloudTrailDeltas(self.principals)
        return found

    def targets_of(self, account: str | None) -> frozenset[str]:
        """The graphs that take a record of `account` (empty: none takes it)."""
        return self.router.targets(account) - self.exclude

    def counted(self, account: str | None, n: int, targets: frozenset[str]) -> None:
        """`n` records of `account` were staged for `targets` outside add_all (none: skipped)."""
        self.per_account[account] = self.per_account.get(account, 0) + n
        if not targets and not self.router.targets(account):
            self.dropped[account] = self.dropped.get(account, 0) + n

    def apart(self) -> RoutedStaging:
        """An empty staging routed like this one, with parts of its own: for an object that may
        still fail after staging some records (merged by `absorb` once it read to its end)."""
        other = RoutedStaging(self.principals, self.router, {})
        other.exclude = self.exclude
        return other

    def absorb(self, other: CloudTrailDeltas) -> None:
        super().absorb(other)
        if not isinstance(other, RoutedStaging):
            return
        for targets, part in other.parts.items():
            self.part(targets).absorb(part)
        other.parts.clear()
        for mine, theirs in ((self.per_account, other.per_account), (self.dropped, other.dropped)):
            for account, n in theirs.items():
                mine[account] = mine.get(account, 0) + n

    def start_object(self, exclude: frozenset[str]) -> None:
        self.exclude = exclude
        self.per_account = {}
        self.dropped = {}

    def add_all(
        self,
        items: Iterable[Item],
        account_hint: str | None,
        errors: list[str],
        cursor: Cursor | None = None,
        first: int = 0,
    ) -> Staged:
        # one event at a time, so that the cursor (or the index handed on, when the items came
        # as a list) still names the record an error is about
        total = Staged()
        principal_of = self.principals.get
        route = self.router.targets
        for index, item in enumerate(items):
            one = (item,)
            if type(item) is not Event:
                staged = super().add_all(one, account_hint, errors, cursor, first + index)
            else:
                account = item.recipientAccountId or account_hint
                if account is None:
                    account = principal_of(bytes(item.userIdentity), None).account
                self.per_account[account] = self.per_account.get(account, 0) + 1
                targets = route(account) - self.exclude
                if not targets:
                    # a malformed record is an error whatever its account, as flow records and
                    # findings are (their stagers parse before they route)
                    if not self.check(item, account_hint, errors, cursor, first + index):
                        total.records += 1
                        continue
                    if not route(account):  # else: in the graphs whose ledger has the file
                        self.dropped[account] = self.dropped.get(account, 0) + 1
                    total.records += 1
                    total.skipped += 1
                    continue
                staged = self.part(targets).add_all(
                    one, account_hint, errors, cursor, first + index
                )
            total.records += staged.records
            total.loaded += staged.loaded
            total.skipped += staged.skipped
            if total.first_account is None:
                total.first_account, total.first_region = staged.first_account, staged.first_region
        return total

    def route_rest(self, account: str | None) -> frozenset[str]:
        """Move what was staged here (not per event) to the part of `account`'s targets;
        returns the targets (empty: discarded)."""
        targets = self.router.targets(account) - self.exclude
        if targets and (len(self) or self.events):
            self.part(targets).absorb(self)
        self.tuples = {}
        self.flows.clear()
        self.direct = DeltaBuffer()
        self.events = 0
        return targets


class GraphTarget:
    """The graphs of a load: see the module docstring."""

    def __init__(self, store: GraphStore, arn: str | None, admin_account: str | None) -> None:
        self.store = store
        self.admin_account = admin_account
        if admin_account is not None and not ACCOUNT_ID.match(admin_account):
            raise UsageError(
                f"--admin-account must be a 12-digit account id, not {admin_account!r}"
            )
        graphs = store.list_graphs()
        self.arn: str | None = None
        self.graphs: list[GraphInfo] = []
        if arn is not None:
            check_graph_arn(arn)
            if not any(g.arn == arn for g in graphs):
                self._create(arn, arn.split(":")[4])
                graphs = store.list_graphs()
            self.graphs = [g for g in graphs if g.arn == arn]
        elif len(graphs) == 1 or (graphs and not any(g.takes_all_accounts for g in graphs)):
            self.graphs = graphs
        elif len(graphs) > 1:
            names = ", ".join(g.arn for g in graphs)
            raise UsageError(
                f"the store holds {len(graphs)} graphs; choose one with --graph ({names})"
            )
        if self.graphs:
            self.arn = self.graphs[0].arn
        self.routed = bool(self.graphs) and not (
            len(self.graphs) == 1 and self.graphs[0].takes_all_accounts
        )
        self.router = Router(store, self.graphs) if self.routed else None

    def ensure(self, first_account: str | None, region: str | None) -> str:
        if self.arn is None:
            admin = self.admin_account or first_account
            if admin is None or not ACCOUNT_ID.match(admin):
                admin = "000000000000"
            self.arn = graph_arn(admin, region or DEFAULT_REGION)
            self._create(self.arn, admin)
        return self.arn

    def ensure_for_failures(self) -> str | None:
        """A graph to record failed files in, when nothing loaded yet: only with --admin-account."""
        if self.arn is None and self.admin_account is not None:
            return self.ensure(self.admin_account, None)
        return self.arn

    def _create(self, arn: str, admin: str) -> None:
        self.store.create_graph(GraphInfo(arn, admin, int(time.time()), takes_all_accounts=True))
