"""Credentials file parsing and SigV4 time checks (the HTTP round trips are in integration)."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from api.auth import AuthError, CredentialsError, check_no_auth, load_credentials, parse_credentials
from api.auth.sigv4 import SignedRequest, verify

GOOD = """
[admin]
aws_access_key_id = AKIAADMIN0000000001
aws_secret_access_key = s3cret
account_id = 111122223333
api_token = 0123456789abcdef
"""


def test_a_good_file_parses_and_hides_secrets_from_repr() -> None:
    creds = parse_credentials(GOOD)
    (admin,) = creds.identities
    assert creds.by_access_key("AKIAADMIN0000000001") == admin
    assert creds.by_token("0123456789abcdef") == admin
    assert creds.by_token("0123456789abcdeX") is None
    assert "s3cret" not in repr(admin) and "0123456789abcdef" not in repr(admin)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[a]\naws_access_key_id = AKIAADMIN0000000001\naws_secret_access_key = x\n",
            "[a]: missing required field account_id",
        ),
        (
            "[a]\naccount_id = 1234\napi_token = 0123456789abcdef\n",
            "[a]: account_id must be 12 digits",
        ),
        (
            "[a]\naccount_id = 111122223333\naws_access_key_id = AKIAADMIN0000000001\n",
            "[a]: aws_access_key_id and aws_secret_access_key go together",
        ),
        ("[a]\naccount_id = 111122223333\n", "[a]: needs aws_access_key_id"),
        ("[a]\naccount_id = 111122223333\napi_token = short\n", "shorter than 16"),
        (
            "[a]\naccount_id = 111122223333\napi_token = 0123456789abcdef\nsecret = x\n",
            "[a]: unknown field secret",
        ),
        (
            GOOD + GOOD.replace("[admin]", "[again]"),
            "[again]: aws_access_key_id already used by [admin]",
        ),
        ("", "no identities"),
        ("not ini", "not an INI file"),
    ],
)
def test_bad_files_name_the_section_and_field(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match="creds.ini") as e:
        parse_credentials(text, "creds.ini")
    assert message in str(e.value)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=str(tmp_path / "missing.ini")):
        load_credentials(tmp_path / "missing.ini")


def test_no_auth_only_on_loopback() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.5.5.5"):
        check_no_auth(host)
    for host in ("0.0.0.0", "10.0.0.1", "example.com", "::"):
        with pytest.raises(ValueError, match="--no-auth"):
            check_no_auth(host)


SIGNED_AT = calendar.timegm((2026, 11, 29, 12, 0, 0, 0, 0, 0))


def signed(body: bytes = b'{"MaxResults": 5}') -> SignedRequest:
    """Sign as botocore does, at SIGNED_AT instead of now (add_auth always stamps the clock)."""
    stamp = dt.datetime.fromtimestamp(SIGNED_AT, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    req = AWSRequest(method="POST", url="http://127.0.0.1:9000/graphs/list", data=body)
    req.headers["Content-Type"] = "application/json"
    req.headers["Host"] = "127.0.0.1:9000"
    req.headers["X-Amz-Date"] = stamp
    req.context["timestamp"] = stamp
    signer = SigV4Auth(BotoCredentials("AKIAADMIN0000000001", "s3cret"), "detective", "us-east-1")
    signature = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    names = signer.signed_headers(signer.headers_to_sign(req))
    req.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(req)}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return SignedRequest("POST", "/graphs/list", "", list(req.headers.items()), body)


@pytest.mark.parametrize("offset", [0, -299, 299])
def test_signatures_within_five_minutes_verify(offset: int) -> None:
    assert verify(signed(), parse_credentials(GOOD), now=SIGNED_AT + offset).account_id == (
        "111122223333"
    )


@pytest.mark.parametrize(("offset", "word"), [(301, "expired"), (-301, "not yet current")])
def test_signatures_outside_five_minutes_are_refused(offset: int, word: str) -> None:
    with pytest.raises(AuthError, match=word) as e:
        verify(signed(), parse_credentials(GOOD), now=SIGNED_AT + offset)
    assert e.value.code == "InvalidSignatureException"


def test_a_changed_body_is_refused() -> None:
    good = signed()
    bad = SignedRequest(good.method, good.raw_path, good.query_string, good.headers, b"{}")
    with pytest.raises(AuthError, match="signature we calculated"):
        verify(bad, parse_credentials(GOOD), now=SIGNED_AT)
