"""`/events`: Events, push opens, app tracking."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/events", tags=["events"])
