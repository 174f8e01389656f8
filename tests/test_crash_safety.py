"""Crash safety on real processes: PostgreSQL, a private Redis, gunicorn and Celery workers that
are SIGKILLed mid-generation and mid-refit. A new worker (with beat) must finish the stranded
battle, and the leaderboard must count every vote, with no answer written twice into two rows.

Heartbeat and sweeper intervals are shortened through their settings; everything else is the
production path. Answers stream from a loopback OpenAI-compatible server one word at a time, so
"mid-generation" is a state the test can wait for rather than a race."""

import time

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import Judgment
from arena.models import Arena, Battle
from arena.selectors import RETRY_MESSAGE
from inference.models import ModelEndpoint, Response
from inference.openai_server import OpenAICompatibleServer
from ranking.models import RatingSnapshot
from tests.conftest import _database_url, leaked_model_names
from tests.live_platform import WORDS, CannedAnswers, LivePlatform, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Short enough for a test; the defaults (10 s / 40 s / 15 s / 60 s) say "about a minute".
SHORT = dict(
    WORKER_HEARTBEAT_SECONDS=0.5,
    WORKER_STALE_AFTER_SECONDS=5,
    SWEEP_STRANDED_SECONDS=2,
    INFERENCE_REQUEUE_PENDING_SECONDS=5,
    RANKING_FULL_REFIT_SECONDS=3600,
)


class SlowAnswers(CannedAnswers):
    """A word every 0.3 s: slow enough to kill a worker mid-answer (no model: the test measures
    nothing of generation, it only needs an answer that is still being written)."""

    delay = 0.3


@pytest.fixture
def slow_server():
    server = OpenAICompatibleServer({"slow-a": "", "slow-b": ""}, handler=SlowAnswers)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform(tmp_path, settings, transactional_db):  # torn down before the database is flushed
    for name, value in SHORT.items():
        setattr(settings, name, value)
    live = LivePlatform(_database_url(connection.settings_dict), tmp_path / "platform", **SHORT)
    live.start_redis()
    yield live
    live.close()


@pytest.fixture
def slow_arena(slow_server):
    endpoints = [
        ModelEndpoint.objects.create(
            name=name,
            display_name=name.title(),
            backend="openai",
            path=slow_server.base_url,
            api_model=api_model,
            max_retries=0,
            timeout_s=30,
            generation_params={"max_new_tokens": 64},
        )
        for name, api_model in (("zephyrine-qx7", "slow-a"), ("quillon-mk4", "slow-b"))
    ]
    arena = Arena.objects.create(name="Crash arena", slug="crash")
    arena.endpoints.add(*endpoints)
    return arena


@pytest.fixture
def voter_session(make_user):
    user = make_user("crash-voter")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    return session


def _battle_responses(public_id):
    return list(Response.objects.filter(slots__comparison__battle__public_id=public_id).order_by("pk"))


