"""SecretBox (secrets at rest), header masking and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from foureyes.core.security import SecretBox, hmac_signature, is_secret_header, mask_headers, mask_secret


def test_secretbox_round_trip_and_no_plaintext() -> None:
    box = SecretBox("server-secret")
    sealed = box.seal("downstream-password")
    assert sealed.startswith("fx1:")
    assert "downstream-password" not in sealed
    assert box.open(sealed) == "downstream-password"
    assert box.seal("x") != box.seal("x")  # a fresh IV each time


def test_secretbox_detects_tampering() -> None:
    box = SecretBox("server-secret")
    sealed = box.seal("value")
    body = sealed[4:]
    index = len(body) // 2
    tampered = "fx1:" + body[:index] + ("A" if body[index] != "A" else "B") + body[index + 1 :]
    with pytest.raises(ValueError):
        box.open(tampered)


def test_secretbox_wrong_key() -> None:
    with pytest.raises(ValueError):
        SecretBox("other-secret").open(SecretBox("server-secret").seal("value"))


def test_secretbox_refuses_unsealed_values() -> None:
    with pytest.raises(ValueError):
        SecretBox("server-secret").open("plain text")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("Basic dXNlcjpwYXNz", "Basic ****"),
        ("Bearer eyJhbGciOi.x.y", "Bearer ****"),
        ("eyJhbGciOi.x.y", "****"),
        ("", "****"),
        ("averyveryverylongscheme abc", "****"),
    ],
)
def test_mask_secret(value: str, masked: str) -> None:
    assert mask_secret(value) == masked


@pytest.mark.parametrize(
    "name",
    ["Authorization", "X-CAP-API-OAUTH-TOKEN", "X-CAP-UI-AUTH-TOKEN", "Cookie", "X-Api-Key", "X-Webhook-Signature"],
)
def test_secret_headers_are_recognised(name: str) -> None:
    assert is_secret_header(name)


@pytest.mark.parametrize("name", ["Content-Type", "X-CAP-API-AUTH-ORG-ID", "X-Request-Id", "Accept"])
def test_plain_headers_are_left_alone(name: str) -> None:
    assert not is_secret_header(name)


def test_mask_headers() -> None:
    masked = mask_headers(
        {
            "Authorization": "Basic dXNlcjpwYXNz",
            "X-CAP-API-OAUTH-TOKEN": "eyJ.abc.def",
            "X-CAP-API-AUTH-ORG-ID": "100",
            "Content-Type": "application/json",
        }
    )
    assert masked == {
        "Authorization": "Basic ****",
        "X-CAP-API-OAUTH-TOKEN": "****",
        "X-CAP-API-AUTH-ORG-ID": "100",
        "Content-Type": "application/json",
    }


def test_hmac_signature() -> None:
    expected = hmac.new(b"whsec", b'{"a":1}', hashlib.sha256).hexdigest()
    assert hmac_signature("whsec", b'{"a":1}') == f"sha256={expected}"
    assert hmac_signature("other", b'{"a":1}') != f"sha256={expected}"
