"""`/imports`: Push and profile files over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/imports", tags=["imports"])
