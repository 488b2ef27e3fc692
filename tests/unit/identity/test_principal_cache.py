"""The principal cache on its own: TTL, size bound, generations, per-user eviction, keys without secrets."""

from __future__ import annotations

from foureyes.core.settings import Settings
from foureyes.identity.principal import Principal, UnitGrant
from foureyes.identity.principal_cache import PrincipalCache, generation, invalidate_principals

HEADER = "Basic dXNlcjpwYXNzd29yZA=="  # user:password


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def user(name: str = "user", org: int = 100, uid: int = 1) -> Principal:
    return Principal("user", uid, org, name, "intouch", (UnitGrant("CanMakeRequest", "/c/"),), "basic")


def cache(ttl: float = 5.0, **kw: object) -> tuple[PrincipalCache, FakeClock]:
    clock = FakeClock()
    return PrincipalCache(b"k" * 32, ttl, clock=clock, **kw), clock  # type: ignore[arg-type]


def test_an_entry_lives_exactly_the_ttl() -> None:
    c, clock = cache(5.0)
    key = c.basic_key(HEADER)
    c.put(key, user(), generation())
    assert c.get(key) == user()
    clock.now += 4.9
    assert c.get(key) == user()
    clock.now += 0.1
    assert c.get(key) is None
    assert len(c) == 0


def test_ttl_zero_disables_the_cache() -> None:
    c, _ = cache(0)
    key = c.basic_key(HEADER)
    c.put(key, user(), generation())
    assert c.get(key) is None and len(c) == 0
    assert not c.enabled


def test_the_setting_reaches_the_cache() -> None:
    from foureyes.core.security import TokenService
    from foureyes.identity.auth import Authenticator

    assert Settings.model_fields["principal_cache_seconds"].default == 5.0
    for seconds in (0, 2.5):
        settings = Settings(secret_key="k", principal_cache_seconds=seconds)  # type: ignore[arg-type]
        auth = Authenticator(None, settings, TokenService("k", "foureyes"))  # type: ignore[arg-type]
        assert auth.principals.ttl == seconds and auth.principals.enabled is (seconds > 0)


def test_the_size_is_bounded_least_recently_used_first() -> None:
    c, _ = cache(max_entries=3)
    gen = generation()
    for i in range(3):
        c.put(("k", i), user(uid=i), gen)
    assert c.get(("k", 0)) is not None  # 0 is now the most recent
    for i in range(3, 100):
        c.put(("k", i), user(uid=i), gen)
    assert len(c) == 3
    assert c.get(("k", 0)) is None and c.get(("k", 99)) is not None


def test_an_identity_write_clears_every_cache_of_the_process() -> None:
    first, _ = cache()
    second, _ = cache()
    first.put("a", user(), generation())
    second.put("b", user(), generation())
    invalidate_principals()
    assert first.get("a") is None and second.get("b") is None


def test_a_read_that_raced_a_write_is_not_cached() -> None:
    c, _ = cache()
    read_generation = generation()  # taken before the read…
    invalidate_principals()  # …a write commits while the read runs…
    c.put("a", user(), read_generation)  # …so what the read saw may be stale
    assert c.get("a") is None


def test_forget_user_drops_only_that_username() -> None:
    c, _ = cache()
    gen = generation()
    c.put(c.basic_key(HEADER), user("alice"), gen)
    c.put(("ui-token", "user:1", 100), user("alice"), gen)
    c.put(c.basic_key(HEADER + "x"), user("bob", uid=2), gen)
    client = Principal("client", 3, 100, "alice", None, (), "oauth")  # a client key that happens to match
    c.put(("oauth", "client:3", 100), client, gen)
    c.forget_user("alice")
    assert len(c) == 2
    assert c.get(c.basic_key(HEADER + "x")) is not None and c.get(("oauth", "client:3", 100)) is not None


def test_basic_keys_hold_no_secret_and_depend_on_the_server_key() -> None:
    a = PrincipalCache(b"a" * 32, 5).basic_key(HEADER)
    b = PrincipalCache(b"b" * 32, 5).basic_key(HEADER)
    assert a != b
    assert HEADER not in repr(a) and "password" not in repr(a)
    assert PrincipalCache(b"a" * 32, 5).basic_key(HEADER + " ") != a
