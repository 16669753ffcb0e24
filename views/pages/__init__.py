"""The dashboard's pages: one module per page, each exposing ``render() -> None``.

dashboard.py registers them with ``st.navigation`` according to the account's role; a page reads
the account with :func:`views.session.current_account` and checks ``records.access.can`` itself.
"""
