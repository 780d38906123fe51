"""Profile files (SPEC §4, issue 6) through the pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ftpush.config import Settings, load_settings
from ftpush.intake.spool import Origin, Spool
from ftpush.models import ImportSource, ImportStatus
from ftpush.pipeline.imports import ImportProcessor
from ftpush.storage import Database, apps, attributes, imports, profiles, users
from ftpush.storage.tables import ImportFile
from tests.conftest import SAMPLES, PgServer
from tests.integration.intake.conftest import make_settings

IOS = "cd" * 32


@dataclass
class World:
    settings: Settings
    db: Database
    spool: Spool

    def declare(self, *specs: str, app: str = "demo") -> None:
        with self.db.transaction() as s:
            for spec in specs:
                name, _, kind = spec.partition(":")
                attributes.declare_attribute(s, app_key=app, name=name, type_=kind)

    def drop(self, folder: str, name: str, data: bytes, app: str = "demo") -> int:
        with self.db.transaction() as s:
            app_id = apps.get_app(s, app).id
        path = self.settings.data_dir / f"upload-{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with path.open("rb") as fh:
            return self.spool.receive(
                Origin(app_id, app, ImportSource.CLI, "test", None), folder, name, fh
            )

    def run(self, import_id: int, **kw: Any) -> ImportStatus | None:
        return ImportProcessor(self.settings, self.db, **kw).process(import_id)

    def user(self, ext: str, app: str = "demo") -> dict[str, Any]:
        with self.db.transaction() as s:
            profile = users.profile(s, app, ext)
            return {
                "email": profile.user.email,
                "msisdn": profile.user.msisdn,
                "attributes": dict(profile.user.attributes),
                "devices": sorted(d.token for d in profile.devices),
            }

    def row(self, import_id: int) -> ImportFile:
        with self.db.transaction() as s:
            row = imports.get_import(s, import_id)
            s.expunge(row)
            return row

    def results(self, name: str, app: str = "demo") -> Path:
        return self.settings.dropbox_dir / app / "results" / name


@pytest.fixture
def world(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[World]:
    extra: dict[str, Any] = {}
    if backend == "postgresql":
        assert pg_server is not None
        extra["database"] = {"url": pg_server.migrated()}
    settings = _pg_settings(tmp_path, extra) if extra else make_settings(tmp_path)
    db = Database.open(settings)
    spool = Spool(settings, db)
    with db.transaction() as s:
        apps.create_app(s, key="demo", timezone="Europe/Paris")
        apps.create_app(s, key="other")
    yield World(settings, db, spool)
    spool.close()
    db.close()


def _pg_settings(tmp_path: Path, extra: dict[str, Any]) -> Settings:
    return load_settings(data_dir=tmp_path / "data", environ={}, **extra)


def test_the_sample_file(world: World) -> None:
    world.declare("attribute1:string", "attribute2:integer")
    data = (SAMPLES / "Profile" / "profile.txt").read_bytes()
    import_id = world.drop("Profile", "profile.txt", data)
    assert world.run(import_id) is ImportStatus.DONE
    assert world.user("12345") == {
        "email": None, "msisdn": None, "devices": ["token123"],
        "attributes": {"attribute1": "example data", "attribute2": 25},
    }  # fmt: skip
    assert world.user("67890")["email"] == "jane@example.com"
    assert world.user("67890")["attributes"] == {"attribute1": "more data", "attribute2": 30}
    row = world.row(import_id)
    assert row.counts["users_created"] == 2
    assert row.counts["devices_created"] == 1
    assert not (world.settings.dropbox_dir / "demo" / "Profile" / "profile.txt").exists()
    result = json.loads(world.results("profile.txt.result.json").read_text())
    assert (result["status"], result["kind"]) == ("done", "profile")


def test_every_type_empty_null_both_variants_and_errors(world: World) -> None:
    world.declare("tier:string", "age:integer", "score:number", "vip:boolean", "born:date",
                  "seen:datetime", "tags:string[]", "lucky:integer[]")  # fmt: skip
    first = (
        "~~~extID~email~device token~msisdn~tier~age~score~vip~born~seen~tags~lucky\n"
        f'1~a@example.com~{IOS}~+905551112233~"Gold ""A"""~41~2.5~true~1985-02-03~'
        '2026-03-29T01:30:00~["x","y"]~[7,8]\n'
        "2~~fcm-2~~plain~x~~~~~~\n"  # age is not an integer: rejected
        "3~not-an-email~~~~~~~~~~\n"  # rejected
        "4~~~~~~~~~2026-06-01T12:00:00Z~~\n"
    ).encode()
    first_id = world.drop("Profile", "first.txt", first)
    assert world.run(first_id) is ImportStatus.PARTIAL
    one = world.user("1")
    assert (one["email"], one["msisdn"], one["devices"]) == (
        "a@example.com",
        "+905551112233",
        [IOS],
    )
    assert one["attributes"] == {
        "tier": 'Gold "A"', "age": 41, "score": 2.5, "vip": True, "born": "1985-02-03",
        "seen": "2026-03-29T01:30:00+01:00",  # no offset: the app's zone (Paris, before DST)
        "tags": ["x", "y"], "lucky": [7, 8],
    }  # fmt: skip
    assert world.user("4")["attributes"] == {"seen": "2026-06-01T12:00:00+00:00"}
    with pytest.raises(Exception, match="does not exist"):
        world.user("2")
    errors = world.results("first.txt.errors.csv").read_text().splitlines()
    assert errors[0] == "line;external_id;code;message"
    assert errors[1] == "3;2;invalid_integer;age: 'x' is not an integer"
    assert errors[2].startswith("4;3;")
    assert "email" in errors[2]
    # second variant: ~~~ after the ExternalID on every line; empty keeps, null removes
    second = (
        b"Exid~~~email~deviceToken~msisdn~tier~age\n"
        b"1~~~~~~null~\n"  # tier removed, age unchanged, identity unchanged
        b"4~~~~fcm-1~~~5\n"
    )
    second_id = world.drop("Profile", "second.txt", second)
    assert world.run(second_id) is ImportStatus.DONE
    one = world.user("1")
    assert "tier" not in one["attributes"]
    assert one["attributes"]["age"] == 41
    assert one["email"] == "a@example.com"
    four = world.user("4")
    assert (four["devices"], four["attributes"]["age"]) == (["fcm-1"], 5)


