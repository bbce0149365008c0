"""Limits and organization of the management API, read once from the environment.

| Variable | Default | Meaning |
|---|---|---|
| GUMSHOE_MAX_MEMBERS | 1200 | member accounts per graph (Detective's quota) |
| GUMSHOE_GRAPH_VOLUME_CAP | 10 TB | bytes per day a graph may ingest; enabling a member that would
  push the graph over it leaves it ACCEPTED_BUT_DISABLED / VOLUME_TOO_HIGH |
| GUMSHOE_REQUIRE_KNOWN_VOLUME | off | an account whose daily volume was never measured (no
  records of it loaded) is left ACCEPTED_BUT_DISABLED / VOLUME_UNKNOWN instead of enabled |
| GUMSHOE_ORG_MANAGEMENT_ACCOUNT | none | the organization's management account: the only caller
  that names (and removes) the delegated administrator |
| GUMSHOE_ORG_ACCOUNTS | none | comma-separated accounts of the organization; they join the
  organization graph without an invitation |
| GUMSHOE_RETENTION_DAYS | 365 | data older than this is removed by the retention job |
| GUMSHOE_RETENTION_INTERVAL | 21600 | seconds between retention runs while serving (0: never) |
| GUMSHOE_RATE_LIMIT | 0 | management calls per second and account (0: unlimited); more is
  TooManyRequestsException |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ACCOUNT = re.compile(r"^\d{12}$")
TB = 10**12


class SettingsError(ValueError):
    """An environment variable holds an unusable value (the message names it)."""


@dataclass(frozen=True, slots=True)
class MembershipSettings:
    max_members: int = 1200
    volume_cap: int = 10 * TB
    require_known_volume: bool = False
    org_management_account: str | None = None
    org_accounts: frozenset[str] = field(default_factory=frozenset)
    retention_days: int = 365
    retention_interval: float = 6 * 3600.0
    rate_limit: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MembershipSettings:
        e = os.environ if env is None else env

        def number(name: str, default: float, *, minimum: float = 0) -> float:
            raw = e.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, not {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum:g}, not {raw}")
            return value

        def account(raw: str, name: str) -> str:
            if not ACCOUNT.match(raw):
                raise SettingsError(f"{name}: {raw!r} is not a 12-digit account id")
            return raw

        mgmt = e.get("GUMSHOE_ORG_MANAGEMENT_ACCOUNT", "").strip() or None
        accounts = [a.strip() for a in e.get("GUMSHOE_ORG_ACCOUNTS", "").split(",") if a.strip()]
        return cls(
            max_members=int(number("GUMSHOE_MAX_MEMBERS", 1200, minimum=1)),
            volume_cap=int(number("GUMSHOE_GRAPH_VOLUME_CAP", 10 * TB)),
            require_known_volume=e.get("GUMSHOE_REQUIRE_KNOWN_VOLUME", "").lower()
            in ("1", "true", "yes", "on"),
            org_management_account=account(mgmt, "GUMSHOE_ORG_MANAGEMENT_ACCOUNT")
            if mgmt
            else None,
            org_accounts=frozenset(account(a, "GUMSHOE_ORG_ACCOUNTS") for a in accounts),
            retention_days=int(number("GUMSHOE_RETENTION_DAYS", 365, minimum=1)),
            retention_interval=number("GUMSHOE_RETENTION_INTERVAL", 6 * 3600.0),
            rate_limit=number("GUMSHOE_RATE_LIMIT", 0.0),
        )

    def in_organization(self, account: str) -> bool:
        return account in self.org_accounts or account == self.org_management_account
