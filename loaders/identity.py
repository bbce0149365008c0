"""Who made a CloudTrail call: userIdentity → the acting principal and the entities it rolls up to.

Rules (Amazon Detective's identities, README "Data model"):
- IAMUser → AwsUser(principalId); Root → AwsUser(account id, name "root").
- AssumedRole → AwsRoleSession(`<rolePrincipalId>:<sessionName>`), rolling up to AwsRole and,
  for instance-profile sessions (session name = instance id), to Ec2Instance.
- FederatedUser (STS GetFederationToken) → FederatedUser(`<issuer ARN>:<name>`);
  SAMLUser / WebIdentityUser → FederatedUser(principalId, which is `<idp>:[<aud>:]<user>`);
  IdentityCenterUser → FederatedUser(`<identityStoreArn>:<userId>`).
- AWSService (and service events without a type) → AwsService(invokedBy).
- AWSAccount (a caller in another account) → the AwsUser or AwsRoleSession its principalId names,
  or, when the principal is hidden, only its AwsAccount.
- Unknown or missing userIdentity → only the account.
Every acting principal also rolls up to its AwsAccount.
"""

from __future__ import annotations

import re
from typing import cast

import msgspec

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

_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?")


class SessionIssuer(msgspec.Struct):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    userName: str | None = None


class SessionContext(msgspec.Struct):
    sessionIssuer: SessionIssuer | None = None
    ec2RoleDelivery: str | None = None


class OnBehalfOf(msgspec.Struct):
    userId: str | None = None
    identityStoreArn: str | None = None


class Identity(msgspec.Struct):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    identityProvider: str | None = None
    sessionContext: SessionContext | None = None
    onBehalfOf: OnBehalfOf | None = None


_identity = msgspec.json.Decoder(Identity | None, strict=False)

Props = dict[str, Scalar]


class Principal:
    """The acting principal of a call and where its activity rolls up to.

    Hashed by identity: one instance per distinct userIdentity in a resolver's cache.
    """

    __slots__ = ("account", "key", "leaf", "relations", "targets", "vertices")

    def __init__(self, leaf: VertexRef | None, account: str | None) -> None:
        self.leaf = leaf
        self.account = account
        # (raw userIdentity, recipient account) it was resolved from, set by its resolver's cache
        self.key: tuple[bytes, str | None] | None = None
        self.targets: tuple[VertexRef, ...] = ()
        self.vertices: list[tuple[VertexRef, Props]] = []
        # relationships observed on every call: (edge label, source, target)
        self.relations: list[tuple[str, VertexRef, VertexRef]] = []

    def _finish(self, rollups: list[VertexRef]) -> Principal:
        acct = VertexRef(ACCOUNT, self.account) if self.account else None
        targets = ([self.leaf] if self.leaf else []) + rollups + ([acct] if acct else [])
        self.targets = tuple(targets)
        if acct is not None:
            for ref, _ in self.vertices:
                if ref.label in (USER, ROLE, SESSION, FEDERATED, INSTANCE):
                    self.relations.append((BELONGS_TO, ref, acct))
        return self


def decode_identity(raw: bytes) -> Identity | None:
    if not raw:
        return None
    try:
        return cast("Identity | None", _identity.decode(raw))
    except msgspec.ValidationError as e:
        raise ValueError(f"userIdentity: {e}") from None


