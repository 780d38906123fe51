"""`/devices`: Devices (push tokens)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/devices", tags=["devices"])
