"""The FTP/FTPS server with real clients (curl, Python's ftplib) on loopback.

Every upload is checked end to end: it disappears from the folder and is
recorded once with the right SHA-256 — or, when the client did not prove
completion with a TLS close_notify, it is discarded with an ``incomplete``
result and never recorded as received.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import json
import random
import socket
import ssl
import struct
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from ftpush import crypto
from ftpush.crypto import ensure_tls_certificate
from ftpush.intake import ftp_tls
from ftpush.intake.ftp import FtpService
from ftpush.models import ImportKind, ImportStatus
from ftpush.storage import imports
from ftpush.storage.tables import ImportFile
from tests.integration.intake.conftest import Intake

CONTENT = b"ExternalID;Text;Deeplink\n12345;Hello;https://example.com\n"
BIG = b"".join(b"%08d;Hello number %d;https://example.com/%d\n" % (i, i, i) for i in range(60000))


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at production cost takes ~0.5 s per hash on a shared 2-core runner.

    The server's password handling is the gatekeeper's, tested elsewhere at
    full cost; here only the adapter is under test, and it logs in a lot.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(crypto, "_HASHER", cheap)


@dataclass
class Server:
    service: FtpService
    intake: Intake
    cert: Path

    @property
    def port(self) -> int:
        return self.service.port

    def connect(self, *, source: str | None = None) -> ftplib.FTP_TLS:
        ftps = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(self.cert)), timeout=10)
        try:
            ftps.connect("127.0.0.1", self.port, source_address=(source, 0) if source else None)
        except BaseException:
            ftps.close()
            raise
        return ftps

    def client(
        self, user: str = "alice", *, source: str | None = None, prot_p: bool = True
    ) -> ftplib.FTP_TLS:
        """A logged-in ftplib FTPS client (AUTH TLS, then USER/PASS, then PROT P)."""
        ftps = self.connect(source=source)
        try:
            ftps.login(user, self.intake.accounts[user].password)
            if prot_p:
                ftps.prot_p()
        except BaseException:
            ftps.close()
            raise
        return ftps

    def box(self, app: str = "alpha") -> Path:
        return self.intake.spool.dropbox(app).root  # created on first use

    def rows(self, app: str = "alpha") -> list[ImportFile]:
        self.intake.spool.wait_idle()
        with self.intake.db.transaction() as s:
            # By name: files taken one after the other are recorded in any order.
            return sorted(imports.list_imports(s, app), key=lambda row: (row.name, row.id))

    def result(self, name: str, app: str = "alpha", folder: str = "results") -> dict[str, Any]:
        path = self.box(app) / folder / f"{name}.result.json"
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    def curl(self, *args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
        password = self.intake.accounts[user].password
        command = ["curl", "-sS", "--ssl-reqd", "--cacert", str(self.cert)]
        return subprocess.run(
            [*command, "--user", f"{user}:{password}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    ensure_tls_certificate(cert, key, ["localhost", "127.0.0.1", "::1"])
    return cert, key


def start(
    intake: Intake,
    tls_files: tuple[Path, Path],
    intake_settings: dict[str, Any] | None = None,
    **ftp: Any,
) -> FtpService:
    base = random.randrange(41000, 59000, 100)
    settings = intake.settings.model_copy(
        update={
            "ftp": intake.settings.ftp.model_copy(
                update={"port": 0, "passive_ports": (base, base + 99), **ftp}
            ),
            "intake": intake.settings.intake.model_copy(update=intake_settings or {}),
        }
    )
    service = FtpService(settings, intake.gate, intake.spool, *tls_files, auth_failure_delay=0.05)
    service.start_in_thread()
    return service


@pytest.fixture
def server(intake: Intake, tls_files: tuple[Path, Path]) -> Iterator[Server]:
    service = start(intake, tls_files)
    yield Server(service, intake, tls_files[0])
    service.stop_thread()
    # Every session released its slot at the gatekeeper.
    assert intake.gate.sessions_from("127.0.0.1") == 0


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(ftps: ftplib.FTP, path: str, data: bytes = CONTENT) -> str:
    return ftps.storbinary(f"STOR {path}", io.BytesIO(data))


def download(ftps: ftplib.FTP, path: str) -> bytes:
    out = io.BytesIO()
    ftps.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


# --- uploads that count ----------------------------------------------------------------


def test_ftplib_upload_is_taken_before_226_and_recorded_once(server: Server) -> None:
    with server.client() as ftps:
        assert upload(ftps, "push.csv").startswith("226")
        # Taken before 226 was sent: gone from the folder already.
        assert "push.csv" not in ftps.nlst()
    [row] = server.rows()
    assert (row.sha256, row.size, row.status) == (sha(CONTENT), len(CONTENT), ImportStatus.RECEIVED)
    assert (row.received_by, row.remote_addr, str(row.source)) == ("alice", "127.0.0.1", "ftps")
    assert server.intake.received == [row.id]
    assert not (server.box() / "push.csv").exists()


def test_ftplib_session_lists_reads_deletes_and_renames(server: Server) -> None:
    report = server.box() / "results" / "old.csv.result.json"
    report.write_text('{"status": "done"}')
    with server.client() as ftps:
        assert "ftpush" in ftps.getwelcome()
        assert "pyftpdlib" not in ftps.getwelcome()  # no product or version to fingerprint
        assert sorted(ftps.nlst()) == ["Profile", "failed", "reports", "results", "validate"]
        assert ftps.nlst("results") == ["old.csv.result.json"]
        assert download(ftps, "/results/old.csv.result.json") == b'{"status": "done"}'
        assert ftps.size("results/old.csv.result.json") == 18
        upload(ftps, "push.csv.part", BIG)
        assert "push.csv.part" in ftps.nlst()
        assert server.rows() == []  # a temporary name waits for its rename
        assert ftps.rename("push.csv.part", "push.csv").startswith("250")
        assert ftps.nlst() == ["Profile", "failed", "reports", "results", "validate"]
        ftps.delete("results/old.csv.result.json")
        assert ftps.nlst("results") == []
        listing: list[str] = []
        ftps.dir("/", listing.append)
        assert all(" ftp " in line for line in listing)  # never the server's user names
    [row] = server.rows()
    assert (row.name, row.sha256, row.status) == ("push.csv", sha(BIG), ImportStatus.RECEIVED)


def test_curl_uploads_to_root_and_profile(server: Server, tmp_path: Path) -> None:
    local = tmp_path / "push.csv"
    local.write_bytes(BIG)
    done = server.curl("--ftp-pasv", "-T", str(local), f"ftp://127.0.0.1:{server.port}/")
    assert done.returncode == 0, done.stderr
    profile = tmp_path / "users.txt"
    profile.write_bytes(b"~~~extID~email~device token\n1~a@example.com~\n")
    # Folder names match without case; TLS 1.2 exercised as well as 1.3.
    url = f"ftp://127.0.0.1:{server.port}/profile/users.txt"
    done = server.curl("--tls-max", "1.2", "-T", str(profile), url)
    assert done.returncode == 0, done.stderr
    push, users = server.rows()
    assert (push.name, push.folder, push.sha256) == ("push.csv", "", sha(BIG))
    assert (users.name, users.folder, users.kind) == ("users.txt", "Profile", ImportKind.PROFILE)
    assert users.sha256 == sha(profile.read_bytes())
    assert sorted(server.intake.received) == sorted([push.id, users.id])
    assert not (server.box() / "push.csv").exists()
    assert not (server.box() / "Profile" / "users.txt").exists()


# --- truncated uploads ------------------------------------------------------------------


def _fin_without_close_notify(conn: socket.socket) -> None:
    raw = socket.socket(fileno=conn.detach())  # the TLS state is dropped, nothing sent
    raw.close()


def _reset(conn: socket.socket) -> None:
    raw = socket.socket(fileno=conn.detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def _half_close(conn: socket.socket) -> None:
    raw = socket.socket(fileno=conn.detach())
    raw.shutdown(socket.SHUT_WR)
    raw.close()


def _forged_record(conn: socket.socket) -> None:
    raw = socket.socket(fileno=conn.detach())
    raw.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # application data nobody encrypted
    raw.close()


ENDINGS: dict[str, Callable[[socket.socket], None]] = {
    "fin": _fin_without_close_notify,
    "rst": _reset,
    "half-close": _half_close,
    "forged-record": _forged_record,
}


@pytest.mark.parametrize(
    ("ending", "sent"),
    [
        ("fin", len(BIG) // 3),
        ("rst", len(BIG) // 2),
        ("half-close", 1000),
        ("forged-record", len(BIG) // 4),
        ("fin", 0),
        ("fin", len(BIG)),  # every byte arrived, but nothing proves it
    ],
)
def test_data_connection_dropped_without_close_notify_is_incomplete(
    server: Server, ending: str, sent: int
) -> None:
    with server.client() as ftps:
        ftps.voidcmd("TYPE I")
        conn = ftps.transfercmd("STOR push.csv")
        conn.sendall(BIG[:sent])
        ENDINGS[ending](conn)
        with pytest.raises(ftplib.error_temp, match=r"^426 Upload incomplete"):
            ftps.voidresp()
        assert "push.csv" not in ftps.nlst()
        # The name is free again at once, for the client's retry.
        assert upload(ftps, "retry.csv").startswith("226")
    doc = server.result("push.csv")
    assert doc["status"] == "incomplete"
    incomplete, retried = server.rows()
    assert incomplete.status is ImportStatus.INCOMPLETE
    assert server.intake.received == [retried.id]
    assert not (server.box() / "push.csv").exists()


def test_control_connection_killed_mid_upload_is_incomplete(server: Server) -> None:
    ftps = server.client()
    ftps.voidcmd("TYPE I")
    conn = ftps.transfercmd("STOR push.csv")
    conn.sendall(BIG[:50000])
    assert ftps.sock is not None
    ftps.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ftps.sock.close()
    ftps.close()
    doc = server.result("push.csv")
    assert doc["status"] == "incomplete"
    assert "control connection closed" in doc["message"]
    conn.close()
    assert server.intake.received == []


def test_abort_mid_upload_is_incomplete(server: Server) -> None:
    with server.client() as ftps:
        conn = ftps.transfercmd("STOR push.csv")
        conn.sendall(BIG[:100000])
        time.sleep(0.2)  # let the server see data, so ABOR finds a transfer in progress
        ftps.putcmd("ABOR")
        conn.close()
        replies = [ftps.getline(), ftps.getline()]
        assert [line[:3] for line in replies] == ["426", "226"]
    assert "aborted" in server.result("push.csv")["message"]
    assert server.intake.received == []


def test_a_big_incomplete_upload_is_discarded_off_the_loop(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ftp_tls, "DISCARD_INLINE_BYTES", 0)  # every discard is "big"
    with server.client() as ftps:
        conn = ftps.transfercmd("STOR push.csv")
        conn.sendall(BIG[:300000])
        _fin_without_close_notify(conn)
        with pytest.raises(ftplib.error_temp, match=r"^426"):
            ftps.voidresp()
        assert ftps.nlst("results") is not None  # the loop answers while the worker hashes
    doc = server.result("push.csv")
    assert doc["status"] == "incomplete"
    assert server.intake.received == []


def test_a_complete_upload_after_an_incomplete_one_is_recorded(server: Server) -> None:
    with server.client() as ftps:
        conn = ftps.transfercmd("STOR push.csv")
        conn.sendall(BIG[:1000])
        _fin_without_close_notify(conn)
        with pytest.raises(ftplib.error_temp):
            ftps.voidresp()
        # storbinary ends with unwrap(): the client's TLS close_notify.
        assert upload(ftps, "push.csv", BIG).startswith("226")
    incomplete, done = server.rows()
    assert (incomplete.status, done.status) == (ImportStatus.INCOMPLETE, ImportStatus.RECEIVED)
    assert done.sha256 == sha(BIG)
    assert server.intake.received == [done.id]


def test_oversized_upload_is_stopped_during_the_transfer(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = server.intake.settings.intake.model_copy(update={"max_file_bytes": 100_000})
    monkeypatch.setattr(
        server.intake.spool,
        "settings",
        server.intake.settings.model_copy(update={"intake": limited}),
    )
    with server.client() as ftps:
        conn = ftps.transfercmd("STOR push.csv")
        with contextlib.suppress(OSError):  # until the server hangs up, after 100 kB
            for _ in range(1000):
                conn.sendall(BIG)
        _fin_without_close_notify(conn)
        with pytest.raises(ftplib.error_perm, match=r"^552"):
            ftps.voidresp()
        with pytest.raises(ftplib.error_perm, match=r"^552"):
            ftps.sendcmd("ALLO 100001")
        assert ftps.sendcmd("ALLO 100000").startswith("202")
    doc = server.result("push.csv")
    assert doc["status"] == "incomplete"
    assert "size limit" in doc["message"]
    assert not (server.box() / "push.csv").exists()


def test_stopping_the_server_mid_upload_is_fast_and_incomplete(server: Server) -> None:
    ftps = server.client()
    conn = ftps.transfercmd("STOR push.csv")
    conn.sendall(BIG[:100000])
    began = time.monotonic()
    server.service.stop_thread()
    assert time.monotonic() - began < 2
    assert "server was stopped" in server.result("push.csv")["message"]
    conn.close()
    ftps.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


# --- TLS policy -------------------------------------------------------------------------


def test_plain_ftp_login_is_refused_before_the_password(server: Server) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", server.port, timeout=10)
        with pytest.raises(ftplib.error_perm, match=r"^530 .*AUTH TLS"):
            ftp.sendcmd("USER alice")
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            ftp.sendcmd(f"PASS {server.intake.accounts['alice'].password}")
    assert server.intake.gate.failed_logins == 0  # the password was never even checked


def test_unprotected_data_connections_are_refused(server: Server) -> None:
    with server.client(prot_p=False) as ftps:
        with pytest.raises(ftplib.error_perm, match=r"^521"):
            ftps.nlst()
        ftps.voidcmd("PBSZ 0")
        with pytest.raises(ftplib.error_perm, match=r"^536"):
            ftps.voidcmd("PROT C")
        with pytest.raises(ftplib.error_perm, match=r"^521"):
            upload(ftps, "push.csv")
        ftps.prot_p()
        assert upload(ftps, "push.csv").startswith("226")


def test_tls_older_than_1_2_is_refused(server: Server) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer TLS 1.1 at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with ftplib.FTP_TLS(context=old, timeout=10) as ftps:
        ftps.connect("127.0.0.1", server.port)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ftps.auth()
    with server.client() as ftps:
        assert isinstance(ftps.sock, ssl.SSLSocket)
        assert ftps.sock.version() in {"TLSv1.2", "TLSv1.3"}


def test_plain_ftp_when_allowed(intake: Intake, tls_files: tuple[Path, Path]) -> None:
    service = start(intake, tls_files, allow_plain=True)
    try:
        assert service.endpoints[0].startswith("ftp://")
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", service.port, timeout=10)
            ftp.login("alice", intake.accounts["alice"].password)
            assert upload(ftp, "push.csv").startswith("226")
            # A reset is still not an end of file.
            conn = ftp.transfercmd("STOR cut.csv")
            conn.sendall(BIG[:5000])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            with pytest.raises(ftplib.error_temp, match=r"^426"):
                ftp.voidresp()
        intake.spool.wait_idle()
        with intake.db.transaction() as s:
            rows = sorted(imports.list_imports(s, "alpha"), key=lambda r: r.name)
        assert [(r.name, str(r.source), r.status) for r in rows] == [
            ("cut.csv", "ftp", ImportStatus.INCOMPLETE),
            ("push.csv", "ftp", ImportStatus.RECEIVED),
        ]
    finally:
        service.stop_thread()


# --- completion rules through FTPS --------------------------------------------------------


def test_sidecar_match_and_mismatch(server: Server) -> None:
    with server.client() as ftps:
        upload(ftps, "good.csv.sha256", f"{sha(CONTENT)}  good.csv\n".encode())
        assert server.rows() == []  # the sidecar waits for its file
        upload(ftps, "good.csv", CONTENT)
        upload(ftps, "bad.csv.sha256", f"{sha(b'other')}\n".encode())
        upload(ftps, "bad.csv", BIG)
        assert ftps.nlst() == ["Profile", "failed", "reports", "results", "validate"]
        server.intake.spool.wait_idle()  # the checksum is verified in the background
        assert ftps.nlst("failed") == ["bad.csv"]
    bad, good = server.rows()
    assert (good.name, good.status) == ("good.csv", ImportStatus.RECEIVED)
    assert (bad.name, bad.status, bad.error_code) == (
        "bad.csv",
        ImportStatus.FAILED,
        "checksum_mismatch",
    )
    assert server.result("bad.csv")["status"] == "failed"


def test_duplicate_content(server: Server) -> None:
    with server.client() as ftps:
        upload(ftps, "first.csv")
        server.intake.spool.wait_idle()
        upload(ftps, "second.csv")
    first, second = server.rows()
    assert (first.status, second.status) == (ImportStatus.RECEIVED, ImportStatus.DUPLICATE)
    assert server.result("second.csv")["status"] == "duplicate"
    assert server.intake.received == [first.id]


# --- isolation and confinement ------------------------------------------------------------


def test_two_accounts_of_two_apps_see_only_their_own_dropbox(server: Server) -> None:
    with server.client("alice") as alice, server.client("bob") as bob:
        upload(alice, "alice.csv.part")
        upload(bob, "bob.csv.part")
        assert "alice.csv.part" in alice.nlst()
        assert "bob.csv.part" not in alice.nlst()
        assert "bob.csv.part" in bob.nlst()
        assert "alice.csv.part" not in bob.nlst()
        for path in ("alice.csv.part", "/../alpha/alice.csv.part", "../../alpha/alice.csv.part"):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                bob.delete(path)
        bob.rename("bob.csv.part", "bob.csv")
    assert [r.name for r in server.rows("beta")] == ["bob.csv"]
    assert server.rows("alpha") == []
    assert (server.box("alpha") / "alice.csv.part").exists()


def test_dot_dot_and_absolute_paths_stay_inside(server: Server) -> None:
    with server.client() as ftps:
        ftps.cwd("../../..")
        assert ftps.pwd() == "/"
        assert ftps.nlst("..") == ftps.nlst("/")
        for path in ("/etc/passwd", "../../../../etc/passwd", "/../../etc/hostname"):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                download(ftps, path)
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftps.cwd("/etc")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            upload(ftps, "/tmp/evil.csv")
        # A clamped path lands in the dropbox's own root, like in a chroot.
        upload(ftps, "../../../../push.csv")
    [row] = server.rows()
    assert (row.name, row.folder) == ("push.csv", "")


def test_planted_symlinks_are_not_followed(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for customers")
    (server.box() / "results" / "link.json").symlink_to(secret)
    (server.box() / "push.csv").symlink_to(secret)
    with server.client() as ftps:
        assert ftps.nlst("results") == []
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            download(ftps, "results/link.json")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            upload(ftps, "push.csv", b"overwrite")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftps.delete("results/link.json")
    assert secret.read_text() == "not for customers"
    assert server.rows() == []


def test_folders_are_fixed_and_outputs_read_only(server: Server) -> None:
    with server.client() as ftps:
        for command in (
            "MKD new",
            "RMD results",
            "SITE CHMOD 777 results",
            "MFMT 20200101000000 x",
        ):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                ftps.voidcmd(command)
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftps.rename("results", "mine")
        for path in ("results/x.csv", "failed/x.csv", "reports/x.csv"):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                upload(ftps, path)
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftps.storbinary("APPE push.csv", io.BytesIO(CONTENT))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            download(ftps, "push.csv")  # upload folders are write-only
    assert not any((server.box() / "results").iterdir())


# --- who may connect ----------------------------------------------------------------------


def test_data_connection_from_another_address_is_refused(server: Server) -> None:
    with server.client() as ftps:
        ftps.voidcmd("TYPE I")
        _, port = ftps.makepasv()
        intruder = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
        with intruder:
            intruder.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert intruder.recv(1) == b""  # hung up on
        with pytest.raises(ftplib.error_temp, match=r"^425"):
            ftps.voidresp()
        # The listener stays up for the real client.
        raw = socket.create_connection(("127.0.0.1", port))
        assert ftps.sendcmd("STOR push.csv")[:3] in {"125", "150"}
        conn = ftps.context.wrap_socket(raw, server_hostname="127.0.0.1")
        conn.sendall(CONTENT)
        conn.unwrap().close()
        assert ftps.voidresp().startswith("226")
    assert [r.sha256 for r in server.rows()] == [sha(CONTENT)]


def test_passive_replies_announce_the_masquerade_address(
    intake: Intake, tls_files: tuple[Path, Path]
) -> None:
    service = start(intake, tls_files, masquerade_address="203.0.113.7")
    try:
        assert "announced as 203.0.113.7" in service.endpoints[0]
        with Server(service, intake, tls_files[0]).client() as ftps:
            reply = ftps.sendcmd("PASV")
            numbers = [int(n) for n in reply.split("(")[1].split(")")[0].split(",")]
            assert numbers[:4] == [203, 0, 113, 7]
            first, last = service.settings.ftp.passive_ports
            assert first <= numbers[4] * 256 + numbers[5] <= last
    finally:
        service.stop_thread()


def test_brute_force_bans_the_address_but_not_the_account(server: Server) -> None:
    carol = server.intake.add_account("alpha", "carol", cidrs=("127.0.0.2",))
    refused_at_connect = wrong_password = 0
    for _ in range(50):
        try:
            ftps = server.connect()
        except ftplib.error_temp:
            refused_at_connect += 1
            continue
        with ftps:
            with pytest.raises((ftplib.error_perm, ftplib.error_temp)):
                ftps.login("alice", "not-the-password")
            wrong_password += 1
    assert wrong_password == 5  # ban_failures of the intake fixture
    assert refused_at_connect == 45
    # The right password from the banned address is refused before USER.
    with pytest.raises(ftplib.error_temp, match=r"^421"):
        server.client("alice")
    # An account allowlisted for another address still logs in.
    with server.client(carol.username, source="127.0.0.2") as ftps:
        assert upload(ftps, "carol.csv").startswith("226")
    # An address outside every allowlist never gets to USER.
    with pytest.raises(ftplib.error_temp, match=r"^421"):
        server.connect(source="127.0.0.3")


def test_login_times_out(intake: Intake, tls_files: tuple[Path, Path]) -> None:
    service = start(intake, tls_files, intake_settings={"login_timeout_seconds": 1})
    try:
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", service.port, timeout=10)
            assert ftp.getline().startswith("421 Login timed out")
        assert intake.gate.failed_logins == 1
    finally:
        service.stop_thread()
