"""Membership records: who belongs to a behavior graph, what each account ingests, who administers
an organization. The Detective-compatible management API keeps its state here, through the store
contract, so that every API server and every loader sharing a store sees the same members.

- `Member`: one account's membership in one graph (status machine, invitation, data source
  packages). Amazon Detective's MemberDetail, minus what is computed (volume usage).
- `VolumeDelta` / `VolumeUsage`: bytes of source data per (graph, account, package, UTC day),
  written by loaders in the same transaction as the graph writes they measure, so a reload that
  the ledger skips never counts twice. `skipped` counts bytes of an account the graph does not
  ingest yet (invited, disabled): what an administrator's volume check looks at before enabling.
- `OrgAdmin`: the delegated administrator account of the organization, one per region.
- `Expired`: what a retention run removed.

The enumerations are Amazon Detective's, spelled as in botocore's service model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DAY = 86_400

# MemberStatus
INVITED = "INVITED"
VERIFICATION_IN_PROGRESS = "VERIFICATION_IN_PROGRESS"
VERIFICATION_FAILED = "VERIFICATION_FAILED"
ENABLED = "ENABLED"
ACCEPTED_BUT_DISABLED = "ACCEPTED_BUT_DISABLED"
MEMBER_STATUSES = (
    INVITED,
    VERIFICATION_IN_PROGRESS,
    VERIFICATION_FAILED,
    ENABLED,
    ACCEPTED_BUT_DISABLED,
)

# InvitationType
INVITATION = "INVITATION"
ORGANIZATION = "ORGANIZATION"

# MemberDisabledReason
VOLUME_TOO_HIGH = "VOLUME_TOO_HIGH"
VOLUME_UNKNOWN = "VOLUME_UNKNOWN"

# DatasourcePackage
DETECTIVE_CORE = "DETECTIVE_CORE"
EKS_AUDIT = "EKS_AUDIT"
ASFF_SECURITYHUB_FINDING = "ASFF_SECURITYHUB_FINDING"
PACKAGES = (DETECTIVE_CORE, EKS_AUDIT, ASFF_SECURITYHUB_FINDING)

# DatasourcePackageIngestState
STARTED = "STARTED"
STOPPED = "STOPPED"
DISABLED = "DISABLED"


def graph_arn(admin_account: str, region: str, partition: str = "aws") -> str:
    """The graph ARN of an administrator account in a region.

    Deterministic, as Detective's CreateGraph is idempotent per account and region: a graph made
    by a load and one made by CreateGraph for the same administrator are the same graph."""
    digest = hashlib.sha256(f"{partition}:{region}:{admin_account}".encode()).hexdigest()[:32]
    return f"arn:{partition}:detective:{region}:{admin_account}:graph:{digest}"


def day_of(ts: int) -> int:
    """The start of the UTC day containing `ts`."""
    return ts - ts % DAY


@dataclass(frozen=True, slots=True)
class PackageState:
    """A data source package's ingest state and when it last entered each state."""

    state: str
    changed: Mapping[str, int] = field(default_factory=dict)

    def moved_to(self, state: str, at: int) -> PackageState:
        if state == self.state and state in self.changed:
            return self
        return PackageState(state, {**self.changed, state: at})


def packages_to_json(packages: Mapping[str, PackageState]) -> str:
    return json.dumps(
        {p: {"state": s.state, "changed": dict(s.changed)} for p, s in sorted(packages.items())},
        sort_keys=True,
    )


def packages_from_json(text: str | Mapping[str, Any]) -> dict[str, PackageState]:
    raw = json.loads(text) if isinstance(text, str) else text
    return {p: PackageState(v["state"], dict(v.get("changed", {}))) for p, v in raw.items()}


@dataclass(frozen=True, slots=True)
class Member:
    graph: str
    account_id: str
    email: str | None
    status: str  # one of MEMBER_STATUSES
    invitation_type: str  # INVITATION or ORGANIZATION
    invited_at: int
    updated_at: int
    disabled_reason: str | None = None
    packages: Mapping[str, PackageState] = field(default_factory=dict)

    @property
    def ingesting(self) -> bool:
        """Whether loaders write this account's records into the graph (DETECTIVE_CORE)."""
        core = self.packages.get(DETECTIVE_CORE)
        return self.status == ENABLED and (core is None or core.state == STARTED)


@dataclass(frozen=True, slots=True)
class VolumeDelta:
    """Bytes to add to one account's volume of one package on one UTC day."""

    account: str
    package: str
    day: int  # start of the UTC day (day_of)
    ingested: int  # bytes written into the graph
    skipped: int = 0  # bytes of the account's records left out (not an enabled member)
    at: int = 0  # when measured; the row's `updated` is the latest


@dataclass(frozen=True, slots=True)
class VolumeUsage:
    account: str
    package: str
    day: int
    ingested: int
    skipped: int
    updated: int


@dataclass(frozen=True, slots=True)
class OrgAdmin:
    """The organization's Detective administrator in a region, and its graph."""

    region: str
    account_id: str
    graph: str
    delegated_at: int


@dataclass(frozen=True, slots=True)
class Expired:
    """What a retention run removed from one graph."""

    hours: int = 0  # hourly counter rows
    edges: int = 0
    vertices: int = 0
    volume: int = 0  # volume rows (days)

    def __add__(self, other: Expired) -> Expired:
        return Expired(
            self.hours + other.hours,
            self.edges + other.edges,
            self.vertices + other.vertices,
            self.volume + other.volume,
        )
