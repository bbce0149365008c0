"""loaders.identity.resolve: every userIdentity type → acting principal, rollups and relations.

Shapes come from tests/data/datasets (the folder is named next to each) or, for types the
datasets lack, from the CloudTrail userIdentity documentation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from graph.model import (
    ACCOUNT,
    ASSUMED_ROLE,
    BELONGS_TO,
    FEDERATED,
    INSTANCE,
    ROLE,
    RUNS_SESSION,
    SERVICE,
    SESSION,
    USER,
    Scalar,
    VertexRef,
)
from loaders.cloudtrail_graph import Principals
from loaders.identity import Principal, resolve

Props = dict[str, Scalar]


def resolve_json(identity: Any, recipient: str | None) -> Principal:
    return resolve(json.dumps(identity).encode(), recipient)


def acct(account: str) -> VertexRef:
    return VertexRef(ACCOUNT, account)


def user_props(name: str | None, arn: str | None, account: str) -> Props:
    return {"name": name, "arn": arn, "account": account}


def session_props(
    name: str, arn: str | None, account: str, role_name: str | None, role_arn: str | None
) -> Props:
    return {
        "name": name,
        "arn": arn,
        "account": account,
        "role_name": role_name,
        "role_arn": role_arn,
    }


def fed_props(name: str, idp: str, audience: str | None, arn: str | None, account: str) -> Props:
    return {"name": name, "idp": idp, "audience": audience, "arn": arn, "account": account}


def session_identity(principal_id: str, arn: str, account: str, role: str | None) -> Any:
    """An AssumedRole userIdentity; with `role`, a sessionIssuer for that role name."""
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": principal_id,
        "arn": arn,
        "accountId": account,
        "accessKeyId": "ASIATGOPDG7TERBYLQLP",
    }
    if role is not None:
        issuer = {
            "type": "Role",
            "principalId": principal_id.split(":")[0],
            "arn": f"arn:aws:iam::{account}:role/{role}",
            "accountId": account,
            "userName": role,
        }
        identity["sessionContext"] = {
            "sessionIssuer": issuer,
            "attributes": {"creationDate": "2025-03-06T02:29:53Z", "mfaAuthenticated": "false"},
        }
    return identity


def test_iam_user() -> None:
    # invictus-ir-aws_dataset: the attacker's access key
    arn = "arn:aws:iam::123837392027:user/bert-jan"
    identity = {
        "type": "IAMUser",
        "principalId": "AIDATFQR7NSC5AU2ZV3IE",
        "arn": arn,
        "accountId": "123837392027",
        "accessKeyId": "AKIATFQR7NSC8Q4X20BJ",
        "userName": "bert-jan",
    }
    p = resolve_json(identity, "123837392027")
    user = VertexRef(USER, "AIDATFQR7NSC5AU2ZV3IE")
    assert (p.leaf, p.account) == (user, "123837392027")
    assert p.targets == (user, acct("123837392027"))
    assert p.vertices == [(user, user_props("bert-jan", arn, "123837392027"))]
    assert p.relations == [(BELONGS_TO, user, acct("123837392027"))]


def test_iam_user_without_principal_id_is_keyed_by_its_name() -> None:
    p = resolve_json({"type": "IAMUser", "userName": "alice"}, "111122223333")  # Panther fragment
    user = VertexRef(USER, "alice")
    assert p.targets == (user, acct("111122223333"))
    assert p.vertices == [(user, user_props("alice", None, "111122223333"))]


def test_assumed_role_with_session_issuer() -> None:
    # ccbrown-cloud-snitch: a Lambda function's execution role
    role_name, session_name = "my-LambdaFunctionRole-54321GFDSX", "my-LambdaFunction-12345XSDFG"
    arn = f"arn:aws:sts::222222222222:assumed-role/{role_name}/{session_name}"
    identity = session_identity(
        f"AROAJPOWK32OXQMNTD5A2:{session_name}", arn, "222222222222", role_name
    )
    p = resolve_json(identity, "222222222222")
    session = VertexRef(SESSION, f"AROAJPOWK32OXQMNTD5A2:{session_name}")
    role = VertexRef(ROLE, "AROAJPOWK32OXQMNTD5A2")
    account = acct("222222222222")
    role_arn = f"arn:aws:iam::222222222222:role/{role_name}"
    assert p.leaf == session
    assert p.targets == (session, role, account)
    assert p.vertices == [
        (session, session_props(session_name, arn, "222222222222", role_name, role_arn)),
        (role, user_props(role_name, role_arn, "222222222222")),
    ]
    assert p.relations == [
        (ASSUMED_ROLE, session, role),
        (BELONGS_TO, session, account),
        (BELONGS_TO, role, account),
    ]


def test_assumed_role_without_session_issuer_takes_the_role_name_from_the_arn() -> None:
    # panther-labs-panther-analysis: an identity without sessionContext. The session ARN holds
    # the role's name but not its path, so the role ARN stays unknown rather than guessed.
    arn = "arn:aws:sts::123456789123:assumed-role/DevAdministrator/test_user"
    identity = session_identity("AR0A354LKJXC87G9XC89V:test_user", arn, "123456789123", None)
    p = resolve_json(identity, "123456789123")
    session = VertexRef(SESSION, "AR0A354LKJXC87G9XC89V:test_user")
    role = VertexRef(ROLE, "AR0A354LKJXC87G9XC89V")
    role_arn = None
    assert p.targets == (session, role, acct("123456789123"))
    assert p.vertices == [
        (session, session_props("test_user", arn, "123456789123", "DevAdministrator", role_arn)),
        (role, user_props("DevAdministrator", role_arn, "123456789123")),
    ]
    assert p.relations[0] == (ASSUMED_ROLE, session, role)


def test_assumed_role_session_name_from_the_arn_when_the_principal_id_has_none() -> None:
    arn = "arn:aws:sts::111122223333:assumed-role/Deploy/ci-run-7"
    p = resolve_json(session_identity("AROAEXAMPLEROLE", arn, "111122223333", None), None)
    assert p.leaf == VertexRef(SESSION, "AROAEXAMPLEROLE:ci-run-7")
    assert p.targets[1:] == (VertexRef(ROLE, "AROAEXAMPLEROLE"), acct("111122223333"))


@pytest.mark.parametrize(
    "instance_id", ["i-0123456789abcdef0", "i-0317f6c6b66ae9c40", "i-1a2b3c4d"]
)
def test_instance_profile_session_rolls_up_to_its_instance(instance_id: str) -> None:
    # otrf-security-datasets ec2_proxy_s3_exfiltration: stolen instance-profile credentials
    role_name = "MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0"
    arn = f"arn:aws:sts::123456789123:assumed-role/{role_name}/{instance_id}"
    identity = session_identity(
        f"AROA5FLZVX4OAMSW6BCRH:{instance_id}", arn, "123456789123", role_name
    )
    identity["sessionContext"]["ec2RoleDelivery"] = "1.0"
    p = resolve_json(identity, "123456789123")
    session = VertexRef(SESSION, f"AROA5FLZVX4OAMSW6BCRH:{instance_id}")
    role = VertexRef(ROLE, "AROA5FLZVX4OAMSW6BCRH")
    instance = VertexRef(INSTANCE, instance_id)
    account = acct("123456789123")
    assert p.targets == (session, role, instance, account)
    assert [ref for ref, _ in p.vertices] == [session, role, instance]
    assert p.vertices[2][1] == {"account": "123456789123"}
    assert p.relations == [
        (ASSUMED_ROLE, session, role),
        (RUNS_SESSION, instance, session),
        (BELONGS_TO, session, account),
        (BELONGS_TO, role, account),
        (BELONGS_TO, instance, account),
    ]


@pytest.mark.parametrize(
    "name", ["i-0123", "i-0123456789abcdef", "i-0123456789ABCDEF0", "xi-1a2b3c4d"]
)
def test_sessions_that_only_look_like_instances_do_not_roll_up(name: str) -> None:
    identity = {"type": "AssumedRole", "principalId": f"AROAX:{name}", "accountId": "111122223333"}
    p = resolve_json(identity, "111122223333")
    assert p.targets == (
        VertexRef(SESSION, f"AROAX:{name}"),
        VertexRef(ROLE, "AROAX"),
        acct("111122223333"),
    )


def test_root_user_is_keyed_by_its_account() -> None:
    # panther-labs-panther-analysis
    arn = "arn:aws:iam::123456789012:root"
    identity = {
        "type": "Root",
        "principalId": "123456789012",
        "arn": arn,
        "accountId": "123456789012",
        "accessKeyId": "1",
    }
    p = resolve_json(identity, "123456789012")
    root = VertexRef(USER, "123456789012")
    assert p.targets == (root, acct("123456789012"))
    assert p.vertices == [(root, user_props("root", arn, "123456789012"))]
    assert p.relations == [(BELONGS_TO, root, acct("123456789012"))]


def test_root_fragment_without_account_uses_the_recipient() -> None:
    p = resolve_json({"type": "Root", "userName": "root"}, "111122223333")  # Panther fragment
    root = VertexRef(USER, "111122223333")
    assert p.targets == (root, acct("111122223333"))
    assert p.vertices == [(root, user_props("root", None, "111122223333"))]


def test_root_user_is_keyed_by_its_account_even_when_the_principal_id_differs() -> None:
    """README: "the root user is keyed by its account id". flosell-trailscraper's Root event
    carries the documentation's example principalId, an access key id."""
    identity = {
        "type": "Root",
        "principalId": "AKIAI44QH8DHBEXAMPLE",
        "arn": "arn:aws:iam::123456789012:root",
        "accountId": "123456789012",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    }
    assert resolve_json(identity, "123456789012").leaf == VertexRef(USER, "123456789012")


