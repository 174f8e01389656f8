"""Probes for load balancers and orchestrators: /healthz says the process answers, /readyz that
what a request needs (database, broker, cache) is reachable; a 503 names what is down."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 2


@never_cache
@require_GET
def healthz(request):
    """The process is up; touches nothing else (a database outage must not restart every web process)."""
    return JsonResponse({"status": "ok"})


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker():
    from django.conf import settings

    from config.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=PROBE_TIMEOUT_S)


def _cache():
    cache.set("readyz:probe", 1, timeout=10)
    if cache.get("readyz:probe") != 1:
        raise RuntimeError("the cache did not keep a value")


CHECKS = {"database": _database, "broker": _broker, "cache": _cache}


@never_cache
@require_GET
def readyz(request):
    checks, down = {}, []
    for name, check in CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in words
            log.warning("readiness: %s is down: %s", name, exc)
            checks[name] = f"down: {type(exc).__name__}: {exc}"[:300]
            down.append(name)
    if down:
        response = JsonResponse(
            {"detail": f"Not ready: {', '.join(down)} unreachable.", "checks": checks}, status=503
        )
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ready", "checks": checks})
