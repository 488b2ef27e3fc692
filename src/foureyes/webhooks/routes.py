"""HTTP routes of the webhooks feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
