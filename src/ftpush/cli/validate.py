"""``ftpush validate``: check a push or profile file locally, without sending anything.

Example::

    $ ftpush validate offers.csv --json
    {"line": 1, "row": {"external_id": "12345", "text": "Welcome!", "deeplink": null}}
    {"line": 2, "error": {"code": "invalid_deeplink", "field": "deeplink", "message": "..."}}
    {"summary": {"kind": "push", "accepted": 1, "rejected": 1}}

Exit status: 0 when the file could be read (even with rejected lines), 1 on a
whole-file error (``{"file_error": ...}``), 2 on a usage error.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import click

from ftpush.errors import FileRejected, InvalidInput
from ftpush.formats import LineError, kind_of_path, parse_profile_batches, parse_push_batches
from ftpush.models import (
    AttributeType,
    ImportKind,
    parse_attribute_type,
    validate_attribute_name,
    validate_timezone,
)

CHUNK_BYTES = 1 << 20
PROGRESS_FROM_BYTES = 4 << 20  # smaller files are done before a bar is worth drawing
FIRST_ERRORS_SHOWN = 20
# Sizes the duplicate index; guessing low only costs one doubling of it.
_BYTES_PER_LINE_GUESS = 96


@click.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--app", "app_key", metavar="KEY", help="Take declared attributes and timezone from app KEY."
)
@click.option(
    "--attributes",
    "attribute_spec",
    metavar="NAME:TYPE,...",
    help="Declared attributes for a profile file, e.g. age:integer,tags:string[].",
)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in ImportKind]),
    help="push or profile (default: from the path: Profile/…, .txt → profile; .csv → push).",
)
@click.option(
    "--timezone",
    metavar="TZ",
    help="Timezone of datetimes without an offset (default: the app's, else UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, then a summary.")
@click.pass_context
def validate(
    ctx: click.Context,
    file: Path,
    app_key: str | None,
    attribute_spec: str | None,
    kind: str | None,
    timezone: str | None,
    as_json: bool,
) -> None:
    """Check FILE line by line as an upload would be processed; nothing is sent or changed."""
    resolved = ImportKind(kind) if kind else kind_of_path(file)
    if resolved is None:
        raise click.UsageError(
            f"cannot tell whether {file.name} is a push or a profile file; pass --kind"
        )
    if app_key and attribute_spec:
        raise click.UsageError("give --app or --attributes, not both")
    declared: dict[str, AttributeType] = {}
    zone = "UTC"
    if attribute_spec:
        declared = parse_attribute_spec(attribute_spec)
    elif app_key and resolved is ImportKind.PROFILE:
        declared, zone = _app_settings(ctx, app_key)
    if timezone:
        try:
            zone = validate_timezone(timezone)
        except InvalidInput as exc:
            raise click.BadParameter(exc.message, param_hint="--timezone") from None

    size = file.stat().st_size
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(file.open("rb"))
        except OSError as exc:
            raise click.FileError(str(file), hint=exc.strerror) from None
        chunks: Iterable[bytes] = _read(handle)
        if not as_json and size >= PROGRESS_FROM_BYTES:
            bar = stack.enter_context(
                click.progressbar(
                    length=size,
                    label=f"validating {file.name}",
                    file=sys.stderr,
                )
            )
            chunks = _advancing(chunks, bar)
        batches: Iterator[list[Any]]
        if resolved is ImportKind.PUSH:
            batches = parse_push_batches(chunks, expected_lines=size // _BYTES_PER_LINE_GUESS)
        else:
            batches = parse_profile_batches(chunks, declared, timezone=zone)
        report: _JsonReport | _TextReport
        report = _JsonReport() if as_json else _TextReport(file, bool(app_key or attribute_spec))
        try:
            for batch in batches:
                report.batch(batch)
        except FileRejected as exc:
            report.file_error(exc)
            raise _FileFailed from None
    report.summary(resolved)


class _FileFailed(click.ClickException):
    """Exit status 1 after a whole-file error, which the report has already shown."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__("the file is rejected as a whole")

    def show(self, file: IO[Any] | None = None) -> None:
        pass


