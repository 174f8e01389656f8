from django import template

from export.permissions import can_export as _can_export

register = template.Library()


@register.filter
def can_export(user):
    """{% if user|can_export %}: researchers and admins see the Exports link."""
    return _can_export(user)
