"""GuardDuty finding types → MITRE ATT&CK tactics, ASFF type namespaces and severity labels.

A GuardDuty type reads `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!
Artifact`; the threat purpose is what Detective turns into a group's tactic chain and its title
("Group with: TTP (2), Effect (1), and Unusual behavior (2)").
"""

from __future__ import annotations

# Kill-chain order of the chain Detective draws on a finding group.
TACTIC_ORDER: tuple[str, ...] = (
    "Initial Access",
    "Execution",
    "Persistence",
    "Privilege Escalation",
    "Defense Evasion",
    "Credential Access",
    "Discovery",
    "Lateral Movement",
    "Collection",
    "Command and Control",
    "Exfiltration",
    "Impact",
    "Other",
)

# GuardDuty threat purpose → (MITRE tactic, ASFF type namespace label for titles). Recon has no
# Detective tactic of its own (the console's chain starts at Initial Access): it is discovery of
# the victim. Stealth is GuardDuty's name for defense evasion (log tampering, anonymizing proxies).
_PURPOSES: dict[str, tuple[str, str]] = {
    "Backdoor": ("Command and Control", "TTP"),
    "Behavior": ("Other", "Unusual behavior"),
    "CredentialAccess": ("Credential Access", "TTP"),
    "Cryptocurrency": ("Impact", "Effect"),
    "CryptoCurrency": ("Impact", "Effect"),
    "DefenseEvasion": ("Defense Evasion", "TTP"),
    "Discovery": ("Discovery", "TTP"),
    "Execution": ("Execution", "TTP"),
    "Exfiltration": ("Exfiltration", "Effect"),
    "Impact": ("Impact", "Effect"),
    "InitialAccess": ("Initial Access", "TTP"),
    "PenTest": ("Discovery", "TTP"),
    "Pentest": ("Discovery", "TTP"),
    "Persistence": ("Persistence", "TTP"),
    "Policy": ("Other", "Software and configuration check"),
    "PrivilegeEscalation": ("Privilege Escalation", "TTP"),
    "Recon": ("Discovery", "TTP"),
    "Stealth": ("Defense Evasion", "TTP"),
    "Trojan": ("Command and Control", "TTP"),
    "UnauthorizedAccess": ("Initial Access", "TTP"),
}

SEVERITY_LABELS: tuple[tuple[float, str], ...] = (
    (9.0, "Critical"),
    (7.0, "High"),
    (4.0, "Medium"),
    (0.1, "Low"),
)


def threat_purpose(finding_type: str) -> str:
    """`UnauthorizedAccess:IAMUser/...` → `UnauthorizedAccess` (the whole type if it has no ':')."""
    return finding_type.split(":", 1)[0].strip()


def tactic(finding_type: str) -> str:
    return _PURPOSES.get(threat_purpose(finding_type), ("Other", ""))[0]


def namespace(finding_type: str) -> str:
    return _PURPOSES.get(threat_purpose(finding_type), ("", "Other"))[1]


def tactic_chain(finding_types: list[str] | set[str] | tuple[str, ...]) -> list[str]:
    """The distinct tactics of these types, in kill-chain order."""
    seen = {tactic(t) for t in finding_types}
    return [t for t in TACTIC_ORDER if t in seen]


def severity_label(severity: float) -> str:
    """GuardDuty's 0.1–10 scale in ASFF labels; 0 is Informational (Detective's evidence)."""
    for floor, label in SEVERITY_LABELS:
        if severity >= floor:
            return label
    return "Informational"


def group_title(finding_types: list[str]) -> str:
    """`Group with: TTP (2), Effect (1), and Unusual behavior (2)`: counts per namespace, in the
    order the namespaces first appear among the (sorted) finding types."""
    counts: dict[str, int] = {}
    for t in sorted(finding_types):
        ns = namespace(t)
        counts[ns] = counts.get(ns, 0) + 1
    parts = [f"{ns} ({n})" for ns, n in counts.items()]
    if len(parts) > 1:
        parts[-1] = "and " + parts[-1]
    return "Group with: " + (", ".join(parts) if len(parts) > 2 else " ".join(parts))
