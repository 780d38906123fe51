"""`/api/v1/imports` through a real server: uploads into the intake's spool, history, results.

The ``api`` fixture of conftest serves the app as ``create_app`` builds it, without an
upload receiver (uploads answer 503 there). ``wired`` serves it the way ``ftpush serve``
wires it (docs/decisions/0701-api-uploads.md): the spool as the receiver and a queue —
here in memory, run in the test's thread with :meth:`Wired.run_queue`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ftpush.intake.spool import Spool
from ftpush.jobs.runtime import JobRuntime
from ftpush.push.log import LogProvider
from ftpush.storage import apps, users
from ftpush.web import create_app
from tests.conftest import PgServer
from tests.integration.api.conftest import Api, problem
from tests.integration.api.conftest import serving as api_serving

PATH = "/api/v1/imports"
APNS = "ab" * 32

PUSH_FILE = (
    b"ExternalID;Text;Deeplink\n"
    b"u1;Hello u1;https://example.com/a\n"
    b"ghost;Hello ghost;\n"
    b"u2;Bad link;not a link\n"
)


@dataclass
class Wired:
    api: Api
    runtime: JobRuntime
    spool: Spool
    log: LogProvider

    def client(self, app: str | None = "alpha", **headers: str) -> httpx.Client:
        return self.api.client(app, **headers)

    def upload(
        self,
        name: str,
        content: bytes,
        folder: str | None = None,
        app: str = "alpha",
    ) -> httpx.Response:
        data = {"folder": folder} if folder is not None else None
        return self.client(app).post(PATH, files={"file": (name, content)}, data=data)

    def run_queue(self) -> int:
        """What the workers of `ftpush serve` would do: process the file, send the pushes."""
        return self.runtime.queue.run_pending()


@contextmanager
def serving(
    backend: str, pg_server: PgServer | None, tmp_path: Path, **overrides: Any
) -> Iterator[Wired]:
    with api_serving(backend, pg_server, tmp_path, **overrides) as api:
        assert api.runtime is not None
        assert api.spool is not None
        assert api.log is not None
        yield Wired(api, api.runtime, api.spool, api.log)


@pytest.fixture
def wired(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[Wired]:
    with serving(backend, pg_server, tmp_path) as world:
        yield world


def seed(wired: Wired, app: str = "alpha") -> None:
    """u1 has two devices, u2 one."""
    with wired.api.db.transaction() as s:
        users.register_device(s, app_key=app, token=APNS, external_id="u1")
        users.register_device(s, app_key=app, token="fcm-u1", external_id="u1", platform="android")
        users.register_device(s, app_key=app, token="fcm-u2", external_id="u2", platform="android")


def listed(wired: Wired, app: str = "alpha") -> list[dict[str, Any]]:
    response = wired.client(app).get(PATH)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- the whole road ------------------------------------------------------------------


def test_a_push_file_uploaded_over_http_ends_in_campaign_figures(wired: Wired) -> None:
    seed(wired)
    client = wired.client()
    response = wired.upload("push.csv", PUSH_FILE)
    assert response.status_code == 202, response.text
    received = response.json()
    assert response.headers["location"] == f"{PATH}/{received['id']}"
    assert (received["status"], received["folder"], received["kind"]) == ("received", "/", "push")
    assert (received["source"], received["dry_run"], received["size"]) == (
        "api", False, len(PUSH_FILE),
    )  # fmt: skip
    assert received["campaign"] is None

    assert wired.run_queue() >= 2  # the import, then the dispatch of its campaign
    detail = client.get(f"{PATH}/{received['id']}").json()
    assert detail["status"] == "partial"
    assert (detail["lines"], detail["accepted"], detail["rejected"]) == (3, 2, 1)
    assert detail["counts"]["unknown_user"] == 1
    assert detail["progress_line"] == 3  # every line done
    assert detail["result_files"] == ["push.csv.result.json", "push.csv.errors.csv"]
    assert [(e["line"], e["external_id"]) for e in detail["errors"]] == [(4, "u2")]
    assert detail["errors_total"] == 1
    assert detail["errors_truncated"] is False
    msg_id = detail["campaign"]
    assert msg_id

    campaign = client.get(f"/api/v1/campaigns/{msg_id}").json()
    assert (campaign["type"], campaign["status"], campaign["import_id"]) == (
        "file", "done", received["id"],
    )  # fmt: skip
    figures = campaign["figures"]
    assert (figures["lines"], figures["unknown_user"], figures["sent"]) == (2, 1, 2)
    assert sorted(m.text for m in wired.log.messages) == ["Hello u1", "Hello u1"]

    result = client.get(f"{PATH}/{received['id']}/results/push.csv.result.json")
    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert "push.csv.result.json" in result.headers["content-disposition"]
    assert result.json()["import_id"] == received["id"]
    assert result.json()["campaign_id"] == msg_id
    errors_csv = client.get(f"{PATH}/{received['id']}/results/push.csv.errors.csv")
    assert errors_csv.status_code == 200
    assert errors_csv.headers["content-type"].startswith("text/csv")
    lines = errors_csv.text.splitlines()
    assert lines[0] == "line;external_id;code;message"
    assert lines[1].startswith("4;u2;")
    assert [i["campaign"] for i in listed(wired)] == [msg_id]


def test_a_profile_file_goes_to_profile_by_its_name(wired: Wired) -> None:
    client = wired.client()
    declared = client.put(
        "/api/v1/attributes", json={"attributes": [{"name": "age", "type": "integer"}]}
    )
    assert declared.status_code == 200, declared.text
    response = wired.upload("people.txt", b"extID~email~device token~age\nu9~~~31\n")
    assert response.status_code == 202, response.text
    received = response.json()
    assert (received["folder"], received["kind"], received["status"]) == (
        "/Profile", "profile", "received",
    )  # fmt: skip
    wired.run_queue()
    detail = client.get(f"{PATH}/{received['id']}").json()
    assert detail["status"] == "done", detail
    assert detail["campaign"] is None
    with wired.api.db.read() as s:
        user = users.get_user(s, apps.get_app(s, "alpha").id, "u9")
        assert user.attributes == {"age": 31}


@pytest.mark.parametrize(
    ("name", "folder", "shown", "kind", "dry_run"),
    [
        ("a.csv", "validate", "/validate", "push", True),
        ("a.txt", "VALIDATE/profile", "/validate/Profile", "profile", True),
        ("a.txt", "/Profile/", "/Profile", "profile", False),
        ("a.csv", "/", "/", "push", False),
        ("a.csv", "", "/", "push", False),
    ],
)
def test_the_folder_can_be_named_in_any_case(
    wired: Wired, name: str, folder: str, shown: str, kind: str, dry_run: bool
) -> None:
    body = wired.upload(name, b"u1;hi\n" if kind == "push" else b"extID\nu1\n", folder).json()
    assert (body["folder"], body["kind"], body["dry_run"]) == (shown, kind, dry_run)


def test_a_file_of_no_known_kind_is_recorded_failed_like_an_upload(wired: Wired) -> None:
    body = wired.upload("report.pdf", b"%PDF-1.4").json()
    assert (body["status"], body["error_code"]) == ("failed", "unsupported_file")


# --- whole-file outcomes -------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_recorded_failed(wired: Wired) -> None:
    response = wired.upload("latin1.csv", "u1;Grüße aus Köln\n".encode("latin-1"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["error_code"]) == ("failed", "not_utf8")
    assert "UTF-8" in body["error_message"]
    assert wired.run_queue() == 0  # nothing queued
    detail = wired.client().get(f"{PATH}/{body['id']}").json()
    assert detail["result_files"] == ["latin1.csv.result.json"]
    failed = wired.api.settings.dropbox_dir / "alpha" / "failed" / "latin1.csv"
    assert failed.is_file()


def test_the_same_file_twice_is_a_duplicate(wired: Wired) -> None:
    seed(wired)
    first = wired.upload("push.csv", PUSH_FILE).json()
    again = wired.upload("again.csv", PUSH_FILE).json()
    assert first["status"] == "received"
    assert (again["status"], again["error_code"]) == ("duplicate", "duplicate")
    assert str(first["id"]) in again["error_message"]
    wired.run_queue()
    assert len(wired.log.messages) == 2  # sent once
    # the same bytes are not a duplicate for another app
    assert wired.upload("push.csv", PUSH_FILE, app="beta").json()["status"] == "received"


def test_a_validate_dry_run_does_not_make_the_upload_a_duplicate(wired: Wired) -> None:
    dry = wired.upload("push.csv", PUSH_FILE, "validate").json()
    assert dry["dry_run"] is True
    assert wired.upload("push.csv", PUSH_FILE).json()["status"] == "received"


def test_a_body_over_the_limit_is_413_and_nothing_is_recorded(
    backend: str, pg_server: PgServer | None, tmp_path: Path
) -> None:
    with serving(backend, pg_server, tmp_path, web={"max_request_bytes": 4096}) as small:
        big = b"u1;" + b"x" * (200 * 1024) + b"\n"
        problem(small.upload("big.csv", big), 413)
        assert listed(small) == []
        assert small.upload("small.csv", b"u1;hi\n").status_code == 202


def test_a_file_over_the_intake_limit_is_413_and_nothing_is_recorded(
    backend: str, pg_server: PgServer | None, tmp_path: Path
) -> None:
    with serving(backend, pg_server, tmp_path, intake={"max_file_bytes": 1000}) as small:
        body = problem(small.upload("big.csv", b"u1;" + b"x" * 2000 + b"\n"), 413)
        assert "1000" in body["detail"]
        assert listed(small) == []
        spooled = small.api.settings.spool_dir / "alpha"
        assert not spooled.exists() or list(spooled.iterdir()) == []


# --- names ---------------------------------------------------------------------------


def raw_upload(wired: Wired, filename: bytes, content: bytes = b"u1;hi\n") -> httpx.Response:
    """A multipart body built by hand: the file name exactly as given, no escaping."""
    boundary = b"ftpushboundary"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n"
    )
    return wired.client().post(
        PATH,
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"},
    )


@pytest.mark.parametrize(
    "filename",
    [
        b"../x.csv",
        b"..",
        b".",
        b"a/b.csv",
        b"/etc/x.csv",
        b"../../results/x.csv",
        b"x\x00.csv",
        b"x\x01.csv",
        b"x\x7f.csv",
        b"x\tx.csv",
        b"x\x1bx.csv",
        b"a\\b.csv",
        b"x" * 300 + b".csv",
        "é".encode() * 122 + b".csv",
        b"x.csv.part",
        b".hidden.csv",
        b"x.csv.sha256",
    ],
)
def test_hostile_file_names_are_refused(wired: Wired, filename: bytes) -> None:
    response = raw_upload(wired, filename)
    problem(response, 422, "file")
    assert listed(wired) == []
    box = wired.api.settings.dropbox_dir
    assert not (wired.api.settings.data_dir / "x.csv").exists()
    assert not box.exists() or not any(p.name.endswith(".csv") for p in box.rglob("*"))


def test_a_name_that_breaks_the_multipart_header_is_a_bad_request(wired: Wired) -> None:
    problem(raw_upload(wired, b"x\rx.csv"), 400)
    assert listed(wired) == []


def test_a_long_name_that_leaves_room_for_its_result_file_is_taken(wired: Wired) -> None:
    name = "x" * (255 - len(".result.json") - 4) + ".csv"
    body = wired.upload(name, b"u1;hi\n").json()
    assert body["name"] == name
    wired.run_queue()
    detail = wired.client().get(f"{PATH}/{body['id']}").json()
    assert detail["result_files"] == [f"{name}.result.json"]


def test_bad_form_fields_name_the_field(wired: Wired) -> None:
    client = wired.client()
    problem(client.post(PATH, data={"folder": "/"}, files={"other": ("a.csv", b"u1;hi")}), 422,
            "file")  # fmt: skip
    problem(client.post(PATH, data={"file": "u1;hi"}), 422, "file")  # a field, not a file
    problem(client.post(PATH, json={"file": "u1;hi"}), 422, "file")
    problem(wired.upload("a.csv", b"u1;hi\n", "results"), 422, "folder")
    problem(wired.upload("a.csv", b"u1;hi\n", "../Profile"), 422, "folder")
    problem(wired.upload("a.csv", b"u1;hi\n", "x" * 65), 422, "folder")
    assert listed(wired) == []


# --- history and results -------------------------------------------------------------


def test_the_list_pages_newest_first(wired: Wired) -> None:
    ids = [wired.upload(f"f{i}.csv", f"u{i};hi\n".encode()).json()["id"] for i in range(5)]
    client = wired.client()
    first = client.get(PATH, params={"limit": 2}).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    second = client.get(PATH, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in second["items"]] == ids[::-1][2:4]
    third = client.get(PATH, params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [i["id"] for i in third["items"]] == ids[:1]
    assert third["next_cursor"] is None
    problem(client.get(PATH, params={"cursor": "forged"}), 422, "cursor")
    problem(client.get(PATH, params={"limit": 0}), 422, "limit")


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "99999999999999999999"])
def test_bad_import_ids_are_422(wired: Wired, bad: str) -> None:
    problem(wired.client().get(f"{PATH}/{bad}"), 422, "import_id")


def test_unknown_imports_and_result_names_are_404(wired: Wired) -> None:
    client = wired.client()
    problem(client.get(f"{PATH}/424242"), 404)
    body = wired.upload("push.csv", PUSH_FILE).json()
    wired.run_queue()
    base = f"{PATH}/{body['id']}/results"
    for name in [
        "push.csv",
        "other.csv.result.json",
        "push.csv.result.json.bak",
        "push.csv.errors.csv.result.json",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..%2Fpush.csv.result.json",
        "%2E%2E",
        "push.csv.result.json%00",
    ]:
        response = client.get(f"{base}/{name}")
        assert response.status_code == 404, (name, response.text)
    assert client.get(f"{base}/push.csv.result.json").status_code == 200


def test_results_belong_to_their_import_only(wired: Wired) -> None:
    client = wired.client()
    old = wired.upload("push.csv", PUSH_FILE).json()
    wired.run_queue()
    assert client.get(f"{PATH}/{old['id']}").json()["result_files"] == [
        "push.csv.result.json", "push.csv.errors.csv",
    ]  # fmt: skip
    new = wired.upload("push.csv", b"u1;other content\n").json()
    wired.run_queue()
    # the same name reused: the results now are the new file's
    assert client.get(f"{PATH}/{old['id']}").json()["result_files"] == []
    problem(client.get(f"{PATH}/{old['id']}/results/push.csv.result.json"), 404)
    problem(client.get(f"{PATH}/{old['id']}/results/push.csv.errors.csv"), 404)
    fresh = client.get(f"{PATH}/{new['id']}").json()
    assert fresh["result_files"] == ["push.csv.result.json"]  # no rejected line this time
    problem(client.get(f"{PATH}/{new['id']}/results/push.csv.errors.csv"), 404)
    # deleted by the customer: gone from the list and the download
    results = wired.api.settings.dropbox_dir / "alpha" / "results"
    (results / "push.csv.result.json").unlink()
    assert client.get(f"{PATH}/{new['id']}").json()["result_files"] == []
    problem(client.get(f"{PATH}/{new['id']}/results/push.csv.result.json"), 404)


def test_a_symlinked_result_is_never_followed(wired: Wired, tmp_path: Path) -> None:
    body = wired.upload("push.csv", b"u1;hi\n").json()
    wired.run_queue()
    results = wired.api.settings.dropbox_dir / "alpha" / "results"
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"import_id": body["id"], "secret": True}))
    (results / "push.csv.result.json").unlink()
    (results / "push.csv.result.json").symlink_to(secret)
    problem(wired.client().get(f"{PATH}/{body['id']}/results/push.csv.result.json"), 404)


# --- keys and tenancy ----------------------------------------------------------------


def test_a_key_is_required_everywhere(wired: Wired) -> None:
    body = wired.upload("push.csv", PUSH_FILE).json()
    wired.run_queue()
    anon = wired.client(None)
    wrong = wired.client(None, Authorization="Bearer ftp_nope_x")
    for client in (anon, wrong):
        problem(client.post(PATH, files={"file": ("b.csv", b"u1;hi\n")}), 401)
        problem(client.get(PATH), 401)
        problem(client.get(f"{PATH}/{body['id']}"), 401)
        problem(client.get(f"{PATH}/{body['id']}/results/push.csv.result.json"), 401)
    assert [i["id"] for i in listed(wired)] == [body["id"]]


def test_another_apps_key_sees_and_fetches_nothing(wired: Wired) -> None:
    mine = wired.upload("push.csv", PUSH_FILE).json()
    wired.run_queue()
    beta = wired.client("beta")
    assert listed(wired, "beta") == []
    problem(beta.get(f"{PATH}/{mine['id']}"), 404)
    problem(beta.get(f"{PATH}/{mine['id']}/results/push.csv.result.json"), 404)
    problem(beta.get(f"{PATH}/{mine['id']}/results/push.csv.errors.csv"), 404)
    theirs = wired.upload("push.csv", b"u1;for beta\n", app="beta").json()
    wired.run_queue()
    assert theirs["status"] == "received"
    assert [i["id"] for i in listed(wired, "beta")] == [theirs["id"]]
    assert [i["id"] for i in listed(wired, "alpha")] == [mine["id"]]
    problem(wired.client("alpha").get(f"{PATH}/{theirs['id']}"), 404)
    # each app's result files live in its own dropbox
    alpha_doc = wired.client().get(f"{PATH}/{mine['id']}/results/push.csv.result.json").json()
    assert alpha_doc["import_id"] == mine["id"]
    beta_doc = beta.get(f"{PATH}/{theirs['id']}/results/push.csv.result.json").json()
    assert beta_doc["import_id"] == theirs["id"]


def test_uploads_answer_503_when_the_process_has_no_receiver(api: Api) -> None:
    """``create_app`` alone (no spool given): uploads are refused, the history still reads."""
    bare = create_app(api.settings, db=api.db)
    auth = {"Authorization": f"Bearer {api.keys['alpha']}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette warns about its httpx client on import
        from fastapi.testclient import TestClient

        with TestClient(bare) as client:
            response = client.post(PATH, files={"file": ("a.csv", b"u1;hi\n")}, headers=auth)
            problem(response, 503)
            assert client.get(PATH, headers=auth).json() == {"items": [], "next_cursor": None}
