"""A crowd on one campaign queue: submits per second and p50/p99 of `next` and submit, with 12 and 50
annotators, the code as it stands against a baseline checkout, in one run (issue 18).

    git archive main | tar -x -C /tmp/queue-base         # the code to compare with (same migrations)
    .venv/bin/python bench/campaign_queue.py --before-tree /tmp/queue-base   # HTTP against gunicorn
    .venv/bin/python bench/campaign_queue.py --via services     # the queue services on threads, no HTTP

Each annotator loops next → submit with no pause on a fresh campaign (K=2, overlap 3, enough items that it
never runs dry). Modes: "after" is this tree's code; with --before-tree, "main" is that tree's code served by
its own gunicorn, and "old" is that tree with its bench shim's old lock of submit and skip (issue 18 section
2: select_for_update() over the assignment's join with no of=, which locked the campaign row too; the shim
lives in that tree's copy of this file, where `X-Bench-Lock: old` turns it on), the issue's baseline. The
machine is shared, so the modes do not run one after the other: the run cycles through them every --phase
seconds on the same database and campaign, for --seconds each, and measures each phase only once the other
modes' requests have all ended. HTTP runs gunicorn as docker/Dockerfile does (2 workers × 4 threads) on
PostgreSQL; the annotators are threads with their own keep-alive connection and API token. A sampler counts
the backends that wait for a row lock, by the table their statement is about (assignment: submit's lock;
campaignitem: an item lock). First it prints one annotator's app CPU per next + submit for each tree.
DATABASE_URL names the database (default prefarena_queue_bench): created, migrated, and dropped at the end
unless --keep. --via services runs only "after" (one process holds one version of the code)."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefarena_queue_bench")
RANKING = {"ranking": [[0], [1]]}
# mode: (which tree serves it, the X-Bench-Lock header); "before" is --before-tree, "self" this file's tree
MODE_SPECS = {"old": ("before", "old"), "main": ("before", "new"), "after": ("self", "new")}
SETTLE = 0.5  # seconds left out at the start of each phase at least


def wsgi():
    """gunicorn 'bench.campaign_queue:wsgi()': the product's WSGI application (a baseline tree's copy of this
    file may read X-Bench-Lock to re-create an old lock)."""
    from config.wsgi import application

    return application


def _load():
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _admin_url():
    url = os.environ["DATABASE_URL"]
    return url.rsplit("/", 1)[0] + "/postgres", url.rsplit("/", 1)[1]


def _ensure_database():
    import psycopg

    admin, name = _admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database():
    import psycopg
    from django.db import connections

    connections.close_all()
    admin, name = _admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _annotators(n):
    """n annotators (created once, shared by the campaigns) and their API tokens."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    role = Group.objects.get_or_create(name="annotator")[0]
    users = []
    for i in range(n):
        user = get_user_model().objects.get_or_create(username=f"bench-annotator-{i}")[0]
        user.groups.add(role)
        users.append((user, Token.objects.get_or_create(user=user)[0].key))
    return users


def _campaign(slug, n_items, overlap):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotation import campaigns, items
    from annotation.rubrics import template_spec

    researcher = get_user_model().objects.get_or_create(username="bench-researcher")[0]
    researcher.groups.add(Group.objects.get_or_create(name="researcher")[0])
    rubric = campaigns.create_rubric(f"bench-{slug}", template_spec("simple"), user=researcher)
    campaign = campaigns.create_campaign(
        user=researcher, name=slug, slug=slug, rubric=rubric, k=2, overlap=overlap
    )
    rows = [
        {"prompt": f"Question {i} of {slug}?", "responses": [f"Answer A to {i}", f"Answer B to {i}"]}
        for i in range(n_items)
    ]
    items.import_items(campaign, "\n".join(json.dumps(r) for r in rows).encode(), "jsonl")
    return campaign


