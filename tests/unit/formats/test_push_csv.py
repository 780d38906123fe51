"""Push files (SPEC §3): every rule, the sample file and hostile input, table-driven."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ftpush.errors import EmptyFile, FileRejected, NotUtf8
from ftpush.formats import FingerprintSet, LineError, PushRow, parse_push, write_push_csv
from ftpush.formats.push_csv import format_push_line, is_deeplink, payload_bytes
from tests.unit.formats._samples import sample

Outcome = tuple[object, ...]


def outcomes(data: bytes | list[bytes], **kwargs: object) -> list[Outcome]:
    """("row", line, external_id, text, deeplink) or ("error", line, code, field)."""
    chunks = data if isinstance(data, list) else [data]
    out: list[Outcome] = []
    for item in parse_push(chunks, **kwargs):  # type: ignore[arg-type]
        if isinstance(item, PushRow):
            out.append(("row", item.line, item.external_id, item.text, item.deeplink))
        else:
            out.append(("error", item.line, item.code, item.field))
    return out


def row(text: str, deeplink: str | None = None, ext: str = "1", line: int = 1) -> Outcome:
    return ("row", line, ext, text, deeplink)


def error(code: str, field: str | None, line: int = 1) -> Outcome:
    return ("error", line, code, field)


RULES = [
    # (id, file content, expected outcomes)
    (
        "plain",
        b"12345;Welcome!;https://example.com/w\n",
        [row("Welcome!", "https://example.com/w", "12345")],
    ),
    ("no-final-newline", b"1;Hi;", [row("Hi")]),
    ("crlf", b"1;Hi;myapp://a\r\n2;Yo;\r\n", [row("Hi", "myapp://a"), row("Yo", None, "2", 2)]),
    (
        "mixed-endings",
        b"1;a;\r\n2;b;\n3;c;\r\n",
        [row("a"), row("b", None, "2", 2), row("c", None, "3", 3)],
    ),
    ("bom", b"\xef\xbb\xbf1;Hi;\n", [row("Hi")]),
    ("bom-and-header", b"\xef\xbb\xbfExternalID;Text;Deeplink\n1;Hi;\n", [row("Hi", line=2)]),
    ("header-case-and-spaces", b" externalid ; TEXT;deepLink \n1;Hi;\n", [row("Hi", line=2)]),
    ("header-quoted", b'"ExternalID";"Text";"Deeplink"\n1;Hi;\n', [row("Hi", line=2)]),
    ("header-after-blank-lines", b"\n  \nExternalID;Text;Deeplink\n1;Hi;\n", [row("Hi", line=4)]),
    (
        "header-only-first-line",
        b"1;Hi;\nExternalID;Text;Deeplink\n",
        [row("Hi"), error("invalid_deeplink", "deeplink", 2)],
    ),
    (
        "empty-lines-skipped",
        b"\n1;a;\n\n \t \n2;b;\n\n",
        [row("a", line=2), row("b", None, "2", 5)],
    ),
    ("id-before-first-semicolon", b"1;a;b;https://x.y\n", [row("a;b", "https://x.y")]),
    ("deeplink-after-last-semicolon", b"123;Hi; there;\n", [row("Hi; there", None, "123")]),
    ("one-semicolon-no-deeplink", b"1;Hello there\n", [row("Hello there")]),
    ("one-semicolon-url-is-text", b"1;see https://x.y\n", [row("see https://x.y")]),
    ("quoted-text", b'1;"Hi ""you""";https://x.y\n', [row('Hi "you"', "https://x.y")]),
    ("quoted-text-with-semicolon-no-deeplink", b'1;"a;b"\n', [row("a;b")]),
    ("quoted-text-empty-deeplink", b'1;"a;b";\n', [row("a;b")]),
    ("quoted-text-deeplink-with-semicolon", b'1;"a";myapp://x;y\n', [row("a", "myapp://x;y")]),
    ("quotes-inside-text-kept", b'1;say "hi" now;\n', [row('say "hi" now')]),
    ("quote-then-more-text", b'1;"a" and b;\n', [row('"a" and b')]),
    ("lone-quote-wrapped", b'1;"a"b";\n', [row('a"b')]),
    ("escape-newline", b"1;Hi!\\nBye;\n", [row("Hi!\nBye")]),
    ("escape-backslash", b"1;a\\\\b;\n", [row("a\\b")]),
    ("escaped-backslash-then-n", b"1;a\\\\nb;\n", [row("a\\nb")]),
    ("other-escapes-unchanged", b"1;a\\tb\\;\n", [row("a\\tb\\")]),
    ("escape-in-quoted-text", b'1;"a\\nb";\n', [row("a\nb")]),
    ("text-kept-as-written", b"1;  spaced  ;\n", [row("  spaced  ")]),
    (
        "non-latin",
        "1;Merhaba dünya — 你好 — مرحبا;\n".encode(),
        [row("Merhaba dünya — 你好 — مرحبا")],
    ),
    ("id-spaces-stripped", b"  42  ;Hi;\n", [row("Hi", None, "42")]),
    ("id-quoted", b'"42";Hi;\n', [row("Hi", None, "42")]),
    ("id-with-symbols", b"user-42@x;Hi;\n", [row("Hi", None, "user-42@x")]),
    ("id-empty", b";Hi;\n", [error("missing_external_id", "external_id")]),
    ("id-blank", b"   ;Hi;\n", [error("missing_external_id", "external_id")]),
    ("id-255", b"x" * 255 + b";Hi;\n", [row("Hi", None, "x" * 255)]),
    ("id-256", b"x" * 256 + b";Hi;\n", [error("external_id_too_long", "external_id")]),
    ("text-empty", b"1;;https://x.y\n", [error("missing_text", "text")]),
    ("text-blank", b"1;   ;\n", [error("missing_text", "text")]),
    ("text-empty-one-semicolon", b"1;\n", [error("missing_text", "text")]),
    ("text-empty-quoted", b'1;"";\n', [error("missing_text", "text")]),
    ("no-semicolon", b"hello\n", [error("missing_separator", None)]),
    ("deeplink-custom-scheme", b"1;Hi;myapp://home/tab?x=1\n", [row("Hi", "myapp://home/tab?x=1")]),
    ("deeplink-tel", b"1;Hi;tel:+905551234567\n", [row("Hi", "tel:+905551234567")]),
    ("deeplink-spaces-stripped", b"1;Hi;  https://x.y/a  \n", [row("Hi", "https://x.y/a")]),
    ("deeplink-quoted", b'1;Hi;"https://x.y/a"\n', [row("Hi", "https://x.y/a")]),
    ("deeplink-blank", b"1;Hi;   \n", [row("Hi")]),
    (
        "deeplink-unicode-iri",
        "1;Hi;https://ürün.example/ç\n".encode(),
        [row("Hi", "https://ürün.example/ç")],
    ),
    ("deeplink-relative", b"1;Hi;example.com/a\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-path", b"1;Hi;/home\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-https-no-host", b"1;Hi;https://\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-http-empty-host", b"1;Hi;http:///a\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-https-no-slashes", b"1;Hi;https:x\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-scheme-only", b"1;Hi;myapp:\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-inner-space", b"1;Hi;https://x.y/a b\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-tab", b"1;Hi;https://x.y/\ta\n", [error("invalid_deeplink", "deeplink")]),
    ("deeplink-bad-scheme", b"1;Hi;1app://x\n", [error("invalid_deeplink", "deeplink")]),
    (
        "duplicate-id",
        b"1;a;\n2;b;\n1;c;\n",
        [row("a"), row("b", None, "2", 2), error("duplicate_external_id", "external_id", 3)],
    ),
    (
        "duplicate-after-spaces",
        b"1;a;\n 1 ;c;\n",
        [row("a"), error("duplicate_external_id", "external_id", 2)],
    ),
    (
        "rejected-line-does-not-claim-id",
        b"1;;\n1;ok;\n",
        [error("missing_text", "text"), row("ok", line=2)],
    ),
    (
        "error-does-not-stop-file",
        b"x\n1;a;\n",
        [error("missing_separator", None), row("a", line=2)],
    ),
    ("nul-byte", b"1;a\x00b;\n2;ok;\n", [error("nul_byte", None), row("ok", None, "2", 2)]),
    (
        "bare-cr",
        b"1;a\rb;\n2;ok;\n",
        [error("bare_carriage_return", None), row("ok", None, "2", 2)],
    ),
    (
        "ten-thousand-columns",
        b"1;" + b"a;" * 10_000 + b"https://x.y\n",
        [error("payload_too_large", "text")],
    ),
    (
        "ten-thousand-semicolons",
        b"1;Hi" + b";" * 10_000 + b"\n",
        [error("payload_too_large", "text")],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=i) for i, d, e in RULES])
