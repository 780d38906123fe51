"""``ftpush config``: the effective settings."""

from __future__ import annotations

import click

from ftpush.cli.context import CliContext, emit_json, json_option, pass_cli
from ftpush.config import describe_settings, field_docs


@click.group("config")
def command() -> None:
    """Settings."""


@command.command("show")
@json_option
@click.option("--docs", is_flag=True, help="List every setting with its default and meaning.")
@pass_cli
def show(obj: CliContext, as_json: bool, docs: bool) -> None:
    """Print the effective settings, secrets masked."""
    if docs:
        for name, default, description in field_docs():
            click.echo(f"{name} (default {default})\n    {description}")
        return
    data = describe_settings(obj.settings)
    if as_json:
        emit_json(data)
        return
    for section, value in data.items():
        if isinstance(value, dict):
            click.echo(f"[{section}]")
            for key, item in value.items():
                click.echo(f"  {key} = {item!r}")
        else:
            click.echo(f"{section} = {value!r}")
