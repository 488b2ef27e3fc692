"""Permission resolution: org-wide grants, unit-scoped grants and their subtrees."""

from __future__ import annotations

from foureyes.identity.principal import Principal, UnitGrant

CONCEPT = "/c/"
ZONE_A = "/c/za/"
STORE_A = "/c/za/s1/"
TILL_A = "/c/za/s1/t1/"
ZONE_B = "/c/zb/"
STORE_B = "/c/zb/s2/"
# A sibling whose id starts with the same characters: prefix matching must respect the path separator.
ZONE_A_LOOKALIKE = "/c/za2/"


def principal(*grants: UnitGrant) -> Principal:
    return Principal("user", 1, 100, "u", "intouch", grants)


def test_org_wide_grant_covers_everything() -> None:
    p = principal(UnitGrant("CanMakeRequest", None))
    assert p.holds("CanMakeRequest")
    for path in (CONCEPT, ZONE_A, TILL_A, STORE_B, None):
        assert p.can("CanMakeRequest", path)
    assert p.scope("CanMakeRequest") is None


def test_zone_grant_covers_its_stores_and_tills_only() -> None:
    p = principal(UnitGrant("CanCheckRequest", ZONE_A))
    assert p.holds("CanCheckRequest")
    assert p.can("CanCheckRequest", ZONE_A)
    assert p.can("CanCheckRequest", STORE_A)
    assert p.can("CanCheckRequest", TILL_A)
    assert not p.can("CanCheckRequest", ZONE_B)
    assert not p.can("CanCheckRequest", STORE_B)
    assert not p.can("CanCheckRequest", ZONE_A_LOOKALIKE)
    assert not p.can("CanCheckRequest", CONCEPT)  # a grant does not flow upwards
    assert not p.can("CanCheckRequest", None)  # an org-level object needs an org-wide grant
    assert p.scope("CanCheckRequest") == [ZONE_A]


def test_permissions_do_not_leak_into_each_other() -> None:
    p = principal(UnitGrant("CanMakeRequest", None))
    assert not p.holds("CanCheckRequest")
    assert not p.can("CanCheckRequest", TILL_A)
    assert p.scope("CanCheckRequest") == []


def test_several_unit_grants_and_an_org_wide_one() -> None:
    p = principal(UnitGrant("BadgesRead", ZONE_A), UnitGrant("BadgesRead", STORE_B))
    assert p.scope("BadgesRead") == [ZONE_A, STORE_B]
    assert p.can("BadgesRead", STORE_B) and not p.can("BadgesRead", ZONE_B)
    widened = principal(UnitGrant("BadgesRead", ZONE_A), UnitGrant("BadgesRead", None))
    assert widened.scope("BadgesRead") is None
    assert widened.can("BadgesRead", ZONE_B)


def test_no_grants() -> None:
    p = principal()
    assert not p.holds("CanMakeRequest")
    assert not p.can("CanMakeRequest", None)
    assert p.scope("CanMakeRequest") == []


def test_actor() -> None:
    assert principal().actor == "user:1"
    assert Principal("client", 9, 100, "key").actor == "client:9"
