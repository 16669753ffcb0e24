"""What ``streamlit run app.py`` serves: the dashboard (``dashboard.py``) plus the login cookie's routes.

Streamlit 1.67 serves an ``st.App`` found in the file it is given, with extra Starlette routes next
to its own. The two routes of :mod:`views.session_cookie` set and clear the HttpOnly cookie that
keeps a login over a reload; ``streamlit run dashboard.py`` still works, but then a reload logs out.
This module is imported before Streamlit's runtime exists, so it imports nothing but those routes.
"""

import streamlit as st

from views.session_cookie import session_routes

app = st.App("dashboard.py", routes=session_routes())
