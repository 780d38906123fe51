"""A real OpenSSH ``sshd`` on 127.0.0.1 for tests and benchmarks.

It serves SFTP only (``ForceCommand internal-sftp``) to the test user of
:mod:`tests.peers._common`, with its own Ed25519 host key, a client key pair and,
when running as root, password login. Files live anywhere the user may write:
tests hand it absolute paths under :attr:`SshdPeer.data_root`.

Example::

    with SshdPeer.started(base_dir) as peer:
        subprocess.run(["sftp", *peer.sftp_args(), "-b", batch_file], check=True)
        target = peer.target("/abs/dir")          # a ftpush RemoteTarget, key login
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ftpush.crypto import ssh_public_key_fingerprint
from tests.peers._common import (
    Daemon,
    PeerUnavailable,
    PeerUser,
    banner_ready,
    ensure_peer_user,
    free_port,
    is_root,
    new_ed25519,
    new_ssh_key,
    write_private,
)

if TYPE_CHECKING:
    from ftpush.remote.base import RemoteTarget

SSHD = Path("/usr/sbin/sshd")


def _sshd_version() -> tuple[int, int]:
    out = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stderr + out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class SshdPeer:
    """One ``sshd -D -e`` process; build it with :meth:`started`."""

    host = "127.0.0.1"

    def __init__(self, base_dir: Path, user: PeerUser) -> None:
        self.dir = base_dir
        self.user = user
        self.port = 0
        self.host_key_fingerprint = ""  # of the Ed25519 key, the one OpenSSH shows first
        self.host_key_fingerprints: dict[str, str] = {}  # every host key, by type
        self.host_public_key = ""
        self.client_key_path = base_dir / "client_key"
        self.client_private_key = ""
        self.known_hosts_path = base_dir / "known_hosts"
        self._daemon: Daemon | None = None

    @classmethod
    @contextlib.contextmanager
    def started(cls, base_dir: Path) -> Iterator[SshdPeer]:
        """Start a peer in ``base_dir`` (created), stop it on exit.

        The SFTP server is ``internal-sftp``: OpenSSH's sftp-server code running
        inside sshd, the same server as the ``sftp-server`` binary. The binary
        itself cannot be used here, because sshd starts it through the user's login
        shell and the test user has none (``nologin``), on purpose.
        """
        if not SSHD.exists():
            raise PeerUnavailable(f"{SSHD} is not installed (make system-deps)")
        peer = cls(base_dir, ensure_peer_user())
        peer._start()
        try:
            yield peer
        finally:
            peer.stop()

    def _start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # the user's sshd child reads authorized_keys here
        public_lines = []
        for kind in ("ed25519", "ecdsa", "rsa"):  # as a stock Debian sshd has
            private, public = new_ssh_key(kind)
            write_private(self.dir / f"host_key_{kind}", private)
            self.host_key_fingerprints[kind] = ssh_public_key_fingerprint(public)
            public_lines.append(public)
        self.host_public_key = public_lines[0]
        self.host_key_fingerprint = self.host_key_fingerprints["ed25519"]
        client_private, client_public = new_ed25519()
        write_private(self.client_key_path, client_private)
        self.client_private_key = client_private.decode()
        (self.dir / "authorized_keys").write_text(client_public + "\n")
        (self.dir / "authorized_keys").chmod(0o644)
        if is_root():
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        last_error: Exception | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.known_hosts_path.write_text(f"[{self.host}]:{self.port} {self.host_public_key}\n")
            config = self.dir / "sshd_config"
            config.write_text(self._config())
            self._daemon = Daemon([str(SSHD), "-D", "-e", "-f", str(config)], self.dir / "sshd.log")
            try:
                self._daemon.start(ready=lambda: banner_ready(self.port, b"SSH-"))
                return
            except RuntimeError as exc:
                last_error = exc
        raise RuntimeError(f"sshd did not start: {last_error}")

    def _config(self) -> str:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            *(f"HostKey {self.dir / f'host_key_{kind}'}" for kind in ("ed25519", "ecdsa", "rsa")),
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PidFile none",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.user.password else 'no'}",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            f"AllowUsers {self.user.name}",
            "MaxAuthTries 10",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            "LoginGraceTime 20",
            "PrintMotd no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp",
        ]
        if _sshd_version() >= (9, 8):
            # Newer sshd slows down addresses that fail logins; tests fail on purpose.
            lines.append("PerSourcePenalties no")
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None

    def log(self) -> str:
        """The end of sshd's log (for assertion messages)."""
        return self._daemon.log() if self._daemon else ""

    def sftp_args(self) -> list[str]:
        """Arguments for OpenSSH ``sftp`` to log in with the client key (host key checked)."""
        return [
            "-P", str(self.port), "-i", str(self.client_key_path),
            "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
            f"{self.user.name}@{self.host}",
        ]  # fmt: skip

    def target(self, path: str = "/", *, auth: str = "key") -> RemoteTarget:
        """A ftpush ``RemoteTarget`` for this peer, logging in by ``key`` or ``password``."""
        from ftpush.models import RemoteProtocol
        from ftpush.remote.base import RemoteTarget

        if auth == "password" and self.user.password is None:
            raise PeerUnavailable("password login needs root to create the test user")
        return RemoteTarget(
            protocol=RemoteProtocol.SFTP,
            host=self.host,
            port=self.port,
            username=self.user.name,
            password=self.user.password if auth == "password" else None,
            private_key=self.client_private_key if auth == "key" else None,
            host_key_fingerprint=self.host_key_fingerprint,
            path=path,
        )


def sftp_binary() -> str | None:
    """Path of the OpenSSH ``sftp`` client, or ``None``."""
    return shutil.which("sftp")