def test_federated_user_from_get_federation_token() -> None:
    # CloudTrail documentation: a federated user whose token the IAM user Alice requested
    issuer = "arn:aws:iam::123456789012:user/Alice"
    arn = "arn:aws:sts::123456789012:federated-user/bob"
    identity = {
        "type": "FederatedUser",
        "principalId": "123456789012:bob",
        "arn": arn,
        "accountId": "123456789012",
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "sessionContext": {
            "attributes": {"creationDate": "2019-05-13T23:13:41Z", "mfaAuthenticated": "false"},
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                "arn": issuer,
                "accountId": "123456789012",
                "userName": "Alice",
            },
        },
    }
    p = resolve_json(identity, "123456789012")
    fed = VertexRef(FEDERATED, f"{issuer}:bob")
    assert p.targets == (fed, acct("123456789012"))
    assert p.vertices == [(fed, fed_props("bob", issuer, None, arn, "123456789012"))]
    assert p.relations == [(BELONGS_TO, fed, acct("123456789012"))]


def test_federated_user_without_issuer() -> None:
    # panther-labs-panther-analysis
    arn = "arn:aws:sts::123456789012:federated-user/federated-user"
    identity = {
        "type": "FederatedUser",
        "principalId": "123456789012:federated-user",
        "arn": arn,
        "accountId": "123456789012",
        "accessKeyId": "ASIA123456789EXAMPLE",
    }
    p = resolve_json(identity, "123456789012")
    fed = VertexRef(FEDERATED, "sts.amazonaws.com:federated-user")
    assert p.targets == (fed, acct("123456789012"))
    expected = fed_props("federated-user", "sts.amazonaws.com", None, arn, "123456789012")
    assert p.vertices == [(fed, expected)]


