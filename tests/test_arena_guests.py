"""Guest voting and personal leaderboards (issue 14 §3): a session-bound guest votes through the same
pages as members, throttled per session and per IP, marked so the board can leave guests out; a voter
with enough votes sees their own leaderboard fitted by the same engine."""

import hashlib
import itertools
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from annotation import roles
from annotation.models import Judgment
from annotation.selectors import rated_judgments
from annotation.services import record_judgment
from arena.models import Arena, GuestVoter
from tests.conftest import leaked_model_names, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def refuse_every_guest(request):
    """An ARENA_GUEST_CHECK that fails every check (a CAPTCHA nobody solved)."""
    raise ValueError("Solve the puzzle first: the check did not pass.")


def _battle_id(response):
    return re.search(r"/b/([0-9a-f-]+)/", response["Location"]).group(1)


def _finished(client, battle_id):
    return wait_for(lambda: client.get(f"/api/battles/{battle_id}/").json()["finished"], what="the answers")


def test_an_arena_without_guests_sends_strangers_to_log_in(client, arena):
    assert client.get(reverse("arena:home")).status_code == 302
    started = client.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": "hi"})
    assert started.status_code == 302 and "/accounts/login/" in started["Location"]
    assert not GuestVoter.objects.exists()


@pytest.mark.usefixtures("celery_worker_process")
def test_a_guest_votes_blind_is_marked_and_is_throttled(client, arena, settings):
    settings.ARENA_GUEST_VOTES_PER_HOUR = 1
    Arena.objects.filter(pk=arena.pk).update(allow_guests=True)
    home = client.get(reverse("arena:home"))
    assert home.status_code == 200 and 'id="guest-note"' in home.content.decode()

    started = client.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": "a blue river"})
    assert started.status_code == 302
    guest = GuestVoter.objects.get()
    assert guest.user.groups.filter(name=roles.GUEST).exists() and not guest.user.has_usable_password()
    assert guest.ip == "127.0.0.1" and guest.session_key
    battle_id = _battle_id(started)
    _finished(client, battle_id)
    page = client.get(started["Location"]).content.decode()
    assert not leaked_model_names(page)

    voted = client.post(reverse("arena:vote", args=[battle_id]), {"choice": "a"}, HTTP_HX_REQUEST="true")
    assert voted.status_code == 200 and "Zephyrine QX7" in voted.content.decode()
    judgment = Judgment.objects.get()
    assert judgment.annotator == guest.user and judgment.identities_hidden

    # The same session: one vote an hour here, so the next is refused with a sentence and not stored.
    second = client.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": "a green tree"})
    second_id = _battle_id(second)
    _finished(client, second_id)
    refused = client.post(reverse("arena:vote", args=[second_id]), {"choice": "b"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 429 and "Guests may cast 1 votes an hour" in refused.content.decode()
    assert Judgment.objects.count() == 1

    # Guests' votes count on the board unless the setting leaves them out; either way they are kept.
    assert rated_judgments().count() == 1
    settings.RANKING_EXCLUDE_GUESTS = True
    assert rated_judgments().count() == 0 and Judgment.objects.count() == 1


def test_new_guests_are_limited_per_address_and_the_check_hook_can_refuse(arena, settings):
    Arena.objects.filter(pk=arena.pk).update(allow_guests=True)
    settings.ARENA_GUESTS_PER_IP_HOUR = 1
    url = reverse("arena:start_arena_battle", args=[arena.slug])
    assert Client().post(url, {"prompt": "one"}).status_code == 302
    again = Client().post(url, {"prompt": "two"})  # a fresh session from the same address
    assert (
        again.status_code == 429 and "Too many guests have come from your network" in again.content.decode()
    )
    assert GuestVoter.objects.count() == 1

    settings.ARENA_GUESTS_PER_IP_HOUR = 100
    settings.ARENA_GUEST_CHECK = "tests.test_arena_guests.refuse_every_guest"
    checked = Client().post(url, {"prompt": "three"})
    assert checked.status_code == 400 and "Solve the puzzle first" in checked.content.decode()
    assert GuestVoter.objects.count() == 1


def test_an_excluded_voter_leaves_the_board_but_keeps_the_votes(make_comparison, make_user):
    ada = make_user("ada")
    record_judgment(make_comparison(["one", "two"]), [[0], [1]], annotator=ada, identities_hidden=True)
    assert rated_judgments().count() == 1
    ada.groups.add(Group.objects.get_or_create(name=roles.BOARD_EXCLUDED)[0])
    assert rated_judgments().count() == 0 and Judgment.objects.count() == 1


def test_a_personal_leaderboard_after_enough_votes(client, make_comparison, make_user, settings):
    settings.ARENA_PERSONAL_BOARD_MIN_VOTES = 3
    ada = make_user("ada")
    client.force_login(ada)
    wait_page = client.get(reverse("arena:my_board")).content.decode()
    assert "Vote 3 more times" in wait_page
    # answerer-0 beats answerer-1 three times in ada's votes.
    for _ in range(3):
        record_judgment(
            make_comparison(["first", "second"]), [[0], [1]], annotator=ada, identities_hidden=True
        )
    page = client.get(reverse("arena:my_board")).content.decode()
    rows = re.findall(r'<tr data-model="([^"]+)">', page)
    assert rows == ["answerer-0", "answerer-1"]
    assert "Your 3 blind votes" in page and "bootstrap" in page


def _valid(challenge, nonce, bits):
    digest = int.from_bytes(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest(), "big")
    return digest >> (256 - bits) == 0


def _solve(challenge, bits):
    return next(str(n) for n in itertools.count() if _valid(challenge, n, bits))


def test_a_guest_solves_a_proof_of_work_puzzle_once_before_the_first_battle(arena, settings):
    Arena.objects.filter(pk=arena.pk).update(allow_guests=True)
    settings.ARENA_GUEST_POW_BITS = 10
    home, start = (
        reverse("arena:arena", args=[arena.slug]),
        reverse("arena:start_arena_battle", args=[arena.slug]),
    )
    browser = Client()
    page = browser.get(home).content.decode()
    challenge = re.search(r'data-pow-challenge="([0-9a-f]+)" data-pow-bits="10"', page).group(1)

    unsolved = browser.post(start, {"prompt": "one"})
    assert unsolved.status_code == 400 and "solve a small puzzle in the browser" in unsolved.content.decode()
    assert not GuestVoter.objects.exists()
    # The refusal spent that puzzle: its answer no longer counts, the page carries a new one.
    fresh = re.search(r'data-pow-challenge="([0-9a-f]+)"', unsolved.content.decode()).group(1)
    assert fresh != challenge
    stale = browser.post(start, {"prompt": "one", "pow_nonce": _solve(challenge, 10)})
    assert stale.status_code == 400 and not GuestVoter.objects.exists()

    challenge = re.search(r'data-pow-challenge="([0-9a-f]+)"', stale.content.decode()).group(1)
    wrong = next(str(n) for n in itertools.count() if not _valid(challenge, n, 10))
    refused = browser.post(start, {"prompt": "one", "pow_nonce": wrong})
    assert refused.status_code == 400 and "puzzle answer was wrong" in refused.content.decode()
    assert not GuestVoter.objects.exists()
    challenge = re.search(r'data-pow-challenge="([0-9a-f]+)"', refused.content.decode()).group(1)

    solved = browser.post(start, {"prompt": "one", "pow_nonce": _solve(challenge, 10)})
    assert solved.status_code == 302 and GuestVoter.objects.count() == 1
    # Now a guest: later battles need no puzzle, and the page asks none.
    assert "data-pow-challenge" not in browser.get(home).content.decode()
    assert browser.post(start, {"prompt": "two"}).status_code == 302
    assert GuestVoter.objects.count() == 1
