"""``ftpush serve`` as a user runs it: a real process, real ports, real signals."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

FTPUSH = str(Path(sys.executable).parent / "ftpush")


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPUSH_")}
    proc = subprocess.Popen(
        [FTPUSH, "--data-dir", str(data_dir), "serve", "--http-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("ready"):
            return proc, lines
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"serve did not become ready: {lines} {err}")


def _web_base(lines: list[str]) -> str:
    for line in lines:
        found = re.search(r"web\s+(http://127\.0\.0\.1:\d+)/", line)
        if found:
            return found.group(1)
    pytest.fail(f"no web endpoint printed: {lines}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_health_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    proc, lines = _start(data)
    try:
        base = _web_base(lines)
        health = subprocess.run(
            ["curl", "-sS", "--max-time", "10", f"{base}/healthz"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert '"status":"ok"' in health.stdout
        assert any("ssh host key ssh-ed25519" in ln for ln in lines)
        assert any(str(data.resolve()) in ln for ln in lines)
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
    # The keys were generated and kept private, and are reused on the next start.
    host_key = data / "keys" / "ssh_host_ed25519_key"
    assert stat.S_IMODE(host_key.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "ftpush.db").stat().st_mode) == 0o600
    assert (data / "tls" / "cert.pem").exists()
    first_key = host_key.read_bytes()
    proc, _ = _start(data)
    proc.terminate()
    proc.communicate(timeout=30)
    assert host_key.read_bytes() == first_key


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FTPUSH_")}
        run = subprocess.run(
            [FTPUSH, "--data-dir", str(tmp_path / "d"), "serve", "--http-port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.returncode == 1
    assert "cannot listen on 127.0.0.1" in run.stderr
    assert "address already in use" in run.stderr.lower()
