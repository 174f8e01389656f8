"""``{% answer text mode %}``: an answer (or prompt) in its campaign's or arena's display mode, with the
other view behind a toggle (annotation.rendering says which view opens; static/js/answers.js toggles)."""

from django import template
from django.utils.safestring import mark_safe

from annotation.rendering import MARKDOWN, render_markdown_inert, shown_mode

register = template.Library()


@register.inclusion_tag("_answer.html")
def answer(text, mode, label="answer"):
    text = text or ""
    return {
        "text": text,
        "label": label,
        "shown": shown_mode(text, mode),
        "formatted": mark_safe(render_markdown_inert(text)),
        "markdown": MARKDOWN,
    }
