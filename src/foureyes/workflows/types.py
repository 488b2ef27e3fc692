"""The six request types: their downstream call, body schema and idempotency strategy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from foureyes.core.errors import ErrorItem

StrOrInt = str | int


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TriggeredBy(_Loose):
    ownerType: str = Field(min_length=1, max_length=64)
    referenceId: StrOrInt


class EarnBadgeBody(_Loose):
    triggeredBy: TriggeredBy
    customerId: StrOrInt
    requestId: StrOrInt
    badgeMetaId: str = Field(min_length=1, max_length=64)


class IssueBadgeBody(_Loose):
    triggeredBy: TriggeredBy
    customers: list[int] | int
    requestId: StrOrInt
    badgeMetaId: str = Field(min_length=1, max_length=64)

    @field_validator("customers")
    @classmethod
    def _as_list(cls, value: list[int] | int) -> list[int]:
        items = value if isinstance(value, list) else [value]
        if not items or len(items) > 1000:
            raise ValueError("customers must hold between 1 and 1000 customer ids")
        return items


class StatusChangeBody(_Loose):
    reason: str = Field(min_length=1, max_length=500)
    label: str = Field(min_length=1, max_length=64)


class StatusChangeQuery(_Loose):
    identifierName: str = Field(min_length=1, max_length=32)
    identifierValue: str = Field(min_length=1, max_length=254)


class Redeem(_Loose):
    points_redeemed: StrOrInt
    customer: dict[str, Any]


class RedeemRoot(_Loose):
    redeem: Redeem


class PointsRedemptionBody(_Loose):
    root: RedeemRoot


class GoodwillBody(_Loose):
    referenceId: StrOrInt
    reason: str
    baseType: str
    programId: StrOrInt
    awardingTillId: StrOrInt
    earningEntityType: str
    earningEntityId: StrOrInt
    points: int | float  # int first: a submitted 50 must reach the downstream as 50, not 50.0
    source: str


class RetroBody(_Loose):
    oldType: str
    newType: str
    transactionId: StrOrInt
    customerId: StrOrInt


@dataclass(frozen=True)
class RequestType:
    name: str  # path form: EARN-BADGE
    method: str
    path: str
    body_schema: type[BaseModel]
    query_schema: type[BaseModel] | None = None
    # Methods accepted on create and normalised to `method` (documented example quirks).
    also_accepts: tuple[str, ...] = ()
    # Where the idempotency key travels: the body's own requestId (badges) or the Idempotency-Key header.
    key_in_body: bool = False
    dry_run: str | None = None  # "earn" | "issue" | "status" when this server can check the effect in-process

    @property
    def kebab(self) -> str:
        return self.name.lower()

    @property
    def snake(self) -> str:
        return self.name.replace("-", "_")

    def check_body(self, body: Any, query: Any) -> tuple[dict[str, Any], list[ErrorItem]]:
        """Validate body (and query) against the schema; return the normalised body and every problem."""
        problems: list[ErrorItem] = []
        normalised: dict[str, Any] = body if isinstance(body, dict) else {}
        for schema, value, prefix in ((self.body_schema, body, "body"), (self.query_schema, query, "queryParams")):
            if schema is None:
                continue
            try:
                model = schema.model_validate(value if value is not None else {})
            except ValidationError as exc:
                problems.extend(_items(exc, f"payload.IntouchAPITask-Payload.{prefix}"))
                continue
            if prefix == "body":
                normalised = model.model_dump(mode="json")
        return normalised, problems


def _items(exc: ValidationError, prefix: str) -> list[ErrorItem]:
    out = []
    for err in exc.errors()[:20]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append(ErrorItem(2008, str(err.get("msg", "invalid value")), f"{prefix}.{loc}" if loc else prefix))
    return out


TYPES: dict[str, RequestType] = {
    t.name: t
    for t in (
        RequestType(
            "EARN-BADGE",
            "POST",
            "/api_gateway/v1/badges/customer/earn",
            EarnBadgeBody,
            key_in_body=True,
            dry_run="earn",
        ),
        RequestType(
            "ISSUE-BADGE",
            "POST",
            "/api_gateway/v1/badges/badgeMeta/customer/issueBulk",
            IssueBadgeBody,
            key_in_body=True,
            dry_run="issue",
        ),
        RequestType(
            "CUSTOMER-STATUS-CHANGE",
            "PUT",
            "/v2/customers/lookup/status",
            StatusChangeBody,
            StatusChangeQuery,
            also_accepts=("POST",),
            dry_run="status",
        ),
        RequestType("POINTS-REDEMPTION", "POST", "/v1.1/points/redeem", PointsRedemptionBody),
        RequestType("GOODWILL-POINTS", "POST", "/internal/goodwill/", GoodwillBody),
        RequestType("RETRO-TRANSACTION", "PUT", "/v2/transactions/retro", RetroBody),
    )
}

KEBAB_TO_NAME = {t.kebab: t.name for t in TYPES.values()}


def lookup(name: str) -> RequestType | None:
    """Accept the path form (EARN-BADGE), any case, or the kebab/snake forms used in responses and webhooks."""
    key = name.strip().upper().replace("_", "-")
    return TYPES.get(key)


Resolver = Callable[[str], RequestType | None]
