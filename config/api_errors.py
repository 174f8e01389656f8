"""API errors as one shape: {"detail": "<a sentence>", "errors": {...}}.

DRF's validation errors are a dict of field lists; people and scripts both read
a single sentence more easily, so we add one and keep the field detail."""

from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(data):
    if isinstance(data, dict):
        for field, value in data.items():
            message = _first_message(value)
            if message:
                return message if field in ("detail", "non_field_errors") else f"{field}: {message}"
    elif isinstance(data, list) and data:
        return _first_message(data[0])
    elif data:
        return str(data)
    return ""


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, (dict, list)) and "detail" not in response.data:
        response.data = {"detail": _first_message(response.data), "errors": response.data}
    return response
