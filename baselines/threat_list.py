"""The threat list behind FLAGGED_IP_ADDRESS indicators (with GuardDuty's own threat
intelligence: baselines.indicators.intel_flagged).

The shipped list (baselines/data/threat_list.txt) holds only documentation ranges: a self-hosted
tool cannot redistribute AWS's threat intelligence, and a stale copy of a real feed would flag
the wrong addresses. Users replace it with their own file (one address or CIDR a line, `#`
comments) through GUMSHOE_THREAT_LIST=path or the `path` argument.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
SHIPPED = DATA / "threat_list.txt"
ENV = "GUMSHOE_THREAT_LIST"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ThreatList:
    source: str  # the file it was read from, for reports
    networks: tuple[Network, ...]

    def flagged(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # service names ("s3.amazonaws.com") are recorded as source addresses
        return any(ip.version == n.version and ip in n for n in self.networks)


def _lines(text: str) -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def parse_threat_list(text: str, source: str = "<text>") -> ThreatList:
    networks = []
    for n, entry in enumerate(_lines(text), 1):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            # a user's list with one typo should say where, not flag nothing silently
            raise ValueError(
                f"{source}: entry {n} is not an IP address or CIDR: {entry!r}"
            ) from None
    return ThreatList(source, tuple(networks))


@lru_cache(maxsize=8)
def _read(path: str, mtime: float) -> ThreatList:
    return parse_threat_list(Path(path).read_text(encoding="utf-8"), path)


def load_threat_list(path: str | Path | None = None) -> ThreatList:
    """The list at `path`, else at $GUMSHOE_THREAT_LIST, else the shipped one. Cached per file
    and modification time, so an edited list is picked up without a restart."""
    chosen = Path(path or os.environ.get(ENV) or SHIPPED)
    return _read(str(chosen), chosen.stat().st_mtime)
