"""The dashboard's pages: one module per page, each exposing ``render() -> None``.

dashboard.py registers them with ``st.navigation``; :func:`allowed_pages` says which ones an
account's role may open (the others are hidden from its menu and refused by URL). A page reads the
account with :func:`views.session.current_account` and checks ``records.access.can`` itself for
the data it shows. Road closures are shown to every role (they are no secret and everyone plans
around them); only chiefs and admins (``manage_closures``) get the form that adds one.
"""

from __future__ import annotations

from records import access
from records.accounts import Account

#: The pages each role may open, in menu order (the map, at the root URL, is everyone's).
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "officer": ("my-sites", "map", "closures"),
    "chief": ("plan", "closures", "my-sites", "coverage", "map", "layers"),
    "manager": ("coverage", "map", "layers", "closures"),
    "admin": ("plan", "closures", "my-sites", "coverage", "map", "layers", "audit"),
}


def allowed_pages(account: Account) -> tuple[str, ...]:
    """The url paths of the pages ``account`` may open (none when disabled); a manager with the
    ``drilldown`` permission also gets My sites."""
    if account.disabled:
        return ()
    pages = ROLE_PAGES[account.role]
    if account.role == "manager" and access.can(account, "all_plans"):
        pages = ("coverage", "my-sites", "map", "layers", "closures")
    return pages
