"""Rate limits, as settings: per user and per client address, on the API (DRF throttles) and on the
pages that write (a middleware), both counting in the shared cache with the same rates.

A view opts in with ``throttle_scope = "votes"`` (API) or an entry in PAGE_RATE_LIMITS (pages);
the scope's rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope] per signed-in user and
[scope + "_ip"] per address. Only writes count against a scope: reading a battle is not starting
one. Over the limit is a 429 with Retry-After.

The client address is REMOTE_ADDR unless NUM_PROXIES (the proxies in front of us) says how many
X-Forwarded-For entries to trust: a client must not choose its own address by sending the header."""

from types import SimpleNamespace

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


def _rate(scope):
    # Read at request time: DRF binds THROTTLE_RATES at import, so overridden settings would not apply.
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class AnonThrottle(AnonRateThrottle):
    """Every API request without a signed-in user, per address ("anon" rate)."""

    def get_rate(self):
        return _rate(self.scope)


class UserThrottle(UserRateThrottle):
    """Every API request of a signed-in user ("user" rate)."""

    def get_rate(self):
        return _rate(self.scope)


class ScopedUserThrottle(SimpleRateThrottle):
    """The view's throttle_scope, per signed-in user (per address when anonymous)."""

    suffix = ""

    def __init__(self):  # the rate depends on the view, known only in allow_request
        self.rate = None

    def allow_request(self, request, view):
        base = getattr(view, "throttle_scope", None)
        if not base or request.method in SAFE_METHODS:
            return True
        self.scope = base + self.suffix
        self.rate = _rate(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        ident = (
            user.pk
            if not self.suffix and user is not None and user.is_authenticated
            else self.get_ident(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ScopedAddressThrottle(ScopedUserThrottle):
    """The same scope per client address (rate "<scope>_ip"): many accounts behind one address share it."""

    suffix = "_ip"


class PageRateLimitMiddleware:
    """PAGE_RATE_LIMITS (URL name → scope) for the server-rendered pages' POSTs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        scope = getattr(settings, "PAGE_RATE_LIMITS", {}).get(match.view_name if match else None)
        if not scope or request.method in SAFE_METHODS:
            return None
        view = SimpleNamespace(throttle_scope=scope)
        throttles = [ScopedUserThrottle(), ScopedAddressThrottle()]
        waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, view)]
        if not waits:
            return None
        return rate_limited(request, max(int(w or 0) + 1 for w in waits))


def rate_limited(request, retry_after):
    message = f"Too many requests; try again in {retry_after} seconds."
    if getattr(request, "htmx", False):
        # Into the page's message slot (base.html), whatever the form aimed at.
        response = HttpResponse(message, status=429)
        response["HX-Retarget"], response["HX-Reswap"] = "#page-message", "innerHTML"
    else:
        response = render(request, "rate_limited.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