def test_a_worker_killed_mid_generation_strands_nothing(platform, slow_arena, voter_session, client):
    platform.env["ARENA_MAX_OPEN_BATTLES"] = "1"
    platform.start_web()
    first = platform.start_worker("first")
    api = platform.url("/api/battles/")
    started = voter_session.post(api, json={"prompt": "Tell me about rivers."}, timeout=10)
    assert started.status_code == 201, started.text
    battle_id = started.json()["id"]

    # Both answers are being written (some words are in the database), then the worker dies.
    wait_until(
        lambda: all(r.status == "running" and r.text for r in _battle_responses(battle_id)),
        60,
        "both answers to be half-written",
    )
    platform.kill(first)
    killed_at = time.monotonic()
    assert {r.status for r in _battle_responses(battle_id)} == {"running"}

    # While its heartbeat is fresh the battle counts toward the limit of one open battle...
    refused = voter_session.post(api, json={"prompt": "And about birds?"}, timeout=10)
    assert refused.status_code == 429 and "still being answered" in refused.json()["detail"]
    # ...once it is stale the battle is stranded: the voter may start another, and is told why it waits.
    wait_until(
        lambda: voter_session.get(f"{api}{battle_id}/", timeout=10).json()["sides"][0]["retrying"],
        30,
        "the battle to show that its answers are being retried",
    )
    client.force_login(Battle.objects.get(public_id=battle_id).voter)
    page = client.get(f"/arena/b/{battle_id}/").content.decode()
    assert RETRY_MESSAGE in page and not leaked_model_names(page)
    second = voter_session.post(api, json={"prompt": "And about birds?"}, timeout=10)
    assert second.status_code == 201, second.text

    # A new worker (with beat, as every documented command starts) finishes both battles.
    platform.start_worker("second", beat=True)
    for public_id in (battle_id, second.json()["id"]):
        wait_until(
            lambda public_id=public_id: voter_session.get(f"{api}{public_id}/", timeout=10).json()["votable"],
            90,
            f"battle {public_id} to become votable",
        )
        vote = voter_session.post(f"{api}{public_id}/vote/", json={"choice": "a"}, timeout=10)
        assert vote.status_code == 201, vote.text
    assert time.monotonic() - killed_at < 90

    # One row per answer, each written once to the end by its latest claim.
    for public_id, attempts in ((battle_id, 2), (second.json()["id"], 1)):
        responses = _battle_responses(public_id)
        assert len(responses) == 2
        assert all(r.status == "done" and r.attempts == attempts for r in responses)
        assert all(
            r.text == " ".join(WORDS[i % len(WORDS)] for i in range(SlowAnswers.words)) for r in responses
        )
    assert Response.objects.count() == 4
    # The leaderboard counts both votes.
    wait_until(
        lambda: (
            getattr(
                RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first(),
                "judgment_count",
                0,
            )
            == 2
        ),
        60,
        "the leaderboard to count both votes",
    )


def test_a_refit_lost_with_its_worker_is_redone(platform, tiny_model_dirs, voter_session, make_comparison):
    platform.start_web()
    arena = Arena.objects.create(name="Refit arena", slug="refit")
    voter = Token.objects.get(key=voter_session.headers["Authorization"].split()[1]).user
    battles = [
        Battle.objects.create(arena=arena, comparison=make_comparison(["warm sun", "cold moon"]), voter=voter)
        for _ in range(3)
    ]
    # Three votes while no worker runs: they queue one live refit between them (coalesced).
    for battle in battles:
        response = voter_session.post(
            platform.url(f"/api/battles/{battle.public_id}/vote/"), json={"choice": "b"}, timeout=10
        )
        assert response.status_code == 201, response.text
    # A refit that takes seconds (huge bootstrap): its worker can be killed in the middle of it.
    first = platform.start_worker("first", queues="ranking", RANKING_LIVE_BOOTSTRAP=60000)
    wait_until(
        lambda: (
            "ranking.live_refit" in first.log_path.read_text() and "received" in first.log_path.read_text()
        ),
        30,
        "the first worker to start a live refit",
    )
    time.sleep(0.5)
    platform.kill(first)
    killed_at = time.monotonic()
    assert "succeeded" not in first.log_path.read_text(), "the refit finished before the kill; make it slower"
    assert not RatingSnapshot.objects.filter(judgment_count=3).exists()

    # No new vote arrives: only the sweeper can notice the board misses three.
    platform.start_worker("second", beat=True)
    wait_until(
        lambda: RatingSnapshot.objects.filter(
            method="bt", style_control=False, category="", judgment_count=3
        ).exists(),
        90,
        "the leaderboard to count all three votes",
    )
    assert time.monotonic() - killed_at < 90
    assert Judgment.objects.count() == 3
    # It was the sweeper that noticed (the lost refit's message waits out the visibility timeout).
    assert "the leaderboard misses votes" in platform.processes[-1].log_path.read_text()