def resolve(raw: bytes, recipient: str | None) -> Principal:
    """The principal for a raw userIdentity; `recipient` is the account the call was made in."""
    ui = decode_identity(raw)
    if ui is None:
        return Principal(None, recipient)._finish([])
    kind = ui.type or ("AWSService" if ui.invokedBy else "Unknown")
    account = ui.accountId or recipient
    if kind == "IAMUser":
        return _user(ui.principalId or ui.arn or ui.userName, ui.userName, ui.arn, account)
    if kind == "Root":
        return _user(account or ui.principalId, "root", ui.arn, account)
    if kind == "AssumedRole":
        return _assumed_role(ui, account)
    if kind == "FederatedUser":
        issuer = ui.sessionContext.sessionIssuer if ui.sessionContext else None
        name = _after(ui.arn, "federated-user/") or _after(ui.principalId, ":")
        idp = (issuer.arn if issuer else None) or "sts.amazonaws.com"
        return _federated(f"{idp}:{name}", name, idp, None, ui.arn, account)
    if kind in ("SAMLUser", "WebIdentityUser"):
        provider = ui.identityProvider
        key = ui.principalId or f"{provider}:{ui.userName}"
        parts = key.split(":")
        audience = parts[1] if kind == "WebIdentityUser" and len(parts) == 3 else None
        return _federated(key, ui.userName, provider, audience, None, account)
    if kind == "IdentityCenterUser" and ui.onBehalfOf and ui.onBehalfOf.userId:
        store = ui.onBehalfOf.identityStoreArn or "identitystore"
        key = f"{store}:{ui.onBehalfOf.userId}"
        return _federated(key, ui.onBehalfOf.userId, store, None, None, account)
    if kind == "AWSService" and ui.invokedBy:
        p = Principal(VertexRef(SERVICE, ui.invokedBy), recipient or ui.accountId)
        p.vertices.append((p.leaf, {}))  # type: ignore[arg-type]
        return p._finish([])
    if kind == "AWSAccount":
        pid = ui.principalId or ""
        if pid.startswith("AROA") and ":" in pid:
            return _session(pid, None, None, None, account)
        if pid.startswith("AIDA"):
            return _user(pid, None, None, account)
    return Principal(None, account)._finish([])


def _user(key: str | None, name: str | None, arn: str | None, account: str | None) -> Principal:
    if not key:
        return Principal(None, account)._finish([])
    p = Principal(VertexRef(USER, key), account)
    p.vertices.append((p.leaf, {"name": name, "arn": arn, "account": account}))  # type: ignore[arg-type]
    return p._finish([])


def _federated(
    key: str,
    name: str | None,
    idp: str | None,
    audience: str | None,
    arn: str | None,
    account: str | None,
) -> Principal:
    p = Principal(VertexRef(FEDERATED, key), account)
    props: Props = {"name": name, "idp": idp, "audience": audience, "arn": arn, "account": account}
    p.vertices.append((p.leaf, props))  # type: ignore[arg-type]
    return p._finish([])


def _assumed_role(ui: Identity, account: str | None) -> Principal:
    issuer = ui.sessionContext.sessionIssuer if ui.sessionContext else None
    pid = ui.principalId or ""
    role_pid, _, session_name = pid.partition(":")
    if not session_name:
        session_name = _after(ui.arn, "/", last=True) or ""
    role_pid = (issuer.principalId if issuer else None) or role_pid
    if not role_pid or not session_name:
        return Principal(None, account)._finish([])
    # The role ARN's path is not in a session ARN: only an issuer (or AssumeRole) gives the ARN;
    # guessing one here would make the stored value depend on which event came first.
    role_arn = issuer.arn if issuer else None
    role_name = (issuer.userName if issuer else None) or role_name_of_session(ui.arn)
    return _session(f"{role_pid}:{session_name}", ui.arn, role_arn, role_name, account)


def _session(
    key: str, arn: str | None, role_arn: str | None, role_name: str | None, account: str | None
) -> Principal:
    role_pid, _, session_name = key.partition(":")
    session = VertexRef(SESSION, key)
    role = VertexRef(ROLE, role_pid)
    p = Principal(session, account)
    p.vertices.append(
        (
            session,
            {
                "name": session_name,
                "arn": arn,
                "account": account,
                "role_name": role_name,
                "role_arn": role_arn,
            },
        )
    )
    p.vertices.append((role, {"name": role_name, "arn": role_arn, "account": account}))
    p.relations.append((ASSUMED_ROLE, session, role))
    rollups = [role]
    if _INSTANCE_ID.fullmatch(session_name):
        instance = VertexRef(INSTANCE, session_name)
        p.vertices.append((instance, {"account": account}))
        p.relations.append((RUNS_SESSION, instance, session))
        rollups.append(instance)
    return p._finish(rollups)


def role_name_of_session(session_arn: str | None) -> str | None:
    if not session_arn or ":assumed-role/" not in session_arn:
        return None
    return session_arn.partition(":assumed-role/")[2].split("/", 1)[0] or None


def _after(value: str | None, sep: str, *, last: bool = False) -> str | None:
    if not value or sep not in value:
        return None
    return value.rsplit(sep, 1)[1] if last else value.split(sep, 1)[1]
