"""Identifier generators: time-ordered UUIDs for requests, 24-hex object ids for badges."""

from __future__ import annotations

import os
import secrets
import time
import uuid


def uuid7() -> str:
    """A UUIDv7 string: 48-bit millisecond timestamp first, so ids sort by creation."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def object_id() -> str:
    """A 24-hex id shaped like the reference platform's (4-byte seconds + 8 random bytes)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"
