"""``ftpush worker``: the task workers, the sweeper and the nightly exports (scale-out)."""

from __future__ import annotations

import click

from ftpush import __version__, logs
from ftpush.cli.context import CliContext, pass_cli
from ftpush.cli.serve import Service, run_services
from ftpush.jobs.nightly import NightlyExports
from ftpush.jobs.runtime import JobRuntime, Sweeper, WorkerService


@click.command("worker")
@click.option(
    "--threads", type=click.IntRange(1, 64), help="Worker threads (default queue.workers)."
)
@click.option(
    "--drain",
    is_flag=True,
    help="Run what is due now (queued tasks and unfinished work found in the ledger), then exit.",
)
@pass_cli
def command(obj: CliContext, threads: int | None, drain: bool) -> None:
    """Run task workers against the shared database and queue, until SIGINT/SIGTERM."""
    settings = obj.settings
    logs.configure(settings.log_level)
    runtime = JobRuntime(settings, obj.db)
    if drain:
        Sweeper(obj.db, runtime.queue).sweep()
        try:
            done = runtime.queue.run_pending()
        finally:
            runtime.close()
        click.echo(f"ran {done} tasks")
        return
    services: list[Service] = [
        WorkerService(runtime, threads or settings.queue.workers),
        Sweeper(obj.db, runtime.queue, interval=settings.queue.sweep_seconds),
        NightlyExports(settings, obj.db),
    ]
    run_services(settings, services, [f"ftpush {__version__} worker"])
