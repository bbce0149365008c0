"""Detective's wire protocol (rest-json) from botocore's own service model.

botocore's `detective` 2018-10-26 model is the ground truth boto3 and the AWS CLI are built from:
routes come from its HTTP bindings, requests are checked against its input shapes (required
members, types, lengths, ranges, enums, patterns) and refusals are its exception shapes: status,
`x-amzn-ErrorType: <Code>` and a JSON body with `message` (and ErrorCode, Resources where the
shape has them). Timestamps travel as ISO 8601 strings.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from starlette.responses import JSONResponse, Response

from api.auth import Caller
from api.services.errors import ServiceError
from api.services.membership_errors import (
    INVALID_GRAPH_ARN,
    INVALID_REQUEST_BODY,
    InvalidRequest,
    QuotaExceeded,
)
from api.services.membership_settings import MembershipSettings
from graph.store import GraphStore

SERVICE = "detective"
DEFAULT_REGION = "us-east-1"
# checked per item by the services, which answer with VERIFICATION_FAILED or UnprocessedAccounts
# instead of refusing the whole request
ITEM_CHECKED = frozenset({"AccountId", "EmailAddress"})
STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "TooManyRequestsException": 429,
    "InternalServerException": 500,
}
_CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated operation call, as a handler sees it."""

    store: GraphStore
    caller: Caller
    params: dict[str, Any]  # the checked input, timestamps as epoch seconds
    region: str
    settings: MembershipSettings
    now: int


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


def operations() -> list[OperationModel]:
    model = service_model()
    return [model.operation_model(name) for name in model.operation_names]


def iso(ts: int | float) -> str:
    """Epoch seconds as Detective writes them: 2021-08-18T16:35:56.284Z."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f"{path} must be a timestamp")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"{path} is not an ISO 8601 timestamp: {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    raise InvalidRequest(f"{path} must be a timestamp")


def caller_region(authorization: str) -> str:
    """The region the client signed for (one Detective endpoint per region)."""
    m = _CREDENTIAL_REGION.search(authorization)
    return m.group(1) if m else DEFAULT_REGION


# -- requests ------------------------------------------------------------------------------------
def _fail(path: str, message: str, shape: Shape) -> InvalidRequest:
    code = INVALID_GRAPH_ARN if shape.name == "GraphArn" else INVALID_REQUEST_BODY
    return InvalidRequest(f"{path}: {message}", code)


def check(shape: Shape, value: Any, path: str) -> Any:
    """`value` checked against `shape`; timestamps come back as epoch seconds."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            raise _fail(path, "must be an object", shape)
        out = {}
        for name in shape.required_members:
            if value.get(name) is None:
                raise _fail(f"{path}.{name}", "is required", shape)
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out[name] = check(member, value[name], f"{path}.{name}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _fail(path, "must be a list", shape)
        _length(shape, len(value), path, "items")
        return [check(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _fail(path, "must be an object", shape)
        _length(shape, len(value), path, "entries")
        return {
            check(shape.key, k, f"{path} key"): check(shape.value, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(path, "must be a string", shape)
        _length(shape, len(value), path, "characters")
        if shape.enum and value not in shape.enum:
            raise _fail(path, f"must be one of {', '.join(shape.enum)}, not {value!r}", shape)
        pattern = meta.get("pattern")
        if pattern and shape.name not in ITEM_CHECKED and not re.search(pattern, value):
            raise _fail(path, f"does not match {pattern}: {value!r}", shape)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "must be an integer", shape)
        if "min" in meta and value < meta["min"] or "max" in meta and value > meta["max"]:
            bounds = f"between {meta.get('min', '-inf')} and {meta.get('max', 'inf')}"
            raise _fail(path, f"must be {bounds}, not {value}", shape)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false", shape)
        return value
    if kind == "timestamp":
        return parse_time(value, path)
    return value


def _length(shape: Shape, n: int, path: str, unit: str) -> None:
    meta = shape.metadata
    if "min" in meta and n < meta["min"] or "max" in meta and n > meta["max"]:
        raise _fail(
            path, f"must have {meta.get('min', 0)} to {meta.get('max', 'any')} {unit}", shape
        )


def request_params(
    op: OperationModel, body: bytes, path_params: dict[str, str], query: list[tuple[str, str]]
) -> dict[str, Any]:
    """The operation's input from body, URI and query string, checked against its shape."""
    shape = op.input_shape
    if shape is None:
        return {}
    raw: dict[str, Any] = {}
    if body.strip():
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise InvalidRequest("the request body is not JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidRequest("the request body must be a JSON object")
        raw.update(parsed)
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if where == "uri":
            raw[name] = path_params.get(key)
        elif where == "querystring":
            values = [v for k, v in query if k == key]
            raw[name] = values if member.type_name == "list" else (values[0] if values else None)
    result: dict[str, Any] = check(shape, raw, op.name)
    return result


# -- responses -----------------------------------------------------------------------------------
def error_response(code: str, message: str, status: int, **fields: Any) -> Response:
    body = {"message": message, "Message": message, **fields}
    return JSONResponse(body, status, headers={"x-amzn-ErrorType": code})


def service_error(e: ServiceError) -> Response:
    fields: dict[str, Any] = {}
    if isinstance(e, InvalidRequest):
        fields["ErrorCode"] = e.error_code
    elif e.code == "ValidationException":
        fields["ErrorCode"] = INVALID_REQUEST_BODY
    if isinstance(e, QuotaExceeded) and e.resources:
        fields["Resources"] = e.resources
    return error_response(e.code, e.message, STATUS.get(e.code, 400), **fields)


def success(op: OperationModel, payload: dict[str, Any] | None) -> Response:
    status = op.http.get("responseCode", 200)
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(payload or {}, status)
