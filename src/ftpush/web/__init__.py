"""The HTTP face of ftpush: the REST API and the panel (FastAPI)."""

from ftpush.web.app import create_app

__all__ = ["create_app"]
