"""Every subcommand of the foundation, good and bad input, through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cli.conftest import Ftpush


def test_app_lifecycle(ftpush: Ftpush) -> None:
    out = ftpush("app", "create", "demo", "--name", "Demo Shop", "--timezone", "Europe/Istanbul")
    assert "created app demo" in out.out
    ftpush("app", "create", "other")
    listed = ftpush("app", "list", "--json").json()
    assert [a["key"] for a in listed] == ["demo", "other"]
    assert "demo" in ftpush("app", "list").out
    shown = ftpush("app", "show", "demo", "--json").json()
    assert shown["name"] == "Demo Shop"
    assert shown["timezone"] == "Europe/Istanbul"
    assert shown["ftp_enabled"] is True
    assert "Europe/Istanbul" in ftpush("app", "show", "demo").out
    assert "off" in ftpush("app", "disable-ftp", "demo").out
    assert ftpush("app", "show", "demo", "--json").json()["ftp_enabled"] is False
    assert "on" in ftpush("app", "enable-ftp", "demo").out
    assert ftpush("app", "show", "demo", "--json").json()["ftp_enabled"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["app", "create", "demo"], "error: app 'demo' already exists"),
        (["app", "create", "Bad_Key"], "error: invalid app key 'Bad_Key'"),
        (["app", "create", "new", "--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
        (["app", "show", "ghost"], "error: app 'ghost' does not exist"),
        (["app", "enable-ftp", "ghost"], "error: app 'ghost' does not exist"),
        (["account", "add", "--app", "ghost", "u1"], "error: app 'ghost' does not exist"),
        (["account", "add", "--app", "demo", "u1", "--allow", "10.0.0.1/8"], "invalid CIDR"),
        (["account", "add", "--app", "demo", "bad/name"], "invalid username"),
        (["account", "list", "--app", "ghost"], "app 'ghost' does not exist"),
        (["account", "remove", "ghost"], "account 'ghost' does not exist"),
        (["account", "allow-ip", "ghost", "10.0.0.0/8"], "account 'ghost' does not exist"),
        (["attribute", "add", "--app", "demo", "age", "float"], "unknown attribute type 'float'"),
        (["attribute", "add", "--app", "ghost", "age", "integer"], "app 'ghost' does not exist"),
        (["attribute", "add", "--app", "demo", "email", "string"], "identity column"),
        (["attribute", "list", "--app", "ghost"], "app 'ghost' does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(ftpush: Ftpush, args: list[str], message: str) -> None:
    ftpush("app", "create", "demo")
    run = ftpush.fails(*args)
    assert run.code == 1
    assert message in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_usage_errors_exit_2(ftpush: Ftpush) -> None:
    run = ftpush.fails("app", "create")
    assert run.code == 2
    assert "Missing argument" in run.err
    assert ftpush.fails("no-such-command").code == 2


def test_accounts(ftpush: Ftpush, tmp_path: Path) -> None:
    ftpush("app", "create", "demo")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    run = ftpush(
        "account", "add", "--app", "demo", "acme",
        "--ssh-key", f"{key}.pub", "--allow", "127.0.0.1", "--allow", "2001:db8::/32",
    )  # fmt: skip
    password = next(ln for ln in run.out.splitlines() if ln.startswith("password: ")).split()[1]
    assert len(password) >= 20
    again = ftpush("account", "add", "--app", "demo", "nokeys", "--json").json()
    assert again["password"] != password
    assert again["networks"] == []
    assert "nobody can log in" in ftpush("account", "add", "--app", "demo", "n2").err
    listed = {a["username"]: a for a in ftpush("account", "list", "--app", "demo", "--json").json()}
    assert listed["acme"]["networks"] == ["127.0.0.1/32", "2001:db8::/32"]
    assert listed["acme"]["ssh_keys"][0].startswith("SHA256:")
    text = ftpush("account", "list", "--app", "demo").out
    assert "acme" in text
    assert password not in text
    assert "10.9.0.0/16" in ftpush("account", "allow-ip", "nokeys", "10.9.0.0/16").out
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(other)], check=True)
    assert "added key SHA256:" in ftpush("account", "add-key", "nokeys", f"{other}.pub").out
    assert "already" in ftpush.fails("account", "add-key", "nokeys", f"{other}.pub").err
    ftpush("account", "remove", "acme")
    names = [a["username"] for a in ftpush("account", "list", "--app", "demo", "--json").json()]
    assert names == ["n2", "nokeys"]
    dup = ftpush.fails("account", "add", "--app", "demo", "nokeys")
    assert "account 'nokeys' already exists" in dup.err


def test_bad_ssh_key_file(ftpush: Ftpush, tmp_path: Path) -> None:
    ftpush("app", "create", "demo")
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-ed25519 not-base64!\n")
    assert (
        "not an OpenSSH public key"
        in ftpush.fails("account", "add", "--app", "demo", "u", "--ssh-key", str(bad)).err
    )
    empty = tmp_path / "empty.pub"
    empty.write_text("# nothing\n")
    assert (
        "holds no key"
        in ftpush.fails("account", "add", "--app", "demo", "u", "--ssh-key", str(empty)).err
    )


def test_attributes(ftpush: Ftpush) -> None:
    ftpush("app", "create", "demo")
    ftpush("attribute", "add", "--app", "demo", "membershipTier", "string")
    assert "integer[]" in ftpush("attribute", "add", "--app", "demo", "scores", "integer[]").out
    rows = ftpush("attribute", "list", "--app", "demo", "--json").json()
    assert rows == [
        {"name": "membershipTier", "type": "string"},
        {"name": "scores", "type": "integer[]"},
    ]
    assert "membershipTier" in ftpush("attribute", "list", "--app", "demo").out


def test_admin_create_reads_the_password_from_stdin(ftpush: Ftpush) -> None:
    assert "created admin root" in ftpush("admin", "create", "root", input="a-long-password\n").out
    assert "already exists" in ftpush.fails("admin", "create", "root", input="x" * 20 + "\n").err
    assert "at least 12" in ftpush.fails("admin", "create", "short", input="tiny\n").err
    assert "no password" in ftpush.fails("admin", "create", "empty", input="").err


def test_config_show_masks_secrets(ftpush: Ftpush, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "q" * 40
    monkeypatch.setenv("FTPUSH_WEB__SESSION_SECRET", secret)
    monkeypatch.setenv("FTPUSH_SMTP__PASSWORD", "smtp-secret")
    data = ftpush("config", "show", "--json").json()
    assert data["web"]["session_secret"] == "**********"
    assert data["data_dir"] == str(ftpush.data_dir)
    text = ftpush("config", "show").out
    assert secret not in text
    assert "smtp-secret" not in text
    assert "[web]" in text
    assert "FTPUSH_DATABASE__URL" in ftpush("config", "docs").out


def test_config_errors_are_one_line(ftpush: Ftpush, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPUSH_WEB__PORT", "eighty")
    run = ftpush.fails("config", "show")
    assert run.code == 1
    assert "web.port" in run.err


def test_db_upgrade_and_status(ftpush: Ftpush) -> None:
    assert ftpush("db", "status", "--json").json()["current"] is None
    assert "is at revision" in ftpush("db", "upgrade").out
    status = ftpush("db", "status", "--json").json()
    assert status["up_to_date"] is True
    assert "code at" in ftpush("db", "status").out


def test_every_command_honours_the_data_dir(tmp_path: Path) -> None:
    one, two = Ftpush(tmp_path / "one"), Ftpush(tmp_path / "two")
    one("app", "create", "demo")
    assert two("app", "list", "--json").json() == []
    assert (tmp_path / "one" / "ftpush.db").exists()


def test_module_and_console_script_entry_points(tmp_path: Path) -> None:
    env = {"FTPUSH_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"}
    module = subprocess.run(
        [sys.executable, "-m", "ftpush", "--version"], capture_output=True, text=True, env=env
    )
    assert module.returncode == 0
    assert "ftpush, version" in module.stdout
    script = Path(sys.executable).parent / "ftpush"
    run = subprocess.run(
        [str(script), "app", "create", "bad key"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 1
    assert run.stderr.startswith("error: invalid app key")
    assert "Traceback" not in run.stderr
