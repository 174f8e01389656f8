"""Guest voting: a session-bound voter without an account, throttled per session and per IP.

A guest is a real user row (unusable password, in the "guest" group) logged into the browser
session, so every battle and vote path is the one members use, and each guest vote is an
ordinary Judgment whose author is marked as a guest (the board can leave them out:
RANKING_EXCLUDE_GUESTS)."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from annotation import roles
from annotation.models import Judgment

from .models import GuestVoter


class GuestLimit(ValueError):
    """A guest (or the address guests come from) voted or arrived too often this hour."""


def is_guest(user):
    return user.is_authenticated and GuestVoter.objects.filter(user=user).exists()


def client_ip(request):
    """The address the request came from (the proxy in front sets REMOTE_ADDR; see docker/)."""
    return request.META.get("REMOTE_ADDR") or None


def voter_for(request, arena):
    """The user who votes: the logged-in one, or a new guest logged into this session when the
    arena allows guests; None when a login is needed. Raises GuestLimit or the check's ValueError."""
    if request.user.is_authenticated:
        return request.user
    if arena is None or not arena.allow_guests:
        return None
    ip = client_ip(request)
    hour_ago = timezone.now() - timedelta(hours=1)
    if (
        ip
        and GuestVoter.objects.filter(ip=ip, created_at__gte=hour_ago).count()
        >= settings.ARENA_GUESTS_PER_IP_HOUR
    ):
        raise GuestLimit("Too many guests have come from your network this hour; log in, or try again later.")
    if settings.ARENA_GUEST_CHECK:
        import_string(settings.ARENA_GUEST_CHECK)(
            request
        )  # a CAPTCHA or proof-of-work hook; ValueError refuses
    with transaction.atomic():
        user = get_user_model().objects.create_user(f"guest-{secrets.token_hex(6)}")  # no password: unusable
        user.groups.add(Group.objects.get_or_create(name=roles.GUEST)[0])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        GuestVoter.objects.create(user=user, session_key=request.session.session_key or "", ip=ip)
    return user


GUEST_UNKNOWN = object()


def check_guest_vote(user, guest=GUEST_UNKNOWN):
    """GuestLimit with a sentence when a guest, or the address it came from, has voted enough this hour.

    ``guest``: the user's GuestVoter row (None for a member) when the caller read it along."""
    if guest is GUEST_UNKNOWN:
        guest = GuestVoter.objects.filter(user=user).first()
    if guest is None:
        return
    hour_ago = timezone.now() - timedelta(hours=1)
    recent = Judgment.objects.filter(created_at__gte=hour_ago)
    if recent.filter(annotator=user).count() >= settings.ARENA_GUEST_VOTES_PER_HOUR:
        raise GuestLimit(
            f"Guests may cast {settings.ARENA_GUEST_VOTES_PER_HOUR} votes an hour; log in to keep voting, or come back later."
        )
    if (
        guest.ip
        and recent.filter(annotator__guest__ip=guest.ip).count() >= settings.ARENA_GUEST_VOTES_PER_IP_HOUR
    ):
        raise GuestLimit(
            "Guests on your network have cast this hour's votes; log in to keep voting, or come back later."
        )
