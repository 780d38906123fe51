"""Writing push files (SPEC §3): the inverse of :func:`~ftpush.formats.push_csv.parse_push`.

Example::

    >>> "".join(write_push_csv([("42", 'a "b" c', None), ("43", "x;y", "myapp://h")]))
    '42;"a ""b"" c";\\n43;x;y;myapp://h\\n'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ftpush.formats.base import PushRow

HEADER = "ExternalID;Text;Deeplink"


def is_header(line: str) -> bool:
    """Whether ``line`` reads ``ExternalID;Text;Deeplink`` (case, spaces and quotes ignored)."""
    return "".join(line.split()).replace('"', "").lower() == "externalid;text;deeplink"


def write_push_csv(
    rows: Iterable[PushRow | tuple[str, str, str | None]],
    *,
    header: bool = False,
    newline: str = "\n",
) -> Iterator[str]:
    """Yield the lines (with ``newline``) of a push file holding ``rows``.

    Text is escaped (``\\\\`` and ``\\n``) and quoted when it holds a quote or
    the Deeplink holds a ';'. Raises :class:`ValueError` for a value the format
    cannot carry faithfully (a ';' or line break in an ExternalID, a carriage
    return or NUL anywhere, spaces around an ExternalID or Deeplink).
    """
    first = True
    for row in rows:
        if isinstance(row, PushRow):
            ext, text, link = row.external_id, row.text, row.deeplink
        else:
            ext, text, link = row
        line = format_push_line(ext, text, link)
        if first and (header or is_header(line)):
            yield HEADER + newline
        first = False
        yield line + newline
    if first and header:
        yield HEADER + newline


def format_push_line(external_id: str, text: str, deeplink: str | None) -> str:
    """One push line without its line ending; see :func:`write_push_csv`."""
    link = deeplink or ""
    for name, value in (("ExternalID", external_id), ("Deeplink", link)):
        if value != value.strip() or value.startswith('"') or _bad_chars(value, "\n"):
            raise ValueError(f"{name} {value!r} cannot be written to a push file")
    if ";" in external_id:
        raise ValueError(f"ExternalID {external_id!r} cannot hold ';'")
    if _bad_chars(text, ""):
        raise ValueError(f"Text {text!r} cannot hold a carriage return or NUL")
    body = text.replace("\\", "\\\\").replace("\n", "\\n")
    if '"' in body or ";" in link:
        body = '"' + body.replace('"', '""') + '"'
    return f"{external_id};{body};{link}"


def _bad_chars(value: str, extra: str) -> bool:
    return "\r" in value or "\x00" in value or (bool(extra) and extra in value)
