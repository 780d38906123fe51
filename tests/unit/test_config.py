from __future__ import annotations

from pathlib import Path

import pytest

from ftpush.config import describe_settings, field_docs, load_settings, mask_url
from ftpush.errors import ConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path, environ={})
    assert s.profile == "production"
    assert (s.web.port, s.sftp.port, s.ftp.port) == (8080, 2222, 2121)
    assert s.database_url() == f"sqlite:///{(tmp_path / 'ftpush.db').resolve()}"
    assert s.intake.max_file_bytes == 5 * 1024**3
    assert s.export.sends_per_day == 3


def test_environment_sets_nested_fields(tmp_path: Path) -> None:
    s = load_settings(
        data_dir=tmp_path,
        environ={
            "FTPUSH_WEB__PORT": "9000",
            "FTPUSH_DATABASE__URL": "postgresql://u:pw@db/x",
            "FTPUSH_INTAKE__BAN_EXEMPT": '["10.0.0.0/8"]',
            "FTPUSH_FTP__PASSIVE_PORTS": "[40000, 40010]",
            "FTPUSH_TEST_DATABASE_URL": "ignored: not a setting",
            "OTHER": "ignored",
        },
    )
    assert s.web.port == 9000
    assert s.database_url() == "postgresql://u:pw@db/x"
    assert s.intake.ban_exempt == ("10.0.0.0/8",)
    assert s.ftp.passive_ports == (40000, 40010)


def test_data_dir_from_environment(tmp_path: Path) -> None:
    s = load_settings(environ={"FTPUSH_DATA_DIR": str(tmp_path / "d")})
    assert s.data_dir == tmp_path / "d"


def test_toml_file_and_precedence(tmp_path: Path) -> None:
    (tmp_path / "ftpush.toml").write_text(
        '[web]\nport = 7000\nhost = "0.0.0.0"\n[push]\nbatch_size = 42\n'
    )
    # The file in the data directory is found by itself.
    s = load_settings(data_dir=tmp_path, environ={"FTPUSH_WEB__PORT": "7100"})
    assert s.web.port == 7100  # environment beats the file
    assert s.web.host == "0.0.0.0"
    assert s.push.batch_size == 42
    s = load_settings(data_dir=tmp_path, environ={"FTPUSH_WEB__PORT": "7100"}, web={"port": 1})
    assert s.web.port == 1  # explicit overrides beat both


def test_explicit_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text('log_level = "debug"\n')
    assert load_settings(config_file=cfg, environ={}).log_level == "debug"
    assert load_settings(environ={"FTPUSH_CONFIG": str(cfg)}).log_level == "debug"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"FTPUSH_WEB__PORT": "not-a-port"}, "web.port"),
        ({"FTPUSH_WEB__PROT": "1"}, "web.prot"),
        ({"FTPUSH_PROFILE": "staging"}, "profile"),
        ({"FTPUSH_WEB__SESSION_SECRET": "changeme"}, "web.session_secret"),
        ({"FTPUSH_WEB__SESSION_SECRET": "short-but-not-listed"}, "at least 32"),
        ({"FTPUSH_FTP__ALLOW_PLAIN": "true"}, "ftp.allow_plain"),
    ],
)
def test_bad_or_insecure_settings_are_refused(
    tmp_path: Path, environ: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match="invalid settings") as info:
        load_settings(data_dir=tmp_path, environ=environ)
    assert fragment in str(info.value)


def test_development_profile_tolerates_insecure_values(tmp_path: Path) -> None:
    s = load_settings(
        data_dir=tmp_path,
        environ={
            "FTPUSH_PROFILE": "development",
            "FTPUSH_WEB__SESSION_SECRET": "changeme",
            "FTPUSH_FTP__ALLOW_PLAIN": "true",
        },
    )
    assert s.ftp.allow_plain
    ok = load_settings(
        data_dir=tmp_path,
        environ={"FTPUSH_FTP__ALLOW_PLAIN": "true", "FTPUSH_FTP__ALLOW_PLAIN_IN_PRODUCTION": "1"},
    )
    assert ok.ftp.allow_plain


def test_unreadable_toml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[web\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})


def test_describe_masks_secrets(tmp_path: Path) -> None:
    secret = "s" * 40
    s = load_settings(
        data_dir=tmp_path,
        environ={
            "FTPUSH_WEB__SESSION_SECRET": secret,
            "FTPUSH_DATABASE__URL": "postgresql://user:hunter2@db/x",
            "FTPUSH_SMTP__PASSWORD": "smtp-pass",
        },
    )
    text = repr(describe_settings(s))
    assert secret not in text
    assert "hunter2" not in text
    assert "smtp-pass" not in text
    assert "postgresql://user:***@db/x" in text


def test_mask_url_leaves_passwordless_urls() -> None:
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert mask_url("redis://:pw@h/0") == "redis://:***@h/0"


def test_every_setting_is_documented() -> None:
    rows = field_docs()
    missing = [name for name, _default, doc in rows if not doc.strip()]
    assert not missing
    assert any(name == "database.url" for name, _, _ in rows)


def test_configuration_reference_is_current() -> None:
    from ftpush.cli.config_cmd import settings_reference

    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == settings_reference(), (
        "docs/configuration.md is stale: run `ftpush config docs > docs/configuration.md`"
    )
