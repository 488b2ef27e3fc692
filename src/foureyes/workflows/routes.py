"""HTTP routes of the workflows feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
