"""HTTP routes of the customers feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
