"""Model answers as Markdown, with any HTML in them made inert (one recipe: annotation.rendering)."""

from django import template
from django.utils.safestring import mark_safe

from annotation.rendering import render_markdown_inert

register = template.Library()


@register.filter
def render_answer(text):
    return mark_safe(render_markdown_inert(text))
