"""`/attributes`: Declared profile attributes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/attributes", tags=["attributes"])
