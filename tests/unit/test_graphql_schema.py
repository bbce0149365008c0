"""The exported schema is current, and the contract frontends rely on is in it."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType, build_schema

from api.graphql.schema import SCHEMA_FILE, sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE == ROOT / "schema.graphql"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql is stale: run `python -m api.graphql.schema` and commit the result"
    )


def _schema():  # type: ignore[no-untyped-def]
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def _fields(type_name: str) -> set[str]:
    t = _schema().get_type(type_name)
    assert isinstance(t, GraphQLObjectType | GraphQLInterfaceType), type_name
    return set(t.fields)


def test_contract_queries() -> None:
    query = _schema().query_type
    assert query is not None
    assert {"graphs", "search", "entity"} <= set(query.fields)
    search = query.fields["search"]
    assert {"graphArn", "type", "query", "first", "after"} <= set(search.args)
    assert str(search.type) == "EntityConnection!"
    assert str(query.fields["entity"].type) == "Entity"
    assert str(query.fields["entity"].args["id"].type) == "ID!"
    assert str(query.fields["graphs"].type) == "[Graph!]!"
    assert {"arn", "adminAccountId", "createdTime"} <= _fields("Graph")
    assert {"edges", "pageInfo"} <= _fields("EntityConnection")
    assert {"hasNextPage", "endCursor"} <= _fields("PageInfo")


def test_contract_entity_types() -> None:
    enum = _schema().get_type("EntityType")
    assert isinstance(enum, GraphQLEnumType)
    required = {
        "AWS_ACCOUNT", "AWS_USER", "AWS_ROLE", "AWS_ROLE_SESSION", "FEDERATED_USER",
        "EC2_INSTANCE", "IP_ADDRESS", "USER_AGENT", "S3_BUCKET", "FINDING",
    }  # fmt: skip
    assert required <= set(enum.values)
    common = {"id", "type", "firstObserved", "lastObserved", "involvedFindings", "findingGroups"}
    for name in (
        "AwsAccount", "AwsUser", "AwsRole", "AwsRoleSession", "FederatedUser", "Ec2Instance",
        "IpAddress", "UserAgent", "S3Bucket", "Finding",
    ):  # fmt: skip
        assert common <= _fields(name), name
    for name in ("AwsAccount", "AwsUser", "AwsRole", "AwsRoleSession", "FederatedUser"):
        assert {"apiCallVolume", "newBehaviors", "resourceInteraction"} <= _fields(name), name
    for name in ("Ec2Instance", "IpAddress"):
        assert "vpcFlowVolume" in _fields(name)


def test_contract_panels() -> None:
    assert {"totalSuccess", "totalFailed", "buckets", "byMethod", "bySourceIp", "byCaller"} <= (
        _fields("ApiCallVolume")
    )
    assert {"start", "success", "failed", "expected", "lower", "upper"} <= _fields("ApiCallBucket")
    assert {"geolocations", "asos", "userAgents", "apiCalls", "increasedVolume"} <= _fields(
        "NewBehaviors"
    )
    assert {"userAgent", "firstObserved", "newlyObserved"} <= _fields("UserAgentBehavior")
    assert {"service", "method", "firstObserved", "newlyObserved"} <= _fields("ApiCallBehavior")
    for name in ("GeolocationBehavior", "AsoBehavior"):
        assert {"firstObserved", "newlyObserved"} <= _fields(name)
    assert str(_schema().get_type("ApiCallBehavior").fields["newlyObserved"].type) == "Boolean!"  # type: ignore[union-attr]
    assert {"start", "bytesIn", "bytesOut"} <= _fields("VpcFlowBucket")
    assert {"remoteIpAddress", "localPort", "remotePort", "protocol", "direction", "action"} <= (
        _fields("VpcFlowRow")
    )
    scope = _schema().get_type("ScopeInput")
    assert {"start", "end"} == set(scope.fields)  # type: ignore[union-attr]
