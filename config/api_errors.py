"""API errors as one shape: {"detail": "<a sentence>", "errors": {...}}.

DRF's validation errors are a dict of field lists; people and scripts both read
a single sentence more easily, so we add one and keep the field detail.

Domain errors (see `annotation.errors`) carry their own status: this handler is the one place the API turns
them into responses, so views let them propagate instead of mapping exception types to statuses."""

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException, Throttled
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import status_of


def _first_error(data, path=()):
    """(where, message) of the first error; where is a tuple of field names and item numbers."""
    if isinstance(data, dict):
        for field, value in data.items():
            step = (
                ()
                if field in ("detail", "non_field_errors")
                else (f"item {field + 1}" if isinstance(field, int) else str(field),)
            )
            found = _first_error(value, path + step)
            if found[1]:
                return found
    elif isinstance(data, list) and data:
        return _first_error(data[0], path)
    elif data:
        return path, str(data)
    return path, ""


def _first_message(data):
    """The first error as a sentence, led by where it is: "prompts, item 2: A valid integer is required."."""
    where, message = _first_error(data)
    return f"{', '.join(where)}: {message}" if where else message


def as_api_exception(exc):
    """A domain error as the DRF exception of its status (None when exc is not a domain error)."""
    status = status_of(exc)
    if status is None:
        return None
    retry_after = getattr(exc, "retry_after", None)
    if status == 429:
        return Throttled(wait=retry_after, detail=str(exc))  # DRF's wording and Retry-After
    api_exc = APIException(detail=str(exc))
    api_exc.status_code = status
    api_exc.wait = retry_after  # DRF sends Retry-After for it
    return api_exc


def exception_handler(exc, context):
    if isinstance(exc, SuspiciousOperation):
        # Too many fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad multipart boundary: Django would
        # answer these with an HTML page; an API client gets the usual JSON 400.
        detail = (
            "The request body is too large."
            if isinstance(exc, RequestDataTooBig)
            else f"The request is malformed: {exc}"
        )
        return Response({"detail": detail}, status=400)
    if not isinstance(exc, APIException):
        exc = as_api_exception(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, (dict, list)) and "detail" not in response.data:
        response.data = {"detail": _first_message(response.data), "errors": response.data}
    return response


@csrf_exempt  # API clients send no CSRF token: a POST to a wrong path is a 404, not a CSRF page
def api_not_found(request, rest=""):
    """Unknown /api/ paths answer JSON like every API error, not Django's HTML page."""
    detail = f"There is no API endpoint at {request.path}; the operations are listed at /api/docs/."
    if not request.path.endswith("/"):
        try:
            if resolve(request.path + "/").url_name != "api-not-found":
                detail = f"Add the trailing slash: {request.path}/"
        except Resolver404:
            pass
    return JsonResponse({"detail": detail}, status=404)
