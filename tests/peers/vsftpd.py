"""A real ``vsftpd`` on 127.0.0.1 for tests and benchmarks: explicit FTPS or plain FTP.

With ``tls=True`` it requires ``AUTH TLS`` before login and ``PROT P`` for data
(``force_local_logins_ssl``, ``force_local_data_ssl``), with a self-signed
certificate for ``127.0.0.1``/``localhost`` made here; with ``tls=False`` it is a
plain FTP server. The test user of :mod:`tests.peers._common` logs in with its
password; vsftpd needs root for that, so without root the peer is unavailable.

Example::

    with VsftpdPeer.started(base_dir, tls=True) as peer:
        ftp = ftplib.FTP_TLS(context=peer.ssl_context())
        ftp.connect(peer.host, peer.port); ftp.login(peer.user.name, peer.user.password)
        target = peer.target("/abs/dir")          # a ftpush RemoteTarget, cert pinned
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.peers._common import (
    PAM_SERVICE,
    Daemon,
    PeerUnavailable,
    PeerUser,
    banner_ready,
    ensure_peer_user,
    free_port,
    free_port_range,
    is_root,
    write_private,
)

if TYPE_CHECKING:
    from ftpush.remote.base import RemoteTarget

VSFTPD = Path("/usr/sbin/vsftpd")


def make_self_signed(cert_path: Path, key_path: Path) -> bytes:
    """Write a self-signed P-256 certificate for 127.0.0.1 and localhost; return its DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ftpush test peer")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.public_bytes(serialization.Encoding.DER)


class VsftpdPeer:
    """One foreground ``vsftpd`` process; build it with :meth:`started`."""

    host = "127.0.0.1"

    def __init__(self, base_dir: Path, user: PeerUser, *, tls: bool) -> None:
        self.dir = base_dir
        self.user = user
        self.tls = tls
        self.port = 0
        self.cert_path = base_dir / "cert.pem"
        self.cert_der = b""
        self._daemon: Daemon | None = None

    @classmethod
    @contextlib.contextmanager
    def started(
        cls, base_dir: Path, *, tls: bool = True, require_ssl_reuse: bool = False
    ) -> Iterator[VsftpdPeer]:
        """Start a peer in ``base_dir`` (created), stop it on exit."""
        if not VSFTPD.exists():
            raise PeerUnavailable(f"{VSFTPD} is not installed (make system-deps)")
        if not is_root():
            raise PeerUnavailable("vsftpd needs root to log local users in")
        peer = cls(base_dir, ensure_peer_user(), tls=tls)
        peer._start(require_ssl_reuse)
        try:
            yield peer
        finally:
            peer.stop()

    @property
    def cert_fingerprint(self) -> str:
        """SHA-256 of the certificate, as ``openssl x509 -fingerprint -sha256`` shows it."""
        return ":".join(f"{b:02X}" for b in hashlib.sha256(self.cert_der).digest())

    def _start(self, require_ssl_reuse: bool) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        empty = self.dir / "empty"  # secure_chroot_dir: empty, not writable by the user
        empty.mkdir(mode=0o755, exist_ok=True)
        if self.tls:
            self.cert_der = make_self_signed(self.cert_path, self.dir / "key.pem")
        last_error: Exception | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            config = self.dir / "vsftpd.conf"
            config.write_text(self._config(empty, require_ssl_reuse))
            config.chmod(0o600)  # vsftpd refuses a config file others may write
            self._daemon = Daemon([str(VSFTPD), str(config)], self.dir / "vsftpd.out")
            try:
                self._daemon.start(ready=lambda: banner_ready(self.port, b"220"))
                return
            except RuntimeError as exc:
                last_error = exc
        raise RuntimeError(f"vsftpd did not start: {last_error}")

    def _config(self, empty: Path, require_ssl_reuse: bool) -> str:
        low, high = free_port_range(40)
        options = {
            "listen": "YES",
            "listen_ipv6": "NO",
            "listen_address": self.host,
            "listen_port": str(self.port),
            "background": "NO",
            "anonymous_enable": "NO",
            "local_enable": "YES",
            "write_enable": "YES",
            "local_umask": "022",
            "chroot_local_user": "NO",
            "secure_chroot_dir": str(empty),
            "pam_service_name": PAM_SERVICE,
            "session_support": "NO",
            "userlist_enable": "NO",
            "tcp_wrappers": "NO",
            # Containers rarely allow the namespaces and seccomp filters vsftpd wants.
            "seccomp_sandbox": "NO",
            "isolate": "NO",
            "isolate_network": "NO",
            "pasv_enable": "YES",
            "pasv_address": self.host,
            "pasv_min_port": str(low),
            "pasv_max_port": str(high),
            "port_enable": "NO",
            "connect_from_port_20": "NO",
            "force_dot_files": "YES",  # list dot files too, as an SFTP server does
            "use_localtime": "NO",
            "delay_failed_login": "0",
            "delay_successful_login": "0",
            "max_login_fails": "10",
            "idle_session_timeout": "60",
            "data_connection_timeout": "60",
            "dirmessage_enable": "NO",
            "ftpd_banner": "ftpush test peer",
            "syslog_enable": "NO",
            "xferlog_enable": "YES",
            "xferlog_std_format": "NO",
            "log_ftp_protocol": "YES",
            "vsftpd_log_file": str(self.dir / "vsftpd.log"),
            "ssl_enable": "YES" if self.tls else "NO",
        }
        if self.tls:
            options |= {
                "rsa_cert_file": str(self.cert_path),
                "rsa_private_key_file": str(self.dir / "key.pem"),
                "ssl_sslv2": "NO",
                "ssl_sslv3": "NO",
                "ssl_tlsv1": "YES",
                "ssl_ciphers": "HIGH",
                "allow_anon_ssl": "NO",
                "force_local_logins_ssl": "YES",
                "force_local_data_ssl": "YES",
                "require_ssl_reuse": "YES" if require_ssl_reuse else "NO",
                "ssl_request_cert": "NO",
            }
        return "".join(f"{key}={value}\n" for key, value in options.items())

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None

    def log(self) -> str:
        """The end of vsftpd's protocol log (for assertion messages)."""
        try:
            return (self.dir / "vsftpd.log").read_text(errors="replace")[-4000:]
        except OSError:
            return self._daemon.log() if self._daemon else ""

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this peer's certificate."""
        context = ssl.create_default_context(cafile=str(self.cert_path))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def target(self, path: str = "/", *, pin: bool = True) -> RemoteTarget:
        """A ftpush ``RemoteTarget`` (FTPS with the certificate pinned, or plain FTP)."""
        from ftpush.models import RemoteProtocol
        from ftpush.remote.base import RemoteTarget

        return RemoteTarget(
            protocol=RemoteProtocol.FTPS if self.tls else RemoteProtocol.FTP,
            host=self.host,
            port=self.port,
            username=self.user.name,
            password=self.user.password,
            tls_cert_fingerprint=self.cert_fingerprint if (self.tls and pin) else None,
            path=path,
        )
