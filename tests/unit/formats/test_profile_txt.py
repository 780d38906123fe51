"""Profile files (SPEC §4): pattern lines, typed values, identity fields, hostile input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ftpush.errors import BadPatternLine, EmptyFile, FileRejected, NotUtf8, UnknownAttribute
from ftpush.formats import UNCHANGED, LineError, ProfileRow, parse_profile, write_profile_txt
from ftpush.models import AttributeType as T
from tests.unit.formats._samples import sample

DECLARED = {"tier": T.STRING, "age": T.INTEGER, "Score": T.NUMBER, "vip": T.BOOLEAN}
HEAD = b"~~~extID~email~device token~tier~age\n"
HEAD_B = b"Exid~~~email~deviceToken~msisdn~tier\n"

Outcome = tuple[object, ...]


def outcomes(data: bytes | list[bytes], **kwargs: object) -> list[Outcome]:
    """("row", line, id, email, token, msisdn, attributes) or ("error", line, code, field)."""
    chunks = data if isinstance(data, list) else [data]
    out: list[Outcome] = []
    for item in parse_profile(chunks, DECLARED, **kwargs):  # type: ignore[arg-type]
        if isinstance(item, ProfileRow):
            attrs = dict(item.attributes)
            out.append(
                (
                    "row",
                    item.line,
                    item.external_id,
                    item.email,
                    item.device_token,
                    item.msisdn,
                    attrs,
                )
            )
        else:
            out.append(("error", item.line, item.code, item.field))
    return out


def row(
    line: int = 2,
    ext: str = "1",
    email: object = UNCHANGED,
    token: str | None = None,
    msisdn: object = UNCHANGED,
    **attrs: object,
) -> Outcome:
    return ("row", line, ext, email, token, msisdn, attrs)


def error(code: str, field: str | None, line: int = 2) -> Outcome:
    return ("error", line, code, field)


RULES = [
    (
        "spec-example",
        HEAD + b'12345~~token123~"gold"~25\n67890~jane@example.com~~"silver"~\n',
        [
            row(2, "12345", token="token123", tier="gold", age=25),
            row(3, "67890", "jane@example.com", tier="silver"),
        ],
    ),
    ("crlf", HEAD.replace(b"\n", b"\r\n") + b'1~~~"a"~1\r\n', [row(tier="a", age=1)]),
    ("bom", b"\xef\xbb\xbf" + HEAD + b"1~~~~\n", [row()]),
    ("blank-lines-before-pattern", b"\n \n" + HEAD + b"1~~~~\n", [row(4)]),
    ("blank-lines-between", HEAD + b"\n1~~~~\n\n2~~~~\n", [row(3), row(5, "2")]),
    (
        "names-ignore-case-and-spaces",
        b"~~~ExtId~E mail~DEVICETOKEN~ Tier ~AGE\n1~~~x~2\n",
        [row(tier="x", age=2)],
    ),
    ("declared-name-is-kept", b"~~~extID~email~device token~score\n1~~~1.5\n", [row(Score=1.5)]),
    (
        "no-attributes",
        b"~~~extID~email~device token\n1~a@b.co~t\n",
        [row(email="a@b.co", token="t")],
    ),
    ("no-leading-tildes", b"extID~email~device token~age\n1~~~3\n", [row(age=3)]),
    (
        "tilde-after-id",
        HEAD_B + b'1~~~a@b.co~tok~+905551112233~"x"\n',
        [row(email="a@b.co", token="tok", msisdn="+905551112233", tier="x")],
    ),
    (
        "tilde-after-id-missing-on-line",
        HEAD_B + b"1~a@b.co~tok~~x\n",
        [error("wrong_field_count", None)],
    ),
    ("tilde-after-id-filled", HEAD_B + b"1~x~~a@b.co~~~\n", [error("wrong_field_count", None)]),
    (
        "msisdn-column",
        b"~~~extID~email~device token~msisdn\n1~~~+90 555 111 22 33\n",
        [row(msisdn="+905551112233")],
    ),
    ("empty-means-unchanged", HEAD + b"1~~~~\n", [row()]),
    ("null-removes", HEAD + b"1~null~~null~null\n", [row(email=None, tier=None, age=None)]),
    ("quoted-null-is-a-string", HEAD + b'1~~~"null"~\n', [row(tier="null")]),
    ("empty-quoted-string", HEAD + b'1~~~""~\n', [row(tier="")]),
    ("unquoted-string", HEAD + b"1~~~gold member~\n", [row(tier="gold member")]),
    ("quoted-string-with-tilde", HEAD + b'1~~~"a~b"~3\n', [row(tier="a~b", age=3)]),
    (
        "quoted-string-with-quotes",
        HEAD + b'1~~~"say ""hi"" now"~3\n',
        [row(tier='say "hi" now', age=3)],
    ),
    ("quoted-identity", HEAD + b'"1"~"a@b.co"~"tok"~~\n', [row(email="a@b.co", token="tok")]),
    ("identity-spaces", HEAD + b" 1 ~ a@b.co ~ tok ~~\n", [row(email="a@b.co", token="tok")]),
    ("unterminated-quote", HEAD + b'1~~~"gold~3\n', [error("invalid_quoting", "tier")]),
    ("text-after-quote", HEAD + b'1~~~"gold"x~3\n', [error("invalid_quoting", "tier")]),
    ("bad-integer", HEAD + b"1~~~~4.5\n", [error("invalid_integer", "age")]),
    ("quoted-integer", HEAD + b'1~~~~"45"\n', [row(age=45)]),
    ("bad-email", HEAD + b"1~jane@~~~\n", [error("invalid_email", "email")]),
    ("bad-token", HEAD + b"1~~to ken~~\n", [error("invalid_device_token", "device_token")]),
    ("null-token", HEAD + b"1~~null~~\n", [error("invalid_device_token", "device_token")]),
    (
        "bad-msisdn",
        b"~~~extID~email~device token~msisdn\n1~~~0555\n",
        [error("invalid_msisdn", "msisdn")],
    ),
    ("missing-id", HEAD + b"~a@b.co~~~\n", [error("missing_external_id", "external_id")]),
    ("id-too-long", HEAD + b"x" * 256 + b"~~~~\n", [error("external_id_too_long", "external_id")]),
    ("too-few-fields", HEAD + b"1~~~\n", [error("wrong_field_count", None)]),
    ("too-many-fields", HEAD + b"1~~~~~\n", [error("wrong_field_count", None)]),
    ("first-error-wins", HEAD + b"1~bad~~~x\n", [error("invalid_email", "email")]),
    (
        "error-does-not-stop-file",
        HEAD + b"1~~~~x\n2~~~~5\n",
        [error("invalid_integer", "age"), row(3, "2", age=5)],
    ),
    ("same-id-twice-is-fine", HEAD + b"1~~~~1\n1~~~~2\n", [row(age=1), row(3, age=2)]),
    ("nul-byte", HEAD + b"1~~~a\x00~\n2~~~~\n", [error("nul_byte", None), row(3, "2")]),
    ("bare-cr", HEAD + b"1~~~a\rb~\n", [error("bare_carriage_return", None)]),
    (
        "ten-thousand-fields",
        HEAD + b"1" + b"~" * 10_000 + b"\n",
        [error("wrong_field_count", None)],
    ),
    (
        "ten-thousand-quoted-fields",
        HEAD + b"1" + b'~""' * 10_000 + b"\n",
        [error("wrong_field_count", None)],
    ),
    ("non-latin", HEAD + '1~~~"Gümüş 金"~\n'.encode(), [row(tier="Gümüş 金")]),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=i) for i, d, e in RULES])
def test_rule(data: bytes, expected: list[Outcome]) -> None:
    assert outcomes(data) == expected


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=i) for i, d, e in RULES])
def test_rule_line_by_line(data: bytes, expected: list[Outcome]) -> None:
    # One chunk per line: slices of one line, so the per-line path decides alone.
    chunks = [line + b"\n" for line in data.split(b"\n")]
    chunks[-1] = chunks[-1][:-1]
    assert outcomes(chunks) == expected


def test_many_lines_take_the_column_path_with_the_same_result() -> None:
    lines = [f'{i}~u{i}@ex.com~t{i}~"g{i}"~{i}\n'.encode() for i in range(1000)]
    lines[500] = b"500~~~~bad\n"
    result = outcomes(HEAD + b"".join(lines))
    assert len(result) == 1000
    assert result[0] == row(2, "0", "u0@ex.com", "t0", tier="g0", age=0)
    assert result[500] == error("invalid_integer", "age", 502)
    assert result[999] == row(1001, "999", "u999@ex.com", "t999", tier="g999", age=999)


def test_datetimes_take_the_app_timezone() -> None:
    data = b"~~~extID~email~device token~seen\n1~~~2024-05-01T10:00\n2~~~2024-05-01T10:00Z\n"
    rows = list(parse_profile([data], {"seen": T.DATETIME}, timezone="Europe/Istanbul"))
    assert [r.attributes["seen"] for r in rows if isinstance(r, ProfileRow)] == [
        dt.datetime(2024, 5, 1, 7, tzinfo=dt.UTC),
        dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC),
    ]


@pytest.mark.parametrize(
    ("pattern", "error_type", "message"),
    [
        (b"~~~email~extID~device token\n", BadPatternLine, "must be 'extID'"),
        (b"~~~extID~device token~email\n", BadPatternLine, "must be 'email'"),
        (b"~~~extID~email\n", BadPatternLine, "must be 'device token'"),
        (b"~~extID~email~device token\n", BadPatternLine, "must be 'extID'"),
        (b"~~~extID~email~device token~~age\n", BadPatternLine, "no name"),
        (b"~~~extID~email~device token~age~AGE\n", BadPatternLine, "twice"),
        (b"~~~extID~email~device token~age~msisdn\n", BadPatternLine, "msisdn must come"),
        (b"~~~extID~email~device token~email\n", BadPatternLine, "twice"),
        (b"~~~extID~email~device token~age~\n", BadPatternLine, "no name"),
        (
            b"~~~extID~email~device token~" + b"~".join([b"a"] * 1000) + b"\n",
            BadPatternLine,
            "more than 1000",
        ),
        (
            b"~~~extID~email~device token~" + b"x" * (1 << 20) + b"\n",
            BadPatternLine,
            "cannot be read",
        ),
        (b"~~~extID~email~device token~nickname\n", UnknownAttribute, "'nickname'"),
    ],
)
def test_bad_pattern_rejects_the_file(
    pattern: bytes, error_type: type[FileRejected], message: str
) -> None:
    with pytest.raises(error_type, match=message) as caught:
        outcomes(pattern + b"1~~~~\n")
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no lines"),
        (b"\r\n \n", "no lines"),
        (HEAD, "no data lines"),
        (HEAD + b"\n\n", "no data lines"),
    ],
)
def test_empty_file(data: bytes, message: str) -> None:
    with pytest.raises(EmptyFile, match=message):
        outcomes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HEAD.decode().encode("utf-16"), id="utf16"),
        pytest.param(HEAD + '1~~~"Grüße"~\n'.encode("latin-1"), id="latin1"),
        pytest.param(bytes(range(128, 256)) * 8, id="binary-garbage"),
    ],
)
def test_not_utf8(data: bytes) -> None:
    with pytest.raises(NotUtf8):
        outcomes(data)


def test_a_100_mb_line_is_one_error() -> None:
    def chunks() -> Iterator[bytes]:
        yield HEAD + b"1~~~~1\n2~~~"
        for _ in range(100):
            yield b"z" * (1 << 20)
        yield b"~2\n3~~~~3\n"

    assert outcomes(list(chunks())) == [
        row(age=1),
        error("line_too_long", None, 3),
        row(4, "3", age=3),
    ]


def test_sample_file() -> None:
    data = sample("Profile", "profile.txt").read_bytes()
    rows = list(parse_profile([data], {"attribute1": T.STRING, "attribute2": T.INTEGER}))
    assert [r.to_json() for r in rows if isinstance(r, ProfileRow)] == [
        {
            "external_id": "12345",
            "device_token": "token123",
            "attributes": {"attribute1": "example data", "attribute2": 25},
        },
        {
            "external_id": "67890",
            "email": "jane@example.com",
            "attributes": {"attribute1": "more data", "attribute2": 30},
        },
    ]
    assert len(rows) == 2


def test_row_json_shows_removals_as_null() -> None:
    (item,) = parse_profile([HEAD + b"1~null~~null~\n"], DECLARED)
    assert isinstance(item, ProfileRow)
    assert item.to_json() == {"external_id": "1", "email": None, "attributes": {"tier": None}}


def test_errors_carry_the_external_id() -> None:
    (err,) = parse_profile([HEAD + b' "42" ~~~~x\n'], DECLARED)
    assert isinstance(err, LineError)
    assert (err.external_id, err.code, err.field) == ("42", "invalid_integer", "age")
    assert "'x' is not an integer" in err.message


def test_wrong_field_count_says_expected_and_got() -> None:
    (err,) = parse_profile([HEAD + b"1~~~\n"], DECLARED)
    assert isinstance(err, LineError)
    assert err.message == "expected 5 fields as in the pattern line, got 4"
    (err,) = parse_profile([HEAD_B + b"1~a@b.co~~~\n"], DECLARED)
    assert isinstance(err, LineError)
    assert "expected 7 fields" in err.message
    assert "got 5" in err.message
    assert "~~~ after extID" in err.message


ATTRS = [("tier", T.STRING), ("age", T.INTEGER)]


@pytest.mark.parametrize(
    ("kwargs", "lines"),
    [
        ({}, ["~~~extID~email~device token~tier~age", '1~a@b.co~tok~"x ~ y"~3', "2~~~null~"]),
        (
            {"tilde_after_ext_id": True, "msisdn": True},
            [
                "extID~~~email~deviceToken~msisdn~tier~age",
                '1~~~a@b.co~tok~~"x ~ y"~3',
                "2~~~~~~null~",
            ],
        ),
    ],
)
def test_writer(kwargs: dict[str, bool], lines: list[str]) -> None:
    rows = [
        ProfileRow(0, "1", "a@b.co", "tok", UNCHANGED, {"tier": "x ~ y", "age": 3}),
        ProfileRow(0, "2", attributes={"tier": None}),
    ]
    text = "".join(write_profile_txt(rows, ATTRS, **kwargs))
    assert text == "\n".join(lines) + "\n"
    parsed = list(parse_profile([text.encode()], dict(ATTRS)))
    assert [r._replace(line=0) for r in parsed if isinstance(r, ProfileRow)] == rows


@pytest.mark.parametrize("value", ["null", " padded ", 'quo"te', "til~de", '"', "[1]"])
def test_writer_quotes_identity_values_that_need_it(value: str) -> None:
    text = "".join(write_profile_txt([ProfileRow(0, value)], []))
    (parsed,) = parse_profile([text.encode()], {})
    assert isinstance(parsed, ProfileRow)
    assert parsed.external_id == value


def test_writer_refuses_line_breaks() -> None:
    with pytest.raises(ValueError, match="line break"):
        list(write_profile_txt([ProfileRow(0, "a\nb")], []))
    with pytest.raises(ValueError, match="line break"):
        list(write_profile_txt([ProfileRow(0, "1", attributes={"tier": "a\rb"})], ATTRS))


def test_only_file_errors_escape() -> None:
    for body in (b'"', b'~"', b'"~', b"~" * 7, b'""""~', b"[[[[", b'1~~~"""~'):
        try:
            items = list(parse_profile([HEAD + body + b"\n"], DECLARED))
        except FileRejected:
            continue
        assert all(isinstance(i, ProfileRow | LineError) for i in items)
