"""Password hashing: Argon2id of the MD5 hex, both forms verify, and the short verification cache."""

from __future__ import annotations

import asyncio
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


async def test_concurrent_callers_with_one_header_share_one_verification(argon2_calls: list[str]) -> None:
    cache, stored = VerificationCache(b"k", ttl_seconds=60), hash_password("pw")
    results = await asyncio.gather(*(cache.verify("Basic abc", "pw", stored) for _ in range(12)))
    assert results == [True] * 12
    assert argon2_calls == ["pw"]
    assert cache.hit("Basic abc", stored)
    assert await cache.verify("Basic abc", "pw", stored)  # a late caller is answered from memory
    assert argon2_calls == ["pw"]


async def test_a_shared_failure_fails_everyone_and_is_not_remembered(argon2_calls: list[str]) -> None:
    cache, stored = VerificationCache(b"k", ttl_seconds=60), hash_password("pw")
    assert await asyncio.gather(*(cache.verify("Basic bad", "nope", stored) for _ in range(5))) == [False] * 5
    assert argon2_calls == ["nope"]
    assert not cache.hit("Basic bad", stored)
    assert not await cache.verify("Basic bad", "nope", stored)  # the next attempt is verified afresh
    assert argon2_calls == ["nope", "nope"]


async def test_different_headers_or_hashes_are_verified_separately(argon2_calls: list[str]) -> None:
    cache, stored, other = VerificationCache(b"k", ttl_seconds=60), hash_password("pw"), hash_password("pw")
    results = await asyncio.gather(
        cache.verify("Basic one", "pw", stored),
        cache.verify("Basic two", "pw", stored),
        cache.verify("Basic one", "pw", other),
    )
    assert results == [True, True, True]
    assert len(argon2_calls) == 3


async def test_a_caller_that_gives_up_does_not_cancel_the_shared_verification(argon2_calls: list[str]) -> None:
    cache, stored = VerificationCache(b"k", ttl_seconds=60), hash_password("pw")
    first = asyncio.ensure_future(cache.verify("Basic abc", "pw", stored))
    await asyncio.sleep(0)  # the first caller has started the verification
    second = asyncio.ensure_future(cache.verify("Basic abc", "pw", stored))
    await asyncio.sleep(0)
    first.cancel()
    assert await second
    assert first.cancelled()
    assert argon2_calls == ["pw"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _settled(cache: VerificationCache) -> None:
    """Let a background renewal finish (it runs in the Argon2 pool)."""
    for _ in range(500):
        if not cache._running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the renewal did not finish")


async def test_a_hit_in_the_last_quarter_renews_in_the_background(argon2_calls: list[str]) -> None:
    clock = Clock()
    cache, stored = VerificationCache(b"k", ttl_seconds=60, clock=clock), hash_password("pw")
    assert await cache.verify("Basic abc", "pw", stored)
    clock.now += 44  # 16 s left: not yet
    assert cache.hit("Basic abc", stored)
    cache.renew_if_ending("Basic abc", "pw", stored)
    await _settled(cache)
    assert argon2_calls == ["pw"]
    clock.now += 2  # 14 s left
    cache.renew_if_ending("Basic abc", "pw", stored)
    cache.renew_if_ending("Basic abc", "pw", stored)  # one renewal at a time
    await _settled(cache)
    assert argon2_calls == ["pw", "pw"]
    clock.now += 50  # past the first entry's end, inside the renewed one's
    assert cache.hit("Basic abc", stored)


async def test_an_entry_nobody_uses_runs_out(argon2_calls: list[str]) -> None:
    clock = Clock()
    cache, stored = VerificationCache(b"k", ttl_seconds=60, clock=clock), hash_password("pw")
    assert await cache.verify("Basic abc", "pw", stored)
    clock.now += 60
    assert not cache.hit("Basic abc", stored)
    cache.renew_if_ending("Basic abc", "pw", stored)  # an expired entry is verified on the request, not here
    assert not cache._running
    assert argon2_calls == ["pw"]
