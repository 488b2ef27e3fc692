"""Tables of the badges feature."""

from __future__ import annotations