def test_rule(data: bytes, expected: list[Outcome]) -> None:
    assert outcomes(data) == expected


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=i) for i, d, e in RULES])
def test_rule_in_one_byte_chunks(data: bytes, expected: list[Outcome]) -> None:
    assert outcomes([data[i : i + 1] for i in range(len(data))]) == expected


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        pytest.param("a" * (4096 - 27), True, id="ascii-at-limit"),
        pytest.param("a" * (4096 - 26), False, id="ascii-one-over"),
        pytest.param("ş" * 2034, True, id="two-byte-at-limit"),
        pytest.param("ş" * 2035, False, id="two-byte-over"),
        pytest.param("😀" * 1017, True, id="four-byte-at-limit"),
        pytest.param("😀" * 1018, False, id="four-byte-over"),
        pytest.param('"' * 2034, True, id="quotes-escaped-in-json"),
        pytest.param('"' * 2035, False, id="quotes-escaped-over"),
    ],
)
def test_payload_limit_counts_json_bytes(text: str, fits: bool) -> None:
    assert (payload_bytes(text, None) <= 4096) is fits
    line = format_push_line("1", text, None).encode()
    expected = [row(text)] if fits else [error("payload_too_large", "text")]
    assert outcomes(line) == expected


def test_payload_counts_the_deeplink() -> None:
    link = "https://x.y/" + "p" * 100
    text = "a" * (4096 - 25 - len(link))  # {"text":"","deeplink":""} is 25 bytes
    assert payload_bytes(text, link) == 4096
    assert outcomes(f"1;{text};{link}\n".encode()) == [row(text, link)]
    assert outcomes(f"1;{text}a;{link}\n".encode()) == [error("payload_too_large", "text")]


