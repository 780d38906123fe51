"""``ftpush validate``, run through click's test runner on the command object itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ftpush.cli.validate import parse_attribute_spec, validate
from ftpush.config import Settings
from ftpush.models import AttributeType as T
from tests.unit.formats._samples import sample

PROFILE = "~~~extID~email~device token~tier~age\n"


def run(*args: str, obj: object = None) -> Result:
    return CliRunner().invoke(validate, list(args), obj=obj, catch_exceptions=False)


def json_lines(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_push_json(tmp_path: Path) -> None:
    path = write(
        tmp_path, "offers.csv", "ExternalID;Text;Deeplink\n1;Hi\\nthere;myapp://x\n2;Yo;nope\n"
    )
    result = run(str(path), "--json")
    assert result.exit_code == 0
    assert json_lines(result) == [
        {"line": 2, "row": {"external_id": "1", "text": "Hi\nthere", "deeplink": "myapp://x"}},
        {
            "line": 3,
            "error": {
                "code": "invalid_deeplink",
                "field": "deeplink",
                "message": "'nope' is not an absolute URI with a scheme (https://host/..., myapp://...)",
            },
        },
        {"summary": {"kind": "push", "accepted": 1, "rejected": 1}},
    ]


def test_push_sample_text_summary() -> None:
    result = run(str(sample("push.csv")))
    assert result.exit_code == 0
    assert result.stdout == "push file push.csv: 5 lines accepted, 0 lines rejected\n"


def test_text_summary_lists_the_first_errors(tmp_path: Path) -> None:
    lines = "".join(f"{i};;\n" for i in range(30)) + "99;ok;\n"
    result = run(str(write(tmp_path, "a.csv", lines)))
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[0] == "push file a.csv: 1 line accepted, 30 lines rejected"
    assert out[1] == "first 20 rejected lines:"
    assert out[2] == "  line 1 [text] missing_text: the Text is empty"
    assert len(out) == 2 + 20 + 1
    assert out[-1] == "rejected lines by reason: missing_text 30"


def test_profile_with_attributes_option(tmp_path: Path) -> None:
    path = write(tmp_path, "Profile/day.txt", PROFILE + '1~a@b.co~~"gold"~30\n2~~~~x\n')
    result = run(str(path), "--attributes", "tier:string, age:integer", "--json")
    assert result.exit_code == 0
    assert json_lines(result) == [
        {
            "line": 2,
            "row": {
                "external_id": "1",
                "email": "a@b.co",
                "attributes": {"tier": "gold", "age": 30},
            },
        },
        {
            "line": 3,
            "error": {
                "code": "invalid_integer",
                "field": "age",
                "message": "'x' is not an integer",
            },
        },
        {"summary": {"kind": "profile", "accepted": 1, "rejected": 1}},
    ]


def test_profile_sample_with_attributes() -> None:
    result = run(
        str(sample("Profile", "profile.txt")),
        "--attributes",
        "attribute1:string,attribute2:integer",
    )
    assert result.exit_code == 0
    assert result.stdout == "profile file profile.txt: 2 lines accepted, 0 lines rejected\n"


def test_datetimes_use_the_timezone_option(tmp_path: Path) -> None:
    path = write(tmp_path, "p.txt", "~~~extID~email~device token~seen\n1~~~2024-05-01T10:00\n")
    result = run(str(path), "--attributes", "seen:datetime", "--timezone", "Asia/Tokyo", "--json")
    assert json_lines(result)[0]["row"] == {
        "external_id": "1",
        "attributes": {"seen": "2024-05-01T10:00:00+09:00"},
    }


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"\xff\xfe1\x00;\x00", "not_utf8"),
        (b"\n\n", "empty_file"),
    ],
)
def test_whole_file_error_json(tmp_path: Path, content: bytes, code: str) -> None:
    result = run(str(write(tmp_path, "x.csv", content)), "--json")
    assert result.exit_code == 1
    (line,) = json_lines(result)
    assert line["file_error"]["code"] == code  # type: ignore[index]
    assert set(line["file_error"]) == {"code", "message"}  # type: ignore[arg-type]


def test_unknown_attribute_without_declarations_gives_a_hint(tmp_path: Path) -> None:
    result = run(str(write(tmp_path, "Profile/p.txt", PROFILE + "1~~~~\n")))
    assert result.exit_code == 1
    assert "not declared" in result.stderr
    assert "pass --app KEY or --attributes" in result.stderr
    assert result.stdout == ""


def test_bad_pattern_line_text(tmp_path: Path) -> None:
    result = run(str(write(tmp_path, "p.txt", "~~~email~extID\n1~~\n")))
    assert result.exit_code == 1
    assert "rejected as a whole" in result.stderr


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("notes.md", [], "pass --kind"),
        ("a.csv", ["--app", "x", "--attributes", "a:string"], "not both"),
        ("p.txt", ["--attributes", "age"], "has no type"),
        ("p.txt", ["--attributes", "age:float"], "unknown attribute type"),
        ("p.txt", ["--attributes", "1age:integer"], "invalid attribute name"),
        ("p.txt", ["--timezone", "Mars/Base"], "unknown timezone"),
        ("p.txt", ["--kind", "csv"], "'csv' is not one of"),
    ],
)
def test_usage_errors(tmp_path: Path, name: str, args: list[str], message: str) -> None:
    path = write(tmp_path, name, PROFILE + "1~~~~\n")
    result = CliRunner().invoke(validate, [str(path), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_kind_option_overrides_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "Profile/push-really.txt", "1;Hi;\n")
    assert run(str(path), "--kind", "push").stdout.startswith("push file")


def test_missing_file() -> None:
    result = CliRunner().invoke(validate, ["/nonexistent/x.csv"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_large_file_shows_progress_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"  # over the 4 MiB from which a bar is drawn
    with path.open("w") as handle:
        handle.write("".join(f"{i};{'x' * 90};https://example.com\n" for i in range(50_000)))
    result = run(str(path))
    assert result.exit_code == 0
    assert result.stdout == "push file big.csv: 50000 lines accepted, 0 lines rejected\n"
    assert "validating big.csv" in result.stderr


def test_parse_attribute_spec() -> None:
    assert parse_attribute_spec(" a:string , b:INTEGER[] ,") == {
        "a": T.STRING,
        "b": T.INTEGER_ARRAY,
    }


# --- --app: declared attributes and timezone come from storage --------------------


def test_app_option_reads_attributes_and_timezone(settings: Settings, tmp_path: Path) -> None:
    from ftpush.cli.context import CliContext
    from ftpush.storage import apps, attributes

    obj = CliContext(settings)
    try:
        with obj.session() as session:
            apps.create_app(session, key="demo", timezone="Europe/Istanbul")
            attributes.declare_attribute(session, app_key="demo", name="Seen", type_="datetime")
        path = write(
            tmp_path, "Profile/p.txt", "~~~extID~email~device token~seen\n1~~~2024-05-01T10:00\n"
        )
        result = run(str(path), "--app", "demo", "--json", obj=obj)
        assert result.exit_code == 0
        assert json_lines(result)[0]["row"] == {
            "external_id": "1",
            "attributes": {"Seen": "2024-05-01T10:00:00+03:00"},
        }
        with pytest.raises(Exception, match="app 'nope' does not exist"):
            run(str(path), "--app", "nope", obj=obj)
    finally:
        obj.close()
