"""``/apps/{key}/attributes``: the app's declared profile attributes (SPEC §4) and a form
to declare one more.

Declaring goes through :func:`ftpush.storage.attributes.declare_attribute`, as
``PUT /api/v1/attributes`` and ``ftpush attribute add`` do: a new name is added, the same
name and type again changes nothing, and a type changes only while no user has a value
for it (otherwise the error says so, next to the type).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import Conflict, InvalidInput
from ftpush.models import AttributeType, normalize_column_name
from ftpush.storage import attributes
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database
from ftpush.web.panel.templating import Section

SECTION = Section("attributes", "Attributes")

router = page_router()

FormText = Annotated[str, Form()]

# How a value of each type is written in a profile file (SPEC §4), for the form's help.
EXAMPLES = {
    AttributeType.STRING: '"gold"',
    AttributeType.INTEGER: "25",
    AttributeType.NUMBER: "4.5",
    AttributeType.BOOLEAN: "true",
    AttributeType.DATE: "2024-05-01",
    AttributeType.DATETIME: "2024-05-01T10:00:00+03:00",
    AttributeType.STRING_ARRAY: '["a","b"]',
    AttributeType.INTEGER_ARRAY: "[1,2]",
    AttributeType.NUMBER_ARRAY: "[1.5,2]",
    AttributeType.BOOLEAN_ARRAY: "[true,false]",
    AttributeType.DATE_ARRAY: '["2024-05-01"]',
    AttributeType.DATETIME_ARRAY: '["2024-05-01T10:00:00Z"]',
}
TYPES = [(str(t), EXAMPLES[t]) for t in AttributeType]


def _attributes_page(
    request: Request, app: AppView, *, status: int = 200, **context: Any
) -> Response:
    with database(request).read() as session:
        declared = [
            {"name": a.name, "type": str(a.type), "created_at": a.created_at}
            for a in attributes.list_attributes(session, app.key)
        ]
    values: dict[str, Any] = {"form": {"name": "", "type": ""}}
    values.update(context)
    values["field_errors"] = {"name": None, "type": None, **context.get("field_errors", {})}
    return page(
        request, "attributes.html", status=status, title=f"Attributes · {app.key}", app=app,
        section="attributes", attributes=declared, types=TYPES, **values,
    )  # fmt: skip


@router.get("/apps/{key}/attributes")
def list_attributes(request: Request, viewer: LoggedIn, app: ScopedApp) -> Response:
    return _attributes_page(request, app)


@router.post("/apps/{key}/attributes")
def declare_attribute(
    request: Request,
    _: Posted,
    app: ScopedApp,
    name: FormText = "",
    type_: Annotated[str, Form(alias="type")] = "",
) -> Response:
    name, type_ = name.strip(), type_.strip()
    form = {"name": name, "type": type_}
    if not name:
        return _attributes_page(
            request, app, status=422, form=form,
            field_errors={"name": "Give the attribute a name."},
        )  # fmt: skip
    if not type_:
        return _attributes_page(
            request, app, status=422, form=form, field_errors={"type": "Choose a type."}
        )
    try:
        with database(request).transaction() as session:
            before = {
                normalize_column_name(n): (n, str(t))
                for n, t in attributes.attribute_types(session, app.key).items()
            }
            made = attributes.declare_attribute(session, app_key=app.key, name=name, type_=type_)
            shown, now = made.name, str(made.type)
    except InvalidInput as exc:
        field = exc.field if exc.field in ("name", "type") else "name"
        return _attributes_page(
            request, app, status=422, form=form, field_errors={field: exc.message}
        )
    except Conflict as exc:
        return _attributes_page(
            request, app, status=409, form=form, field_errors={"type": exc.message}
        )
    was = before.get(normalize_column_name(name))
    if was is None:
        flash(request, "success", f"Attribute {shown} declared as {now}.")
    elif was[1] == now:
        flash(request, "info", f"{shown} was already declared as {now}; nothing changed.")
    else:
        flash(request, "success", f"{shown} is now {now} (was {was[1]}); no user had a value.")
    return redirect(f"/apps/{app.key}/attributes")
