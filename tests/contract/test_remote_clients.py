"""One suite, every RemoteClient: the fake, SFTP (key, password) to OpenSSH, FTPS and FTP to vsftpd.

What a caller may rely on, whatever the protocol: listing, streaming transfers,
replace-on-rename, idempotent deletes and folders, whole-or-nothing delivery,
the connection test, and failures named by stage without a secret in the text.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from ftpush.errors import RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote.base import RemoteClient, deliver, probe
from ftpush.remote.keys import generate_key_pair
from tests.contract.conftest import Impl, chown_to

MB = 1024 * 1024


def run(impl: Impl, body: Callable[[RemoteClient], Awaitable[Any]]) -> Any:
    """Open a session on ``impl`` and run ``body`` in it."""
    return asyncio.run(run_async(impl, body))


async def run_async(impl: Impl, body: Callable[[RemoteClient], Awaitable[Any]]) -> Any:
    async with impl.open() as client:
        return await body(client)


def failure(coro: Coroutine[Any, Any, Any]) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        asyncio.run(coro)
    return info.value


def connect_failure(impl: Impl, **changes: object) -> RemoteError:
    async def main() -> None:
        async with impl.open(impl.with_(**changes), timeout=5):
            pass

    return failure(main())


def put(impl: Impl, name: str, data: bytes) -> Path:
    path = impl.local(name)
    path.write_bytes(data)
    chown_to(path, impl.local_root)
    return path


# -- listing and metadata ------------------------------------------------------------


def test_list_shows_files_and_folders_with_sizes_and_times(impl: Impl) -> None:
    put(impl, "a.csv", b"12345")
    impl.local("sub").mkdir()
    chown_to(impl.local("sub"), impl.local_root)
    put(impl, ".hidden", b"x")

    entries = run(impl, lambda c: c.list(impl.workdir))

    assert [(e.name, e.is_dir) for e in entries] == [
        (".hidden", False),
        ("a.csv", False),
        ("sub", True),
    ]
    assert entries[1].size == 5
    assert abs(entries[1].mtime - time.time()) < 300  # LIST times are per minute


def test_list_of_a_missing_folder_fails(impl: Impl) -> None:
    err = failure(run_async(impl, lambda c: c.list(impl.remote("nope"))))
    assert err.stage == "transfer"


def test_stat_and_size(impl: Impl) -> None:
    put(impl, "f.bin", b"x" * 1000)
    impl.local("d").mkdir()

    async def body(c: RemoteClient) -> None:
        entry = await c.stat(impl.remote("f.bin"))
        assert entry is not None
        assert (entry.name, entry.size, entry.is_dir) == ("f.bin", 1000, False)
        assert abs(entry.mtime - impl.local("f.bin").stat().st_mtime) < 2
        folder = await c.stat(impl.remote("d"))
        assert folder is not None
        assert folder.is_dir
        assert await c.stat(impl.remote("missing")) is None
        assert await c.size(impl.remote("f.bin")) == 1000
        for path in (impl.remote("missing"), impl.remote("d")):
            with pytest.raises(RemoteError) as info:
                await c.size(path)
            assert info.value.stage == "transfer"

    run(impl, body)


# -- transfers -------------------------------------------------------------------------


def test_upload_and_download_a_multi_megabyte_file(impl: Impl, tmp_path: Path) -> None:
    data = os.urandom(3 * MB + 12345)
    source, back = tmp_path / "source.bin", tmp_path / "back.bin"
    source.write_bytes(data)

    async def body(c: RemoteClient) -> None:
        assert await c.upload(source, impl.remote("big.bin")) == len(data)
        assert await c.download(impl.remote("big.bin"), back) == len(data)

    run(impl, body)
    assert hashlib.sha256(impl.local("big.bin").read_bytes()).digest() == (
        hashlib.sha256(data).digest()
    )
    assert back.read_bytes() == data


def test_upload_replaces_an_existing_file(impl: Impl, tmp_path: Path) -> None:
    put(impl, "f.txt", b"old content, longer than the new one")
    (tmp_path / "new").write_bytes(b"new")
    run(impl, lambda c: c.upload(tmp_path / "new", impl.remote("f.txt")))
    assert impl.local("f.txt").read_bytes() == b"new"


def test_download_of_a_missing_file_fails_and_leaves_nothing(impl: Impl, tmp_path: Path) -> None:
    err = failure(run_async(impl, lambda c: c.download(impl.remote("nope"), tmp_path / "x")))
    assert err.stage == "transfer"
    assert not (tmp_path / "x").exists()


def test_empty_file_round_trip(impl: Impl, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")

    async def body(c: RemoteClient) -> None:
        await c.upload(tmp_path / "empty", impl.remote("empty"))
        assert await c.size(impl.remote("empty")) == 0
        await c.download(impl.remote("empty"), tmp_path / "back")

    run(impl, body)
    assert (tmp_path / "back").read_bytes() == b""


# -- rename, delete, mkdir --------------------------------------------------------------


def test_rename_moves_and_replaces_the_target(impl: Impl) -> None:
    put(impl, "a", b"aaa")
    put(impl, "b", b"old b")
    impl.local("into").mkdir()
    chown_to(impl.local("into"), impl.local_root)

    async def body(c: RemoteClient) -> None:
        await c.rename(impl.remote("a"), impl.remote("b"))
        await c.rename(impl.remote("b"), impl.remote("into", "c"))

    run(impl, body)
    assert not impl.local("a").exists()
    assert not impl.local("b").exists()
    assert impl.local("into", "c").read_bytes() == b"aaa"


def test_rename_of_a_missing_file_fails(impl: Impl) -> None:
    err = failure(run_async(impl, lambda c: c.rename(impl.remote("nope"), impl.remote("x"))))
    assert err.stage == "transfer"


def test_delete_and_missing_ok(impl: Impl) -> None:
    put(impl, "gone", b"x")

    async def body(c: RemoteClient) -> None:
        await c.delete(impl.remote("gone"))
        await c.delete(impl.remote("gone"), missing_ok=True)
        with pytest.raises(RemoteError) as info:
            await c.delete(impl.remote("gone"))
        assert info.value.stage == "transfer"

    run(impl, body)
    assert not impl.local("gone").exists()


def test_mkdir_is_idempotent_and_refuses_conflicts(impl: Impl) -> None:
    put(impl, "file", b"x")

    async def body(c: RemoteClient) -> None:
        await c.mkdir(impl.remote("new"))
        await c.mkdir(impl.remote("new"), exist_ok=True)
        for path, exist_ok in ((impl.remote("new"), False), (impl.remote("file"), True)):
            with pytest.raises(RemoteError) as info:
                await c.mkdir(path, exist_ok=exist_ok)
            assert info.value.stage == "transfer"
            assert "already exists" in info.value.message

    run(impl, body)
    assert impl.local("new").is_dir()


# -- deliver and probe ---------------------------------------------------------------------


class Watch:
    """Wraps a client: records, after every call, whether the final file is there."""

    def __init__(self, inner: RemoteClient, final: Path, **hooks: Callable[..., Any]) -> None:
        self.inner, self.final, self.hooks = inner, final, hooks
        self.seen: list[tuple[str, int | None]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if name in self.hooks:
                self.hooks[name](*args)
            result = await method(*args, **kwargs)
            size = self.final.stat().st_size if self.final.exists() else None
            self.seen.append((name, size))
            return result

        return call


def test_deliver_puts_the_file_whole_under_its_final_name(impl: Impl, tmp_path: Path) -> None:
    data = os.urandom(2 * MB)
    (tmp_path / "report.csv").write_bytes(data)
    final = impl.local("acme_EVENTS_20250101.csv")

    async def body(c: RemoteClient) -> Any:
        watch = Watch(c, final)
        receipt = await deliver(watch, tmp_path / "report.csv", impl.workdir, final.name)  # type: ignore[arg-type]
        return receipt, watch.seen

    receipt, seen = run(impl, body)
    assert receipt.remote_path == impl.remote(final.name)
    assert (receipt.size, receipt.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert final.read_bytes() == data
    ops = [op for op, _ in seen]
    assert ops.index("rename") > ops.index("upload")
    # Before the rename the final name never existed; after it, only whole.
    assert all(size is None for op, size in seen[: ops.index("rename")])
    assert all(size == len(data) for op, size in seen[ops.index("rename") :])
    assert sorted(p.name for p in impl.local_root.iterdir()) == [final.name]


def test_deliver_replaces_an_earlier_delivery(impl: Impl, tmp_path: Path) -> None:
    put(impl, "r.csv", b"an older, longer report")
    (tmp_path / "r.csv").write_bytes(b"new")
    run(impl, lambda c: deliver(c, tmp_path / "r.csv", impl.workdir, "r.csv"))
    assert impl.local("r.csv").read_bytes() == b"new"


def test_deliver_refuses_a_short_upload_and_cleans_up(impl: Impl, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes(b"0123456789")
    temp = impl.local(".r.csv.part")

    async def body(c: RemoteClient) -> None:
        watch = Watch(c, impl.local("r.csv"), size=lambda path: _truncate(temp, path))
        await deliver(watch, tmp_path / "r.csv", impl.workdir, "r.csv")  # type: ignore[arg-type]

    err = failure(run_async(impl, body))
    assert err.stage == "transfer"
    assert "size check failed" in err.message
    assert list(impl.local_root.iterdir()) == []  # no final name, no temp file


def _truncate(temp: Path, path: str) -> None:
    if path.endswith(".part") and temp.exists():  # a server that lost the tail
        with temp.open("r+b") as fh:
            fh.truncate(4)


def test_deliver_failure_removes_the_temp_file(impl: Impl, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes(b"data")

    def refuse(*_args: object) -> None:
        raise RemoteError("rename refused", stage="permission")

    async def body(c: RemoteClient) -> None:
        watch = Watch(c, impl.local("r.csv"), rename=refuse)
        await deliver(watch, tmp_path / "r.csv", impl.workdir, "r.csv")  # type: ignore[arg-type]

    assert failure(run_async(impl, body)).stage == "permission"
    assert list(impl.local_root.iterdir()) == []


def test_probe_writes_and_deletes_a_file(impl: Impl) -> None:
    put(impl, "existing", b"x")
    result = run(impl, lambda c: probe(c, impl.workdir))
    assert result.entries == 1
    assert result.probe_name.startswith(".ftpush-probe-")
    assert [p.name for p in impl.local_root.iterdir()] == ["existing"]


# -- failures, by stage --------------------------------------------------------------------


def test_wrong_port_is_tcp(impl: Impl) -> None:
    err = connect_failure(impl, port=1)
    assert err.stage == "tcp"
    assert "refused" in err.message


def test_unknown_host_is_dns(impl: Impl) -> None:
    err = connect_failure(impl, host="no-such-host.invalid")
    assert err.stage == "dns"
    assert "no-such-host.invalid" in err.message


def test_bad_credentials_are_auth(impl: Impl) -> None:
    if impl.uses_password:
        err = connect_failure(impl, password="wrong-" + (impl.target.password or ""))
    else:
        other_key, _public = generate_key_pair()
        err = connect_failure(impl, private_key=other_key)
    assert err.stage == "auth"
    assert impl.target.username in err.message


def test_a_wrong_pinned_host_key_is_host_key(impl: Impl) -> None:
    if impl.protocol is RemoteProtocol.FTP:
        pytest.skip("plain FTP has no server identity to pin")
    if impl.protocol is RemoteProtocol.SFTP:
        err = connect_failure(impl, host_key_fingerprint="SHA256:" + "A" * 43)
        expected = "SHA256:AAAA"
    else:
        err = connect_failure(impl, tls_cert_fingerprint="AB" * 32)
        expected = "AB:AB:AB"
    assert err.stage == "host_key"
    assert "mismatch" in err.message
    assert expected in err.message  # what we expected, and what was offered
    offered = impl.target.host_key_fingerprint or impl.target.tls_cert_fingerprint
    assert offered is not None
    assert offered in err.message


def test_read_only_folder_is_permission(impl: Impl, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    put(impl, "movable", b"m")
    impl.local("ro").mkdir()
    put(impl, "ro/inside", b"i")
    impl.read_only(impl.local("ro"))

    async def body(c: RemoteClient) -> list[RemoteError]:
        errors = []
        for call in (
            lambda: c.upload(tmp_path / "f", impl.remote("ro", "new")),
            lambda: c.mkdir(impl.remote("ro", "sub")),
            lambda: c.delete(impl.remote("ro", "inside")),
            lambda: c.rename(impl.remote("movable"), impl.remote("ro", "moved")),
        ):
            with pytest.raises(RemoteError) as info:
                await call()
            errors.append(info.value)
        return errors

    errors = run(impl, body)
    assert [e.stage for e in errors] == ["permission"] * 4, [e.message for e in errors]
    assert sorted(p.name for p in impl.local("ro").iterdir()) == ["inside"]


def test_no_secret_appears_in_any_error(impl: Impl, tmp_path: Path) -> None:
    impl.local("ro").mkdir()
    impl.read_only(impl.local("ro"))
    (tmp_path / "f").write_bytes(b"x")
    wrong_login: dict[str, object] = (
        {"password": "wrong-secret-value"}
        if impl.uses_password
        else {"private_key": generate_key_pair()[0]}
    )
    messages = [
        connect_failure(impl, port=1).message,
        connect_failure(impl, **wrong_login).message,
        failure(
            run_async(impl, lambda c: c.upload(tmp_path / "f", impl.remote("ro", "x")))
        ).message,
        failure(run_async(impl, lambda c: c.download(impl.remote("nope"), tmp_path / "g"))).message,
    ]
    secrets = [s for s in impl.target.secrets if s] + ["wrong-secret-value"]
    for message in messages:
        for secret in secrets:
            for line in secret.splitlines():
                if len(line) >= 8:
                    assert line not in message
