"""What the management API tests share: identities, a real server, real boto3 clients.

The server is `api.app.create_app` under uvicorn on a free port, with SigV4 verified against the
credentials below; settings come from GUMSHOE_* variables set while the app is built. Clients
are plain `boto3.client("detective", endpoint_url=...)`, with retries off so that a refusal is
seen as the server sent it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from api.app import create_app
from api.auth import Authenticator, parse_credentials
from graph.open import open_store
from tests.integration.uvicorn_thread import serving

ADMIN = "111122223333"
MEMBER = "444455556666"
OTHER = "777788889999"
STRANGER = "999900001111"
MANAGEMENT = "123412341234"
ORG_ADMIN = "222233334444"
ORG_MEMBER = "555566667777"
ACCOUNTS = {
    "admin": ADMIN,
    "member": MEMBER,
    "other": OTHER,
    "stranger": STRANGER,
    "management": MANAGEMENT,
    "orgadmin": ORG_ADMIN,
    "orgmember": ORG_MEMBER,
}
CREDENTIALS = "\n".join(
    f"[{name}]\naws_access_key_id = AKIA{name.upper():0<16.16}\n"
    f"aws_secret_access_key = {name}-secret-key\naccount_id = {account}\n"
    f"api_token = {name}-token-0123456789\n"
    for name, account in ACCOUNTS.items()
)
ORG_ENV = {
    "GUMSHOE_ORG_MANAGEMENT_ACCOUNT": MANAGEMENT,
    "GUMSHOE_ORG_ACCOUNTS": f"{ORG_ADMIN},{ORG_MEMBER},{OTHER}",
}


def key_of(name: str) -> tuple[str, str]:
    return f"AKIA{name.upper():0<16.16}", f"{name}-secret-key"


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def server(store_uri: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The whole app (REST, GraphQL, /healthz) serving `store_uri`; yields the base URL."""
    auth = Authenticator(parse_credentials(CREDENTIALS))
    with environment({"GUMSHOE_RETENTION_INTERVAL": "0", **(env or {})}):
        app = create_app(lambda: open_store(store_uri), authenticator=auth)
    with serving(app) as base:
        yield base


def sqlite_uri(path: Path) -> str:
    return f"sqlite://{path}"


def client(base: str, name: str, *, region: str = "us-east-1", secret: str | None = None) -> Any:
    key, real_secret = key_of(name)
    return boto3.client(
        "detective",
        endpoint_url=base,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret or real_secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def refusal(call: Callable[[], Any]) -> tuple[str, int, dict[str, Any]]:
    """(error code, HTTP status, parsed response) of a call that must fail."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        r = e.response
        return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r
    raise AssertionError("the call succeeded")


def signed_at(base: str, name: str, when: datetime, path: str, body: bytes) -> AWSRequest:
    """A POST signed by botocore's own signer as if at `when` (a client with a wrong clock)."""
    key, secret = key_of(name)
    signer = SigV4Auth(BotoCredentials(key, secret), "detective", "us-east-1")
    request = AWSRequest(
        method="POST", url=base + path, data=body, headers={"Content-Type": "application/json"}
    )
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    return request
