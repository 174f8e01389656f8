"""A database or Redis outage in the middle of a request answers 503 with Retry-After and a
sentence, never a 500 page: the write was rolled back (or, if its commit went through, retrying
it is safe: votes are idempotent), so the client should simply try again."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
RETRY_AFTER_S = 2
OUTAGES = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, RedisTimeoutError)
MESSAGE = (
    "The service is briefly unavailable (a database or queue connection dropped); please retry in a moment."
)


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        # (IntegrityError and other DatabaseErrors are bugs or conflicts, not outages: not here.)
        if not isinstance(exc, OUTAGES):
            return None
        log.warning("503 for %s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        _drop_broken_connection()
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = render(request, "unavailable.html", {"message": MESSAGE}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response


def _drop_broken_connection():
    """Close this thread's database connection so the next request opens a fresh one."""
    from django.db import connection

    try:
        connection.close()
    except Exception:  # noqa: BLE001 - it is broken already
        pass
