"""Broker and database faults during voting, on real processes: gunicorn on the test database, a
private redis-server (restarted mid-vote) and the PostgreSQL backends of the web processes and the
worker terminated mid-vote. Every vote gets a success or a retryable 503 with Retry-After and a sentence, never a
500 and never a silent loss (while Redis is down the rate limits cannot be counted: 503); afterwards the counts are exact and the leaderboard counts them all."""

import threading
import time

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import Judgment
from arena.models import Arena
from inference.models import ModelEndpoint
from ranking.models import RatingSnapshot
from tests.conftest import _database_url
from tests.live_platform import LivePlatform, finished_battles, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VOTERS = 6
BATTLES_PER_VOTER = 60
SHORT = dict(
    WORKER_HEARTBEAT_SECONDS=0.5,
    WORKER_STALE_AFTER_SECONDS=5,
    SWEEP_STRANDED_SECONDS=2,
    INFERENCE_REQUEUE_PENDING_SECONDS=5,
    RANKING_FULL_REFIT_SECONDS=3600,
)


@pytest.fixture
def platform(tmp_path, transactional_db):  # torn down before the database is flushed
    # The platform's processes name their connections, so the test terminates theirs and no others.
    url = _database_url(connection.settings_dict)
    live = LivePlatform(url, tmp_path / "platform", **SHORT)
    live.application_name = f"prefarena-faults-{id(live)}"
    live.env["DATABASE_URL"] = f"{url}?application_name={live.application_name}"
    live.start_redis()
    yield live
    live.close()


def _terminate_backends(platform):
    """pg_terminate_backend for the platform's connections (web and worker) to this test database only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [connection.settings_dict["NAME"], platform.application_name],
        )
        return cursor.fetchone()[0]


class Voter(threading.Thread):
    """Votes on each of its battles; a 503 is retried after its Retry-After, anything else is recorded."""

    def __init__(self, platform, token, battles, pace):
        super().__init__(daemon=True)
        self.platform, self.battles, self.pace = platform, battles, pace
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.accepted, self.unavailable, self.problems = 0, 0, []

    def run(self):
        for battle in self.battles:
            url = self.platform.url(f"/api/battles/{battle.public_id}/vote/")
            for _ in range(40):
                try:
                    response = self.session.post(url, json={"choice": "a"}, timeout=10)
                except requests.RequestException as exc:  # gunicorn stays up: a refused connection is a bug
                    self.problems.append(f"{type(exc).__name__}: {exc}")
                    break
                if response.status_code in (200, 201):
                    self.accepted += 1
                    break
                if (
                    response.status_code == 503
                    and response.headers.get("Retry-After")
                    and response.json().get("detail")
                ):
                    self.unavailable += 1
                    time.sleep(min(float(response.headers["Retry-After"]), 0.5))
                    continue
                self.problems.append(f"{response.status_code}: {response.text[:300]}")
                break
            time.sleep(self.pace)


def test_votes_survive_a_redis_restart_and_dropped_database_connections(platform, make_user, tiny_model_dirs):
    endpoints = [
        ModelEndpoint.objects.create(name=f"fault-model-{i}", path=str(tiny_model_dirs[i])) for i in (0, 1)
    ]
    arena = Arena.objects.create(name="Fault arena", slug="faults")
    arena.endpoints.add(*endpoints)
    voters = []
    for i in range(VOTERS + 1):
        user = make_user(f"fault-voter-{i}")
        voters.append(
            (Token.objects.create(user=user).key, finished_battles(arena, user, BATTLES_PER_VOTER, endpoints))
        )
    probe_token, probe_battles = voters.pop()
    probe = requests.Session()
    probe.headers["Authorization"] = f"Token {probe_token}"
    platform.start_web(workers=2, threads=4)
    worker = platform.start_worker("worker", beat=True)

    clients = [Voter(platform, token, battles, pace=0.08) for token, battles in voters]
    for client in clients:
        client.start()
    time.sleep(1)

    # Redis goes away: the rate limits cannot be counted, so a vote answers a retryable 503 (never a
    # 500), and readiness says what is down.
    platform.stop_redis()
    vote = probe.post(
        platform.url(f"/api/battles/{probe_battles[0].public_id}/vote/"), json={"choice": "b"}, timeout=10
    )
    assert vote.status_code == 503 and vote.headers["Retry-After"] and vote.json()["detail"], vote.text
    ready = requests.get(platform.url("/readyz"), timeout=10)
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert "broker" in ready.json()["detail"] and "cache" in ready.json()["detail"]
    time.sleep(1)
    platform.start_redis()
    # Back: the same vote, retried, is stored.
    vote = probe.post(
        platform.url(f"/api/battles/{probe_battles[0].public_id}/vote/"), json={"choice": "b"}, timeout=10
    )
    assert vote.status_code == 201, vote.text

    # The database connections of the web processes and the worker are cut, again and again,
    # while clients vote (as a PostgreSQL restart or failover would).
    terminated = 0
    for _ in range(12):
        terminated += _terminate_backends(platform)
        time.sleep(0.25)
    assert terminated > 0

    for client in clients:
        client.join(90)
    assert not any(client.is_alive() for client in clients)
    problems = [problem for client in clients for problem in client.problems]
    assert not problems, problems[:5]
    accepted = sum(client.accepted for client in clients)
    assert accepted == VOTERS * BATTLES_PER_VOTER
    print(
        f"\n{accepted} votes accepted, {sum(c.unavailable for c in clients)} retryable 503s, "
        f"{terminated} backends terminated"
    )

    # A worker that held unacknowledged messages when Redis went away can exit (a kombu failure to
    # restore them on the closed connection; README "When something fails"): restart it, as the
    # documented supervisors do.
    if worker.poll() is not None:
        print("the worker exited on the Redis restart; restarted as a supervisor would")
        platform.start_worker("worker-again", beat=True)

    # Exact counts: one judgment per battle voted, and the leaderboard counts every one.
    total = accepted + 1
    assert Judgment.objects.count() == total
    assert requests.get(platform.url("/readyz"), timeout=10).status_code == 200
    wait_until(
        lambda: RatingSnapshot.objects.filter(
            method="bt", style_control=False, category="", judgment_count=total
        ).exists(),
        60,
        f"the leaderboard to count all {total} votes",
    )
