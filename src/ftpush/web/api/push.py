"""`/push`: Transactional and automated pushes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/push", tags=["push"])