def test_saml_user() -> None:
    # criblpacks-cribl-aws-cloudtrail-logs: AssumeRoleWithSAML through IAM Identity Center
    idp = "9EM8Wj5n2Y0b5+wz/37JlS1qlPA="
    identity = {
        "type": "SAMLUser",
        "principalId": f"{idp}:kamilo@cribl.io",
        "userName": "kamilo@cribl.io",
        "identityProvider": idp,
    }
    p = resolve_json(identity, "123456789122")
    fed = VertexRef(FEDERATED, f"{idp}:kamilo@cribl.io")
    assert p.targets == (fed, acct("123456789122"))
    assert p.vertices == [(fed, fed_props("kamilo@cribl.io", idp, None, None, "123456789122"))]
    assert p.relations == [(BELONGS_TO, fed, acct("123456789122"))]


def test_web_identity_user_has_an_audience() -> None:
    # CloudTrail documentation (AssumeRoleWithWebIdentity)
    key = "accounts.google.com:app-id.apps.googleusercontent.com:user-id"
    identity = {
        "type": "WebIdentityUser",
        "principalId": key,
        "userName": "user-id",
        "identityProvider": "accounts.google.com",
    }
    p = resolve_json(identity, "111122223333")
    fed = VertexRef(FEDERATED, key)
    audience = "app-id.apps.googleusercontent.com"
    assert p.targets == (fed, acct("111122223333"))
    expected = fed_props("user-id", "accounts.google.com", audience, None, "111122223333")
    assert p.vertices == [(fed, expected)]


def test_identity_center_user() -> None:
    # CloudTrail documentation (IAM Identity Center user background sessions)
    store = "arn:aws:identitystore::123456789012:identitystore/d-9067642ac7"
    user_id = "544894e8-80c1-707f-60e3-3ba6510dfac1"
    identity = {
        "type": "IdentityCenterUser",
        "accountId": "123456789012",
        "onBehalfOf": {"userId": user_id, "identityStoreArn": store},
        "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE",
    }
    p = resolve_json(identity, "123456789012")
    fed = VertexRef(FEDERATED, f"{store}:{user_id}")
    assert p.targets == (fed, acct("123456789012"))
    assert p.vertices == [(fed, fed_props(user_id, store, None, None, "123456789012"))]
    assert p.relations == [(BELONGS_TO, fed, acct("123456789012"))]


@pytest.mark.parametrize(
    "identity",
    [
        {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},  # ccbrown-cloud-snitch
        {"accountId": "222222222222", "invokedBy": "cloudtrail.amazonaws.com"},  # invictus
    ],
)
def test_aws_service(identity: dict[str, str]) -> None:
    p = resolve_json(identity, "222222222222")
    service = VertexRef(SERVICE, "cloudtrail.amazonaws.com")
    assert p.leaf == service
    assert p.targets == (service, acct("222222222222"))
    assert p.vertices == [(service, {})]
    assert p.relations == []  # services belong to no account


