"""The C accelerator (decision 0105): same rows and errors as pure Python, and safe to call.

The differential tests parse random files with both implementations and compare
everything that comes out: rows, line errors, and the whole-file error if any.
The inputs are built from the pieces the formats give a meaning to, so that most
lines are valid or nearly so and the C code's accepting paths are exercised, not
only its "give the line back to Python" ones.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftpush.errors import FileRejected
from ftpush.formats import FingerprintSet, ProfileRow, PushRow, _accel, parse_profile, parse_push
from ftpush.models import AttributeType as T

speedups = _accel.compiled
pytestmark = pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")


@pytest.fixture(scope="module")
def implementation() -> str:
    """Overrides the conftest's: these tests switch implementations themselves."""
    return "both"


DIFF = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def both(parse: Callable[[], Iterator[Any]]) -> tuple[list[Any], list[Any]]:
    """What ``parse()`` gives with C and with pure Python: items, then the file error."""
    results = []
    for compiled in (True, False):
        before = _accel.use_compiled(compiled)
        items: list[Any] = []
        try:
            for item in parse():
                items.append(item)
        except FileRejected as exc:
            items.append((type(exc).__name__, str(exc), exc.code))
        finally:
            _accel.use_compiled(before)
        results.append(items)
    return results[0], results[1]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


# --- push ----------------------------------------------------------------------------


