"""Markdown for model answers and guidelines, with any HTML in them made inert.

Raw HTML is escaped first, so whatever a model writes shows as text; then Markdown, then the nh3
allow-list sanitiser. Both the campaign pages and the arena's `render_answer` filter use it."""

import markdown
import nh3

_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]


def render_markdown_inert(text):
    escaped = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = markdown.markdown(escaped, extensions=_EXTENSIONS)
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")
