"""The panel's pages, registered here and nowhere else.

Each page is one module (its routes, made with ``routing.page_router``) and one
template. A per-app page also declares ``SECTION`` and is listed in
:data:`APP_SECTIONS`, which is the app navigation, in order; a per-app page for admins
only (Members) is in :data:`ADMIN_PAGES` instead, out of the navigation members see.
To add a page: write ``pages/<name>.py`` and ``templates/<name>.html``, then add the
module below.
"""

from __future__ import annotations

from fastapi import APIRouter

from ftpush.web.panel.pages import (
    accounts,
    api_keys,
    apps,
    attributes,
    campaigns,
    exports,
    imports,
    members,
    session,
    users,
)
from ftpush.web.panel.templating import Section

PAGES = (session, apps, accounts, imports, attributes, exports, campaigns, users, api_keys)
ADMIN_PAGES = (members,)  # per app, for admins only: linked from the apps list
APP_SECTIONS: tuple[Section, ...] = (
    accounts.SECTION,
    imports.SECTION,
    attributes.SECTION,
    exports.SECTION,
    campaigns.SECTION,
    users.SECTION,
    api_keys.SECTION,
)


def routers() -> list[APIRouter]:
    return [module.router for module in (*PAGES, *ADMIN_PAGES)]
