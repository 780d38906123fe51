"""``ftpush serve``: every server of ftpush in one process, until SIGINT/SIGTERM.

A service is anything with ``name``, ``endpoints``, ``async start()`` and
``async stop()``; the supervisor starts them in order, prints where each
listens, waits for a signal (or a service failing) and stops them in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

import click

from ftpush import __version__, datadir, logs
from ftpush.cli.context import CliContext, pass_cli
from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import ConfigError
from ftpush.intake.access import Gatekeeper
from ftpush.intake.ftp import FtpService
from ftpush.intake.poller import Poller
from ftpush.intake.reprocess import reprocess
from ftpush.intake.sftp import SftpService
from ftpush.intake.spool import Origin, Spool
from ftpush.jobs.housekeeping import Housekeeping
from ftpush.jobs.nightly import NightlyExports
from ftpush.jobs.runtime import JobRuntime, Sweeper, WorkerService
from ftpush.models import ImportSource
from ftpush.storage import Database
from ftpush.web import create_app
from ftpush.web.server import WebServer
from ftpush.web.services import FileReceiver, Reprocess, Reprocessor, Upload

log = logging.getLogger("ftpush.serve")


class Service(Protocol):
    name: str

    @property
    def endpoints(self) -> list[str]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def with_overrides(
    settings: Settings,
    host: str | None,
    http_port: int | None,
    sftp_port: int | None,
    ftp_port: int | None,
) -> Settings:
    """Apply ``serve``'s flags on top of the loaded settings."""

    def section(current: object, **changes: object) -> object:
        values = {k: v for k, v in changes.items() if v is not None}
        return current.model_copy(update=values) if values else current  # type: ignore[attr-defined]

    return settings.model_copy(
        update={
            "web": section(settings.web, host=host, port=http_port),
            "sftp": section(settings.sftp, host=host, port=sftp_port),
            "ftp": section(settings.ftp, host=host, port=ftp_port),
        }
    )


def upload_receiver(spool: Spool) -> FileReceiver:
    """``POST /api/v1/imports`` → the spool (web may not import intake: wired here)."""

    def receive(upload: Upload) -> int:
        origin = Origin(
            upload.app_id, upload.app_key, ImportSource.API, upload.received_by, upload.remote_addr
        )
        return spool.receive(origin, upload.folder, upload.name, upload.source)

    return receive


def reprocessor(spool: Spool) -> Reprocessor:
    """``POST …/imports/{id}/reprocess`` (API and panel) → the spool (decision 0902)."""

    def reprocess_import(order: Reprocess) -> int:
        return reprocess(
            spool, order.import_id, app_id=order.app_id, forced_by=order.forced_by,
            remote_addr=order.remote_addr,
        )  # fmt: skip

    return reprocess_import


def loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``event_loop`` asks for; None means asyncio's default."""
    if settings.event_loop == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 - optional: not on every platform
    except ImportError:
        if settings.event_loop == "uvloop":
            raise ConfigError("event_loop = uvloop, but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_services(settings: Settings, services: list[Service], banner: list[str]) -> None:
    """Run the services on the configured event loop until SIGINT/SIGTERM."""
    with asyncio.Runner(loop_factory=loop_factory(settings)) as runner:
        loop = type(runner.get_loop()).__module__.split(".")[0]
        runner.run(supervise(services, [*banner, f"  loop     {loop}"]))


async def supervise(services: list[Service], banner: list[str]) -> None:
    """Start ``services``, print the banner and endpoints, run until told to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        for line in banner:
            click.echo(line)
        for service in started:
            for endpoint in service.endpoints:
                click.echo(f"  {service.name:<8} {endpoint}")
        click.echo("ready; press Ctrl-C to stop", err=False)
        await stop.wait()
        click.echo("stopping...")
    finally:
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    click.echo("stopped")


@click.command("serve")
@click.option("--host", help="Address every server binds (default 127.0.0.1).")
@click.option("--http-port", type=click.IntRange(0, 65535), help="Web port (default 8080).")
@click.option("--sftp-port", type=click.IntRange(0, 65535), help="SFTP port (default 2222).")
@click.option("--ftp-port", type=click.IntRange(0, 65535), help="FTP/FTPS port (default 2121).")
@pass_cli
def command(
    obj: CliContext,
    host: str | None,
    http_port: int | None,
    sftp_port: int | None,
    ftp_port: int | None,
) -> None:
    """Run ftpush: SFTP and FTP(S) servers, pull mode, workers, web app and API."""
    settings = with_overrides(obj.settings, host, http_port, sftp_port, ftp_port)
    logs.configure(settings.log_level)
    info = datadir.prepare(settings)
    db = Database.open(settings)
    runtime = JobRuntime(settings, db)
    spool = Spool(settings, db, on_received=runtime.queue.enqueue_import)
    try:
        spool.recover()
        box = SecretBox.from_keys_dir(settings.keys_dir)
        gate = Gatekeeper(db, settings)

        web = create_app(
            settings, db=db, queue=runtime.queue, receive_upload=upload_receiver(spool),
            reprocess=reprocessor(spool),
        )  # fmt: skip
        services: list[Service] = [WebServer(web, settings.web.host, settings.web.port)]
        if settings.sftp.enabled:
            services.append(SftpService(settings, gate, spool, info.ssh_host_key))
        if settings.ftp.enabled:
            services.append(FtpService(settings, gate, spool, info.tls_cert, info.tls_key))
        services += [
            Poller(settings, db, spool, box),
            WorkerService(runtime, settings.queue.workers),
            Sweeper(db, runtime.queue, interval=settings.queue.sweep_seconds),
            Housekeeping(settings),
            NightlyExports(settings, db),
        ]
        banner = [
            f"ftpush {__version__} ({settings.profile} profile)",
            f"  data     {info.root}",
            f"  database {db.dialect}",
            f"  ssh host key {info.ssh_host_public.split()[0]} in {info.ssh_host_key}",
            f"  tls certificate {info.tls_cert}",
        ]
        run_services(settings, services, banner)
    finally:
        spool.close()
        db.close()