def test_device_tokens_move_to_their_new_owner(world: World) -> None:
    first = world.drop("Profile", "a.txt", f"~~~extID~email~device token\n1~~{IOS}\n".encode())
    world.run(first)
    second = world.drop("Profile", "b.txt", f"~~~extID~email~device token\n2~~{IOS}\n".encode())
    world.run(second)
    assert world.user("1")["devices"] == []
    assert world.user("2")["devices"] == [IOS]
    assert world.row(second).counts["devices_moved"] == 1


def test_undeclared_attribute_rejects_the_file_and_applies_nothing(world: World) -> None:
    world.declare("tier:string")
    data = b"~~~extID~email~device token~tier~shoeSize\n1~a@example.com~~gold~42\n"
    import_id = world.drop("Profile", "bad.txt", data)
    assert world.run(import_id) is ImportStatus.FAILED
    row = world.row(import_id)
    assert row.error_code == "unknown_attribute"
    assert "shoeSize" in (row.error_message or "")
    with pytest.raises(Exception, match="does not exist"):
        world.user("1")
    assert (world.settings.dropbox_dir / "demo" / "failed" / "bad.txt").read_bytes() == data


def test_the_same_file_twice_is_a_duplicate_and_a_dry_run_changes_nothing(world: World) -> None:
    data = b"~~~extID~email~device token\n1~a@example.com~\n"
    dry = world.drop("validate/Profile", "p.txt", data)
    assert world.run(dry) is ImportStatus.DONE
    with pytest.raises(Exception, match="does not exist"):
        world.user("1")
    first = world.drop("Profile", "p.txt", data)
    assert world.run(first) is ImportStatus.DONE
    again = world.drop("Profile", "p.txt", data)
    assert world.row(again).status is ImportStatus.DUPLICATE
    assert world.user("1")["email"] == "a@example.com"


def test_a_crashed_import_resumes_to_the_same_profiles(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.declare("n:integer", app="demo")
    world.declare("n:integer", app="other")
    lines = "".join(f"u{i % 7}~~tok-{i % 5}~{i}\n" for i in range(40))
    data = f"~~~extID~email~device token~n\n{lines}".encode()
    reference = world.drop("Profile", "ref.txt", data, app="other")
    world.run(reference)
    import_id = world.drop("Profile", "crash.txt", data)
    real_apply = profiles.apply_profile_rows
    calls = 0

    def crash_on_third(*args: Any, **kwargs: Any) -> profiles.ApplyCounts:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("worker killed")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(profiles, "apply_profile_rows", crash_on_third)
    with pytest.raises(RuntimeError):
        world.run(import_id, batch_size=6, lease_seconds=0.0)
    assert world.row(import_id).checkpoint_line == 13  # two batches of 6 after the pattern
    monkeypatch.setattr(profiles, "apply_profile_rows", real_apply)
    assert world.run(import_id, batch_size=6) is ImportStatus.DONE
    for i in range(7):
        mine, theirs = world.user(f"u{i}"), world.user(f"u{i}", app="other")
        assert mine == theirs
    assert world.row(import_id).accepted == 40


def test_type_of_a_used_attribute_cannot_change(world: World) -> None:
    world.declare("age:integer")
    world.run(world.drop("Profile", "a.txt", b"~~~extID~email~device token~age\n1~~~3\n"))
    with pytest.raises(Exception, match="age"):
        world.declare("age:string")