def mostly(good: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``good`` four times in five, else ``odd``: most lines valid, many slightly not."""
    return st.integers(0, 4).flatmap(lambda roll: odd if roll == 0 else good)


ext_ids = mostly(
    st.sampled_from(["1", "42", "10000007", "abc-DEF_9", "ü", "a b"]),
    st.sampled_from([" 7", "7 ", '"9"', '"9', "", "x" * 256, "\t", "\u3000x"]),
)
text_pieces = mostly(
    st.sampled_from(["Hello", " world", ";", "\\n", "\\\\", "é", "你好", "\U0001f600", " "]),
    st.sampled_from(
        ["\\", "\\x", '"', '""', "\t", "\x01", "\x7f", "\u2028", "\u200b", "\\u00e9", "x" * 100]
    ),
)
links = mostly(
    st.sampled_from(
        ["", "https://example.com/a?b=1", "HTTP://x.y", "myapp://home", "x-app.v2+b:z", "myapp:ü"]
    ),
    st.sampled_from(
        [
            "https://",
            "https:///x",
            "https://?q",
            "http:x",
            "httpx:y",
            "httpſ://x",
            "myapp:",
            "myapp:/x",
            "myapp://home",
            "x-app.v2+b:z",
            "1app:x",
            "tel:+90 555",
            " myapp:x ",
            '"myapp:x"',
            "myapp:x\u200b",
            "myapp:ü",
            'myapp:"q"',
            "a;b:c",
            "mailto:a@b.co",
            "app:" + "y" * 300,
        ]
    ),
)


@st.composite
def push_lines(draw: st.DrawFn) -> str:
    ext = draw(ext_ids)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", "   ", "no separator", ext, ";", " ; "]))
    text = "".join(draw(st.lists(text_pieces, max_size=5)))
    if draw(st.integers(0, 7)) == 0:
        text = '"' + text + '"'
    line = f"{ext};{text}"
    if draw(st.integers(0, 3)):
        line += ";" + draw(links)
    return line


push_files = st.tuples(
    st.lists(push_lines(), min_size=1, max_size=30),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)


@DIFF
@given(
    case=push_files,
    payload=st.sampled_from([4096, 200, 60, 28]),
    line_limit=st.sampled_from([1 << 20, 120]),
    chunk=st.integers(1, 200),
)
def test_push_c_and_python_agree(
    case: tuple[list[str], str, bool], payload: int, line_limit: int, chunk: int
) -> None:
    lines, newline, header = case
    data = ("ExternalID;Text;Deeplink" + newline if header else "") + newline.join(lines)
    chunks = chunked(data.encode("utf-8", "surrogatepass"), chunk)
    with_c, pure = both(
        lambda: parse_push(chunks, max_payload_bytes=payload, max_line_bytes=line_limit)
    )
    assert with_c == pure


@DIFF
@given(data=st.binary(max_size=300), chunk=st.integers(1, 64))
def test_push_c_and_python_agree_on_any_bytes(data: bytes, chunk: int) -> None:
    with_c, pure = both(lambda: parse_push(chunked(data, chunk), max_payload_bytes=100))
    assert with_c == pure


def test_push_c_accepts_the_ordinary_lines() -> None:
    # A guard that the differential tests compare C-built rows, not only fallbacks.
    lines = ["1;Hi; there\\nyou;https://e.com/x", "2;Ça va ? 你好;", "3;x;myapp:y"]
    out, pending = speedups.push_lines(lines, 5, 4096, PushRow)  # type: ignore[union-attr]
    assert pending == 0
    assert out == [
        PushRow(5, "1", "Hi; there\nyou", "https://e.com/x"),
        PushRow(6, "2", "Ça va ? 你好", None),
        PushRow(7, "3", "x", "myapp:y"),
    ]
    assert [type(row) for row in out] == [PushRow] * 3


# --- profile ---------------------------------------------------------------------------

TYPES = {
    "s": T.STRING,
    "i": T.INTEGER,
    "n": T.NUMBER,
    "b": T.BOOLEAN,
    "d": T.DATE,
    "t": T.DATETIME,
    "l": T.STRING_ARRAY,
    "li": T.INTEGER_ARRAY,
}
PATTERNS = [
    "~~~extID~email~device token~msisdn~s~i~n~b~d~t~l~li",
    "~~~extID~email~device token~s~i~n~b~d",
    "extID~~~email~deviceToken~i~s",
]


def field(valid: list[str], alphabet: str, size: int = 10) -> st.SearchStrategy[str]:
    """Mostly valid values, sometimes random text over the characters that matter."""
    return st.integers(0, 19).flatmap(
        lambda roll: (
            st.text(alphabet, max_size=size)
            if roll == 0
            else st.sampled_from(["", "null"])
            if roll < 4
            else st.sampled_from(valid)
        )
    )


COLUMNS: dict[str, st.SearchStrategy[str]] = {
    "extID": field(["1", "42", "x-9", "ü", "x" * 256], ' 1a"~', 3),
    "email": field(
        ["a@b.co", "A.B+c@ex-ample.org", "ü@ex.com", "a@b.c1", "a@-b.co", "a.@b.co"],
        'ab1.-@_+"( é',
        14,
    ),
    "device token": field(["tok", "A" * 64, "fcm-1:APA91b", 'a"b'], 'aZ:-" é~', 8),
    "msisdn": field(["+905551112233", "+1234567", "+0123456"], "+0123456789 -()", 16),
    "s": field(['"gold"', '""', '"a""b"', "plain", 'a"b', '"a"b"'], 'ab "~', 6),
    "i": field(
        ["0", "-7", "+3", "123456789012345678", "9" * 19, " 5", '"5"'], '0123456789+-_ "٣', 6
    ),
    "n": field(["0.125", "4.5", ".5", "1e6", "-2E-3", "1.", "1e999"], '0123456789+-.eE_ "n', 8),
    "b": field(["true", "False", "TRUE"], 'truefalsTRUEFALS "', 6),
    "d": field(["2024-01-31", "2024-02-30", "0000-01-01", "1960-12-01"], '0123456789- "', 11),
    "t": field(
        ["2024-01-01T10:00", "2024-01-01 10:00Z", "9999-12-31T23:59:59-01:00"], "0-T: Z1", 9
    ),
    "l": field(['["x"]', "[]", '"[""a~b""]"'], '[]"x,', 6),
    "li": field(["[1,2]", "[]", "[1.5]"], "[]1,.", 6),
}


@st.composite
def profile_files(draw: st.DrawFn) -> tuple[str, list[str]]:
    pattern = draw(st.sampled_from(PATTERNS))
    body = pattern.removeprefix("~~~")
    names = ["extID", "email", "device token", *body.split("~")[3:]]
    if pattern.startswith("extID~~~"):
        names = ["extID", "email", "device token", *body.split("~")[5:]]
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        fields = [draw(COLUMNS[name]) for name in names]
        if pattern.startswith("extID~~~"):
            fields[1:1] = draw(st.sampled_from([["", ""], ["", ""], ["x", ""]]))
        line = "~".join(fields)
        roll = draw(st.integers(0, 39))
        if roll == 0:
            line += "~"
        elif roll == 1:
            line = line.rpartition("~")[0]
        elif roll == 2:
            line = draw(st.sampled_from(["", "  ", "\t"]))
        lines.append(line)
    return pattern, lines


@DIFF
@given(case=profile_files(), newline=st.sampled_from(["\n", "\r\n"]), chunk=st.integers(1, 300))
def test_profile_c_and_python_agree(case: tuple[str, list[str]], newline: str, chunk: int) -> None:
    pattern, lines = case
    data = newline.join([pattern, *lines]).encode()
    with_c, pure = both(
        lambda: parse_profile(chunked(data, chunk), TYPES, timezone="Europe/Istanbul")
    )
    assert with_c == pure


@DIFF
@given(data=st.binary(max_size=300), chunk=st.integers(1, 64))
def test_profile_c_and_python_agree_on_any_bytes(data: bytes, chunk: int) -> None:
    head = PATTERNS[0].encode() + b"\n"
    with_c, pure = both(lambda: parse_profile(chunked(head + data, chunk), TYPES))
    assert with_c == pure


def test_profile_c_accepts_the_ordinary_lines() -> None:
    data = (
        b"~~~extID~email~device token~s~i~n~b~d\n"
        b'1~a@b.co~tok:1~"gold"~25~0.125~true~2024-02-29\n'
        b"2~~~plain~-3~1e3~FALSE~\n"
        b"3~null~~~~~~null\n"
    )
    with_c, pure = both(lambda: parse_profile([data], TYPES))
    assert with_c == pure
    assert all(type(row) is ProfileRow for row in with_c)
    assert with_c[0].attributes == {
        "s": "gold",
        "i": 25,
        "n": 0.125,
        "b": True,
        "d": dt.date(2024, 2, 29),
    }
    assert with_c[2].email is None
    assert with_c[2].attributes == {"d": None}


# --- duplicate index -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(
        st.lists(
            st.sampled_from(["", "1", "2", "42", "ü", "x" * 50]) | st.text(max_size=4), max_size=40
        ),
        max_size=6,
    )
)
def test_fingerprints_c_and_python_agree(batches: list[list[str]]) -> None:
    tables = []
    answers = []
    for compiled in (True, False):
        before = _accel.use_compiled(compiled)
        try:
            seen = FingerprintSet()
            answers.append([seen.add_many(batch) for batch in batches])
            tables.append((seen._table.tobytes(), len(seen)))
        finally:
            _accel.use_compiled(before)
    assert answers[0] == answers[1]
    assert tables[0] == tables[1]


def test_fingerprints_grow_with_c() -> None:
    before = _accel.use_compiled(True)
    try:
        seen = FingerprintSet()
        keys = [str(i) for i in range(5000)]
        assert seen.add_many(keys[:700]) == []
        assert seen.add_many(keys) == list(range(700))
        assert seen.add_many([*keys[::-1][:10], "new"]) == list(range(10))
        assert seen.add_many(("a", "a")) == [1]  # type: ignore[arg-type]
        assert len(seen) == 5002
    finally:
        _accel.use_compiled(before)


# --- hostile calls -------------------------------------------------------------------


class Row(tuple[Any, ...]):
    pass


def test_push_lines_checks_its_arguments() -> None:
    c: Any = speedups
    with pytest.raises(TypeError):
        c.push_lines(("1;a;",), 1, 4096, PushRow)
    with pytest.raises(TypeError, match="expected str"):
        c.push_lines(["1;a;", b"2;b;"], 1, 4096, PushRow)
    with pytest.raises(TypeError, match="tuple subclass"):
        c.push_lines(["1;a;"], 1, 4096, dict)
    with pytest.raises(TypeError, match="tuple subclass"):
        c.push_lines(["1;a;"], 1, 4096, "PushRow")
    with pytest.raises(OverflowError):
        c.push_lines(["1;a;"], -1, 4096, PushRow)
    with pytest.raises(OverflowError):
        c.push_lines(["1;a;"], 2**80, 4096, PushRow)
    assert c.push_lines(["1;a;"], 1, 4096, Row) == ([Row((1, "1", "a", None))], 0)


def test_push_lines_gives_back_what_it_cannot_take() -> None:
    c: Any = speedups
    lines = [
        "",
        "  ",
        "x",
        ";a",
        " 1;a",
        '"1";a',
        '1;"a"',
        "1;",
        "1; \\n ",
        "1;a;b",
        "1;a;https://",
        "1;" + "x" * 5000,
        "1;\ud800",
        "x" * 256 + ";a",
    ]
    out, pending = c.push_lines(lines, 1, 4096, PushRow)
    assert out == list(range(3, len(lines) + 1))
    assert pending == len(lines) - 2


def spec(**changes: Any) -> tuple[Any, ...]:
    fields: dict[str, Any] = {
        "fields": 4,
        "filler": False,
        "email": 1,
        "token": 2,
        "msisdn": -1,
        "attributes": ((3, "a", 1, int),),
        "row_type": ProfileRow,
        "unchanged": object(),
        "parse_email": str,
        "parse_device_token": str,
        "parse_msisdn": str,
    }
    fields.update(changes)
    return tuple(fields.values())


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"fields": 2}, ValueError),
        ({"fields": 1 << 30}, ValueError),
        ({"fields": "4"}, TypeError),
        ({"filler": True}, ValueError),
        ({"email": 4}, ValueError),
        ({"email": 0}, ValueError),
        ({"token": -1}, ValueError),
        ({"msisdn": 9}, ValueError),
        ({"attributes": [(3, "a", 1, int)]}, TypeError),
        ({"attributes": ((3, "a", 1),)}, TypeError),
        ({"attributes": ((4, "a", 1, int),)}, ValueError),
        ({"attributes": ((3, "a", 99, int),)}, ValueError),
        ({"attributes": ((3, b"a", 1, int),)}, ValueError),
        ({"attributes": ((3, "a", 1, None),)}, ValueError),
        ({"attributes": ((3, "a", "1", int),)}, TypeError),
        ({"row_type": list}, TypeError),
        ({"parse_email": None}, TypeError),
    ],
)
def test_profile_lines_checks_its_spec(bad: dict[str, Any], error: type[Exception]) -> None:
    c: Any = speedups
    with pytest.raises(error):
        c.profile_lines(["1~~~5"], 1, spec(**bad))


def test_profile_lines_checks_its_arguments() -> None:
    c: Any = speedups
    with pytest.raises(TypeError):
        c.profile_lines(["1~~~5"], 1, list(spec()))
    with pytest.raises(TypeError):
        c.profile_lines(["1~~~5"], 1, (1, 2))
    with pytest.raises(TypeError, match="expected str"):
        c.profile_lines([None], 1, spec())
    with pytest.raises(OverflowError):
        c.profile_lines(["1~~~5"], -5, spec())
    unchanged = object()
    out, pending = c.profile_lines(["1~~~5", "", "1~~~x", "1~~"], 1, spec(unchanged=unchanged))
    assert out == [ProfileRow(1, "1", unchanged, None, unchanged, {"a": 5}), 3, 4]
    assert pending == 2


class Stop(BaseException):
    pass


def test_profile_converters_exceptions() -> None:
    c: Any = speedups

    def refuse(text: str) -> Any:
        raise ValueError(text)

    def stop(text: str) -> Any:
        raise Stop

    out, pending = c.profile_lines(["1~~~5"], 1, spec(attributes=((3, "a", c.OTHER, refuse),)))
    assert (out, pending) == ([1], 1)  # an Exception: the line goes to Python
    with pytest.raises(Stop):  # anything else propagates
        c.profile_lines(["1~~~5"], 1, spec(attributes=((3, "a", c.OTHER, stop),)))
    with pytest.raises(Stop):
        c.profile_lines(["1~x~~"], 1, spec(parse_email=stop))


def test_profile_lines_with_many_columns() -> None:
    c: Any = speedups
    attributes = tuple((i, f"a{i}", c.INTEGER, int) for i in range(3, 10_000))
    line = "1~~~" + "~".join(str(i) for i in range(3, 10_000))
    out, pending = c.profile_lines(
        [line, line + "~", "~" * 20_000], 1, spec(fields=10_000, attributes=attributes)
    )
    assert pending == 2
    assert out[0].attributes == {f"a{i}": i for i in range(3, 10_000)}


def test_fingerprint_add_checks_its_table() -> None:
    c: Any = speedups
    with pytest.raises(BufferError):
        c.fingerprint_add(b"\0" * 64, 7, ["a"])  # read-only
    with pytest.raises(TypeError, match="array"):
        c.fingerprint_add(array("i", [0] * 8), 7, ["a"])
    with pytest.raises(TypeError, match="array"):
        c.fingerprint_add(bytearray(64), 7, ["a"])
    for mask in (8, 6, -1, 15):
        with pytest.raises(ValueError, match="mask"):
            c.fingerprint_add(array("q", [0] * 8), mask, ["a"])
    with pytest.raises(TypeError):
        c.fingerprint_add(array("q", [0] * 8), 7, ("a",))
    with pytest.raises(TypeError):
        c.fingerprint_add(array("q", [0] * 8), 7, [["unhashable"]])
    full = array("q", range(1, 9))
    with pytest.raises(RuntimeError, match="full"):
        c.fingerprint_add(full, 7, ["a"])
    table = array("q", [0] * 8)
    assert c.fingerprint_add(table, 7, ["a", "b", "a", ""]) == [2]
    assert sorted(table) == sorted([0] * 6 + [hash("a"), hash("b")])


def test_fingerprint_add_survives_a_key_that_changes_the_list() -> None:
    c: Any = speedups
    keys: list[Any] = []

    class Sneaky(str):
        __slots__ = ()

        def __hash__(self) -> int:
            keys.clear()
            return 1

    keys.extend([Sneaky("a"), "b", "c"])
    assert c.fingerprint_add(array("q", [0] * 8), 7, keys) == []
    assert keys == []
