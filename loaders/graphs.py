"""Which behavior graph a load writes into, created on first use when the store has none."""

from __future__ import annotations

import hashlib
import re
import time

from graph.store import GraphInfo, GraphStore

GRAPH_ARN = re.compile(r"^arn:aws[-\w]{0,10}?:detective:[-\w]{2,20}?:\d{12}?:graph:[a-f\d]{32}?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
DEFAULT_REGION = "us-east-1"


class UsageError(Exception):
    """The command line asks for something impossible (exit code 2)."""


def graph_arn(admin_account: str, region: str, partition: str = "aws") -> str:
    """The graph ARN of an administrator account in a region.

    Deterministic, as Detective's CreateGraph is idempotent per account and region.
    """
    digest = hashlib.sha256(f"{partition}:{region}:{admin_account}".encode()).hexdigest()[:32]
    return f"arn:{partition}:detective:{region}:{admin_account}:graph:{digest}"


def check_graph_arn(arn: str) -> str:
    if not GRAPH_ARN.match(arn):
        raise UsageError(
            f"not a behavior graph ARN: {arn!r}"
            " (expected arn:aws:detective:<region>:<account>:graph:<32 hex digits>)"
        )
    return arn


class GraphTarget:
    """--graph ARN, else the store's only graph, else a new graph made at the first record."""

    def __init__(self, store: GraphStore, arn: str | None, admin_account: str | None) -> None:
        self.store = store
        self.admin_account = admin_account
        if admin_account is not None and not ACCOUNT_ID.match(admin_account):
            raise UsageError(
                f"--admin-account must be a 12-digit account id, not {admin_account!r}"
            )
        graphs = store.list_graphs()
        self.arn: str | None = None
        if arn is not None:
            check_graph_arn(arn)
            if not any(g.arn == arn for g in graphs):
                self._create(arn, arn.split(":")[4])
            self.arn = arn
        elif len(graphs) == 1:
            self.arn = graphs[0].arn
        elif len(graphs) > 1:
            names = ", ".join(g.arn for g in graphs)
            raise UsageError(
                f"the store holds {len(graphs)} graphs; choose one with --graph ({names})"
            )

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
