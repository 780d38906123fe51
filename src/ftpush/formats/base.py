"""What the parsers yield: rows (:class:`PushRow`, :class:`ProfileRow`) and one
:class:`LineError` per rejected line.

A parser reports at most one error per line: the first problem found, reading
the fields left to right. The ``code`` values are stable (they go into result
files and the API); ``docs/formats.md`` lists every one.

Example::

    >>> err = LineError(line=3, code="invalid_deeplink", field="deeplink",
    ...                 message="not an absolute URI", external_id="42")
    >>> err.to_json()
    {'code': 'invalid_deeplink', 'field': 'deeplink', 'message': 'not an absolute URI'}
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from ftpush.formats.values import AttributeValue, to_json_value

DEFAULT_MAX_COLUMNS = 1000
MAX_EXTERNAL_ID_CHARS = 255


@dataclass(slots=True, frozen=True)
class LineError:
    """A rejected line: 1-based ``line``, a stable ``code``, the ``field`` at fault.

    ``field`` is ``None`` when the line as a whole is wrong (too long, wrong
    number of fields); ``external_id`` is the line's ExternalID when it could
    be read, for result files (``line;external_id;code;message``).
    """

    line: int
    code: str
    field: str | None
    message: str
    external_id: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """The ``error`` object of ``ftpush validate --json``."""
        return {"code": self.code, "field": self.field, "message": self.message}


class Unchanged(enum.Enum):
    """Marker of an identity field left empty: keep what the user has."""

    UNCHANGED = "unchanged"

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED
Setting = str | None | Literal[Unchanged.UNCHANGED]


class ProfileRow(NamedTuple):
    """An accepted profile line.

    ``email`` and ``msisdn``: a value, ``None`` (remove) or ``UNCHANGED``;
    ``device_token``: a token to link, or ``None``; ``attributes``: declared
    name → value, or ``None`` to remove it; absent names stay unchanged.
    """

    line: int
    external_id: str
    email: Setting = UNCHANGED
    device_token: str | None = None
    msisdn: Setting = UNCHANGED
    attributes: Mapping[str, AttributeValue | None] = MappingProxyType({})

    def to_json(self) -> dict[str, Any]:
        """The ``row`` object of ``ftpush validate --json`` (unchanged fields left out)."""
        out: dict[str, Any] = {"external_id": self.external_id}
        if self.email is not UNCHANGED:
            out["email"] = self.email
        if self.device_token is not None:
            out["device_token"] = self.device_token
        if self.msisdn is not UNCHANGED:
            out["msisdn"] = self.msisdn
        out["attributes"] = {name: to_json_value(v) for name, v in self.attributes.items()}
        return out


class PushRow(NamedTuple):
    """An accepted push line: its 1-based ``line`` and decoded values."""

    line: int
    external_id: str
    text: str
    deeplink: str | None

    def to_json(self) -> dict[str, str | None]:
        """The ``row`` object of ``ftpush validate --json``."""
        return {"external_id": self.external_id, "text": self.text, "deeplink": self.deeplink}