def test_limits_are_parameters() -> None:
    data = b"1;abcdef;\n2;ab;\n"
    assert outcomes(data, max_payload_bytes=31) == [
        error("payload_too_large", "text"),
        row("ab", None, "2", 2),
    ]
    assert outcomes(data, max_line_bytes=5) == [
        error("line_too_long", None),
        row("ab", None, "2", 2),
    ]


def test_duplicates_can_be_delegated_or_turned_off() -> None:
    data = b"1;a;\n1;b;\n"
    assert outcomes(data, check_duplicates=False) == [row("a"), row("b", line=2)]
    seen = FingerprintSet()
    seen.add("1")
    assert outcomes(data, seen=seen) == [
        error("duplicate_external_id", "external_id"),
        error("duplicate_external_id", "external_id", 2),
    ]


def test_errors_carry_the_external_id_for_result_files() -> None:
    (err,) = parse_push([b" 42 ;Hi;nope\n"])
    assert isinstance(err, LineError)
    assert (err.external_id, err.code, err.field) == ("42", "invalid_deeplink", "deeplink")
    assert "'nope'" in err.message
    assert err.to_json() == {
        "code": "invalid_deeplink",
        "field": "deeplink",
        "message": err.message,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "no lines", id="empty"),
        pytest.param(b"\n\n  \r\n", "no lines", id="blank-lines"),
        pytest.param(b"\xef\xbb\xbf", "no lines", id="bom-only"),
        pytest.param(b"ExternalID;Text;Deeplink\r\n\r\n", "only a header", id="header-only"),
    ],
)
def test_empty_file(data: bytes, message: str) -> None:
    with pytest.raises(EmptyFile, match=message):
        outcomes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("1;Merhaba;\n".encode("utf-16"), id="utf16-with-bom"),
        pytest.param("1;Grüße;\n".encode("latin-1"), id="latin1"),
        pytest.param(bytes(range(256)) * 4, id="binary-garbage"),
    ],
)
def test_not_utf8_is_a_file_error(data: bytes) -> None:
    with pytest.raises(NotUtf8):
        outcomes(data)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_nul_bytes_on_every_line(encoding: str) -> None:
    # Without a BOM, UTF-16 text is valid UTF-8 full of NULs: every line says so.
    data = "1;Hi;\n2;Yo;\n".encode(encoding)
    assert {o[2] for o in outcomes(data)} == {"nul_byte"}


