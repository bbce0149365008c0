"""The REST layer against botocore's model: every operation routed at its method and path, input
checked against the model's shapes, pages, tokens, timestamps, settings and the rate limit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import pytest
from starlette.routing import Route

from api.auth import Authenticator
from api.rest.protocol import (
    caller_region,
    check,
    iso,
    parse_time,
    request_params,
    service_model,
)
from api.rest.routes import HANDLERS, rest_routes
from api.services.membership_checks import RateLimiter, decode_token, encode_token, page
from api.services.membership_errors import InvalidRequest, TooManyRequests
from api.services.membership_settings import MembershipSettings, SettingsError

MODEL = Path(botocore.__file__).parent / "data" / "detective" / "2018-10-26" / "service-2.json.gz"
ARN = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32


def raw_model() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(MODEL.read_bytes()))
    return data


def test_every_operation_of_the_model_is_routed_at_its_method_and_path() -> None:
    ops = raw_model()["operations"]
    assert len(ops) == 29
    assert set(HANDLERS) == set(ops)
    routes = [r for r in rest_routes(Authenticator(None)) if isinstance(r, Route)]
    routed = {(sorted(r.methods or ())[0], r.path) for r in routes if r.methods}
    for name, op in ops.items():
        method, uri = op["http"]["method"], op["http"]["requestUri"]
        path = uri.replace("{ResourceArn}", "{ResourceArn:path}")
        assert (method, path) in routed or ("HEAD", path) in routed, name
    assert {r.path for r in routes} >= {
        "/graph",
        "/graphs/list",
        "/invitation",
        "/tags/{ResourceArn:path}",
    }


def shape(name: str) -> Any:
    return service_model().operation_model(name).input_shape


@pytest.mark.parametrize(
    ("op", "body", "code", "where"),
    [
        ("GetMembers", {"AccountIds": ["111122223333"]}, "INVALID_REQUEST_BODY", "GraphArn"),
        ("GetMembers", {"GraphArn": "arn:x", "AccountIds": ["1"]}, "INVALID_GRAPH_ARN", "GraphArn"),
        ("GetMembers", {"GraphArn": ARN, "AccountIds": []}, "INVALID_REQUEST_BODY", "AccountIds"),
        ("GetMembers", {"GraphArn": ARN, "AccountIds": "x"}, "INVALID_REQUEST_BODY", "AccountIds"),
        ("ListGraphs", {"MaxResults": 201}, "INVALID_REQUEST_BODY", "MaxResults"),
        ("ListGraphs", {"MaxResults": True}, "INVALID_REQUEST_BODY", "MaxResults"),
        (
            "UpdateDatasourcePackages",
            {"GraphArn": ARN, "DatasourcePackages": ["NOPE"]},
            "INVALID_REQUEST_BODY",
            "DatasourcePackages[0]",
        ),
        (
            "GetInvestigation",
            {"GraphArn": ARN, "InvestigationId": "12"},
            "INVALID_REQUEST_BODY",
            "",
        ),
        ("CreateGraph", {"Tags": {"aws:reserved": "x"}}, "INVALID_REQUEST_BODY", "Tags"),
        (
            "StartInvestigation",
            {
                "GraphArn": ARN,
                "EntityArn": "arn:aws:iam::111122223333:role/x",
                "ScopeStartTime": "yesterday",
                "ScopeEndTime": "2026-01-01T00:00:00Z",
            },
            "INVALID_REQUEST_BODY",
            "ScopeStartTime",
        ),
    ],
)
def test_input_is_checked_against_the_model(
    op: str, body: dict[str, Any], code: str, where: str
) -> None:
    with pytest.raises(InvalidRequest) as e:
        check(shape(op), body, op)
    assert e.value.error_code == code
    assert where in e.value.message


def test_per_item_fields_are_left_to_the_services() -> None:
    # a malformed account id or email becomes VERIFICATION_FAILED, not a refused request
    body = {"GraphArn": ARN, "Accounts": [{"AccountId": "12345678901x", "EmailAddress": "no"}]}
    assert check(shape("CreateMembers"), body, "CreateMembers") == body


def test_uri_query_and_body_are_merged_and_timestamps_parsed() -> None:
    op = service_model().operation_model("UntagResource")
    params = request_params(op, b"", {"ResourceArn": ARN}, [("tagKeys", "a"), ("tagKeys", "b")])
    assert params == {"ResourceArn": ARN, "TagKeys": ["a", "b"]}
    start = service_model().operation_model("StartInvestigation")
    body = json.dumps(
        {
            "GraphArn": ARN,
            "EntityArn": "arn:aws:iam::111122223333:user/x",
            "ScopeStartTime": "2026-01-01T00:00:00Z",
            "ScopeEndTime": 1767229200,
        }
    ).encode()
    params = request_params(start, body, {}, [])
    assert (params["ScopeStartTime"], params["ScopeEndTime"]) == (1767225600, 1767229200)
    with pytest.raises(InvalidRequest, match="not JSON"):
        request_params(start, b"{", {}, [])
    with pytest.raises(InvalidRequest, match="JSON object"):
        request_params(start, b"[]", {}, [])


def test_timestamps_and_regions() -> None:
    assert iso(1629304556.284) == "2021-08-18T16:35:56.284Z"
    assert parse_time("2021-08-18T16:35:56.284Z", "t") == 1629304556
    assert parse_time("2021-08-18T16:35:56", "t") == 1629304556  # no offset: UTC
    header = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/eu-west-1/detective/aws4_request, ..."
    assert caller_region(header) == "eu-west-1"
    assert caller_region("Bearer token") == "us-east-1"


def test_pages_follow_keys_not_offsets() -> None:
    items = [f"a{i}" for i in range(5)]
    first, token = page(items, str, token=None, max_results=2)
    assert first == ["a0", "a1"] and token is not None
    # an item removed before the next page does not shift it
    second, token = page(["a0", "a2", "a3", "a4"], str, token=token, max_results=2)
    assert second == ["a2", "a3"]
    last, token = page(items, str, token=token, max_results=2)
    assert (last, token) == (["a4"], None)
    with pytest.raises(InvalidRequest, match="MaxResults"):
        page(items, str, token=None, max_results=0)
    with pytest.raises(InvalidRequest, match="NextToken"):
        page(items, str, token="%%%", max_results=1)


def test_investigation_tokens_expire_after_a_day() -> None:
    token = encode_token("x", issued=1000)
    assert decode_token(token, max_age=86400, now=1000 + 86400) == "x"
    with pytest.raises(InvalidRequest, match="expired"):
        decode_token(token, max_age=86400, now=1001 + 86400)


def test_settings_from_the_environment() -> None:
    s = MembershipSettings.from_env(
        {
            "GUMSHOE_MAX_MEMBERS": "5",
            "GUMSHOE_ORG_MANAGEMENT_ACCOUNT": "123412341234",
            "GUMSHOE_ORG_ACCOUNTS": "111122223333, 444455556666",
            "GUMSHOE_REQUIRE_KNOWN_VOLUME": "yes",
        }
    )
    assert (s.max_members, s.require_known_volume, s.retention_days) == (5, True, 365)
    assert s.in_organization("444455556666") and s.in_organization("123412341234")
    assert not s.in_organization("999999999999")
    assert MembershipSettings.from_env({}) == MembershipSettings()
    with pytest.raises(SettingsError, match="GUMSHOE_MAX_MEMBERS"):
        MembershipSettings.from_env({"GUMSHOE_MAX_MEMBERS": "lots"})
    with pytest.raises(SettingsError, match="GUMSHOE_ORG_ACCOUNTS"):
        MembershipSettings.from_env({"GUMSHOE_ORG_ACCOUNTS": "12"})


def test_rate_limit_per_account() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(TooManyRequests):
        limiter.check("a")
    limiter.check("b")  # another account has its own bucket
    now[0] = 0.5  # one token back
    limiter.check("a")
    RateLimiter(0).check("a")  # 0: unlimited
