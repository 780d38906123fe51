"""ftpush's SFTP server on loopback, driven by the real OpenSSH ``sftp`` client.

The first part is the harness (also used by ``test_sftp_completion.py``): the
service runs on its own event loop in a background thread, so the tests stay
plain synchronous code that starts client processes and looks at what the
server did::

    with running_sftp(intake) as server:
        done = server.sftp(intake.accounts["alice"], ["put data.csv /push.csv"])
        assert done.returncode == 0
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest
from argon2 import PasswordHasher

from ftpush.config import Settings
from ftpush.crypto import ensure_ssh_host_key
from ftpush.intake.access import Gatekeeper
from ftpush.intake.sftp import SftpService
from ftpush.intake.spool import Spool
from ftpush.models import ImportStatus
from ftpush.storage import accounts, imports
from tests.integration.intake.conftest import Account, Intake, make_settings

T = TypeVar("T")
SFTP = shutil.which("sftp")
requires_sftp = pytest.mark.skipif(SFTP is None, reason="the OpenSSH sftp client is not installed")


def with_sftp_port_0(settings: Settings) -> Settings:
    return settings.model_copy(update={"sftp": settings.sftp.model_copy(update={"port": 0})})


@dataclass
class SftpServer:
    """A running :class:`SftpService` and the client helpers that talk to it."""

    intake: Intake
    service: SftpService
    spool: Spool
    loop: asyncio.AbstractEventLoop
    workdir: Path

    @property
    def port(self) -> int:
        return self.service.port

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop (e.g. an asyncssh client)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def sftp_argv(
        self,
        account: Account,
        batch: Path,
        *,
        password: bool = False,
        bind: str | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        assert SFTP is not None
        argv = [SFTP]
        if password:
            # sftp -b turns BatchMode on, which forbids password prompts; ssh keeps
            # the first value it is given for an option, so say "no" before -b.
            argv += ["-o", "BatchMode=no", "-o", "PreferredAuthentications=password"]
            argv += ["-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
        else:
            argv += ["-i", str(account.key_file), "-o", "IdentitiesOnly=yes"]
            argv += ["-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"]
        argv += ["-b", str(batch), "-P", str(self.port)]
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        argv += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-F", "/dev/null"]
        if bind:
            argv += ["-o", f"BindAddress={bind}"]
        argv += list(options)
        argv.append(f"{account.username}@127.0.0.1")
        return argv

    def client_env(self, account: Account, password: str | None = None) -> dict[str, str]:
        askpass = self.workdir / f"askpass-{account.username}"
        askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password or account.password}'\n")
        askpass.chmod(0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
        env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return env

    def batch(self, commands: Sequence[str]) -> Path:
        fd, name = _mkstemp(self.workdir)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(commands) + "\n")
        return Path(name)

    def sftp(
        self,
        account: Account,
        commands: Sequence[str],
        *,
        password: bool | str = False,
        bind: str | None = None,
        options: Sequence[str] = (),
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sftp -b`` with ``commands``; returns the finished process."""
        argv = self.sftp_argv(
            account, self.batch(commands), password=bool(password), bind=bind, options=options
        )
        secret = password if isinstance(password, str) else None
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.client_env(account, secret),
            start_new_session=True,  # no controlling terminal: ssh must use SSH_ASKPASS
            check=False,
        )

    def popen(
        self, account: Account, commands: Sequence[str], *, options: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Start ``sftp -b`` without waiting (to kill it mid-transfer)."""
        argv = self.sftp_argv(account, self.batch(commands), options=options)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.client_env(account),
            start_new_session=True,
        )

    # --- what the server did --------------------------------------------------------

    def rows(self, app: str = "alpha") -> list[imports.ImportFile]:
        self.spool.wait_idle()
        with self.intake.db.transaction() as s:
            return list(imports.list_imports(s, app, limit=1000))

    def result(self, name: str, app: str = "alpha") -> dict[str, Any]:
        path = self.intake.dropbox(app) / "results" / f"{name}.result.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data


_counter = 0
_counter_lock = threading.Lock()


def _mkstemp(folder: Path) -> tuple[int, str]:
    global _counter  # noqa: PLW0603 - a unique name per batch file, nothing more
    with _counter_lock:
        _counter += 1
        name = folder / f"batch-{_counter}.txt"
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), str(name)


@contextlib.contextmanager
def running_sftp(
    intake: Intake,
    settings: Settings | None = None,
    *,
    gate: Gatekeeper | None = None,
    spool: Spool | None = None,
) -> Iterator[SftpServer]:
    """Start an :class:`SftpService` on a free port for ``intake``; stop it cleanly after."""
    settings = with_sftp_port_0(settings or intake.settings)
    workdir = intake.settings.data_dir.parent / "sftp-client"
    workdir.mkdir(exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    ensure_ssh_host_key(host_key)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-test-loop", daemon=True)
    thread.start()
    service = SftpService(settings, gate or intake.gate, spool or intake.spool, host_key)
    server = SftpServer(intake, service, spool or intake.spool, loop, workdir)
    try:
        server.call(service.start())
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.call(service.stop(), timeout=60)
        server.call(loop.shutdown_default_executor())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# --- the tests -------------------------------------------------------------------------

pytestmark = requires_sftp
CONTENT = b"ExternalID;Text;Deeplink\n12345;Hello;https://example.com\n"


@pytest.fixture
def server(intake: Intake) -> Iterator[SftpServer]:
    intake.spool.dropbox("alpha")  # the folders exist before anyone logs in
    intake.spool.dropbox("beta")
    with running_sftp(intake) as running:
        yield running


@pytest.fixture
def alice(intake: Intake) -> Account:
    return intake.accounts["alice"]


def local_file(tmp_path: Path, name: str, data: bytes = CONTENT) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        time.sleep(0.02)


def test_the_service_reports_its_port_and_host_key(server: SftpServer) -> None:
    assert server.port > 0
    [endpoint] = server.service.endpoints
    assert endpoint.startswith(f"sftp://127.0.0.1:{server.port}  (host key SHA256:")


@pytest.mark.parametrize("password", [False, True], ids=["key", "password"])
def test_an_upload_disappears_and_is_recorded_once_with_its_sha256(
    server: SftpServer, alice: Account, tmp_path: Path, password: bool
) -> None:
    local = local_file(tmp_path, "push.csv")
    done = server.sftp(alice, [f"put {local} /push.csv"], password=password)
    assert done.returncode == 0, done.stderr
    [row] = server.rows()
    assert server.intake.received == [row.id]
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert (row.name, row.size, row.status, row.received_by) == (
        "push.csv",
        len(CONTENT),
        ImportStatus.RECEIVED,
        "alice",
    )
    assert (str(row.source), row.remote_addr) == ("sftp", "127.0.0.1")
    assert not (server.intake.dropbox("alpha") / "push.csv").exists()


def test_uploads_land_in_the_named_folder_whatever_its_case(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    profile = local_file(tmp_path, "users.txt", b"~~~extID~email~device token\n1~~\n")
    done = server.sftp(alice, ["cd /profile", f"put {profile} users.txt", "pwd"])
    assert done.returncode == 0, done.stderr
    assert "Remote working directory: /Profile" in done.stdout
    [row] = server.rows()
    assert (row.folder, row.name, str(row.kind)) == ("Profile", "users.txt", "profile")


# Where the client is killed: (remote folder, file name, bytes on the server first,
# kill the whole process group (ssh dies: TCP drops) or only sftp (ssh sends EOF)).
TRUNCATIONS = [
    ("/", "push.csv", 1, "sftp"),
    ("/", "big.csv", 256 * 1024, "group"),
    ("/Profile", "users.txt", 128 * 1024, "sftp"),
    ("/validate", "dry.csv", 1, "group"),
    ("/", "late.csv", 1024 * 1024, "group"),
]


@pytest.mark.parametrize(("folder", "name", "after", "victim"), TRUNCATIONS)
def test_a_killed_client_leaves_an_incomplete_result_never_a_file(
    server: SftpServer,
    alice: Account,
    tmp_path: Path,
    folder: str,
    name: str,
    after: int,
    victim: str,
) -> None:
    local = local_file(tmp_path, name, os.urandom(4 * 1024 * 1024))
    box = server.intake.dropbox("alpha") / folder.strip("/")
    # -l: 16 Mbit/s, so the 4 MiB upload lasts about two seconds.
    proc = server.popen(alice, [f"put {local} {folder}/{name}"], options=["-l", "16000"])
    try:
        wait_for(lambda: (box / name).exists() and (box / name).stat().st_size >= after)
    finally:
        if victim == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.communicate(timeout=10)
    result_file = server.intake.dropbox("alpha") / "results" / f"{name}.result.json"
    wait_for(result_file.exists)
    result = server.result(name)
    assert result["status"] == "incomplete"
    assert result["folder"] == (folder if folder != "/" else "/")
    assert not (box / name).exists()
    [row] = server.rows()
    assert row.status is ImportStatus.INCOMPLETE
    assert server.intake.received == []


def test_a_temporary_name_is_taken_only_when_renamed(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    local = local_file(tmp_path, "x.csv")
    done = server.sftp(alice, [f"put {local} /x.csv.part"])
    assert done.returncode == 0, done.stderr
    assert (server.intake.dropbox("alpha") / "x.csv.part").exists()
    assert server.rows() == []
    done = server.sftp(alice, ["rename /x.csv.part /x.csv"])
    assert done.returncode == 0, done.stderr
    [row] = server.rows()
    assert server.intake.received == [row.id]
    assert (row.name, row.sha256) == ("x.csv", hashlib.sha256(CONTENT).hexdigest())
    assert sorted(p.name for p in server.intake.dropbox("alpha").iterdir() if p.is_file()) == []


def test_a_matching_sidecar_is_verified_and_consumed(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    digest = hashlib.sha256(CONTENT).hexdigest()
    sidecar = local_file(tmp_path, "x.csv.sha256", f"{digest}  x.csv\n".encode())
    data = local_file(tmp_path, "x.csv")
    done = server.sftp(alice, [f"put {sidecar} /x.csv.sha256", f"put {data} /x.csv"])
    assert done.returncode == 0, done.stderr
    [row] = server.rows()
    assert (row.status, row.sha256) == (ImportStatus.RECEIVED, digest)
    assert server.intake.received == [row.id]
    assert not (server.intake.dropbox("alpha") / "x.csv.sha256").exists()


def test_a_mismatching_sidecar_moves_the_file_to_failed(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    sidecar = local_file(tmp_path, "x.csv.sha256", b"0" * 64 + b"\n")
    data = local_file(tmp_path, "x.csv")
    done = server.sftp(alice, [f"put {sidecar} /x.csv.sha256", f"put {data} /x.csv"])
    assert done.returncode == 0, done.stderr
    [row] = server.rows()
    assert row.status is ImportStatus.FAILED
    result = server.result("x.csv")
    assert (result["status"], result["error_code"]) == ("failed", "checksum_mismatch")
    assert (server.intake.dropbox("alpha") / "failed" / "x.csv").read_bytes() == CONTENT
    assert server.intake.received == []


def test_the_same_content_twice_is_a_duplicate(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    local = local_file(tmp_path, "a.csv")
    assert server.sftp(alice, [f"put {local} /a.csv"]).returncode == 0
    [first] = server.rows()
    assert server.sftp(alice, [f"put {local} /b.csv"]).returncode == 0
    second = next(r for r in server.rows() if r.name == "b.csv")
    assert second.status is ImportStatus.DUPLICATE
    assert server.result("b.csv")["status"] == "duplicate"
    assert server.intake.received == [first.id]


def test_two_apps_never_see_each_other(server: SftpServer, tmp_path: Path) -> None:
    intake = server.intake
    alice, bob = intake.accounts["alice"], intake.accounts["bob"]
    (intake.dropbox("alpha") / "results" / "alpha-only.txt").write_text("a")
    (intake.dropbox("beta") / "results" / "beta-only.txt").write_text("b")
    local = local_file(tmp_path, "push.csv")
    done = server.sftp(alice, [f"put {local} /push.csv", "ls -1 /results"])
    assert done.returncode == 0, done.stderr
    assert "alpha-only.txt" in done.stdout
    assert "beta-only.txt" not in done.stdout
    done = server.sftp(
        bob,
        [
            "ls -1 /results",
            f"-get /results/alpha-only.txt {tmp_path}/stolen",
            f"-get ../alpha/results/alpha-only.txt {tmp_path}/stolen",
            f"-get /../alpha/results/alpha-only.txt {tmp_path}/stolen",
        ],
    )
    assert done.returncode == 0, done.stderr
    listing = done.stdout.split("sftp> -get")[0]
    assert "beta-only.txt" in listing
    assert "alpha-only.txt" not in listing
    assert not (tmp_path / "stolen").exists()
    assert [r.name for r in server.rows("alpha")] == ["push.csv"]
    assert server.rows("beta") == []


def test_no_path_leaves_the_dropbox(server: SftpServer, alice: Account, tmp_path: Path) -> None:
    local = local_file(tmp_path, "push.csv")
    done = server.sftp(
        alice,
        [
            f"-get /etc/passwd {tmp_path}/passwd",
            f"-get ../../../etc/passwd {tmp_path}/passwd",
            f"-get /../../../etc/hostname {tmp_path}/hostname",
            f"-put {local} /../../tmp/evil.csv",
            f"-put {local} /etc/evil.csv",
            "-cd /etc",
            "cd ../../..",
            "pwd",
            "-ls /..",
            f"put {local} ../../../clamped.csv",
        ],
    )
    assert done.returncode == 0, done.stderr
    assert "Remote working directory: /\n" in done.stdout
    assert not (tmp_path / "passwd").exists()
    assert not (tmp_path / "hostname").exists()
    assert not Path("/tmp/evil.csv").exists()
    assert not Path("/etc/evil.csv").exists()
    # ".." at the root stays at the root, as in a chroot: the file is the dropbox's.
    assert [r.name for r in server.rows()] == ["clamped.csv"]


def test_symlinks_planted_in_the_dropbox_are_neither_listed_nor_followed(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    box = server.intake.dropbox("alpha")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (box / "results" / "leak.txt").symlink_to(outside)
    (box / "results" / "etc").symlink_to("/etc")
    (box / "sneaky.csv").symlink_to(outside)
    local = local_file(tmp_path, "push.csv")
    done = server.sftp(
        alice,
        [
            "ls -la /results",
            "ls -la /",
            f"-get /results/leak.txt {tmp_path}/leak",
            f"-get /results/etc/hostname {tmp_path}/hostname",
            "-ls /results/etc",
            f"-put {local} /sneaky.csv",
            "-rm /results/leak.txt",
        ],
    )
    assert done.returncode == 0, done.stderr
    listing = done.stdout.split("sftp> -get")[0]
    assert "leak.txt" not in listing.replace("ls -la", "")
    assert "sneaky.csv" not in listing
    assert " etc" not in listing
    assert not (tmp_path / "leak").exists()
    assert not (tmp_path / "hostname").exists()
    assert outside.read_text() == "secret"
    assert (box / "results" / "leak.txt").is_symlink()
    assert server.rows() == []


def test_links_and_folders_cannot_be_made(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    box = server.intake.dropbox("alpha")
    (box / "results" / "r.txt").write_text("r")
    before = sorted(str(p.relative_to(box)) for p in box.rglob("*"))
    done = server.sftp(
        alice,
        [
            "-symlink /results/r.txt /link.csv",
            "-ln -s /results/r.txt /link2.csv",
            "-ln /results/r.txt /hard.csv",
            "-mkdir /newdir",
            "-mkdir /results/sub",
            "-rmdir /results",
            "-rmdir /Profile",
            "-rename /results /renamed",
        ],
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Permission denied") == 7, done.stderr
    assert "does not support hardlink" in done.stderr  # not even offered
    assert sorted(str(p.relative_to(box)) for p in box.rglob("*")) == before


def test_legacy_scp_is_refused_and_writes_nothing(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    local = local_file(tmp_path, "push.csv")
    scp = shutil.which("scp")
    assert scp is not None
    base = [scp, "-O", "-P", str(server.port), "-i", str(alice.key_file), "-F", "/dev/null"]
    base += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    base += ["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
    upload = subprocess.run(
        [*base, str(local), "alice@127.0.0.1:/push.csv"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert upload.returncode != 0
    (server.intake.dropbox("alpha") / "results" / "r.txt").write_text("r")
    download = subprocess.run(
        [*base, "alice@127.0.0.1:/results/r.txt", str(tmp_path / "r.txt")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert download.returncode != 0
    assert not (tmp_path / "r.txt").exists()
    assert not (server.intake.dropbox("alpha") / "push.csv").exists()
    assert server.rows() == []


def test_output_folders_are_read_and_delete_only(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    box = server.intake.dropbox("alpha")
    (box / "results" / "push.csv.result.json").write_text('{"status": "done"}')
    (box / "failed" / "bad.csv").write_text("bad")
    (box / "reports" / "r.xlsx").write_bytes(b"xlsx")
    local = local_file(tmp_path, "push.csv")
    done = server.sftp(
        alice,
        [
            f"-put {local} /results/push.csv",
            f"-put {local} /failed/x.csv",
            f"-put {local} /Reports/x.csv",
            "-rename /results/push.csv.result.json /results/renamed.json",
            f"get /results/push.csv.result.json {tmp_path}/result.json",
            f"get /failed/bad.csv {tmp_path}/bad.csv",
            f"get /reports/r.xlsx {tmp_path}/r.xlsx",
            "-chmod 600 /results/push.csv.result.json",
            "rm /results/push.csv.result.json",
            "rm /failed/bad.csv",
            "rm /reports/r.xlsx",
            f"-get /push.csv {tmp_path}/nope",
        ],
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "result.json").read_text() == '{"status": "done"}'
    assert (tmp_path / "bad.csv").read_text() == "bad"
    assert (tmp_path / "r.xlsx").read_bytes() == b"xlsx"
    for folder in ("results", "failed", "reports"):
        assert list((box / folder).iterdir()) == []
    assert not (tmp_path / "nope").exists()
    assert server.rows() == []


def test_setting_attributes_is_a_no_op_on_uploads(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    local = local_file(tmp_path, "x.csv.part")
    local.chmod(0o600)
    done = server.sftp(alice, [f"put -p {local} /x.csv.part", "chmod 644 /x.csv.part"])
    assert done.returncode == 0, done.stderr
    assert (server.intake.dropbox("alpha") / "x.csv.part").read_bytes() == CONTENT


def test_a_file_over_the_size_limit_is_refused_and_discarded(
    intake: Intake, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, max_file_bytes=100_000)
    spool = Spool(settings, intake.db, on_received=intake.received.append)
    try:
        with running_sftp(intake, settings, spool=spool) as server:
            big = local_file(tmp_path, "big.csv", os.urandom(300_000))
            done = server.sftp(intake.accounts["alice"], [f"put {big} /big.csv"])
            assert done.returncode != 0
            assert server.result("big.csv")["status"] == "incomplete"
            assert "limited to 100000 bytes" in server.result("big.csv")["message"]
            assert not (intake.dropbox("alpha") / "big.csv").exists()
            assert intake.received == []
    finally:
        spool.close()


def cheap_password(intake: Intake, username: str, password: str) -> None:
    """Store a fast argon2 hash so that 50 wrong guesses take milliseconds, not minutes."""
    with intake.db.transaction() as s:
        accounts.get_account(s, username).password_hash = PasswordHasher(
            time_cost=1, memory_cost=1024, parallelism=1
        ).hash(password)


class WrongPasswords(asyncssh.SSHClient):
    def __init__(self) -> None:
        self.tries = 0

    def password_auth_requested(self) -> str:
        self.tries += 1
        return f"wrong-{self.tries}"


async def guess_passwords(port: int, username: str) -> int:
    client = WrongPasswords()
    with contextlib.suppress(asyncssh.Error, OSError):
        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username=username,
            known_hosts=None,
            client_keys=None,
            agent_path=None,
            preferred_auth="password",
            client_factory=lambda: client,
            config=None,
        )
        conn.close()
        await conn.wait_closed()
    return client.tries


def test_fifty_wrong_passwords_ban_the_address_but_not_other_addresses(
    intake: Intake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, ban_failures=50, ban_window_seconds=300)
    gate = Gatekeeper(intake.db, settings, allowlist_ttl=0.0)
    carol = intake.add_account("alpha", "carol", cidrs=("127.0.0.2",))
    alice = intake.accounts["alice"]
    cheap_password(intake, "alice", alice.password)
    with running_sftp(intake, settings, gate=gate) as server:
        tries = 0
        while not gate.bans.is_banned("127.0.0.1") and tries < 60:
            tries += server.call(guess_passwords(server.port, "alice"))
        assert gate.failed_logins == 50
        assert gate.bans.is_banned("127.0.0.1")
        # Banned: even the right password (and the right key) no longer gets in.
        done = server.sftp(alice, ["pwd"], password=True)
        assert done.returncode != 0
        assert server.sftp(alice, ["pwd"]).returncode != 0
        # Another address, allowlisted for another account, still logs in.
        done = server.sftp(carol, ["pwd"], bind="127.0.0.2")
        assert done.returncode == 0, done.stderr
        # The server closes its side of the session just after the client exits.
        wait_for(lambda: server.service.sessions == 0)
    assert "banned 127.0.0.1 after repeated failed logins" in caplog.text


def test_an_address_in_no_allowlist_is_refused_before_authentication(
    server: SftpServer, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    done = server.sftp(alice, ["pwd"], bind="127.0.0.3")
    assert done.returncode != 0
    assert server.intake.gate.failed_logins == 0  # no secret was ever looked at
    assert "from 127.0.0.3: address is in no account's allowlist" in caplog.text
    assert server.intake.gate.sessions_from("127.0.0.3") == 0


def test_the_login_must_complete_in_time(intake: Intake, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_timeout_seconds=1)
    with running_sftp(intake, settings) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            assert sock.recv(64).startswith(b"SSH-2.0-ftpush")
            while sock.recv(4096):
                pass
        assert 0.9 < time.monotonic() - started < 8
        wait_for(lambda: server.service.sessions == 0)
        assert intake.gate.failed_logins == 1
        assert intake.gate.sessions_from("127.0.0.1") == 0


def test_twenty_concurrent_sessions_of_five_files_each(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    procs = []
    for session in range(20):
        commands = []
        for n in range(5):
            data = CONTENT + f"{session}-{n};x;\n".encode()
            local = local_file(tmp_path, f"s{session}-{n}.csv", data)
            commands.append(f"put {local} /s{session}-{n}.csv")
        procs.append(server.popen(alice, commands))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    rows = server.rows()
    assert len(rows) == 100
    assert {r.status for r in rows} == {ImportStatus.RECEIVED}
    assert sorted(server.intake.received) == sorted(r.id for r in rows)
