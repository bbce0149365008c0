"""Authentication for both fronts: SigV4 (boto3, the AWS CLI) or a bearer token (browsers).

`Authenticator.authenticate(request)` returns the `Caller`; the GraphQL context and the REST
handlers decide from its account what it may see. `--no-auth` yields an unrestricted caller and
is only accepted on a loopback address (see `check_no_auth`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import Request

from api.auth.credentials import (
    Credentials,
    CredentialsError,
    Identity,
    load_credentials,
    parse_credentials,
)
from api.auth.sigv4 import AuthError, SignedRequest, verify

__all__ = [
    "AuthError",
    "Authenticator",
    "Caller",
    "Credentials",
    "CredentialsError",
    "Identity",
    "check_no_auth",
    "load_credentials",
    "parse_credentials",
]


@dataclass(frozen=True, slots=True)
class Caller:
    identity: Identity | None  # None only without authentication (--no-auth)

    @property
    def unrestricted(self) -> bool:
        return self.identity is None

    @property
    def account_id(self) -> str | None:
        return self.identity.account_id if self.identity else None

    def administers(self, admin_account: str) -> bool:
        return self.identity is None or self.identity.account_id == admin_account


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_no_auth(host: str) -> None:
    if not is_loopback(host):
        raise ValueError(
            f"--no-auth serves every graph to anyone who can connect; refused on {host!r}: "
            "bind to 127.0.0.1 or ::1, or give --credentials"
        )


class Authenticator:
    def __init__(self, credentials: Credentials | None, *, max_skew: int = 300) -> None:
        self.credentials = credentials  # None: --no-auth
        self.max_skew = max_skew

    async def authenticate(self, request: Request) -> Caller:
        """Raise AuthError unless the request carries a valid signature or token."""
        if self.credentials is None:
            return Caller(None)
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            identity = self.credentials.by_token(header[7:].strip())
            if identity is None:
                raise AuthError("UnrecognizedClientException", "The bearer token is not valid", 401)
            return Caller(identity)
        if not header:
            raise AuthError(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token: sign with SigV4 or send Authorization: Bearer",
                401,
            )
        body = await request.body()  # cached by starlette: handlers read the same bytes
        signed = SignedRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body=body,
        )
        return Caller(verify(signed, self.credentials, max_skew=self.max_skew))
