"""Password hashing: Argon2id of the MD5 hex, both forms verify, and the short verification cache."""

from __future__ import annotations

import hashlib
import time

import pytest

from foureyes.core import security
from foureyes.core.security import VerificationCache, hash_password, md5_hex, verify_secret, verify_secret_async


@pytest.fixture(autouse=True)
def cheap_argon() -> None:
    security.configure_hasher(1024, 1)


def test_hash_is_argon2id_and_salted() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt per hash


def test_password_and_md5_hex_both_verify() -> None:
    stored = hash_password("s3cret")
    assert verify_secret("s3cret", stored)
    assert verify_secret(hashlib.md5(b"s3cret").hexdigest(), stored)


def test_wrong_secret_fails() -> None:
    stored = hash_password("s3cret")
    assert not verify_secret("s3cret ", stored)
    assert not verify_secret("", stored)
    assert not verify_secret(md5_hex("other"), stored)
    # Uppercase hex is not the documented form, and is not the password either.
    assert not verify_secret(md5_hex("s3cret").upper(), stored)


def test_garbage_stored_hash_fails_instead_of_raising() -> None:
    assert not verify_secret("s3cret", "not-a-hash")


def test_a_password_that_looks_like_md5_hex_still_verifies() -> None:
    password = md5_hex("x")  # a user whose password happens to be 32 hex chars
    stored = hash_password(password)
    assert verify_secret(password, stored)
    assert verify_secret(md5_hex(password), stored)


async def test_async_verify_runs_in_pool() -> None:
    stored = hash_password("pw")
    assert await verify_secret_async("pw", stored)
    assert not await verify_secret_async("nope", stored)


def test_cache_hit_and_miss() -> None:
    cache = VerificationCache(b"k", ttl_seconds=60)
    assert not cache.hit("Basic abc", "h1")
    cache.remember("Basic abc", "h1")
    assert cache.hit("Basic abc", "h1")
    assert not cache.hit("Basic abd", "h1")


def test_cache_invalidated_when_stored_hash_changes() -> None:
    cache = VerificationCache(b"k", ttl_seconds=60)
    cache.remember("Basic abc", "old-hash")
    assert not cache.hit("Basic abc", "new-hash")


def test_cache_expires() -> None:
    cache = VerificationCache(b"k", ttl_seconds=0.01)
    cache.remember("Basic abc", "h")
    time.sleep(0.02)
    assert not cache.hit("Basic abc", "h")


def test_cache_does_not_keep_the_header() -> None:
    cache = VerificationCache(b"k", ttl_seconds=60)
    cache.remember("Basic c2VjcmV0", "h")
    assert all(b"c2VjcmV0" not in key for key in cache._entries)


def test_cache_is_bounded() -> None:
    cache = VerificationCache(b"k", ttl_seconds=60, max_entries=3)
    for i in range(10):
        cache.remember(f"Basic {i}", "h")
    assert len(cache._entries) <= 3
    assert cache.hit("Basic 9", "h")
