"""Vote ingestion on the production shape: gunicorn on PostgreSQL, Redis (a private
redis-server), a real Celery worker with beat on the same machine, and answers streamed by a
loopback OpenAI-compatible server (canned text, so generation is not measured).

    .venv/bin/python bench/vote_ingestion.py [--clients 32] [--votes-per-client 150] \\
        [--rate 100] [--open-seconds 20] [--web-workers 2] [--web-threads 4] [--profile out.svg]

Phases, in one run:
  1. set-up: a fresh database (dropped at the end), battles started through the API and answered
     by the worker via the loopback server; the rest of the battles are bulk-created with
     finished answers (starting thousands through the API would measure generation);
  2. baseline: GET /healthz, closed loop with the same clients through the same gunicorn;
  3. closed loop: ``--clients`` clients vote as fast as answers come back (votes/s, p50/p99);
  4. open loop: votes sent at a fixed ``--rate`` for ``--open-seconds``, latency measured from
     each vote's scheduled time (so queueing counts; no coordinated omission);
  5. exact counts: judgments = accepted votes, and the leaderboard's vote total = rated votes,
     and how long after the last vote the live board counted it.
Clients run in separate processes (keep-alive HTTP/1.1 connections), so the client's GIL is not
the bottleneck. Prints the machine's load average at each phase: the machine may be shared."""

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BASE_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


# -- clients (child processes) ----------------------------------------------------------------------


def _client(port, token, jobs, start_at, rate_slot, results):
    """One client process: ``jobs`` is a list of (method, path, body); with ``rate_slot`` =
    (offset, interval) each request is sent at its scheduled time (open loop), else back to back."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    out = []
    while time.time() < start_at:
        time.sleep(0.001)
    for i, (method, path, body) in enumerate(jobs):
        scheduled = None
        if rate_slot:
            scheduled = start_at + rate_slot[0] + i * rate_slot[1]
            delay = scheduled - time.time()
            if delay > 0:
                time.sleep(delay)
        sent = time.time()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        done = time.time()
        out.append((status, done - (scheduled or sent), done))
    results.put(out)


def run_clients(port, plans, rate=None):
    """plans: [(token, jobs)]; returns (all results, wall seconds). With ``rate`` (requests/s in
    total) the clients' requests interleave on one fixed schedule."""
    results = multiprocessing.Queue()
    start_at = time.time() + 1.0
    n = len(plans)
    processes = []
    for k, (token, jobs) in enumerate(plans):
        slot = (k / rate, n / rate) if rate else None
        processes.append(
            multiprocessing.Process(target=_client, args=(port, token, jobs, start_at, slot, results))
        )
    for process in processes:
        process.start()
    out = [row for _ in processes for row in results.get()]
    for process in processes:
        process.join()
    wall = max(done for _, _, done in out) - start_at
    return out, wall


def summary(name, out, wall):
    ok = [latency for status, latency, _ in out if 200 <= status < 300]
    lat = sorted(ok)
    statuses = {}
    for status, _, _ in out:
        statuses[status] = statuses.get(status, 0) + 1

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    figures = {
        "requests": len(out),
        "ok": len(ok),
        "per_s": len(ok) / wall,
        "p50_ms": q(0.5),
        "p99_ms": q(0.99),
        "statuses": statuses,
        "load": loadavg(),
    }
    print(
        f"{name:<28} {len(ok):>6} ok in {wall:6.2f} s = {figures['per_s']:7.1f}/s   p50 {figures['p50_ms']:6.1f} ms"
        f"   p99 {figures['p99_ms']:7.1f} ms   statuses {statuses}   load {' '.join(figures['load'])}",
        flush=True,
    )
    return figures


# -- the bench -----------------------------------------------------------------------------------------


