"""Rate limits, as settings: per user and per client address, on the API (DRF throttles) and on the
pages that write (a middleware), both counting in the shared cache with the same rates.

A view opts in with ``throttle_scope = "votes"`` (API) or an entry in PAGE_RATE_LIMITS (pages);
the scope's rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope] per signed-in user and
[scope + "_ip"] per address. Only writes count against a scope: reading a battle is not starting
one. Over the limit is a 429 with Retry-After.

The client address is REMOTE_ADDR unless NUM_PROXIES (the proxies in front of us) says how many
X-Forwarded-For entries to trust: a client must not choose its own address by sending the header."""

import secrets
import time
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

# Each count is a sliding window: a Redis sorted set of request times per (scope, ident).
KEY = "ratelimit:{scope}:{ident}"


def _rate(scope):
    # Read at request time: DRF binds THROTTLE_RATES at import, so overridden settings would not apply.
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


def _parse_rate(rate):
    """ "30/min" -> (30, 60), as DRF reads a rate (the period's first letter: s, m, h or d)."""
    num, period = rate.split("/")
    return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


class RateLimits(BaseThrottle):
    """Every limit that applies to a request, counted together in one Redis round trip:

    - every API request: "user" per signed-in user (per address when anonymous), and "anon" per
      address when anonymous (``general``; the pages' middleware leaves these out);
    - a write to a view with ``throttle_scope``: the scope per signed-in user (per address when
      anonymous) and "<scope>_ip" per address.

    A refused request is not counted (as DRF's throttles); wait() is the longest wait of the limits
    it is over."""

    def __init__(self, general=True):
        self.general = general
        self.waits = []

    def limits(self, request, view):
        """[(scope, ident)] that apply to this request (before reading their rates)."""
        user = getattr(request, "user", None)
        address = self.get_ident(request)
        signed_in = user is not None and user.is_authenticated
        who = user.pk if signed_in else address
        found = []
        if self.general:
            found += [("user", who)] + ([] if signed_in else [("anon", address)])
        scope = getattr(view, "throttle_scope", None)
        if scope and request.method not in SAFE_METHODS:
            found += [(scope, who), (scope + "_ip", address)]
        return found

    def allow_request(self, request, view):
        now = time.time()
        counted = []
        for scope, ident in self.limits(request, view):
            rate = _rate(scope)
            if rate is None:
                continue
            key = caches["default"].make_and_validate_key(KEY.format(scope=scope, ident=ident))
            counted.append((key, *_parse_rate(rate)))
        if not counted:
            return True
        # The backend itself (django.core.cache.cache is a proxy, never a RedisCache instance).
        count = _count_in_redis if isinstance(caches["default"], RedisCache) else _count_in_cache
        self.waits = count(counted, now)
        return not self.waits

    def wait(self):
        return max(self.waits, default=None)


def _count_in_redis(limits, now):
    """Add this request to every window in one pipeline (MULTI: each count is exact under concurrency);
    the waits of the limits it is over, where it is then taken out again (a second round trip, refused
    requests only)."""
    client = caches["default"]._cache.get_client(write=True)
    member = f"{now:.6f}:{secrets.token_hex(4)}"
    pipe = client.pipeline()
    for key, _, duration in limits:
        pipe.zremrangebyscore(key, "-inf", now - duration)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.expire(key, int(duration) + 1)
    replies = pipe.execute()
    over = []
    for i, (key, num_requests, duration) in enumerate(limits):
        count, oldest = replies[5 * i + 2], replies[5 * i + 3]
        if count > num_requests:
            over.append((key, duration - (now - (oldest[0][1] if oldest else now))))
    if over:
        pipe = client.pipeline()
        for key, _ in over:
            pipe.zrem(key, member)
        pipe.execute()
    return [wait for _, wait in over]


def _count_in_cache(limits, now):
    """The same windows in any other cache (a file cache on one machine): a read and a write per limit."""
    waits = []
    for key, num_requests, duration in limits:
        cache = caches["default"]
        history = [t for t in cache.get(key, []) if t > now - duration]
        if len(history) >= num_requests:
            waits.append(duration - (now - min(history)))
            continue
        cache.set(key, [now, *history], duration)
    return waits


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
        limits = RateLimits(general=False)
        if limits.allow_request(request, SimpleNamespace(throttle_scope=scope)):
            return None
        return rate_limited(request, int(limits.wait() or 0) + 1)


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