class Schedule:
    """Warm-up (mode "after", not measured), then phases that alternate before/after. A phase is measured
    from the moment every request begun in the phase before it has ended (and at least SETTLE in), so
    neither mode's queue spills into the other's figures; a request counts when it began and ended there."""

    def __init__(self, modes, warmup, seconds, phase):
        self.modes = modes
        self.t0 = time.perf_counter() + warmup
        self.phase = phase
        self.n_phases = len(modes) * max(1, round(seconds / phase))
        self.end = self.t0 + self.n_phases * phase
        self.lock = threading.Lock()
        self.requests = []  # (began, ended, "next"|"submit", outcome)
        self.samples = []  # (time, [table each backend waiting for a lock is about])

    def mode(self, t=None):
        t = time.perf_counter() if t is None else t
        if t < self.t0:
            return self.modes[-1]
        return self.modes[int((t - self.t0) // self.phase) % len(self.modes)]

    def add(self, what, began, outcome):
        with self.lock:
            self.requests.append((began, time.perf_counter(), what, outcome))

    def sample(self, tables):
        self.samples.append((time.perf_counter(), tables))

    def windows(self):
        """(mode, start, end) of each phase's measured part."""
        result = []
        for index in range(self.n_phases):
            start = self.t0 + index * self.phase
            drained = max([ended for began, ended, _, _ in self.requests if began < start] or [start])
            result.append(
                (self.modes[index % len(self.modes)], max(start + SETTLE, drained), start + self.phase)
            )
        return result

    def summary(self, mode):
        windows = [(start, end) for m, start, end in self.windows() if m == mode and start < end]

        def inside(began, ended):
            return any(start <= began and ended < end for start, end in windows)

        def pct(values, q):
            return (
                1000 * sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
            )

        mine = [
            (what, ended - began, outcome)
            for began, ended, what, outcome in self.requests
            if inside(began, ended)
        ]
        nxt = [t for what, t, _ in mine if what == "next"]
        sub = [t for what, t, _ in mine if what == "submit"]
        outcomes = Counter(f"{what} {outcome}" for what, _, outcome in mine)
        seconds = sum(end - start for start, end in windows)
        samples = [tables for t, tables in self.samples if inside(t, t)]
        waits = Counter(table.removeprefix("annotation_") for tables in samples for table in tables)
        return {
            "seconds": seconds,
            "submits_per_s": outcomes["submit 201"] / seconds if seconds else float("nan"),
            "next_p50_ms": pct(nxt, 0.50),
            "next_p99_ms": pct(nxt, 0.99),
            "submit_p50_ms": pct(sub, 0.50),
            "submit_p99_ms": pct(sub, 0.99),
            "lock_waiters": sum(waits.values()) / max(len(samples), 1),
            "lock_waiters_by_table": {
                t: round(n / max(len(samples), 1), 2) for t, n in sorted(waits.items())
            },
            "outcomes": dict(sorted(outcomes.items())),
        }


def _crowd(worker, n, schedule):
    """``worker(i)`` on n threads until the schedule ends, with a lock-wait sampler beside them."""
    import psycopg

    done = threading.Event()

    def sampler():
        _, name = _admin_url()
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            while not done.wait(0.05):
                schedule.sample(
                    [
                        row[0]
                        for row in conn.execute(
                            # the statement's first table (its text is cut at 1 kB, so FROM may be missing)
                            "SELECT coalesce(substring(query from '^(?:SELECT|INSERT INTO|UPDATE) \"([a-z_]+)\"'), '?') "
                            "FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                            (name,),
                        )
                    ]
                )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    watcher = threading.Thread(target=sampler)
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()


def _gunicorn(tree):
    """gunicorn serving ``tree``'s code (2 workers × 4 threads, as docker/Dockerfile); (process, base url)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.campaign_queue:wsgi()", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "2", "--threads", "4", "--log-level", "warning"],
        cwd=tree,
        env=dict(os.environ, DEBUG="0", LOG_LEVEL="WARNING"),
        start_new_session=True,
    )
    return server, f"http://127.0.0.1:{port}"


def run_http(campaign, annotators, new_schedule, trees):
    """The crowd over HTTP; each mode's requests go to the gunicorn of its tree, with its lock header."""
    import requests

    servers = {name: _gunicorn(tree) for name, tree in trees.items()}
    try:
        for server, base in servers.values():
            _wait_until_up(base, server)
        schedule = new_schedule()
        routes = {mode: (servers[MODE_SPECS[mode][0]][1], MODE_SPECS[mode][1]) for mode in schedule.modes}

        def worker(i):
            session = requests.Session()
            session.headers["Authorization"] = f"Token {annotators[i][1]}"
            while time.perf_counter() < schedule.end:
                base, lock = routes[schedule.mode()]
                headers = {"X-Bench-Lock": lock}
                began = time.perf_counter()
                response = session.post(f"{base}/api/campaigns/{campaign.slug}/next/", headers=headers)
                schedule.add("next", began, response.status_code)
                if response.status_code != 200:
                    time.sleep(float(response.headers.get("Retry-After", 0.05)))
                    continue
                began = time.perf_counter()
                response = session.post(base + response.json()["submit_url"], json=RANKING, headers=headers)
                schedule.add("submit", began, response.status_code)

        _crowd(worker, len(annotators), schedule)
        return schedule
    finally:
        for server, _ in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)


def run_services(campaign, annotators, new_schedule, trees):
    from django.db import connection

    from annotation import queues

    schedule = new_schedule()

    def worker(i):
        user = annotators[i][0]
        try:
            while time.perf_counter() < schedule.end:
                began = time.perf_counter()
                try:
                    assignment = queues.next_assignment(campaign, user)
                except (queues.QueueEmpty, queues.QueueBusy) as exc:
                    schedule.add("next", began, type(exc).__name__)
                    time.sleep(0.05)
                    continue
                schedule.add("next", began, 200)
                began = time.perf_counter()
                queues.submit(campaign, user, assignment.pk, RANKING)
                schedule.add("submit", began, 201)
        finally:
            connection.close()

    _crowd(worker, len(annotators), schedule)
    return schedule


def cpu_per_cycle(annotator, items, overlap, cycles=200):
    """CPU of one next + submit cycle in this process through the API (Django's test client, token auth,
    no server, nobody else): what a 2-core machine has to divide among the crowd, PostgreSQL aside."""
    from django.test import Client

    campaign = _campaign(f"bench-cpu-{int(time.time())}", items, overlap)
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {annotator[1]}")

    def cycle():
        item = client.post(f"/api/campaigns/{campaign.slug}/next/").json()
        assert client.post(item["submit_url"], RANKING, content_type="application/json").status_code == 201

    for _ in range(10):
        cycle()
    started = time.process_time()
    for _ in range(cycles):
        cycle()
    return 1000 * (time.process_time() - started) / cycles


def cpu_per_cycle_in(tree, username, items, overlap):
    """cpu_per_cycle with ``tree``'s code, in a child process (ms)."""
    code = (
        "import django, sys; sys.path.insert(0, '.'); django.setup(); "
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        "import bench.campaign_queue as b; "
        f"u = get_user_model().objects.get(username={username!r}); "
        f"print(b.cpu_per_cycle((u, Token.objects.get(user=u).key), {items}, {overlap}))"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(base, server):
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn did not start")
        try:
            requests.post(base + "/api/campaigns/none/next/", timeout=5)  # any answer will do (403)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--via", choices=["http", "services"], default="http")
    parser.add_argument(
        "--before-tree", help="a checkout of the baseline code (HTTP): adds modes old and main"
    )
    parser.add_argument("--modes", help="comma-separated, of old, main, after (default: all there are)")
    parser.add_argument("--crowds", default="12,50", help="annotator counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=40, help="measured time per mode and crowd")
    parser.add_argument("--phase", type=float, default=10, help="seconds per phase (modes alternate)")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured time first")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--no-cpu", dest="cpu", action="store_false", help="skip the one-annotator app CPU figure"
    )
    args = parser.parse_args()
    trees = {"self": ROOT}
    if args.before_tree and args.via == "http":
        trees["before"] = Path(args.before_tree).resolve()
    modes = (
        args.modes.split(",") if args.modes else [m for m, (tree, _) in MODE_SPECS.items() if tree in trees]
    )
    if any(m not in MODE_SPECS or MODE_SPECS[m][0] not in trees for m in modes):
        raise SystemExit(f"modes {modes}: each must be one of {sorted(MODE_SPECS)} with its tree given")
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    crowds = [int(n) for n in args.crowds.split(",")]
    annotators = _annotators(max(crowds))
    run = run_http if args.via == "http" else run_services
    print(
        f"via {args.via}; modes {modes}; trees {trees}; database {os.environ['DATABASE_URL']}; "
        f"{os.cpu_count()} cores; {_load()}",
        flush=True,
    )
    stamp = int(time.time())
    try:
        for name, tree in sorted(trees.items()) if args.cpu else ():  # "before" first
            cpu = (
                cpu_per_cycle(annotators[0], 300, args.overlap)
                if name == "self"
                else cpu_per_cycle_in(tree, annotators[0][0].username, 300, args.overlap)
            )
            print(
                f"one annotator alone, {name} tree: {cpu:.1f} ms of app CPU per next + submit (API, in "
                f"process); {_load()}",
                flush=True,
            )
        for n in crowds:
            campaign = _campaign(f"bench-{stamp}-{n}", args.items, args.overlap)
            schedule = run(
                campaign,
                annotators[:n],
                lambda: Schedule(modes, args.warmup, args.seconds, args.phase),
                trees,
            )
            figures = {mode: schedule.summary(mode) for mode in modes}
            for mode, f in figures.items():
                print(
                    f"{n:3d} annotators, {mode:6s} ({f['seconds']:.0f} s measured): "
                    f"{f['submits_per_s']:6.1f} submits/s; next p50 "
                    f"{f['next_p50_ms']:6.1f} ms, p99 {f['next_p99_ms']:7.1f} ms; submit p50 "
                    f"{f['submit_p50_ms']:6.1f} ms, p99 {f['submit_p99_ms']:7.1f} ms; "
                    f"{f['lock_waiters']:.2f} backends waiting for a lock {f['lock_waiters_by_table']}; "
                    f"{f['outcomes']}",
                    flush=True,
                )
            ratios = ", ".join(
                f"after/{mode} {figures['after']['submits_per_s'] / max(f['submits_per_s'], 1e-9):.2f}x"
                for mode, f in figures.items()
                if mode != "after" and "after" in figures
            )
            print(f"{n:3d} annotators: submits per second {ratios or '-'}; {_load()}", flush=True)
    finally:
        if not args.keep:
            _drop_database()
            print("bench database dropped", flush=True)


if __name__ == "__main__":
    main()
