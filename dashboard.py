"""XunHu 巡护 dashboard: the shell around the pages (login, navigation by role, footer).

Run with ``streamlit run app.py`` (see README). The shell only decides who is logged in and
which pages they may open; each page lives in ``views/pages/`` and checks ``records.access``
itself for the data it shows. Every page is registered with ``st.navigation`` so that a direct URL
resolves; the pages the role may not open are hidden from the menu and refused (and audited) when
asked for by URL. Officers land on My sites (their day's stops), everyone else on the map.

``app.py`` serves this script together with the HTTP routes of the login cookie, so that a reload
keeps the login (``streamlit run app.py``; see :mod:`views.session`).

On first start, when the records database does not exist yet, the prebuilt SIMULATED history
(data/demo/records_demo.sqlite.gz) is unpacked in its place: a second instead of minutes of
simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from records.accounts import (
    FAILURE_WINDOW,
    LOCKOUT,
    LOGIN_FAILED,
    LOGIN_THROTTLED,
    MAX_FAILED_ATTEMPTS,
    Account,
    AuthError,
    LoginThrottled,
    list_accounts,
)
from records.db import RecordsError, default_db_path
from simulation.snapshot import DEMO_SNAPSHOT, install_demo_snapshot
from views import data
from views.i18n import language_picker, register
from views.pages import (
    allowed_pages,
    audit_log,
    closures_page,
    coverage_page,
    layers_page,
    map_page,
    my_sites,
    plan_week,
)
from views.session import audit_refusal, cookie_scripts, log_in, log_out, pop_notice, resume_session

T = register(
    {
        # The English text is the core's own message; the core stays free of interface languages.
        "shell.login_failed": (
            "登录失败：用户名或密码错误。连续失败 {attempts} 次后账户将被锁定 {minutes} 分钟。",
            LOGIN_FAILED,
        ),
        "shell.login_throttled": (
            "最近 {minutes} 分钟内登录失败次数过多，登录已暂停，请稍后再试。",
            LOGIN_THROTTLED,
        ),
        "shell.tagline": (
            "新疆生态环境执法支队巡护计划与覆盖分析",
            "Patrol planning and coverage for environmental-enforcement detachments in Xinjiang.",
        ),
        "shell.page.map": ("地图", "Map"),
        "shell.page.my_sites": ("我的点位", "My sites"),
        "shell.page.plan": ("周计划", "Plan week"),
        "shell.page.closures": ("道路封闭", "Road closures"),
        "shell.page.coverage": ("覆盖情况", "Coverage"),
        "shell.page.layers": ("图层", "Layers"),
        "shell.page.audit": ("审计日志", "Audit log"),
        "shell.login": ("登录", "Log in"),
        "shell.username": ("用户名", "Username"),
        "shell.password": ("密码", "Password"),
        "shell.logout": ("退出登录", "Log out"),
        "shell.signed_in": ("{name}（{role}）", "{name} ({role})"),
        "shell.role.officer": ("执法队员", "officer"),
        "shell.role.chief": ("支队长", "chief"),
        "shell.role.manager": ("管理人员", "manager"),
        "shell.role.admin": ("管理员", "admin"),
        "shell.no_accounts": (
            "还没有任何账号。在服务器上创建第一个管理员：\n\n"
            "`python -m records create-admin --username 用户名`\n\n"
            "或者创建演示账号（每个角色一个，随机密码只在控制台显示一次）：\n\n"
            "`python -m records demo-accounts`",
            "No account exists yet. On the server, create the first admin:\n\n"
            "`python -m records create-admin --username NAME`\n\n"
            "or the demo accounts (one per role; their random passwords are printed once, on the "
            "console):\n\n`python -m records demo-accounts`",
        ),
        "shell.refused": ("您的账号不能打开此页面。", "Your account may not open this page."),
        "shell.simulated": (
            "此处显示的执法对象、检查记录和人员均为**模拟**演示数据（SIMULATED）；保护地边界为**近似**"
            "示意（APPROXIMATE），不是法定边界。",
            "Enforcement targets, inspection history and officers shown here are **SIMULATED** demo "
            "data. Protected-area shapes are **APPROXIMATE** placeholders, not legal boundaries.",
        ),
        "shell.attribution": ("数据来源：{text}", "Data: {text}"),
    }
)


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: where it lives and what it is called."""

    url_path: str
    render: Callable[[], None]
    title_key: str
    icon: str


PAGES = (
    PageSpec("map", map_page.render, "shell.page.map", ":material/map:"),
    PageSpec("my-sites", my_sites.render, "shell.page.my_sites", ":material/checklist:"),
    PageSpec("plan", plan_week.render, "shell.page.plan", ":material/route:"),
    PageSpec("closures", closures_page.render, "shell.page.closures", ":material/block:"),
    PageSpec("coverage", coverage_page.render, "shell.page.coverage", ":material/hexagon:"),
    PageSpec("layers", layers_page.render, "shell.page.layers", ":material/layers:"),
    PageSpec("audit", audit_log.render, "shell.page.audit", ":material/policy:"),
)


