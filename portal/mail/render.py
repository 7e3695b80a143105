"""Turning a campaign into per-recipient content: merge tags in a sandbox, CSS inlined once, tracking.

Merge tags use a Jinja SandboxedEnvironment that sees only the contact's own values (`email`, `phone` and
custom fields by key) plus the portal's links. Contact values are HTML-escaped in the HTML part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

import css_inline
from inscriptis import get_text
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'>\s]+)\2""", re.I)
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=True)

_html_env = SandboxedEnvironment(autoescape=True, undefined=Undefined)
_text_env = SandboxedEnvironment(autoescape=False, undefined=Undefined)
_check_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


class ContentError(ValueError):
    """The campaign content cannot be rendered; the message says where."""


def html_to_text(html: str) -> str:
    return get_text(html or "").strip() + "\n"


def inline_css(html: str) -> str:
    try:
        return _INLINER.inline(html)
    except ValueError as exc:  # css_inline refuses broken CSS; keep the author's HTML and tell them
        raise ContentError(f"the CSS could not be inlined: {exc}") from exc


def check_template(source: str, where: str) -> None:
    """Syntax check for the editor: a broken tag is reported with its line."""
    try:
        _check_env.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ContentError(f"{where}: {exc.message}" + (f" (line {line})" if line else "")) from exc


@dataclass
class Prepared:
    """A campaign ready to render for many recipients (built once per worker and campaign)."""

    subject: object
    html: object
    text: object
    links: list[str] = field(default_factory=list)


def prepare(subject: str, html: str, text: str, *, track_clicks: bool) -> Prepared:
    """Inline CSS, number the tracked links, compile the three templates."""
    links: list[str] = []
    body = inline_css(html) if html.strip() else ""
    if track_clicks:

        def tracked(match: re.Match) -> str:
            url = match.group(3)
            if "{{" in url or "{%" in url:
                return match.group(0)  # personalised URLs stay as written
            links.append(url.replace("&amp;", "&"))
            return f"{match.group(1)}{match.group(2)}{{{{ click_url({len(links) - 1}) }}}}{match.group(2)}"

        body = _HREF.sub(tracked, body)
    try:
        return Prepared(
            subject=_text_env.from_string(subject),
            html=_html_env.from_string(body),
            text=_text_env.from_string(text),
            links=links,
        )
    except TemplateError as exc:
        raise ContentError(f"merge tags: {exc.message}") from exc


@dataclass(frozen=True)
class Links:
    unsubscribe_url: str
    preferences_url: str
    view_url: str
    open_url: str | None
    click_base: str  # click URLs are click_base + "/" + link number


def render(prepared: Prepared, values: dict, links: Links) -> tuple[str, str, str]:
    """(subject, html, text) for one recipient."""
    context = {
        **values,
        "unsubscribe_url": links.unsubscribe_url,
        "preferences_url": links.preferences_url,
        "view_url": links.view_url,
        "click_url": lambda n: f"{links.click_base}/{n}",
    }
    subject = prepared.subject.render(context).replace("\r", " ").replace("\n", " ").strip()
    html = prepared.html.render(context) if prepared.html else ""
    text = prepared.text.render(context)
    if html:
        if links.unsubscribe_url not in html:
            html = _add_before_body_end(html, _footer_html(links))
        if links.open_url:
            pixel = f'<img src="{escape(links.open_url)}" width="1" height="1" alt="" style="display:block;border:0">'
            html = _add_before_body_end(html, pixel)
    if links.unsubscribe_url not in text:
        text = text.rstrip() + f"\n\n--\nUnsubscribe: {links.unsubscribe_url}\n"
    return subject, html, text


def _footer_html(links: Links) -> str:
    return (
        '<p style="font-size:12px;color:#6b7280;text-align:center;margin:24px 0">'
        f'<a href="{escape(links.unsubscribe_url)}" style="color:#6b7280">Unsubscribe</a> · '
        f'<a href="{escape(links.preferences_url)}" style="color:#6b7280">Preferences</a> · '
        f'<a href="{escape(links.view_url)}" style="color:#6b7280">View in browser</a></p>'
    )


_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)
_PREHEADER_STYLE = (
    "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;"
    "mso-hide:all;color:transparent"
)


def add_preheader(html: str, preheader: str) -> str:
    """The inbox preview line: hidden text right after <body> (before rendering, so merge tags work)."""
    if not preheader.strip() or not html.strip():
        return html
    block = f'<div style="{_PREHEADER_STYLE}">{escape(preheader.strip(), quote=False)}</div>'
    m = _BODY_OPEN.search(html)
    return html[: m.end()] + block + html[m.end() :] if m else block + html


def _add_before_body_end(html: str, fragment: str) -> str:
    index = html.lower().rfind("</body>")
    return html + fragment if index < 0 else html[:index] + fragment + html[index:]
