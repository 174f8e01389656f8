"""Guest voting: a session-bound voter without an account, throttled per session and per IP.

A guest is a real user row (unusable password, in the "guest" group) logged into the browser
session, so every battle and vote path is the one members use, and each guest vote is an
ordinary Judgment whose author is marked as a guest (the board can leave them out:
RANKING_EXCLUDE_GUESTS)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from annotation import roles
from annotation.errors import HasStatus
from annotation.models import Judgment

from .models import GuestVoter


class GuestLimit(HasStatus, ValueError):
    """A guest (or the address guests come from) voted or arrived too often this hour."""

    status_code = 429


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
    check_proof_of_work(request)
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


POW_SESSION_KEY = "arena_guest_pow"


def pow_challenge(request):
    """The proof-of-work puzzle this browser session must solve before it becomes a guest, or None when
    ARENA_GUEST_POW_BITS is 0. The page's script finds a nonce whose SHA-256 of "challenge:nonce" starts with
    that many zero bits (2**bits hashes on average: about a second at 20 bits), which makes a flood of guests
    cost the sender CPU time while a person waits once."""
    if settings.ARENA_GUEST_POW_BITS <= 0:
        return None
    challenge = request.session.get(POW_SESSION_KEY)
    if not challenge:
        challenge = request.session[POW_SESSION_KEY] = secrets.token_hex(16)
    return {"challenge": challenge, "bits": settings.ARENA_GUEST_POW_BITS}


def _zero_bits(digest):
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def check_proof_of_work(request):
    """ValueError with a sentence unless the request carries a solution of this session's puzzle (the form's
    pow_nonce, or an X-PoW-Nonce header). A puzzle is solved once: the session gets a new one after use."""
    bits = settings.ARENA_GUEST_POW_BITS
    if bits <= 0:
        return
    challenge = request.session.pop(POW_SESSION_KEY, None)
    nonce = (request.POST.get("pow_nonce") or request.headers.get("X-PoW-Nonce") or "").strip()
    if not challenge or not nonce or len(nonce) > 64:
        raise ValueError(
            "Guests solve a small puzzle in the browser before their first battle; reload the page "
            "(with JavaScript on) and send your prompt again, or log in."
        )
    if _zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        raise ValueError("The browser's puzzle answer was wrong; reload the page and send your prompt again.")


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
