"""``ftpush serve`` end to end: real sftp and curl clients upload into a running server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpush.config import load_settings
from ftpush.storage import Database, imports
from ftpush.storage.tables import ImportFile
from tests.conftest import SAMPLES
from tests.integration.cli.conftest import Ftpush

FTPUSH = str(Path(sys.executable).parent / "ftpush")
CONTENT = b"ExternalID;Text;Deeplink\n12345;Hello;https://example.com\n"


class Served:
    def __init__(
        self, proc: subprocess.Popen[str], lines: list[str], cli: Ftpush, key: Path, password: str
    ) -> None:
        self.proc = proc
        self.lines = lines
        self.cli = cli
        self.key = key
        self.password = password

    def port(self, scheme: str) -> int:
        for line in self.lines:
            found = re.search(rf"{scheme}://127\.0\.0\.1:(\d+)", line)
            if found:
                return int(found.group(1))
        raise AssertionError(f"no {scheme} endpoint in {self.lines}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "data"
    cli = Ftpush(data)
    cli("app", "create", "demo")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    run = cli("account", "add", "--app", "demo", "acme", "--ssh-key", f"{key}.pub",
              "--allow", "127.0.0.1", "--json")  # fmt: skip
    password = run.json()["password"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPUSH_")}
    env["FTPUSH_FTP__PASSIVE_PORTS"] = "[31100, 31120]"
    proc = subprocess.Popen(
        [FTPUSH, "--data-dir", str(data), "serve",
         "--http-port", "0", "--sftp-port", "0", "--ftp-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("ready"):
            break
    else:
        proc.kill()
    try:
        yield Served(proc, lines, cli, key, password)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def _recorded(data: Path, count: int) -> list[ImportFile]:
    settings = load_settings(data_dir=data, environ={})
    db = Database.open(settings)
    try:
        deadline = time.monotonic() + 30
        while True:
            with db.transaction() as s:
                rows = list(imports.list_imports(s, "demo"))
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)
    finally:
        db.close()


def test_sftp_and_ftps_uploads_reach_a_running_serve(served: Served, tmp_path: Path) -> None:
    upload = tmp_path / "push.csv"
    upload.write_bytes(CONTENT)
    batch = tmp_path / "batch"
    batch.write_text(f"put {upload} /push.csv\n")
    subprocess.run(
        ["sftp", "-b", str(batch), "-P", str(served.port("sftp")), "-i", str(served.key),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "acme@127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    profile = tmp_path / "users.txt"
    profile.write_bytes(b"~~~extID~email~device token\n1~~\n")
    subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-T", str(profile),
         "--user", f"acme:{served.password}",
         f"ftp://127.0.0.1:{served.port('ftps')}/profile/users.txt"],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
    rows = _recorded(served.cli.data_dir, 2)
    by_name = {r.name: r for r in rows}
    assert by_name["push.csv"].sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert str(by_name["push.csv"].source) == "sftp"
    assert by_name["users.txt"].folder == "Profile"
    assert str(by_name["users.txt"].source) == "ftps"
    box = served.cli.data_dir / "dropbox" / "demo"
    assert not (box / "push.csv").exists()
    assert not (box / "Profile" / "users.txt").exists()


def test_a_push_file_uploaded_with_sftp_reaches_every_device_and_the_inbox(
    served: Served, tmp_path: Path
) -> None:
    """SPEC §2-§3 end to end: sftp put → ledger → log provider → inbox, results, file gone."""
    cli = served.cli
    for ext, tokens in {"12345": ["ab" * 32, "fcm:one"], "777": ["cd" * 32]}.items():
        for token in tokens:
            cli("device", "add", "--app", "demo", "--external-id", ext, "--token", token)
    upload = tmp_path / "news.csv"
    upload.write_bytes(
        b"ExternalID;Text;Deeplink\n"
        b"12345;Hello\\nWorld; again;https://example.com/a\n"
        b"777;Second user;\n"
        b"ghost;Nobody;\n"
        b";No ExternalID;\n"
    )
    batch = tmp_path / "batch"
    batch.write_text(f"put {upload} /news.csv\n")
    subprocess.run(
        ["sftp", "-b", str(batch), "-P", str(served.port("sftp")), "-i", str(served.key),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "acme@127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    box = cli.data_dir / "dropbox" / "demo"
    result_file = box / "results" / "news.csv.result.json"
    deadline = time.monotonic() + 60
    campaign: dict[str, object] = {}
    while time.monotonic() < deadline:
        if result_file.exists():
            campaigns = cli("campaign", "list", "--app", "demo", "--json").json()
            if campaigns and campaigns[0]["status"] == "done":
                campaign = campaigns[0]
                break
        time.sleep(0.2)
    assert campaign, "the campaign did not finish within 60 s"
    assert not (box / "news.csv").exists()
    result = json.loads(result_file.read_text())
    assert result["status"] == "partial"
    assert (result["counts"]["accepted"], result["counts"]["rejected"]) == (3, 1)
    assert result["campaign_id"] == campaign["msg_id"]
    assert "line" in (box / "results" / "news.csv.errors.csv").read_text()
    figures = campaign["figures"]
    assert isinstance(figures, dict)
    assert (figures["sent"], figures["messages"], figures["unknown_user"]) == (3, 3, 1)
    inbox = cli("user", "show", "--app", "demo", "12345", "--json").json()["inbox"]
    assert [e["text"] for e in inbox] == ["Hello\nWorld; again"]
    assert inbox[0]["deeplink"] == "https://example.com/a"
    devices = cli("user", "show", "--app", "demo", "777", "--json").json()["devices"]
    assert len(devices) == 1


def test_a_profile_file_uploaded_with_curl_ftps_updates_the_users(
    served: Served, tmp_path: Path
) -> None:
    """SPEC §4 end to end: curl --ssl-reqd into Profile/ → users, devices, attributes."""
    cli = served.cli
    cli("attribute", "add", "--app", "demo", "attribute1", "string")
    cli("attribute", "add", "--app", "demo", "attribute2", "integer")
    sample = SAMPLES / "Profile" / "profile.txt"
    profile = tmp_path / "profile.txt"
    profile.write_bytes(sample.read_bytes() + b'55555~bad-email~~"x"~1\n')
    subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-T", str(profile),
         "--user", f"acme:{served.password}",
         f"ftp://127.0.0.1:{served.port('ftps')}/profile/profile.txt"],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
    box = cli.data_dir / "dropbox" / "demo"
    result_file = box / "results" / "profile.txt.result.json"
    deadline = time.monotonic() + 60
    while not result_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    result = json.loads(result_file.read_text())
    assert (result["status"], result["kind"]) == ("partial", "profile")
    assert (result["counts"]["accepted"], result["counts"]["rejected"]) == (2, 1)
    errors = (box / "results" / "profile.txt.errors.csv").read_text().splitlines()
    assert errors[1].startswith("4;55555;")
    assert "email" in errors[1]
    shown = cli("user", "show", "--app", "demo", "12345", "--json").json()
    assert shown["attributes"] == {"attribute1": "example data", "attribute2": 25}
    assert [d["token"] for d in shown["devices"]] == ["token123"]
    jane = cli("user", "show", "--app", "demo", "67890", "--json").json()
    assert (jane["email"], jane["attributes"]["attribute2"]) == ("jane@example.com", 30)
    assert not (box / "Profile" / "profile.txt").exists()
