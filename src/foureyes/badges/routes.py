"""HTTP routes of the badges feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
