"""Property-based tests: writers and parsers agree; fast paths agree with the reference."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from ftpush.formats import (
    UNCHANGED,
    ProfileRow,
    PushRow,
    parse_profile,
    parse_push,
    write_profile_txt,
    write_push_csv,
)
from ftpush.formats._columns import convert_slice
from ftpush.formats._pattern import read_pattern
from ftpush.formats.deeplinks import LINK_HEAD, is_deeplink, known_good
from ftpush.formats.profile_txt import _Layout
from ftpush.formats.push_csv import _parse_lines, _plain_rows
from ftpush.formats.values import ValueRejected, parse_email
from ftpush.models import AttributeType as T

# Text of any script, with the characters the formats give a meaning to.
SPECIAL = ';~"\\\n []{},:'
text_chars = st.one_of(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
    st.sampled_from(SPECIAL),
)
any_text = st.text(text_chars, max_size=60)

external_ids = (
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters=';\n\r\x00"'),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
deeplinks = st.one_of(
    st.none(),
    st.builds(
        str.__add__,
        st.sampled_from(["https://example.com/", "myapp://", "tel:+90", "x-app.v2+b:"]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
    ),
)
push_rows = st.lists(
    st.tuples(external_ids, any_text.filter(lambda t: t.strip() != ""), deeplinks),
    max_size=20,
    unique_by=lambda r: r[0],
)


@settings(max_examples=300, deadline=None)
@given(rows=push_rows, header=st.booleans(), crlf=st.booleans())
def test_push_rows_survive_writing_and_parsing(
    rows: list[tuple[str, str, str | None]], header: bool, crlf: bool
) -> None:
    assume(rows or header)
    data = "".join(write_push_csv(rows, header=header, newline="\r\n" if crlf else "\n"))
    if not rows:
        return
    parsed = list(parse_push([data.encode()]))
    assert all(isinstance(p, PushRow) for p in parsed), parsed
    assert [(p.external_id, p.text, p.deeplink) for p in parsed] == rows  # type: ignore[union-attr]


def _valid_email(address: str) -> bool:
    try:
        parse_email(address)
    except ValueRejected:
        return False
    return True


emails = st.one_of(
    st.from_regex(
        r"[a-z0-9+_~-]{1,8}(\.[a-z0-9+_-]{1,8})?@[a-z0-9]{1,8}\.(com|org|com\.tr)", fullmatch=True
    ),
    st.sampled_from(["ünï@exämple.com", "Jane.Doe@Example.COM"]),
).filter(_valid_email)


no_breaks = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), max_size=30
)
aware = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=3)), dt.timezone(-dt.timedelta(minutes=330))]
    ),
)
SCALARS: dict[T, st.SearchStrategy[Any]] = {
    T.STRING: no_breaks,
    T.INTEGER: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    T.NUMBER: st.floats(allow_nan=False, allow_infinity=False),
    T.BOOLEAN: st.booleans(),
    T.DATE: st.dates(),
    T.DATETIME: aware,
}


def values_for(type_: T) -> st.SearchStrategy[Any]:
    if type_.is_array:
        scalar = st.text(max_size=10) if type_.scalar is T.STRING else SCALARS[type_.scalar]
        return st.lists(scalar, max_size=4)
    return SCALARS[type_]


@st.composite
def profile_files(draw: st.DrawFn) -> tuple[dict[str, T], list[ProfileRow], bool, bool]:
    types = draw(st.lists(st.sampled_from(list(T)), max_size=6))
    attrs = {f"a{i}": t for i, t in enumerate(types)}
    msisdn = draw(st.booleans())
    ids = draw(st.lists(external_ids, max_size=15))
    rows = []
    for ext in ids:
        email = draw(st.one_of(st.just(UNCHANGED), st.none(), emails))
        token = draw(st.one_of(st.none(), st.from_regex(r"[!-~]{1,40}", fullmatch=True)))
        number = draw(
            st.one_of(
                st.just(UNCHANGED), st.none(), st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
            )
        )
        values: dict[str, Any] = {}
        for name, type_ in attrs.items():
            choice = draw(st.sampled_from(["skip", "null", "value", "value"]))
            if choice == "null":
                values[name] = None
            elif choice == "value":
                values[name] = draw(values_for(type_))
        rows.append(ProfileRow(0, ext, email, token, number if msisdn else UNCHANGED, values))
    return attrs, rows, msisdn, draw(st.booleans())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@settings(max_examples=150, deadline=None)
@given(case=profile_files())
def test_profile_rows_survive_writing_and_parsing(
    case: tuple[dict[str, T], list[ProfileRow], bool, bool],
) -> None:
    attrs, rows, msisdn, after_id = case
    assume(rows)
    data = "".join(write_profile_txt(rows, attrs, msisdn=msisdn, tilde_after_ext_id=after_id))
    parsed = list(parse_profile([data.encode()], attrs))
    assert all(isinstance(p, ProfileRow) for p in parsed), parsed
    for got, want in zip(parsed, rows, strict=True):
        assert isinstance(got, ProfileRow)
        assert got._replace(line=0, attributes={}) == want._replace(attributes={})
        assert got.attributes.keys() == want.attributes.keys()
        for name, value in want.attributes.items():
            assert _same(got.attributes[name], value), (name, got.attributes[name], value)


# --- fast paths against the per-line reference ------------------------------------

push_pieces = st.sampled_from(
    [
        "1",
        "42",
        " 7 ",
        '"9"',
        "",
        ";",
        ";;",
        "Hi",
        "a b",
        "   ",
        '"',
        '"q"',
        "\\n",
        "\\\\",
        "https://x.y",
        "https://",
        "myapp://h",
        " tel:+1 ",
        "ftp:/a",
        "ü",
        "x" * 300,
    ]
)
push_lines = st.lists(push_pieces, max_size=6).map("".join)


@settings(max_examples=1000, deadline=None)
@given(lines=st.lists(push_lines, min_size=1, max_size=8), odd=st.booleans())
def test_push_fast_path_matches_the_line_loop(lines: list[str], odd: bool) -> None:
    fast = _plain_rows(lines, 1, 255, odd or any('"' in x or "\\" in x for x in lines))
    if fast is None:
        return
    out, clean = _parse_lines(lines, 1, True, True, (4096 - 27) // 6, 4096)
    assert clean
    assert out == fast


@settings(max_examples=1000, deadline=None)
@given(
    links=st.lists(push_pieces.map(str.strip) | st.text(max_size=12), max_size=6),
    seed=st.lists(push_pieces, max_size=3),
)
def test_bulk_link_check_never_accepts_a_bad_link(links: list[str], seed: list[str]) -> None:
    prefixes = tuple(m.group() for s in seed if is_deeplink(s) and (m := LINK_HEAD.match(s)))
    if known_good([link for link in links if link], prefixes):
        assert all(is_deeplink(link) for link in links if link)


PATTERN_TYPES = {
    "s": T.STRING,
    "i": T.INTEGER,
    "n": T.NUMBER,
    "b": T.BOOLEAN,
    "d": T.DATE,
    "t": T.DATETIME,
    "l": T.STRING_ARRAY,
}
PATTERN = read_pattern("~~~extID~email~device token~msisdn~s~i~n~b~d~t~l", 1, PATTERN_TYPES, 100)


def column(valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    # Valid values far more likely: whole slices then often take the fast path.
    return st.sampled_from(valid * 20 + invalid)


COLUMNS = [
    column(["1", "42", "x-9"], [" 7", '"9"', "", "x" * 256, '"a~b"']),
    column(
        ["", "null", "a@b.co", "A.B@ex-ample.org", "ü@ex.com"],
        [".a@b.co", '"a@b.co"', "a b@c.co", "a@b"],
    ),
    column(["", "tok", "A" * 64], ['"tok"', "null", "to ken", "tök"]),
    column(["", "null", "+905551112233"], ["+90 555 111 22 33", "0555", '"+905551112233"']),
    column(['""', '"a"', '"a""b"', "a", "", "null"], ['"a"b"', " a ", '"', '"x~y"', 'a"b']),
    column(["1", "-2", "+3", "", "null"], [" 4 ", "4.5", "1_0", "٣", "9" * 30, '"5"']),
    column(["4.5", "1e3", "1", "", "null"], ["nan", "1_0", '"2.5"', " 1"]),
    column(["true", "False", "", "null"], [" TRUE ", "yes", '"true"']),
    column(["2024-01-01", "", "null"], ["2024-13-01", "2024-W01-1", " 2024-01-01", "20240101"]),
    column(
        ["2024-01-01T10:00", "2024-01-01 10:00Z", "2024-01-01t10:00:00+03:00", "", "null"],
        ["0001-01-01T00:00+01:00", "2024-01-01", "9999-12-31T23:59:59-01:00", " 2024-01-01T10:00"],
    ),
    column(['["x"]', "[]", "", "null"], ["[1]", "[", '"[""a""]"', '["a~b"]']),
]
profile_lines = st.tuples(*COLUMNS).map("~".join)


@settings(max_examples=600, deadline=None)
@given(lines=st.lists(profile_lines, min_size=1, max_size=3))
def test_profile_column_path_matches_the_line_path(lines: list[str]) -> None:
    fast = convert_slice(lines, 1, PATTERN, dt.UTC)
    layout = _Layout(PATTERN, dt.UTC)
    reference = [layout.parse_line(n, line) for n, line in enumerate(lines, 1)]
    event(f"fast path taken: {fast is not None}")
    if fast is not None:
        assert fast == reference


def test_profile_column_path_is_taken_for_clean_lines() -> None:
    # Not a correctness property: a guard that the fast path is not dead code.
    clean = ['1~a@b.co~tok~+905551112233~"x"~2~3.5~true~2024-01-01~2024-01-01T10:00Z~[]'] * 3
    assert convert_slice(clean, 1, PATTERN, dt.UTC) is not None
