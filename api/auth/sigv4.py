"""Server-side AWS Signature Version 4 verification, on top of botocore's own signer.

The signature is recomputed over exactly what the client signed: the raw, still percent-encoded
path (botocore encodes it once more for the canonical URI, so a decoded path breaks ARNs in
paths), the raw query string, only the headers listed in SignedHeaders, and the raw body bytes.
botocore is the ground truth for clients, so reusing its canonicalisation keeps us in step with
boto3 and the AWS CLI.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from api.auth.credentials import Credentials, Identity

SERVICE = "detective"
MAX_SKEW = 300  # AWS: a request must reach the service within five minutes of its time stamp
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9\-;]+),\s*"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AuthError(Exception):
    """A refused request: `code` is the AWS error code, `status` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    raw_path: str  # percent-encoded, as received
    query_string: str  # raw, as received
    headers: Sequence[tuple[str, str]]  # in arrival order, names in any case
    body: bytes


class _Verifier(SigV4Auth):  # type: ignore[misc]  # botocore ships no type hints
    def __init__(self, creds: BotoCredentials, region: str, signed: list[str]) -> None:
        super().__init__(creds, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> object:
        # exactly the client's list: botocore's default drops some headers and adds `host`
        from botocore.awsrequest import HTTPHeaders

        out = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                out.add_header(name, value)
        return out


def _epoch(amz_date: str) -> int:
    m = _AMZ_DATE.match(amz_date)
    if m is None:
        raise AuthError(
            "IncompleteSignatureException", f"X-Amz-Date is malformed: {amz_date!r}", 400
        )
    y, mo, d, h, mi, s = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def verify(
    req: SignedRequest, creds: Credentials, *, now: float | None = None, max_skew: int = MAX_SKEW
) -> Identity:
    """Return the identity that signed `req`, or raise AuthError as AWS would."""
    headers: dict[str, list[str]] = {}
    for name, value in req.headers:
        headers.setdefault(name.lower(), []).append(value)
    auth = (headers.get("authorization") or [""])[0]
    if not auth:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    m = _AUTH.match(auth.strip())
    if m is None:
        raise AuthError(
            "IncompleteSignatureException", "Authorization header is not a SigV4 signature", 400
        )
    if m["service"] != SERVICE:
        raise AuthError(
            "InvalidSignatureException",
            f"credential scope names service {m['service']!r}, not detective",
        )
    signed = m["headers"].split(";")
    if "host" not in signed:
        raise AuthError("InvalidSignatureException", "the host header is not signed")
    amz_date = (headers.get("x-amz-date") or [""])[0]
    if not amz_date:
        raise AuthError("IncompleteSignatureException", "X-Amz-Date is missing", 400)
    if "x-amz-date" not in signed:
        raise AuthError("InvalidSignatureException", "the x-amz-date header is not signed")
    if amz_date[:8] != m["date"]:
        raise AuthError(
            "InvalidSignatureException", "credential scope date differs from X-Amz-Date"
        )
    when = _epoch(amz_date)
    clock = time.time() if now is None else now
    if when < clock - max_skew:
        raise AuthError(
            "InvalidSignatureException", "Signature expired: X-Amz-Date is more than 5 minutes old"
        )
    if when > clock + max_skew:
        raise AuthError(
            "InvalidSignatureException", "Signature not yet current: X-Amz-Date is in the future"
        )
    identity = creds.by_access_key(m["key"])
    if identity is None or identity.secret_access_key is None:
        raise AuthError(
            "UnrecognizedClientException", "The security token included in the request is invalid"
        )
    body_hash = hashlib.sha256(req.body).hexdigest()
    claimed = next(iter(headers.get("x-amz-content-sha256", [])), None)
    if claimed is not None and claimed != body_hash:
        # botocore would trust the header as is; UNSIGNED-PAYLOAD is refused as well
        raise AuthError("InvalidSignatureException", "x-amz-content-sha256 does not match the body")
    host = (headers.get("host") or [""])[0]
    url = f"http://{host}{req.raw_path}" + (f"?{req.query_string}" if req.query_string else "")
    aws = AWSRequest(method=req.method, url=url, data=req.body)
    for name in signed:
        for value in headers.get(name, []):
            aws.headers.add_header(name, value)
    aws.context["timestamp"] = amz_date
    aws.context["payload_signing_enabled"] = True
    verifier = _Verifier(
        BotoCredentials(identity.access_key_id, identity.secret_access_key), m["region"], signed
    )
    canonical = verifier.canonical_request(aws)
    expected = verifier.signature(verifier.string_to_sign(aws, canonical), aws)
    if not hmac.compare_digest(expected, m["sig"]):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return identity