def test_a_100_mb_line_does_not_stop_the_file() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"1;before;\n2;"
        for _ in range(100):
            yield b"y" * (1 << 20)
        yield b";\n3;after;\n"

    assert outcomes(list(chunks())) == [
        row("before"),
        error("line_too_long", None, 2),
        row("after", None, "3", 3),
    ]


def test_sample_file() -> None:
    data = sample("push.csv").read_bytes()
    result = outcomes(data)
    assert [o[0] for o in result] == ["row"] * 5
    assert result[0] == row(
        "Welcome to our platform! Enjoy exploring our latest features.",
        "https://example.com/welcome",
        "12345",
    )
    assert result[4] == row(
        "Your account setup is complete! Discover what's next.",
        "https://example.com/next-steps",
        "13579",
        5,
    )


def test_row_json() -> None:
    (item,) = parse_push([b"7;a\\nb;\n"])
    assert isinstance(item, PushRow)
    assert item.to_json() == {"external_id": "7", "text": "a\nb", "deeplink": None}


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://example.com", True),
        ("HTTPS://EXAMPLE.COM", True),
        ("myapp://x", True),
        ("myapp:x", True),
        ("mailto:a@b.co", True),
        ("a+b.c-d:x", True),
        ("https://", False),
        ("https:/x", False),
        ("http://?q", False),
        ("x", False),
        (":x", False),
        ("my app://x", False),
        ("https://a\u200bb", False),
        ("https://a\u00a0b", False),
    ],
)
def test_is_deeplink(link: str, ok: bool) -> None:
    assert is_deeplink(link) is ok


WRITES = [
    (("1", "Hi", "https://x.y"), "1;Hi;https://x.y"),
    (("1", "Hi", None), "1;Hi;"),
    (("1", "a;b", None), "1;a;b;"),
    (("1", 'say "hi"', None), '1;"say ""hi""";'),
    (("1", "line\nbreak", None), "1;line\\nbreak;"),
    (("1", "back\\slash", None), "1;back\\\\slash;"),
    (("1", "literal \\n", None), "1;literal \\\\n;"),
    (("1", "t", "myapp://x;y"), '1;"t";myapp://x;y'),
]


@pytest.mark.parametrize(("values", "line"), WRITES)
def test_writer(values: tuple[str, str, str | None], line: str) -> None:
    assert "".join(write_push_csv([values])) == line + "\n"
    (parsed,) = parse_push([line.encode()])
    assert isinstance(parsed, PushRow)
    assert (parsed.external_id, parsed.text, parsed.deeplink) == values


def test_writer_header_and_line_endings() -> None:
    lines = list(write_push_csv([("1", "a", None)], header=True, newline="\r\n"))
    assert lines == ["ExternalID;Text;Deeplink\r\n", "1;a;\r\n"]
    assert list(write_push_csv([], header=True)) == ["ExternalID;Text;Deeplink\n"]


def test_writer_protects_a_first_row_that_reads_as_a_header() -> None:
    lines = list(write_push_csv([("ExternalID", "Text", "Deeplink")]))
    assert lines == ["ExternalID;Text;Deeplink\n"] * 2
    assert outcomes("".join(lines).encode()) == [error("invalid_deeplink", "deeplink", 2)]


@pytest.mark.parametrize(
    "values",
    [
        ("1;2", "t", None),
        (" 1", "t", None),
        ('"1', "t", None),
        ("1\n", "t", None),
        ("1", "a\rb", None),
        ("1", "a\x00b", None),
        ("1", "t", " https://x.y"),
        ("1", "t", "https://x.y\n"),
    ],
)
def test_writer_refuses_what_it_cannot_carry(values: tuple[str, str, str | None]) -> None:
    with pytest.raises(ValueError, match="cannot"):
        list(write_push_csv([values]))


def test_only_file_errors_escape() -> None:
    # Whatever the line, the parser yields; only FileRejected may be raised.
    for data in (b";;;;", b'"', b'1;"', b'1;"";"', b"\\", b"1;\\", b";", b"\x7f;\x01;\x02"):
        try:
            items = list(parse_push([data]))
        except FileRejected:
            continue
        assert all(isinstance(i, PushRow | LineError) for i in items)
