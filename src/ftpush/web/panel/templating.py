"""The panel's Jinja2 environment: autoescaping on, undefined names are errors.

Templates live in ``web/panel/templates`` (one per page, ``base.html`` the layout,
``_forms.html`` the form macros); they only display what a page module hands them.

Example::

    >>> Templates([]).env.from_string("{{ s }}").render(s="<b>")
    '&lt;b&gt;'
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Section:
    """A per-app page in the app navigation: ``/apps/{key}/{slug}``."""

    slug: str
    title: str


def when(value: dt.datetime | None, timezone: str = "UTC") -> str:
    """A timestamp in the app's timezone, minutes precision; an em dash when None."""
    if value is None:
        return "—"
    local = value.astimezone(zoneinfo.ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)


class Templates:
    def __init__(self, sections: Sequence[Section]) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = when
        self.env.globals["sections"] = tuple(sections)

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)
