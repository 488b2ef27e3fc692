"""Webhook URLs are hostile input: only plain http(s) URLs with a host, no credentials inside them.

Loopback and private addresses are allowed on purpose: the people who set these URLs are operators holding
CanConfigureWorkflows (they could point them anywhere they can reach), and self-hosted receivers often
live next to foureyes. Redirects are never followed, so a URL cannot be bounced elsewhere at send time.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000


class InvalidWebhookUrl(ValueError):
    """The URL is not one foureyes will post to; the message says why."""


def check_webhook_url(url: str) -> str:
    """Return the URL (stripped) when it is acceptable, else raise InvalidWebhookUrl."""
    value = url.strip()
    if not value or len(value) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"url must be 1 to {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidWebhookUrl("url must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise InvalidWebhookUrl("url is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookUrl("url must start with http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidWebhookUrl("url must not contain user information (credentials)")
    if not parts.hostname:
        raise InvalidWebhookUrl("url must name a host")
    if port == 0:
        raise InvalidWebhookUrl("url must not use port 0")
    if parts.fragment:
        raise InvalidWebhookUrl("url must not contain a fragment")
    return value
