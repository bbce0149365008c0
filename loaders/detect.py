"""Which telemetry source a file holds, decided from its content (never from its name)."""

from __future__ import annotations

import re

SNIFF_BYTES = 64 << 10

CLOUDTRAIL = "cloudtrail"
VPCFLOW = "vpcflow"
GUARDDUTY = "guardduty"
EKS_AUDIT = "eks-audit"
SECURITYHUB = "securityhub"
DIGEST = "cloudtrail-digest"

# a header line of any format version, fields in any order (v3-5 may start with any field)
_FLOW_HEADER = re.compile(rb"^\s*[a-z${][a-z0-9${}-]*( [a-z${][a-z0-9${}-]*)+\s*$")
PARQUET_MAGIC = b"PAR1"  # only VPC flow logs come as Parquet (the loader checks the columns)
_FLOW_V2_LINE = re.compile(rb"^\s*\d+ (\d{12}|unknown) \S+ \S+ \S+ ")


def _cloudtrail(text: bytes) -> bool:
    return b'"eventVersion"' in text or (b'"eventName"' in text and b'"eventSource"' in text)


def detect(head: bytes) -> str | None:
    """The source type of decompressed content starting with `head`, or None if unknown."""
    if head[:4] == PARQUET_MAGIC:
        return VPCFLOW
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None
    if text[:1] in (b"{", b"["):
        # eventName first: CloudTrail has it near the start, digestStartTime would scan it all
        if b'"eventName"' not in text and b'"digestStartTime"' in text:
            return DIGEST
        if _cloudtrail(text) or (b'\\"' in text and _cloudtrail(text.replace(b'\\"', b'"'))):
            return CLOUDTRAIL  # (envelopes may carry the event as a JSON string, quotes escaped)
        if (
            b'"GuardDuty Finding"' in text
            or (b'"schemaVersion"' in text and b'"severity"' in text and b'"resource"' in text)
            or (b'"SchemaVersion"' in text and b'"Severity"' in text and b'"Service"' in text)
        ):
            return GUARDDUTY
        if b'"auditID"' in text and b'"requestURI"' in text:
            return EKS_AUDIT
        if b'"ProductArn"' in text and b'"AwsAccountId"' in text:
            return SECURITYHUB
        # flow records wrapped by log pipelines (Cribl `_raw` lines, Panther's JSON records)
        if any(
            m in text for m in (b"vpcflowlogs", b"interface-id", b'"interfaceId"', b"AWS.VPCFlow")
        ):
            return VPCFLOW
        return None
    first_line = text.split(b"\n", 1)[0]
    if (
        _FLOW_HEADER.match(first_line)
        and b"interface-id" in first_line
        and b"srcaddr" in first_line
    ) or _FLOW_V2_LINE.match(first_line):
        return VPCFLOW
    return None
