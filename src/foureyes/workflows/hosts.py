"""The downstream allow-list: only exact, configured base URLs may ever be called.

The IntouchAPITask-Payload names a host chosen by the caller, so this is where the API could become a way to
make the server call arbitrary addresses. We accept a hostname only when, normalised, it equals an entry of
the org's `allowedHosts`; IP literals in any spelling (decimal, hex, IPv6), userinfo, paths, query strings and
fragments never match, and redirects are never followed when calling.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class HostError(ValueError):
    pass


def normalise_base_url(raw: str, *, allow_ip: bool = False) -> str:
    """`scheme://host[:port]` in lower case with default ports dropped; raises HostError when unsafe."""
    if not isinstance(raw, str):
        raise HostError("hostname must be a base URL such as https://api.example.com")
    return _normalised(raw, allow_ip)


# Every create normalises the org's allowed hosts, routes and the payload's hostname (~7 calls, 0.1 ms):
# the same few strings each time. Only successes are cached (lru_cache does not keep raised errors), and the
# input is at most 500 characters, so the cache stays under a few MB whatever callers send.
@lru_cache(maxsize=4096)
def _normalised(raw: str, allow_ip: bool) -> str:
    if not raw or len(raw) > 500 or any(ord(c) < 33 or ord(c) == 127 for c in raw):
        raise HostError("hostname must be a base URL such as https://api.example.com")
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError as exc:
        raise HostError("hostname is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise HostError("hostname must use http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise HostError("hostname must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise HostError("hostname must not carry a path, query or fragment")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise HostError("hostname has no host")
    if not allow_ip and _looks_like_ip(host):
        raise HostError("IP addresses are not accepted as hostname; configure a named host")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _looks_like_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    # Decimal, octal and hex spellings (http://2130706433, http://0x7f.1) that resolvers still accept.
    labels = host.split(".")
    return all(label and (label.isdigit() or label.startswith("0x")) for label in labels)


def is_allowed(hostname: str, allowed: list[str]) -> tuple[bool, str]:
    """(allowed?, reason). An allowed entry may itself be an IP literal: operators choose those."""
    allowed_set = set()
    for entry in allowed:
        try:
            allowed_set.add(normalise_base_url(entry, allow_ip=True))
        except HostError:
            continue
    try:
        base = normalise_base_url(hostname, allow_ip=True)
    except HostError as exc:
        return False, str(exc)
    if base in allowed_set:
        return True, base
    try:
        normalise_base_url(hostname)
    except HostError as exc:
        return False, str(exc)
    return False, f"hostname {base} is not in this org's allowedHosts"


def route_for(base: str, host_routes: dict[str, str]) -> str:
    """The base URL actually called for an allowed hostname (hostRoutes lets operators point elsewhere)."""
    for source, target in host_routes.items():
        try:
            if normalise_base_url(source, allow_ip=True) == base:
                return normalise_base_url(target, allow_ip=True)
        except HostError:
            continue
    return base
