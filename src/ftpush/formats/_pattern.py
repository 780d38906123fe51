"""The pattern line of a profile file (SPEC §4): which column holds what.

Two published spellings are accepted, and mean the same columns:

* ``~~~extID~email~device token~attr…`` — a leading ``~~~``, then the
  columns; data lines start directly with the ExternalID;
* ``extID~~~email~deviceToken~msisdn~attr…`` — no leading ``~~~``, but
  ``~~~`` after extID; data lines then carry ``~~~`` after the ExternalID
  too, i.e. two empty fields that must stay empty.

After extID come ``email`` and ``device token`` (always, in this order), an
optional ``msisdn``, then declared attributes. Names are compared without case
and spaces. Problems are whole-file errors: :class:`~ftpush.errors.BadPatternLine`
or, for an attribute the app has not declared,
:class:`~ftpush.errors.UnknownAttribute`.

Example::

    >>> from ftpush.models import AttributeType as T
    >>> p = read_pattern("extID~~~Email~deviceToken~msisdn~Age", 1, {"age": T.INTEGER}, 100)
    >>> p.fields, p.filler, p.email, p.msisdn, p.attributes
    (7, True, 3, 5, (Attribute(index=6, name='age', type=<AttributeType.INTEGER: 'integer'>),))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ftpush.errors import BadPatternLine, UnknownAttribute
from ftpush.models import AttributeType, normalize_column_name

_IDENTITY = ("extid", "email", "devicetoken")
# Spellings of the first column seen in the published guide and in the wild.
_EXT_ID_ALIASES = frozenset({"extid", "exid", "externalid", "external_id"})
_SPELLING = {"extid": "extID", "email": "email", "devicetoken": "device token"}


@dataclass(frozen=True, slots=True)
class Attribute:
    """A pattern column holding a declared attribute: field index, declared name, type."""

    index: int
    name: str
    type: AttributeType


@dataclass(frozen=True, slots=True)
class Pattern:
    """Field layout of the data lines.

    ``fields`` is how many ``~``-separated fields every data line has;
    ``filler`` says fields 1 and 2 are the empty pair of ``extID~~~email``;
    ``email`` and ``msisdn`` are field indexes (``msisdn`` is ``None`` when
    the column is absent; the device token is at ``email + 1``).
    """

    line: int
    fields: int
    filler: bool
    email: int
    msisdn: int | None
    attributes: tuple[Attribute, ...]

    @property
    def device_token(self) -> int:
        return self.email + 1

    def column_name(self, index: int) -> str | None:
        """The name errors use for field ``index`` (``None`` for a filler field)."""
        if index == 0:
            return "external_id"
        if index == self.email:
            return "email"
        if index == self.device_token:
            return "device_token"
        if index == self.msisdn:
            return "msisdn"
        for attribute in self.attributes:
            if attribute.index == index:
                return attribute.name
        return None


def read_pattern(
    line: str, line_no: int, declared: Mapping[str, AttributeType], max_columns: int
) -> Pattern:
    """Read the pattern ``line`` (found on ``line_no``) against the ``declared`` attributes."""
    body = line[3:] if line.startswith("~~~") else line
    if body.count("~") >= max_columns:
        raise BadPatternLine(f"the pattern line has more than {max_columns} columns", line=line_no)
    names = [name.strip() for name in body.split("~")]
    keys = [normalize_column_name(name) for name in names]
    if keys[0] in _EXT_ID_ALIASES:
        keys[0] = "extid"
    filler = len(keys) >= 3 and keys[0] == "extid" and keys[1] == "" and keys[2] == ""
    if filler:
        del names[1:3], keys[1:3]
    first = 3 if filler else 1  # field index of the email column
    for position, wanted in enumerate(_IDENTITY):
        found = names[position] if position < len(names) else None
        if found is None or keys[position] != wanted:
            raise BadPatternLine(
                f"column {position + 1} of the pattern line must be {_SPELLING[wanted]!r}, "
                f"found {found!r}; a pattern line reads ~~~extID~email~device token~...",
                line=line_no,
            )
    msisdn = first + 2 if len(keys) > 3 and keys[3] == "msisdn" else None
    declared_by_key = {normalize_column_name(name): (name, t) for name, t in declared.items()}
    attributes: list[Attribute] = []
    seen: set[str] = set()
    start = 4 if msisdn is not None else 3
    for position in range(start, len(names)):
        name, key = names[position], keys[position]
        if not key:
            raise BadPatternLine(
                f"column {position + 1} of the pattern line has no name", line=line_no
            )
        if key in _IDENTITY or key in _EXT_ID_ALIASES or key == "msisdn" or key in seen:
            where = "msisdn must come right after device token" if key == "msisdn" else ""
            raise BadPatternLine(
                f"column {name!r} appears twice or out of place in the pattern line"
                + (f" ({where})" if where else ""),
                line=line_no,
            )
        seen.add(key)
        if key not in declared_by_key:
            known = ", ".join(sorted(declared)) or "none"
            raise UnknownAttribute(
                f"the pattern line names attribute {name!r}, which the app has not declared "
                f"(declared: {known}); declare it first (panel, CLI or API)",
                line=line_no,
            )
        declared_name, attr_type = declared_by_key[key]
        offset = 2 if filler else 0
        attributes.append(Attribute(position + offset, declared_name, attr_type))
    return Pattern(
        line=line_no,
        fields=len(names) + (2 if filler else 0),
        filler=filler,
        email=first,
        msisdn=msisdn,
        attributes=tuple(attributes),
    )