def in_process(platform, arena, endpoints, voter, token, n, cprofile=None):
    """One thread, Django's test client, no network to the web server: database queries per
    vote, and wall and CPU time per vote against GET /healthz. Steadier than the HTTP loops on a
    shared machine, and the figure to compare before/after a change of the vote path."""
    from django.db import connection
    from django.test import Client, override_settings

    from config.celery import app
    from tests.live_platform import finished_battles

    app.conf.broker_url = platform.redis_url  # refits queue to the platform's worker
    battles = finished_battles(arena, voter, n + 20, endpoints)
    from django.conf import settings

    cache = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": platform.redis_url}
    }
    rates = {scope: "10000000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    with override_settings(
        CACHES=cache, REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")

        def vote(battle):
            response = client.post(
                f"/api/battles/{battle.public_id}/vote/", {"choice": "a"}, content_type="application/json"
            )
            assert response.status_code == 201, response.content

        for battle in battles[:20]:
            vote(battle)  # warm: connections, URL resolver, first refit
        queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)
        ):
            vote(battles[20])
        figures = {}
        for name, run in (
            ("vote", lambda: [vote(b) for b in battles[21 : n + 20]]),
            ("healthz", lambda: [client.get("/healthz") for _ in range(n - 1)]),
        ):
            wall, cpu = time.perf_counter(), time.process_time()
            if cprofile and name == "vote":
                import cProfile

                cProfile.runctx("run()", globals(), {"run": run}, cprofile)  # read with python -m pstats
            else:
                run()
            figures[name] = (
                (time.perf_counter() - wall) / (n - 1) * 1000,
                (time.process_time() - cpu) / (n - 1) * 1000,
            )
    print(
        f"in-process, one thread: a vote takes {len(queries)} database queries, "
        f"{figures['vote'][0]:.2f} ms wall / {figures['vote'][1]:.2f} ms CPU; GET /healthz "
        f"{figures['healthz'][0]:.2f} ms / {figures['healthz'][1]:.2f} ms; load {' '.join(loadavg())}",
        flush=True,
    )
    return n + 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--votes-per-client", type=int, default=150)
    parser.add_argument("--api-battles-per-client", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--open-seconds", type=float, default=20.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="nice level of the Celery worker (refits yield the CPU to web processes)",
    )
    parser.add_argument(
        "--profile", default="", help="py-spy SVG of one gunicorn worker during the closed loop"
    )
    parser.add_argument("--in-process-votes", type=int, default=200)
    parser.add_argument("--cprofile", help="write a cProfile of the in-process votes to this file")
    parser.add_argument(
        "--max-turns",
        type=int,
        default=5,
        help="the bench arena's turns: 1 takes the one-turn vote path (no lock)",
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    name = f"prefarena_votebench_{os.getpid()}"
    database_url = f"{BASE_URL}/{name}"
    os.environ["DATABASE_URL"] = database_url
    import psycopg

    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(f"/tmp/{name}")
    platform = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from tests.live_platform import LivePlatform

        call_command("migrate", verbosity=0)
        # Made here, so a failed run still stops every process it started.
        from django.conf import settings

        # The rate limits stay on (their cache round trips are part of a vote's cost), set out of reach.
        limits = {
            f"THROTTLE_{scope.upper()}": "10000000/min"
            for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        }
        platform = LivePlatform(
            database_url,
            workdir,
            ARENA_MAX_OPEN_BATTLES=10_000,
            DJANGO_SETTINGS_MODULE="config.settings",
            RANKING_FULL_REFIT_SECONDS=3600,
            LOG_LEVEL="WARNING",
            **limits,
        )
        _run(args, platform)
    finally:
        if platform is not None:
            platform.close()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(args, platform):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.models import Judgment
    from arena.models import Arena
    from inference.models import ModelEndpoint
    from inference.openai_server import OpenAICompatibleServer
    from ranking.models import RatingSnapshot
    from tests.live_platform import CannedAnswers, finished_battles, wait_until

    server = OpenAICompatibleServer({"canned-a": "", "canned-b": ""}, handler=CannedAnswers)
    server.start_in_thread()
    endpoints = [
        ModelEndpoint.objects.create(
            name=f"bench-model-{side}",
            backend="openai",
            path=server.base_url,
            api_model=f"canned-{side}",
            generation_params={"max_new_tokens": 32},
        )
        for side in "ab"
    ]
    arena = Arena.objects.create(name="Vote bench", slug="vote-bench", max_turns=args.max_turns)
    arena.endpoints.add(*endpoints)
    users = [get_user_model().objects.create_user(f"bench-voter-{i}") for i in range(args.clients)]
    tokens = [Token.objects.create(user=user).key for user in users]

    platform.start_redis()
    platform.start_web(workers=args.web_workers, threads=args.web_threads)
    worker = platform.start_worker("bench", beat=True, concurrency=2)
    if args.worker_nice:
        subprocess.run(
            ["renice", "-n", str(args.worker_nice), "-g", str(worker.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(
        f"load average at start: {' '.join(loadavg())}; web {args.web_workers}x{args.web_threads}, "
        f"worker nice {args.worker_nice}",
        flush=True,
    )

    # 1. Battles through the API, answered by the worker from the loopback server.
    started = time.perf_counter()
    plans = [
        (
            token,
            [
                ("POST", "/api/battles/", json.dumps({"prompt": f"Question {i} of client {k}."}))
                for i in range(args.api_battles_per_client)
            ],
        )
        for k, token in enumerate(tokens)
    ]
    out, _ = run_clients(platform.web_port, plans)
    assert all(status == 201 for status, _, _ in out), {status for status, _, _ in out}
    from arena.models import Battle

    api_battles = {user.pk: list(Battle.objects.filter(voter=user)) for user in users}
    wait_until(
        lambda: (
            not Battle.objects.filter(comparison__slots__response__status__in=["pending", "running"]).exists()
        ),
        120,
        "the worker to answer the API battles",
    )
    print(
        f"{sum(map(len, api_battles.values()))} battles started through the API and answered by the worker "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    open_per_client = int(args.rate * args.open_seconds / args.clients) + 1
    battles = {
        user.pk: api_battles[user.pk]
        + finished_battles(
            arena, user, args.votes_per_client + open_per_client - len(api_battles[user.pk]), endpoints
        )
        for user in users
    }

    in_process_votes = in_process(
        platform, arena, endpoints, users[0], tokens[0], args.in_process_votes, args.cprofile
    )

    # 2. Baseline: a trivial endpoint through the same gunicorn, same clients.
    per_client = max(50, args.votes_per_client // 2)
    out, wall = run_clients(
        platform.web_port, [(token, [("GET", "/healthz", None)] * per_client) for token in tokens]
    )
    base = summary("baseline GET /healthz", out, wall)

    # 3. Closed loop.
    profiler = None
    if args.profile:
        pids = subprocess.run(
            ["pgrep", "-P", str(platform.processes[0].pid)], capture_output=True, text=True
        ).stdout.split()
        profiler = subprocess.Popen(
            [
                "py-spy",
                "record",
                "-o",
                args.profile,
                "--pid",
                pids[0],
                "--rate",
                "200",
                "--format",
                "raw" if args.profile.endswith(".txt") else "flamegraph",
                "--duration",
                "600",
                "--nonblocking",
                *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        time.sleep(1)
    vote = json.dumps({"choice": "a"})
    plans = [
        (
            token,
            [
                ("POST", f"/api/battles/{b.public_id}/vote/", vote)
                for b in battles[user.pk][: args.votes_per_client]
            ],
        )
        for user, token in zip(users, tokens)
    ]
    out, wall = run_clients(platform.web_port, plans)
    closed = summary(f"closed loop, {args.clients} clients", out, wall)
    accepted = in_process_votes + sum(1 for status, _, _ in out if status in (200, 201))
    if profiler:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on an interrupt
        profiler.wait()

    # 4. Open loop at a fixed rate.
    plans = [
        (
            token,
            [
                ("POST", f"/api/battles/{b.public_id}/vote/", vote)
                for b in battles[user.pk][args.votes_per_client : args.votes_per_client + open_per_client]
            ],
        )
        for user, token in zip(users, tokens)
    ]
    out, wall = run_clients(platform.web_port, plans, rate=args.rate)
    opened = summary(f"open loop, {args.rate:g} votes/s", out, wall)
    accepted += sum(1 for status, _, _ in out if status in (200, 201))
    last_vote = max(done for _, _, done in out)

    # 5. Exact counts, and how soon the live board counted the last vote.
    judgments = Judgment.objects.count()
    board = wait_until(
        lambda: RatingSnapshot.objects.filter(
            method="bt", style_control=False, category="", judgment_count=judgments
        ).first(),
        120,
        "the leaderboard to count every vote",
    )
    lag = board.computed_at.timestamp() - last_vote
    rated = sum(row["n"] for row in board.rows) // 2
    print(
        f"accepted votes {accepted}, judgments {judgments}, leaderboard total {board.judgment_count} "
        f"(pairs counted per model / 2: {rated}); live board counted the last vote {lag:.2f} s after it",
        flush=True,
    )
    assert judgments == accepted == board.judgment_count == rated, "counts differ"
    print(
        f"ratio closed-loop votes/s to the /healthz baseline: {closed['per_s'] / base['per_s']:.2f}; "
        f"goals: >= 400 votes/s closed loop (got {closed['per_s']:.0f}), p99 <= 50 ms at {args.rate:g}/s "
        f"(got {opened['p99_ms']:.1f} ms)",
        flush=True,
    )
    server.shutdown()


if __name__ == "__main__":
    main()