def test_aws_account_caller_with_a_role_session() -> None:
    # panther-labs-panther-analysis: a cross-account GetObject
    identity = {
        "type": "AWSAccount",
        "principalId": "AROAEX:session-name",
        "accountId": "111111111111",
    }
    p = resolve_json(identity, "222222222222")
    session, role = VertexRef(SESSION, "AROAEX:session-name"), VertexRef(ROLE, "AROAEX")
    caller = acct("111111111111")  # the caller's account, not the recipient
    assert p.targets == (session, role, caller)
    assert p.vertices == [
        (session, session_props("session-name", None, "111111111111", None, None)),
        (role, user_props(None, None, "111111111111")),
    ]
    assert p.relations == [
        (ASSUMED_ROLE, session, role),
        (BELONGS_TO, session, caller),
        (BELONGS_TO, role, caller),
    ]


def test_aws_account_caller_with_a_user() -> None:
    identity = {"type": "AWSAccount", "principalId": "AIDAEXAMPLEBOB", "accountId": "444455556666"}
    p = resolve_json(identity, "111122223333")
    user = VertexRef(USER, "AIDAEXAMPLEBOB")
    assert p.targets == (user, acct("444455556666"))
    assert p.vertices == [(user, user_props(None, None, "444455556666"))]
    assert p.relations == [(BELONGS_TO, user, acct("444455556666"))]


@pytest.mark.parametrize(
    "principal",
    [
        {"principalId": "SAMPLE_PRINCIPAL_ID:lambda-name"},  # panther-labs-panther-analysis
        {},
        {"principalId": "AROAONLYROLE"},
    ],
)
def test_aws_account_caller_with_hidden_principal_is_only_its_account(
    principal: dict[str, str],
) -> None:
    p = resolve_json({"type": "AWSAccount", "accountId": "111122223333", **principal}, "99")
    assert (p.leaf, p.account) == (None, "111122223333")
    assert p.targets == (acct("111122223333"),)
    assert (p.vertices, p.relations) == ([], [])


@pytest.mark.parametrize(
    ("raw", "recipient", "account"),
    [
        # CloudTrail documentation: an IAM Identity Center sign-in
        (
            b'{"type": "Unknown", "principalId": "111122223333", "arn": "", '
            b'"accountId": "111122223333", "accessKeyId": "", "userName": "alice"}',
            "111122223333",
            "111122223333",
        ),
        (b'{"type": "Unknown", "userName": "x"}', "444455556666", "444455556666"),
        (b'{"type": "SomethingNew", "principalId": "x"}', "444455556666", "444455556666"),
        (b"{}", "444455556666", "444455556666"),  # panther: "userIdentity": {}
        (b"", "444455556666", "444455556666"),  # no userIdentity at all
        (b"null", "444455556666", "444455556666"),
        (b'{"type": "IdentityCenterUser", "accountId": "111122223333"}', None, "111122223333"),
    ],
)
def test_unknown_and_missing_identities_are_only_the_account(
    raw: bytes, recipient: str | None, account: str
) -> None:
    p = resolve(raw, recipient)
    assert p.leaf is None
    assert p.targets == (acct(account),)
    assert (p.vertices, p.relations) == ([], [])


def test_no_identity_and_no_recipient_has_no_targets() -> None:
    p = resolve(b"", None)
    assert (p.leaf, p.account, p.targets, p.vertices, p.relations) == (None, None, (), [], [])


def test_cross_account_session_belongs_to_its_own_account() -> None:
    arn = "arn:aws:sts::444455556666:assumed-role/Reader/s"
    p = resolve_json(session_identity("AROAEXAMPLE:s", arn, "444455556666", None), "111122223333")
    assert p.targets[-1] == acct("444455556666")
    assert p.relations[-1] == (BELONGS_TO, VertexRef(ROLE, "AROAEXAMPLE"), acct("444455556666"))


@pytest.mark.parametrize("raw", [b'"IAMUser"', b"[1]", b'{"type": 5}', b'{"sessionContext": 1}'])
def test_wrongly_typed_identities_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError) as info:
        resolve(raw, "111122223333")
    assert str(info.value).startswith("userIdentity: ")


def test_principals_cache_one_principal_per_identity_and_recipient() -> None:
    cache = Principals()
    raw = b'{"type": "IAMUser", "principalId": "AIDAX", "accountId": "111122223333"}'
    assert cache.get(raw, "111122223333") is cache.get(raw, "111122223333")
    assert cache.get(raw, "111122223333") is not cache.get(raw, "444455556666")
