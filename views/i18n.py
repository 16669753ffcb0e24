"""Chinese / English user-interface text.

Each page module keeps its own strings next to its code and registers them once at import::

    T = register({"plan.title": ("周巡护计划", "Plan the week"), ...})
    st.header(T("plan.title"))

Place names stay as they are in the data (Chinese); only interface text is translated.
The language lives in ``st.session_state["lang"]`` ("zh" or "en"); Chinese is the default,
as in the offices that use the tool.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
_STRINGS: dict[str, tuple[str, str]] = {}


def register(strings: dict[str, tuple[str, str]]) -> Callable[..., str]:
    """Add ``key -> (中文, English)`` pairs and return the translate function.

    A key registered twice with different text is a programming error (two pages would fight
    over one label), so it raises instead of silently keeping one of them.
    """
    for key, pair in strings.items():
        if key in _STRINGS and _STRINGS[key] != pair:
            raise ValueError(f"i18n key {key!r} registered twice with different text")
        _STRINGS[key] = pair
    return translate


def language() -> str:
    """The current session's language code."""
    return st.session_state.get("lang", DEFAULT_LANGUAGE)


def language_key(key: str) -> str:
    """A widget key that changes with the language, for widgets whose options are translated labels.

    Streamlit keeps a keyed widget's choice as its label; after a language switch that label is not
    among the options any more, so such a widget must start afresh in the new language.
    """
    return f"{key}.{language()}"


def translate(key: str, **values: object) -> str:
    """The text for ``key`` in the session's language, formatted with ``values``."""
    zh, en = _STRINGS[key]
    text = zh if language() == "zh" else en
    return text.format(**values) if values else text


register({"i18n.choose": ("请选择", "Choose options")})


def choose() -> str:
    """The placeholder of an empty multiselect in the session's language (Streamlit's own is English)."""
    return translate("i18n.choose")


#: Chosen options of a multiselect sit on one line that scrolls sideways, so a third Chinese
#: label was cut off: let them wrap onto more lines instead.
CHIP_CSS = """<style>
[data-testid="stMultiSelectTagsContainer"]{flex-wrap:wrap;overflow:visible;row-gap:2px;height:auto}
[data-testid="stMultiSelect"] div:has(> [data-testid="stMultiSelectTagsContainer"]),
[data-testid="stMultiSelect"] div:has(> div > [data-testid="stMultiSelectTagsContainer"]){height:auto;max-height:none}
</style>"""


def uploader_css(max_upload_mb: int) -> str:
    """Chinese text for Streamlit's file uploader, which has no translation of its own: the
    button's "Upload" and the "200MB per file • JSON" line are drawn over through CSS (the English
    stays in the page for screen readers; the uploader's label names the file types)."""
    button = '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p'
    limit = '[data-testid="stFileUploaderDropzoneInstructions"] span'
    return (
        f"<style>{button},{limit}{{font-size:0}}"
        f'{button}::after{{content:"选择文件";font-size:0.875rem}}'
        f'{limit}::before{{content:"每个文件不超过 {max_upload_mb} MB";font-size:0.875rem}}</style>'
    )


def language_picker() -> None:
    """A compact language switch (put it in the sidebar); it also lets translated chips wrap
    (:data:`CHIP_CSS`) and, in Chinese, puts the file uploaders' text in Chinese
    (:func:`uploader_css`), on every page the picker is on."""
    st.html(CHIP_CSS)
    st.radio(
        "语言 / Language",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        horizontal=True,
        key="lang",
    )
    if language() == "zh":
        st.html(uploader_css(int(st.get_option("server.maxUploadSize"))))
