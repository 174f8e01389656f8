"""A board that answers "The Leaderboard Illusion" (issue 14 §4): sampling shares and every change to
matchmaking on a public page, provisional and private rows, retirements that freeze rows, the private-
variant cap, the vote-integrity report with admin exclusion, and what it takes to flip the top spot."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotation.models import Judgment
from annotation.selectors import rated_judgments
from annotation.services import create_comparison, record_judgment
from arena import board, selectors, services, transparency
from arena.models import Arena, ArenaChange, ArenaEntry, Battle, VoterExclusion
from inference.models import ModelEndpoint, Prompt, Response
from ranking.glue import refits

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def trio(tiny_model_dirs):
    """Three models of two providers, each with a pooled answer, so battles open without a worker."""
    endpoints = [
        ModelEndpoint.objects.create(name=name, provider=provider, path=str(tiny_model_dirs[0]))
        for name, provider in (("alpha", "North Lab"), ("beta", "North Lab"), ("gamma", "South Lab"))
    ]
    arena = Arena.objects.create(name="Trio", slug="trio", matchmaking="uniform")
    arena.endpoints.add(*endpoints)
    return arena, endpoints


def _pooled(endpoints, text="Say hello.", answer="hello there", finished=None):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": text}])
    return [
        Response.objects.create(
            prompt=prompt,
            endpoint=e,
            status="done",
            pooled=True,
            text=answer,
            finished_at=finished or timezone.now(),
        )
        for e in endpoints
    ]


def _vote(arena, voter, endpoints, order, answer="hello there", finished=None):
    """A battle among `endpoints` shown in this order, ranked by `order` (tie groups of positions)."""
    responses = _pooled(endpoints, answer=answer, finished=finished)
    battle = Battle.objects.create(
        arena=arena, voter=voter, comparison=create_comparison(responses[0].prompt, responses)
    )
    return record_judgment(battle.comparison, order, annotator=voter, identities_hidden=True)[0]


def test_the_sampling_page_shows_shares_policy_weights_and_every_change(client, trio, make_user):
    arena, (alpha, beta, gamma) = trio
    ada = make_user("ada")
    chart = reverse("arena:sampling_image", args=["models"])
    empty_chart = client.get(chart).content
    _pooled([alpha, beta, gamma])
    for _ in range(6):
        services.start_battle(arena, ada, "Say hello.")
    entry = ArenaEntry.objects.get(arena=arena, endpoint=gamma)
    entry.weight = 0.5
    entry.save()
    arena.matchmaking = "weighted"
    arena.save()

    page = client.get(reverse("arena:sampling"))  # public: no login
    assert page.status_code == 200
    html = page.content.decode()
    assert "Every model variant that ever received a vote stays listed" in html
    shares = dict(
        re.findall(r'<tr data-model="(\w+)"><td>\w+</td><td>(\d+)</td>', html.split('id="model-shares"')[1])
    )
    assert sum(int(n) for n in shares.values()) == 12 and set(shares) <= {"alpha", "beta", "gamma"}
    providers = re.findall(r'<tr data-provider="([^"]+)">', html)
    assert set(providers) == {"North Lab", "South Lab"}
    assert "Weighted: by each model" in html and "policy: Weighted" in html
    whats = list(ArenaChange.objects.filter(arena=arena).values_list("what", flat=True))
    assert {
        "arena opened",
        "alpha entered with weight",
        "gamma weight changed",
        "matchmaking changed",
    } <= set(whats)
    assert "gamma weight changed" in html and "matchmaking changed" in html

    # The shares as pictures: each chart the page links is a PNG drawn from the battles, not the empty placeholder.
    for group in ("models", "providers"):
        url = reverse("arena:sampling_image", args=[group])
        assert f'src="{url}"' in html
        image = client.get(url)
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        assert image.content.startswith(b"\x89PNG") and image.content != empty_chart
    assert client.get("/arena/sampling/nobody.png").status_code == 404


def test_provisional_private_and_retired_rows(trio, make_user, settings):
    settings.ARENA_PROVISIONAL_VOTES = 3
    arena, (alpha, beta, gamma) = trio
    ModelEndpoint.objects.filter(pk=gamma.pk).update(private=True)
    ada = make_user("ada")
    for _ in range(3):
        _vote(arena, ada, [alpha, beta, gamma], [[0], [1], [2]])
    refits.refit(bootstrap=0)
    rows = {r["model"]: r for r in selectors.leaderboard()["rows"]}
    assert not rows["alpha"]["provisional"] and rows["alpha"]["votes_since_release"] == 3
    assert rows["gamma"]["private"] and rows["gamma"]["provisional"]
    # Released later: only votes after the release count toward settling the row.
    gamma.refresh_from_db()
    gamma.private = False
    gamma.save()
    gamma.refresh_from_db()
    assert gamma.released_at is not None
    assert selectors.leaderboard()["rows"][2]["provisional"]

    with pytest.raises(ValueError, match="Say why"):
        board.retire_model(beta, "  ")
    retirement = board.retire_model(beta, "Replaced by a newer variant.")
    beta.refresh_from_db()
    assert not beta.enabled and retirement.frozen_rows["bt"]["model"] == "beta"
    view = selectors.leaderboard()
    assert "beta" not in [r["model"] for r in view["rows"]]
    assert [r["model"] for r in view["retired"]] == ["beta"] and view["retired"][0]["row"]["place"] == 2
    assert ArenaChange.objects.filter(what="beta enabled changed").exists()
    assert Judgment.objects.count() == 3  # the votes stay
    for _ in range(20):
        assert "beta" not in [m.name for m in services.draw_models(arena)]
    with pytest.raises(ValueError, match="already retired"):
        board.retire_model(beta, "again")


def test_the_private_variant_cap(trio, tiny_model_dirs, settings):
    settings.ARENA_MAX_PRIVATE_VARIANTS = 1
    arena, _ = trio
    first = ModelEndpoint.objects.create(name="north-x1", provider="North Lab", private=True, path="/none")
    second = ModelEndpoint.objects.create(name="north-x2", provider="North Lab", private=True, path="/none")
    board.enter_model(arena, first)
    with pytest.raises(
        ValidationError, match="North Lab already tests 1 private variants in this arena; the cap is 1"
    ):
        board.enter_model(arena, second)
    with pytest.raises(ValidationError):
        ArenaEntry(arena=arena, endpoint=second).full_clean()
    other = ModelEndpoint.objects.create(name="south-x1", provider="South Lab", private=True, path="/none")
    board.enter_model(arena, other)  # another provider has its own cap


def test_the_integrity_report_flags_and_an_admin_excludes_with_the_votes_kept(client, trio, make_user):
    arena, (alpha, beta, gamma) = trio
    crowd = [make_user(f"crowd{i}") for i in range(4)]
    for voter in crowd:  # the crowd: alpha > beta > gamma
        for _ in range(5):
            _vote(arena, voter, [alpha, beta, gamma], [[0], [1], [2]])
    fan = make_user("fan")
    for _ in range(10):  # gamma first every time, far above the crowd; 10 inverted votes; quickly
        _vote(arena, fan, [alpha, beta, gamma], [[2], [1], [0]])
    skimmer = make_user("skimmer")
    for _ in range(3):  # 2,400 characters judged the moment they finished
        _vote(
            arena,
            skimmer,
            [alpha, beta, gamma],
            [[0], [1], [2]],
            answer="word " * 160,
            finished=timezone.now() - timedelta(seconds=1),
        )
    buster = make_user("buster")
    for _ in range(20):
        _vote(arena, buster, [alpha, beta, gamma], [[0], [1], [2]])
    refits.refit(bootstrap=0)

    admin = make_user("root", is_staff=True)
    assert client.get(reverse("arena:integrity")).status_code == 302  # not for visitors
    client.force_login(admin)
    html = client.get(reverse("arena:integrity")).content.decode()
    flagged = {
        voter: set(re.findall(r'data-signal="(\w+)"', row))
        for voter, row in re.findall(r'<tr data-voter="(\w+)">(.*?)</tr>', html, re.S)
    }
    assert {"loyal", "disagree"} <= flagged["fan"]
    assert "fast" in flagged["skimmer"]
    assert "burst" in flagged["buster"]
    assert not any(v.startswith("crowd") and "loyal" in s for v, s in flagged.items())
    assert "Disagreed with the crowd" in html  # each signal explained

    before = rated_judgments().count()
    refused = client.post(
        reverse("arena:integrity_action", args=["exclude"]), {"voter": fan.pk, "reason": ""}
    )
    assert refused.status_code == 400 and not VoterExclusion.objects.exists()
    client.post(
        reverse("arena:integrity_action", args=["exclude"]), {"voter": fan.pk, "reason": "Fan of gamma."}
    )
    exclusion = VoterExclusion.objects.get()
    assert exclusion.excluded_by == admin and exclusion.reason == "Fan of gamma."
    assert rated_judgments().count() == before - 10 and Judgment.objects.filter(annotator=fan).count() == 10
    client.post(reverse("arena:integrity_action", args=["lift"]), {"voter": fan.pk})
    exclusion.refresh_from_db()
    assert exclusion.lifted_at is not None and rated_judgments().count() == before


def test_votes_to_flip_the_top_spot(client, trio, make_user):
    arena, (alpha, beta, _) = trio
    ada = make_user("ada")
    for order in ([[0], [1]],) * 5 + ([[1], [0]],) * 2:
        _vote(arena, ada, [alpha, beta], order)
    refits.refit(bootstrap=0)
    flip = transparency.top_spot_flip()
    assert flip["top"] == "alpha" and flip["new_top"] == "beta" and flip["total"] == 7
    assert 1 <= flip["votes"] <= 5
    html = client.get(reverse("arena:top_flip")).content.decode()
    assert f"Dropping {flip['votes']} of 7 counted votes" in html and "would put beta first" in html
