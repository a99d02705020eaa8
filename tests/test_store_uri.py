"""``redact_uri``: every credential form pymongo accepts is hidden, one test per form.

Each URI is first checked to be one pymongo itself parses with that secret
(so the form is real), then its redaction must show neither the secret as
written nor as pymongo decodes it.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from pymongo.uri_parser_shared import _validate_uri

from newsspider.store.store import redact_uri

FORMS = {
    "password": ("mongodb://user:S3cretPw@db.example:27017/news", "S3cretPw"),
    "password with #": ("mongodb://user:pa#ssW0rd@db.example/news", "pa#ssW0rd"),
    "password with ? escaped": ("mongodb://user:pa%3FssW0rd@db.example/", "pa%3FssW0rd"),
    "password with / escaped": ("mongodb://user:pa%2FssW0rd@db.example/", "pa%2FssW0rd"),
    "password with @ and :": ("mongodb://user:p%40ss%3AW0rd@db.example/", "p%40ss%3AW0rd"),
    "username only (X.509, GSSAPI)": (
        "mongodb://CN%3DSecretClient%2COU%3Dx@db.example/?authMechanism=MONGODB-X509",
        "SecretClient"),
    "AWS access key pair": (
        "mongodb://AKIASECRETKEY:wJalrSecretKey@db.example/?authMechanism=MONGODB-AWS",
        "wJalrSecretKey"),
    "AWS_SESSION_TOKEN": (
        ("mongodb://db.example/?authMechanism=MONGODB-AWS"
        "&authMechanismProperties=AWS_SESSION_TOKEN:FQoGZXIvYXdzSessionToken"), "FQoGZXIvYXdzSessionToken"),
    "AWS_SESSION_TOKEN escaped": (
        ("mongodb://db.example/?authMechanism=MONGODB-AWS"
        "&authMechanismProperties=AWS_SESSION_TOKEN%3AFQoGescapedToken"), "FQoGescapedToken"),
    "OIDC properties": (
        ("mongodb://db.example/?authMechanism=MONGODB-OIDC"
        "&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api%3A%2F%2FSecretApp"),
        "SecretApp"),
    "GSSAPI service realm": (
        ("mongodb://user%40REALM@db.example/?authMechanism=GSSAPI"
        "&authMechanismProperties=SERVICE_NAME:mongodb,SERVICE_REALM:SECRETREALM"), "SECRETREALM"),
    "TLS key file password": (
        "mongodb://db.example/?tls=true&tlsCertificateKeyFilePassword=KeyPassW0rd", "KeyPassW0rd"),
    "SOCKS proxy credentials": (
        "mongodb://db.example/?proxyHost=p.example&proxyUsername=proxyU5er&proxyPassword=Pr0xyPw",
        "Pr0xyPw"),
    "an option pymongo does not know": ("mongodb://db.example/?password=Mistyped5ecret", "Mistyped5ecret"),
    "semicolon-separated options": (
        "mongodb://db.example/?authSource=admin;tlsCertificateKeyFilePassword=Semi5ecret", "Semi5ecret"),
    "mongodb+srv": ("mongodb+srv://user:SrvPassW0rd@cluster0.example.net/db?retryWrites=true",
                    "SrvPassW0rd"),
    "several hosts": ("mongodb://u:Multi5ecret@h1.example:27017,h2.example:27018/?replicaSet=rs0",
                      "Multi5ecret"),
    "IPv6 host": ("mongodb://u:Ipv6Secret@[::1]:27017/", "Ipv6Secret"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_credential_form_is_hidden(form: str) -> None:
    uri, secret = FORMS[form]
    parsed = _validate_uri(uri, validate=False, warn=False, normalize=False)
    read = [parsed["username"] or "", parsed["password"] or "",
            *(str(v) for v in parsed["options"].values())]
    assert any(unquote_plus(secret) in value or secret in value for value in read), form
    shown = redact_uri(uri)
    for variant in {secret, unquote_plus(secret)}:
        assert variant not in shown, (form, shown)
    assert "REDACTED" in shown


def test_what_is_not_secret_stays_readable() -> None:
    shown = redact_uri("mongodb://u:pw@h1.example:27017,h2.example:27018/news?replicaSet=rs0"
                       "&authSource=admin&tls=true")
    assert shown == ("mongodb://REDACTED@h1.example:27017,h2.example:27018/news"
                     "?replicaSet=rs0&authSource=admin&tls=true")
    assert redact_uri("mongodb://127.0.0.1:1234") == "mongodb://127.0.0.1:1234"


@pytest.mark.parametrize("uri", [
    "mongodb://user:pa?ss@db.example/",  # pymongo refuses: the "?" starts the options
    "mongodb://user:pa/ss@db.example",
    "mongodb://user:p:w:Secret99@db.example/",
    "mongodb://user:Secret99@db.example:99999/",
    "postgres://user:Secret99@db.example/",
    "Secret99",
])
def test_a_uri_pymongo_cannot_parse_is_not_shown(uri: str) -> None:
    shown = redact_uri(uri)
    assert "REDACTED" in shown and "Secret99" not in shown and "ss@" not in shown
