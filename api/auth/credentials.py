"""Who may call the API: the `--credentials` INI file of `gumshoe serve`.

One section per identity::

    [analyst]
    aws_access_key_id = AKIA...
    aws_secret_access_key = ...
    account_id = 111122223333
    api_token = optional-bearer-token

The same identity signs management calls with SigV4 (boto3, the AWS CLI) and, with its token,
GraphQL calls from a browser. The account decides what the caller may see and do.
"""

from __future__ import annotations

import configparser
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

ACCOUNT_ID = re.compile(r"^\d{12}$")
ACCESS_KEY = re.compile(r"^[A-Z0-9]{16,128}$")


class CredentialsError(ValueError):
    """The credentials file is unusable; the message names the file, section and field."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str  # the INI section
    account_id: str
    access_key_id: str | None = None
    # kept out of repr so that a logged identity never leaks its secrets
    secret_access_key: str | None = None
    api_token: str | None = None

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, account_id={self.account_id!r})"


@dataclass(frozen=True, slots=True)
class Credentials:
    identities: tuple[Identity, ...]

    def by_access_key(self, access_key_id: str) -> Identity | None:
        for i in self.identities:
            if i.access_key_id == access_key_id:
                return i
        return None

    def by_token(self, token: str) -> Identity | None:
        found = None
        for i in self.identities:
            # compare every token in constant time so that timing says nothing about a prefix
            if i.api_token is not None and hmac.compare_digest(i.api_token, token):
                found = i
        return found


def parse_credentials(text: str, source: str = "<credentials>") -> Credentials:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as e:
        raise CredentialsError(f"{source}: not an INI file: {e}") from None
    identities: list[Identity] = []
    keys: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for name in parser.sections():
        section = parser[name]

        def get(field: str, name: str = name) -> str | None:
            value = parser[name].get(field)
            return value.strip() or None if value is not None else None

        account = get("account_id")
        if account is None:
            raise CredentialsError(f"{source}: [{name}]: missing required field account_id")
        if not ACCOUNT_ID.match(account):
            raise CredentialsError(f"{source}: [{name}]: account_id must be 12 digits: {account!r}")
        key, secret, token = (
            get("aws_access_key_id"),
            get("aws_secret_access_key"),
            get("api_token"),
        )
        if (key is None) != (secret is None):
            raise CredentialsError(
                f"{source}: [{name}]: aws_access_key_id and aws_secret_access_key go together"
            )
        if key is not None and not ACCESS_KEY.match(key):
            raise CredentialsError(f"{source}: [{name}]: aws_access_key_id is malformed: {key!r}")
        if key is None and token is None:
            raise CredentialsError(
                f"{source}: [{name}]: needs aws_access_key_id/aws_secret_access_key or api_token"
            )
        if key is not None:
            if key in keys:
                raise CredentialsError(
                    f"{source}: [{name}]: aws_access_key_id already used by [{keys[key]}]"
                )
            keys[key] = name
        if token is not None:
            if token in tokens:
                raise CredentialsError(
                    f"{source}: [{name}]: api_token already used by [{tokens[token]}]"
                )
            if len(token) < 16:
                raise CredentialsError(
                    f"{source}: [{name}]: api_token is shorter than 16 characters"
                )
            tokens[token] = name
        unknown = set(section) - {
            "account_id",
            "aws_access_key_id",
            "aws_secret_access_key",
            "api_token",
        }
        if unknown:
            raise CredentialsError(f"{source}: [{name}]: unknown field {sorted(unknown)[0]}")
        identities.append(Identity(name, account, key, secret, token))
    if not identities:
        raise CredentialsError(f"{source}: no identities (one [section] per caller)")
    return Credentials(tuple(identities))


def load_credentials(path: str | Path) -> Credentials:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise CredentialsError(f"{p}: cannot read: {e.strerror}") from None
    return parse_credentials(text, str(p))
