"""Webhook URL screening and the retry schedule, without a database."""

from __future__ import annotations

import pytest

from foureyes.webhooks.delivery import MAX_BACKOFF_SECONDS, backoff_seconds
from foureyes.webhooks.urls import InvalidWebhookUrl, check_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/foureyes",
        "http://127.0.0.1:8080/hook?x=1",
        "  https://example.com  ",
        "http://[::1]:9000/",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert check_webhook_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:6379/_",
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https:///nohost",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://exa mple.com/",
        "https://example.com/\r\nX-Injected: 1",
        "https://example.com/#frag",
        "https://" + "a" * 2000 + ".com/",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)


def test_backoff_grows_and_is_capped() -> None:
    lows = [backoff_seconds(n, rand=lambda: 0.0) for n in range(1, 20)]
    highs = [backoff_seconds(n, rand=lambda: 1.0) for n in range(1, 20)]
    assert lows[0] < lows[1] < lows[2]
    assert all(low <= high for low, high in zip(lows, highs, strict=True))
    assert max(highs) <= MAX_BACKOFF_SECONDS * 1.25
    assert highs[0] > lows[0]  # jitter spreads retries
