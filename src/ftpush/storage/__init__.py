"""Storage: the only package that talks SQL.

:class:`Database` bundles an engine with its session factory; query modules
(``apps``, ``accounts``, ``attributes``, ``panel_users``...) hold the
functions the upper layers call with a session. Objects returned are mapped
rows from :mod:`ftpush.storage.tables`, usable after their session closes.
"""

from sqlalchemy.orm import Session

from ftpush.storage.database import Database

__all__ = ["Database", "Session"]
