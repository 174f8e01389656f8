"""Model answers as Markdown, with any HTML in them made inert."""

import markdown
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]


@register.filter
def render_answer(text):
    """Markdown → HTML, then nh3 (an allow-list sanitiser) strips scripts, handlers and unknown tags.

    Raw HTML the model wrote is escaped before Markdown sees it, so it shows as text, never as markup."""
    escaped = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = markdown.markdown(escaped, extensions=_EXTENSIONS)
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer nofollow"))
