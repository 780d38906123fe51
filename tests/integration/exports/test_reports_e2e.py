"""Issue 8, acceptance 1: every report of a rich data set, sent to real servers, read back.

One data set (:mod:`tests.integration.exports.seed`: campaigns of all three types,
messages with every status, lines without a message, clicks, inbox entries, devices on
both platforms in several states, events and app tracking, app timezone Europe/Istanbul)
is sent with ``ftpush export send --from D --to D`` for today's app-local date D to:

* OpenSSH ``sshd`` (SFTP) logging in by key, xlsx;
* OpenSSH ``sshd`` logging in by password, csv with ``;``;
* ``vsftpd`` with explicit TLS (FTPS, certificate pinned), csv with a tab, and xlsx.

Each destination must hold exactly the nine files of SPEC §5 under their final names
(nothing else: no temporary or dot files), and each file, read with openpyxl or
``csv.reader``, must have the documented header and exactly the expected rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from ftpush.models import ReportName
from ftpush.reports.builders import headers
from tests.conftest import BACKENDS, PgServer
from tests.integration.cli.conftest import Ftpush
from tests.integration.exports.seed import APP, Seeded, expected, local_now, seed
from tests.peers.push_peer import PushPeer
from tests.peers.sshd import SshdPeer
from tests.peers.vsftpd import VsftpdPeer

Rows = list[tuple[Any, ...]]


@dataclass
class World:
    ftpush: Ftpush
    seeded: Seeded
    files: dict[str, tuple[ReportName, Rows]]  # stem -> (report, expected data rows)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: PgServer | None,
    push_peer: PushPeer,
) -> Iterator[World]:
    """Seeded once per backend: the tests only read it (each sets its own destination)."""
    now = local_now()
    if now.time() < dt.time(0, 3) or now.time() > dt.time(23, 57):
        pytest.skip("the seeded app-local day must not change while the test runs")
    url = None
    if request.param == "postgresql":
        if pg_server is None:
            pytest.skip("FTPUSH_TEST_DATABASE_URL is not set")
        url = pg_server.migrated()
    work = tmp_path_factory.mktemp("reports-e2e")
    ftpush = Ftpush(work / "data")
    with pytest.MonkeyPatch.context() as env:
        # The CLI reads the environment: the same database as the seeding.
        env.delenv("FTPUSH_DATABASE__URL", raising=False)
        if url is not None:
            env.setenv("FTPUSH_DATABASE__URL", url)
        seeded = seed(ftpush, push_peer, work, url)
        yield World(ftpush, seeded, expected(seeded))


# --- destinations ------------------------------------------------------------------------


def destination_args(
    request: pytest.FixtureRequest, peer: str, folder: Path
) -> tuple[list[str], str | None]:
    """``export destination`` arguments for ``peer`` and what goes to stdin."""
    if peer.startswith("sftp"):
        sshd: SshdPeer = request.getfixturevalue("sshd_peer")
        url = f"sftp://{sshd.user.name}@{sshd.host}:{sshd.port}{folder}"
        pinned = ["--host-key", sshd.host_key_fingerprint]
        if peer == "sftp-key":
            return ["--url", url, "--key", str(sshd.client_key_path), *pinned], None
        if sshd.user.password is None:
            pytest.skip("password login needs root to create the test user")
        return ["--url", url, "--password-stdin", *pinned], sshd.user.password + "\n"
    vsftpd: VsftpdPeer = request.getfixturevalue("ftps_peer")
    assert vsftpd.user.password is not None
    url = f"ftps://{vsftpd.user.name}@{vsftpd.host}:{vsftpd.port}{folder}"
    args = ["--url", url, "--password-stdin", "--tls-fingerprint", vsftpd.cert_fingerprint]
    return args, vsftpd.user.password + "\n"


# --- reading the files back --------------------------------------------------------------


def read_xlsx(path: Path) -> Rows:
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Report"]
    sheet = book["Report"]
    assert all(cell.font.bold for cell in sheet[1]), "the header row is bold"
    # An empty cell reads as None: compare it as "" like an empty csv field.
    return [tuple("" if v is None else v for v in row) for row in sheet.iter_rows(values_only=True)]


def read_csv(path: Path, delimiter: str) -> Rows:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "UTF-8 without BOM"
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n"), "CRLF line ends"  # no line breaks in cells
    with path.open(encoding="utf-8", newline="") as handle:
        return [tuple(row) for row in csv.reader(handle, delimiter=delimiter, strict=True)]


class Number:
    """A count or rate cell: a number in xlsx, its decimal text in csv."""

    def __init__(self, value: int | float, fmt: str) -> None:
        self.value = value
        self.fmt = fmt

    def __eq__(self, other: object) -> bool:
        if self.fmt == "xlsx":
            numeric = isinstance(other, int | float) and not isinstance(other, bool)
            return numeric and other == self.value
        if not isinstance(other, str):
            return False
        if type(self.value) is int:  # a count: digits only
            return other.isdigit() and int(other) == self.value
        try:
            return float(other) == self.value
        except ValueError:
            return False

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"<{self.fmt} number {self.value!r}>"


def as_written(rows: Rows, fmt: str) -> Rows:
    return [
        tuple(Number(v, fmt) if isinstance(v, int | float) and not isinstance(v, bool) else v
              for v in row)
        for row in rows
    ]  # fmt: skip


# --- the test ------------------------------------------------------------------------------

CASES = [
    pytest.param("sftp-key", "xlsx", None, id="sshd-key-xlsx"),
    pytest.param("sftp-password", "csv", ";", id="sshd-password-csv-semicolon"),
    pytest.param("ftps", "csv", "\t", id="vsftpd-ftps-csv-tab"),
    pytest.param("ftps", "xlsx", None, id="vsftpd-ftps-xlsx"),
]


@pytest.mark.parametrize(("peer", "fmt", "delimiter"), CASES)
def test_every_report_arrives_with_the_seeded_rows(
    world: World,
    request: pytest.FixtureRequest,
    peer_dir: Path,
    peer: str,
    fmt: str,
    delimiter: str | None,
) -> None:
    args, secret = destination_args(request, peer, peer_dir)
    shape = ["--format", fmt] + (["--delimiter", "tab" if delimiter == "\t" else delimiter]
                                 if delimiter else [])  # fmt: skip
    world.ftpush("export", "destination", "--app", APP, *args, *shape, input=secret)
    day = str(world.seeded.day)
    sent = world.ftpush(
        "export", "send", "--app", APP, "--from", day, "--to", day, "--json"
    ).json()  # fmt: skip

    names = {f"{stem}.{fmt}" for stem in world.files}
    assert len(names) == 9  # six reports, and one campaign_recipients file per campaign
    on_server = sorted(p.name for p in peer_dir.iterdir())
    assert on_server == sorted(names), "exactly the reports, under their final names"
    assert sent["ok"] is True
    assert sent["files"] == len(names)
    assert sent["rows"] == sum(len(rows) for _, rows in world.files.values())
    assert sorted(d["file_name"] for d in sent["deliveries"]) == sorted(names)
    for delivery in sent["deliveries"]:
        data = (peer_dir / delivery["file_name"]).read_bytes()
        assert delivery["status"] == "delivered", delivery
        assert (delivery["bytes"], delivery["sha256"]) == (
            len(data), hashlib.sha256(data).hexdigest(),
        )  # fmt: skip

    documented = headers()
    for stem, (report, rows) in world.files.items():
        path = peer_dir / f"{stem}.{fmt}"
        got = read_xlsx(path) if fmt == "xlsx" else read_csv(path, delimiter or ",")
        assert got[0] == tuple(documented[report]), f"{path.name}: header"
        assert got[1:] == as_written(rows, fmt), f"{path.name}: rows"
