"""JWTs: one pinned algorithm, every claim required, nothing forged or foreign accepted."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from foureyes.core.security import TokenService

SECRET = "unit-test-secret"
AUD = "foureyes-api"


def _key(secret: str = SECRET) -> bytes:
    # Mirrors TokenService's derivation so the tests can forge tokens with the *right* key.
    return hashlib.sha256(b"foureyes-jwt:" + secret.encode()).digest()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "user:1",
        "org": 100,
        "aud": AUD,
        "iss": "foureyes",
        "iat": now,
        "exp": now + 60,
        "jti": "abc",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SECRET, "foureyes")


def test_round_trip(tokens: TokenService) -> None:
    token = tokens.issue(subject="user:7", org_id=100, audience=AUD, ttl_seconds=60)
    claims = tokens.verify(token, audience=AUD)
    assert claims is not None
    assert (claims.subject, claims.org_id, claims.audience) == ("user:7", 100, AUD)
    assert claims.token_id and claims.expires_at > time.time()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_each_token_has_its_own_jti(tokens: TokenService) -> None:
    a = tokens.verify(tokens.issue(subject="s", org_id=1, audience=AUD, ttl_seconds=60), audience=AUD)
    b = tokens.verify(tokens.issue(subject="s", org_id=1, audience=AUD, ttl_seconds=60), audience=AUD)
    assert a is not None and b is not None and a.token_id != b.token_id


def test_a_token_signed_by_us_verifies_when_crafted_by_hand(tokens: TokenService) -> None:
    # Guards the forgery tests below: with the right key and algorithm, a hand-made token is accepted.
    assert tokens.verify(jwt.encode(_claims(), _key(), algorithm="HS256"), audience=AUD) is not None


def test_expired(tokens: TokenService) -> None:
    expired = tokens.issue(subject="user:1", org_id=100, audience=AUD, ttl_seconds=-120)
    assert tokens.verify(expired, audience=AUD) is None


def test_forged_signature(tokens: TokenService) -> None:
    assert tokens.verify(jwt.encode(_claims(), _key("another-secret"), algorithm="HS256"), audience=AUD) is None
    good = tokens.issue(subject="user:1", org_id=100, audience=AUD, ttl_seconds=60)
    header, payload, signature = good.split(".")
    tampered_payload = _b64({**jwt.decode(good, options={"verify_signature": False}), "org": 200})
    assert tokens.verify(f"{header}.{tampered_payload}.{signature}", audience=AUD) is None
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert tokens.verify(f"{header}.{payload}.{flipped}", audience=AUD) is None


def test_alg_none(tokens: TokenService) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    assert tokens.verify(unsigned, audience=AUD) is None
    assert tokens.verify(jwt.encode(_claims(), None, algorithm="none"), audience=AUD) is None


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hs512_with_the_right_key_is_refused(tokens: TokenService) -> None:
    assert tokens.verify(jwt.encode(_claims(), _key(), algorithm="HS512"), audience=AUD) is None


def test_rs256_token_is_refused(tokens: TokenService) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert tokens.verify(jwt.encode(_claims(), private, algorithm="RS256"), audience=AUD) is None


def test_wrong_audience(tokens: TokenService) -> None:
    ui = tokens.issue(subject="user:1", org_id=100, audience="foureyes-ui", ttl_seconds=60)
    assert tokens.verify(ui, audience=AUD) is None
    assert tokens.verify(ui, audience="foureyes-ui") is not None


def test_wrong_issuer(tokens: TokenService) -> None:
    other = TokenService(SECRET, "someone-else").issue(subject="user:1", org_id=100, audience=AUD, ttl_seconds=60)
    assert tokens.verify(other, audience=AUD) is None


@pytest.mark.parametrize("missing", ["jti", "org", "sub", "exp", "iat", "iss", "aud"])
def test_missing_claim(tokens: TokenService, missing: str) -> None:
    claims = _claims()
    del claims[missing]
    assert tokens.verify(jwt.encode(claims, _key(), algorithm="HS256"), audience=AUD) is None


@pytest.mark.parametrize("bad", [{"org": "100"}, {"org": None, "sub": "user:1"}, {"sub": 5}, {"org": 1.5}])
def test_wrongly_typed_claims(tokens: TokenService, bad: dict[str, Any]) -> None:
    claims = _claims()
    claims.update(bad)
    claims = {k: v for k, v in claims.items() if v is not None}
    assert tokens.verify(jwt.encode(claims, _key(), algorithm="HS256"), audience=AUD) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "Bearer x"])
def test_garbage(tokens: TokenService, garbage: str) -> None:
    assert tokens.verify(garbage, audience=AUD) is None
