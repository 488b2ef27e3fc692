"""HTTP routes of the console feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
