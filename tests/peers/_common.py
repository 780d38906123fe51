"""What both real peers need: the test user, free ports, a daemon process, readiness.

The peers log a **system user** in (``ftpushtest``), never root: a root login would
write anywhere and hide every permission failure a customer's server can produce.
When the tests run as root (containers, CI) the user is created once with
``useradd`` and given a random password kept in a root-only file, so parallel test
sessions on one machine share it instead of racing ``chpasswd`` with different
values. Without root, the peers fall back to the current user with key login only
(``PeerUser.password`` is ``None`` and password tests skip).

Example::

    user = ensure_peer_user()
    port = free_port()
    proc = Daemon(["/usr/sbin/sshd", "-D", ...], log_path)
    proc.start(ready=lambda: banner_ready(port, b"SSH-"))
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import random
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

USER_NAME = "ftpushtest"
STATE_DIR = Path("/var/lib/ftpush-test-peers")  # root-only: the user's password lives here
USER_HOME = Path("/var/lib/ftpushtest")
PAM_SERVICE = "ftpushtest"
# A PAM stack of our own for vsftpd: Debian's /etc/pam.d/vsftpd requires a login shell
# from /etc/shells, and the test user must not have one.
PAM_FILE = Path("/etc/pam.d") / PAM_SERVICE
PAM_TEXT = (
    "# ftpush test peers (tests/peers): password check only, for the user ftpushtest\n"
    "auth required pam_unix.so nodelay\n"
    "account required pam_unix.so\n"
    "session required pam_permit.so\n"
)


class PeerUnavailable(RuntimeError):
    """The peer cannot run here (binary absent, not root...); tests skip with this reason."""


@dataclass(frozen=True)
class PeerUser:
    """The account the peers log in: name, ids, password (``None`` if key only), home."""

    name: str
    uid: int
    gid: int
    password: str | None
    home: Path


def is_root() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_peer_user() -> PeerUser:
    """The test user, created if needed (root), else the current user without password."""
    if not is_root():
        entry = pwd.getpwuid(os.geteuid())
        return PeerUser(entry.pw_name, entry.pw_uid, entry.pw_gid, None, Path(entry.pw_dir))
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(STATE_DIR / "lock"):
        try:
            pwd.getpwnam(USER_NAME)
        except KeyError:
            subprocess.run(
                [
                    "useradd", "--system", "--home-dir", str(USER_HOME),
                    "--shell", "/usr/sbin/nologin", "--user-group", USER_NAME,
                ],
                check=True, capture_output=True,
            )  # fmt: skip
        entry = pwd.getpwnam(USER_NAME)
        USER_HOME.mkdir(mode=0o755, exist_ok=True)
        os.chown(USER_HOME, entry.pw_uid, entry.pw_gid)
        secret_file = STATE_DIR / "password"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(18))
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip()
        # Same value every session: harmless to repeat, and it unlocks the account
        # (a locked account cannot log in to sshd even with a key when UsePAM is off).
        subprocess.run(
            ["chpasswd"], input=f"{USER_NAME}:{password}\n", text=True,
            check=True, capture_output=True,
        )  # fmt: skip
        if not PAM_FILE.exists() or PAM_FILE.read_text() != PAM_TEXT:
            PAM_FILE.write_text(PAM_TEXT)
    return PeerUser(USER_NAME, entry.pw_uid, entry.pw_gid, password, USER_HOME)


def new_ed25519() -> tuple[bytes, str]:
    """A fresh key: (private key in OpenSSH PEM, public ``ssh-ed25519 AAAA...`` line)."""
    return new_ssh_key("ed25519")


def new_ssh_key(kind: str) -> tuple[bytes, str]:
    """A fresh ``ed25519``, ``ecdsa`` (P-256) or ``rsa`` (2048) key: (private PEM, public line)."""
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )  # fmt: skip
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_range(size: int) -> tuple[int, int]:
    """``size`` consecutive free ports below the usual ephemeral range (20000-32000)."""
    rng = random.Random()
    for _ in range(200):
        low = rng.randrange(20000, 32000 - size)
        if all(_bindable(p) for p in range(low, low + size)):
            return low, low + size - 1
    raise PeerUnavailable("no free passive port range between 20000 and 32000")


def banner_ready(port: int, prefix: bytes) -> bool:
    """True once a server on ``port`` accepts and greets with ``prefix``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            return sock.recv(64).startswith(prefix)
    except OSError:
        return False


class Daemon:
    """A foreground server process with its log file; stopped with its whole group.

    The process is started in a new session so that the per-connection children
    sshd and vsftpd fork are stopped with it at teardown (by the group id, which is
    the id of the process we started).
    """

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self, ready: Callable[[], bool], timeout: float = 5.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.argv[0]} exited at start:\n{self.log()}")
            if ready():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} not ready after {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
