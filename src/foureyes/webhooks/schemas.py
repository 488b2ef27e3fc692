"""Bodies and views of the webhook configuration API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from foureyes.core.clock import format_wire_time
from foureyes.webhooks.models import OutboxEvent, WebhookDelivery, WebhookSubscription
from foureyes.webhooks.urls import check_webhook_url

# Events a subscription may name; each is enqueued by the feature that owns it.
KNOWN_EVENTS = ("badgeEarned", "requestWorkflowEvent")
MASK = "****"
MAX_SUBSCRIPTIONS = 20
DELIVERY_STATUSES = ("pending", "delivered", "failed")

Secret = Annotated[str, StringConstraints(min_length=4, max_length=200)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    # `****` (what GET shows) keeps the secret already stored for the same URL.
    secret: Secret
    events: list[str] = Field(min_length=1, max_length=len(KNOWN_EVENTS))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value)  # InvalidWebhookUrl is a ValueError: pydantic reports it

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in KNOWN_EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(KNOWN_EVENTS)}")
        return sorted(set(value))


class SubscriptionsIn(BaseModel):
    """PUT body: the org's complete list of subscriptions (an empty list removes them all)."""

    model_config = ConfigDict(extra="forbid")

    subscriptions: list[SubscriptionIn] = Field(max_length=MAX_SUBSCRIPTIONS)


def subscription_view(row: WebhookSubscription) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "secret": MASK if row.secret_sealed else None, "events": row.events}


def delivery_view(delivery: WebhookDelivery, event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "eventId": event.event_id,
        "eventName": event.event_name,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastStatus": delivery.last_status,
        "lastError": delivery.last_error,
        "nextAttemptAt": format_wire_time(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "deliveredAt": format_wire_time(delivery.delivered_at),
        "createdAt": format_wire_time(event.created_at),
    }
