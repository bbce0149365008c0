"""SigV4 verification against the real boto3 `detective` client and a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import Authenticator, AuthError, parse_credentials
from tests.integration.uvicorn_thread import serving

CREDENTIALS = """
[admin]
aws_access_key_id = AKIAADMIN0000000001
aws_secret_access_key = admin-secret
account_id = 111122223333
api_token = admin-token-0123456789

[member]
aws_access_key_id = AKIAMEMBER000000002
aws_secret_access_key = member-secret
account_id = 444455556666
"""
ARN = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32


def app() -> Starlette:
    auth = Authenticator(parse_credentials(CREDENTIALS))
    seen: list[dict[str, Any]] = []

    async def handle(request: Request) -> Response:
        try:
            caller = await auth.authenticate(request)
        except AuthError as e:
            return JSONResponse({"message": str(e)}, e.status, {"x-amzn-ErrorType": e.code})
        body = await request.body()
        seen.append({"path": request.url.path, "body": body, "account": caller.account_id})
        if request.url.path.startswith("/tags/"):
            if request.method == "GET":
                return JSONResponse({"Tags": {"who": caller.account_id or ""}})
            return Response(status_code=204)
        return JSONResponse({"GraphList": [{"Arn": ARN, "CreatedTime": "2026-01-01T00:00:00Z"}]})

    a = Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "DELETE"])])
    a.state.seen = seen
    return a


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Starlette]]:
    a = app()
    with serving(a) as base:
        yield base, a


def client(base: str, key: str, secret: str) -> Any:
    return boto3.client(
        "detective",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def test_boto3_calls_are_verified_and_attributed(server: tuple[str, Starlette]) -> None:
    base, a = server
    admin = client(base, "AKIAADMIN0000000001", "admin-secret")
    assert admin.list_graphs()["GraphList"][0]["Arn"] == ARN
    # an ARN in the path and a unicode tag key: the raw path is what was signed
    admin.tag_resource(ResourceArn=ARN, Tags={"équipe": "sécurité", "a b": "c/d"})
    admin.untag_resource(ResourceArn=ARN, TagKeys=["équipe", "a b"])  # repeated query keys
    member = client(base, "AKIAMEMBER000000002", "member-secret")
    assert member.list_tags_for_resource(ResourceArn=ARN)["Tags"] == {"who": "444455556666"}
    assert [s["account"] for s in a.state.seen[-4:]] == [
        "111122223333",
        "111122223333",
        "111122223333",
        "444455556666",
    ]


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("AKIAADMIN0000000001", "wrong-secret", "InvalidSignatureException"),
        ("AKIAUNKNOWN00000009", "admin-secret", "UnrecognizedClientException"),
    ],
)
def test_wrong_secrets_and_unknown_keys_are_refused(
    server: tuple[str, Starlette], key: str, secret: str, code: str
) -> None:
    base, a = server
    before = len(a.state.seen)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(base, key, secret).list_graphs()
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(a.state.seen) == before


def test_a_body_changed_after_signing_is_refused(server: tuple[str, Starlette]) -> None:
    base, a = server
    admin = client(base, "AKIAADMIN0000000001", "admin-secret")

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"50", b"51")

    admin.meta.events.register("before-send.detective.ListGraphs", tamper)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.list_graphs(MaxResults=50)
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_bearer_tokens_and_missing_credentials(server: tuple[str, Starlette]) -> None:
    base, a = server
    ok = httpx.post(
        f"{base}/graphs/list", headers={"Authorization": "Bearer admin-token-0123456789"}
    )
    assert ok.status_code == 200
    assert a.state.seen[-1]["account"] == "111122223333"
    bad = httpx.post(f"{base}/graphs/list", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.headers["x-amzn-errortype"]) == (
        401,
        "UnrecognizedClientException",
    )
    none = httpx.post(f"{base}/graphs/list")
    assert none.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
