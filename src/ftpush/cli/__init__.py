"""The ``ftpush`` command: the one place where objects are wired together.

Every subcommand lives in its own module of this package and receives a
:class:`~ftpush.cli.context.CliContext`. Errors from the :mod:`ftpush.errors`
tree become one line on stderr and exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from ftpush import __version__
from ftpush.cli import (
    accounts,
    admin,
    apps,
    attributes,
    campaigns,
    config_cmd,
    db,
    exports,
    imports,
    pull,
    serve,
    users,
    worker,
)
from ftpush.cli.context import CliContext
from ftpush.config import load_settings
from ftpush.errors import FtpushError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FTPUSH_DATA_DIR",
    show_envvar=True,
    help="Where ftpush keeps everything (default ./ftpush-data).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FTPUSH_CONFIG",
    show_envvar=True,
    help="TOML settings file (default <data dir>/ftpush.toml when it exists).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.version_option(__version__, prog_name="ftpush")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_file: Path | None, debug: bool) -> None:
    """ftpush: a self-hosted SFTP/FTPS file gateway for push notifications."""
    ctx.meta["debug"] = debug
    settings = load_settings(config_file=config_file, data_dir=data_dir)
    obj = CliContext(settings)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _register() -> None:
    for module in (
        accounts,
        admin,
        apps,
        attributes,
        campaigns,
        config_cmd,
        db,
        exports,
        imports,
        pull,
        serve,
        worker,
    ):
        cli.add_command(module.command)
    cli.add_command(imports.import_file)
    cli.add_command(users.device_command)
    cli.add_command(users.user_command)
    try:
        validate = importlib.import_module("ftpush.cli.validate")
    except ImportError:  # pragma: no cover - the formats work lands separately
        return
    cli.add_command(validate.validate)


_register()


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0911 - one exit per outcome
    """Run the CLI; returns the exit status instead of raising SystemExit."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead of raising.
        result = cli.main(args=argv, prog_name="ftpush", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except FtpushError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"internal error: {exc.__class__.__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        return 70
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
