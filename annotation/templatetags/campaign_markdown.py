from django import template
from django.utils.safestring import mark_safe

from annotation.rendering import render_markdown_inert

register = template.Library()


@register.filter
def render_markdown(text):
    """Markdown → sanitised HTML; HTML written in the text shows as text."""
    return mark_safe(render_markdown_inert(text))


@register.filter
def slot_letter(index):
    return chr(ord("A") + int(index))


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
