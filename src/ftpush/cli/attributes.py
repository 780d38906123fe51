"""``ftpush attribute``: declared profile attributes of an app."""

from __future__ import annotations

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.storage import attributes


@click.group("attribute")
def command() -> None:
    """Profile attributes and their types."""


@command.command("add")
@click.option("--app", "app_key", required=True)
@click.argument("name")
@click.argument("type_", metavar="TYPE")
@pass_cli
def add(obj: CliContext, app_key: str, name: str, type_: str) -> None:
    """Declare attribute NAME of TYPE.

    TYPE is one of: string, integer, number, boolean, date, datetime, or an
    array of one of these (string[], integer[], ...).
    """
    with obj.session() as session:
        definition = attributes.declare_attribute(session, app_key=app_key, name=name, type_=type_)
        shown = (definition.name, str(definition.type))
    click.echo(f"attribute {shown[0]} of {app_key} is {shown[1]}")


@command.command("list")
@click.option("--app", "app_key", required=True)
@json_option
@pass_cli
def list_(obj: CliContext, app_key: str, as_json: bool) -> None:
    """List the app's attributes."""
    with obj.session() as session:
        rows = [
            {"name": a.name, "type": str(a.type)}
            for a in attributes.list_attributes(session, app_key)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["name", "type"])