def parse_attribute_spec(spec: str) -> dict[str, AttributeType]:
    """``"age:integer, tags:string[]"`` → ``{"age": INTEGER, "tags": STRING_ARRAY}``."""
    declared: dict[str, AttributeType] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, type_text = item.partition(":")
        try:
            if not sep:
                raise InvalidInput(f"{item!r} has no type: write NAME:TYPE")
            declared[validate_attribute_name(name.strip())] = parse_attribute_type(type_text)
        except InvalidInput as exc:
            raise click.BadParameter(exc.message, param_hint="--attributes") from None
    return declared


def _app_settings(ctx: click.Context, app_key: str) -> tuple[dict[str, AttributeType], str]:
    # Imported here: validating with --attributes must not need a database.
    from ftpush.cli.context import CliContext  # noqa: PLC0415
    from ftpush.storage.apps import get_app  # noqa: PLC0415
    from ftpush.storage.attributes import attribute_types  # noqa: PLC0415

    obj = ctx.find_object(CliContext)
    if obj is None:  # pragma: no cover - the ftpush group always sets it
        raise click.UsageError("--app needs the ftpush command's settings")
    with obj.session() as session:
        declared = attribute_types(session, app_key)
        zone = get_app(session, app_key).timezone
    return declared, zone


def _read(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK_BYTES):
        yield chunk


def _advancing(chunks: Iterable[bytes], bar: Any) -> Iterator[bytes]:
    for chunk in chunks:
        bar.update(len(chunk))
        yield chunk


class _JsonReport:
    """``--json``: one compact object per line, written a batch at a time."""

    def __init__(self) -> None:
        self.accepted = 0
        self.rejected = 0

    def batch(self, items: list[Any]) -> None:
        lines = []
        for item in items:
            if isinstance(item, LineError):
                self.rejected += 1
                lines.append(_dump({"line": item.line, "error": item.to_json()}))
            else:
                self.accepted += 1
                lines.append(_dump({"line": item.line, "row": item.to_json()}))
        click.echo("\n".join(lines))

    def file_error(self, exc: FileRejected) -> None:
        click.echo(_dump({"file_error": {"code": exc.code, "message": exc.message}}))

    def summary(self, kind: ImportKind) -> None:
        counts = {"kind": kind.value, "accepted": self.accepted, "rejected": self.rejected}
        click.echo(_dump({"summary": counts}))


class _TextReport:
    """Without ``--json``: a summary, the first errors, and the errors by code."""

    def __init__(self, file: Path, has_attributes: bool) -> None:
        self.file = file
        self.has_attributes = has_attributes
        self.accepted = 0
        self.first_errors: list[LineError] = []
        self.codes: Counter[str] = Counter()

    def batch(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, LineError):
                self.codes[item.code] += 1
                if len(self.first_errors) < FIRST_ERRORS_SHOWN:
                    self.first_errors.append(item)
            else:
                self.accepted += 1

    def file_error(self, exc: FileRejected) -> None:
        hint = ""
        if exc.code == "unknown_attribute" and not self.has_attributes:
            hint = " (pass --app KEY or --attributes NAME:TYPE,...)"
        click.echo(f"{self.file.name}: rejected as a whole: {exc.message}{hint}", err=True)

    def summary(self, kind: ImportKind) -> None:
        rejected = sum(self.codes.values())
        click.echo(
            f"{kind.value} file {self.file.name}: {_lines(self.accepted)} accepted, "
            f"{_lines(rejected)} rejected"
        )
        if not rejected:
            return
        shown = len(self.first_errors)
        click.echo("rejected:" if shown == rejected else f"first {shown} rejected lines:")
        for err in self.first_errors:
            where = f" [{err.field}]" if err.field else ""
            click.echo(f"  line {err.line}{where} {err.code}: {err.message}")
        click.echo("rejected lines by reason: " + _by_code(self.codes))


def _lines(count: int) -> str:
    return f"{count} line" + ("" if count == 1 else "s")


def _by_code(codes: Mapping[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(codes.items(), key=lambda kv: -kv[1]))


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
