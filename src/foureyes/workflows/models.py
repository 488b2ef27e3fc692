"""Tables of the workflows feature."""

from __future__ import annotations