#: Below this width (Streamlit's own breakpoint for an "auto" sidebar) the sidebar covers the page.
NARROW_SCREEN_PX = 768
#: Streamlit folds the sidebar away after a menu choice only on devices whose user agent says
#: "mobile"; a phone in desktop mode or a narrow window keeps it open over the page. This closes it
#: on any narrow screen (installed once per page load; clicking its own collapse button keeps
#: Streamlit's state right).
CLOSE_SIDEBAR_SCRIPT = f"""<div style="display:none"></div><script>
if (!window.xunhuClosesSidebar) {{
  window.xunhuClosesSidebar = true;
  document.addEventListener("click", (event) => {{
    if (window.innerWidth >= {NARROW_SCREEN_PX} || !event.target.closest('[data-testid="stSidebarNav"] a')) return;
    setTimeout(() => {{
      const sidebar = document.querySelector('[data-testid="stSidebar"]');
      if (sidebar && sidebar.dataset.collapsed === "false") {{
        document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
      }}
    }}, 0);
  }}, true);
}}
</script>"""


def home_page(account: Account | None) -> str:
    """The page an account lands on: My sites (today's stops) for officers, else the map."""
    return "my-sites" if account is not None and account.role == "officer" else "map"


@st.cache_resource(show_spinner="Installing the demo history…")
def install_snapshot_once(db_path: str) -> bool:
    """Unpack the prebuilt demo history if the database ``db_path`` does not exist (once per process;
    a checkout without the snapshot starts with an empty database)."""
    return DEMO_SNAPSHOT.exists() and install_demo_snapshot(DEMO_SNAPSHOT, db_path)


def login_form() -> Account | None:
    """The login page (shown instead of any page while nobody is logged in); the account once it
    logged in."""
    st.title("XunHu 巡护")
    st.caption(T("shell.tagline"))
    notice = pop_notice()
    if notice:
        st.warning(notice)
    with data.records_store() as store:
        no_accounts = list_accounts(store).empty
    if no_accounts:
        st.info(T("shell.no_accounts"))
    with st.form("login"):
        username = st.text_input(T("shell.username"), key="login_username")
        password = st.text_input(T("shell.password"), type="password", key="login_password")
        submitted = st.form_submit_button(T("shell.login"))
    if not submitted:
        return None
    try:
        return log_in(username, password)
    except LoginThrottled:  # says nothing about the account, so it may say what happened
        st.error(T("shell.login_throttled", minutes=int(FAILURE_WINDOW.total_seconds() // 60)))
        return None
    except AuthError:  # one message for every failure, lockout included
        st.error(
            T(
                "shell.login_failed",
                attempts=MAX_FAILED_ATTEMPTS,
                minutes=int(LOCKOUT.total_seconds() // 60),
            )
        )
        return None
    except RecordsError as problem:
        st.error(str(problem))
        return None


def account_box(account: Account) -> None:
    """Who is logged in, and the logout button (sidebar)."""
    st.caption(
        T(
            "shell.signed_in",
            name=account.display_name or account.username,
            role=T(f"shell.role.{account.role}"),
        )
    )
    if st.button(T("shell.logout"), key="logout"):
        log_out()
        st.rerun()


def footer() -> None:
    """Attribution and the SIMULATED data note, on every page."""
    st.divider()
    st.caption(T("shell.simulated"))
    st.caption(T("shell.attribution", text=data.attribution_text()))


def main() -> None:
    """One run of the app."""
    # An explicit (emoji) page icon: otherwise the favicon follows the page's :material/...: icon,
    # which the browser fetches from fonts.gstatic.com, breaking offline use.
    st.set_page_config(page_title="XunHu 巡护", page_icon="🗺️", layout="wide")
    install_snapshot_once(str(default_db_path()))
    with st.sidebar:
        language_picker()
    account = resume_session()
    allowed = allowed_pages(account) if account is not None else ()
    home = home_page(account)
    pages = {
        spec.url_path: st.Page(
            spec.render,
            title=T(spec.title_key),
            icon=spec.icon,
            url_path=spec.url_path,
            default=spec.url_path == home,
            visibility="visible" if spec.url_path in allowed else "hidden",
        )
        for spec in PAGES
    }
    menu = [pages[path] for path in allowed] + [page for path, page in pages.items() if path not in allowed]
    page = st.navigation(menu, position="sidebar" if account is not None else "hidden")
    current = next(path for path, candidate in pages.items() if candidate is page)
    with st.sidebar:
        st.html(CLOSE_SIDEBAR_SCRIPT, unsafe_allow_javascript=True)
        cookie_scripts()
    if account is None:
        account = login_form()
        if account is not None:
            # The page a login form was shown on is the one asked for, unless it is just the app's
            # address (the map, while nobody is logged in): then the role's own page opens.
            if current == "map" and home_page(account) != "map":
                st.switch_page(pages[home_page(account)])
            st.rerun()
    else:
        with st.sidebar:
            account_box(account)
        if current in allowed:
            page.run()
        else:
            # Audited once per session and page, not at every rerun of the refused page.
            refused = st.session_state.setdefault("refused_pages", set())
            if (account.username, current) not in refused:
                audit_refusal(account, f"page:{current}", "page not open to the role")
                refused.add((account.username, current))
            st.error(T("shell.refused"))
    footer()


main()
