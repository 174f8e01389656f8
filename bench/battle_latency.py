"""Time from "Start battle" to the first words and to both answers done, through the real web
server (gunicorn) and the real Celery worker, in `./prefarena demo`'s shape: SQLite and the
embedded broker in a fresh var/ directory, the demo's seeding (which queues the sample-prompt pool
in the background), one worker with 2 threads.

    .venv/bin/python bench/battle_latency.py [--backend llama_cpp|transformers] [--battles 3]

Needs the demo models (`manage.py install_demo_models`; for llama_cpp the GGUF files are made
here). Measures, in order:
  typed, first minute   a typed prompt right after the worker starts (pool and AI judges queued)
  typed                 typed prompts once the pool is filled
  pooled                the sample prompts the pool answered ahead of time
Polls the battle API every 0.1 s, so figures are to within 0.1 s."""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPED = [
    "Name a fruit that is red.",
    "What do bees make?",
    "Give me a word that rhymes with cat.",
    "How many legs does a spider have?",
    "Name a planet with rings.",
]


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, token, path, body=None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body else "GET",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def battle(base, token, prompt, limit_s=300):
    """(seconds to the first words on either side, seconds to both done)."""
    started = time.perf_counter()
    battle_id = api(base, token, "/api/battles/", {"prompt": prompt})["id"]
    first = None
    while time.perf_counter() - started < limit_s:
        payload = api(base, token, f"/api/battles/{battle_id}/")
        if first is None and any(side["text"] for side in payload["sides"]):
            first = time.perf_counter() - started
        if payload["finished"]:
            if payload["failed"]:
                raise RuntimeError(f"a model failed on {prompt!r}")
            return first or time.perf_counter() - started, time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError(f"no answer within {limit_s} s for {prompt!r}")


def wait_http(url, process, limit_s=120):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[2]} exited at start")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {limit_s} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="llama_cpp", choices=["llama_cpp", "transformers"])
    parser.add_argument("--battles", type=int, default=3)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "models")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix=f"prefarena-battle-bench-{args.backend}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.update(
        PREFARENA_VAR_DIR=str(var),
        PREFARENA_MODELS_DIR=str(args.models_dir.resolve()),
        PREFARENA_DEMO_BACKEND=args.backend,
        DJANGO_SETTINGS_MODULE="config.settings",
        HF_HUB_OFFLINE="1",
        # One voter starts every battle here, faster than the public per-voter limit (6 a minute) allows.
        THROTTLE_BATTLES="1000/min",
        THROTTLE_BATTLES_IP="1000/min",
    )
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from arena.models import Arena
    from arena.selectors import sample_answers
    from inference.demo_models import ensure_demo_gguf

    if args.backend == "llama_cpp":
        ensure_demo_gguf(args.models_dir, progress=False)
    call_command("migrate", verbosity=0)
    call_command("seed_demo")
    from django.contrib.auth import get_user_model

    token = Token.objects.get_or_create(user=get_user_model().objects.get(username="annotator"))[0].key
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = []
    log = open(var / "worker.log", "w")
    try:
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "default,inference,ranking,export",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        wait_http(base + "/api/", processes[1])
        deadline = time.monotonic() + 60
        while "ready." not in (var / "worker.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"backend {args.backend}; var {var}; load average {loadavg()}")
        rows = {"typed, first minute": [battle(base, token, TYPED[0])]}
        arena = Arena.objects.get(slug="demo")
        started = time.monotonic()
        while sample_answers(arena)["filling"] and time.monotonic() - started < 1800:
            time.sleep(1)
        progress = sample_answers(arena)
        from inference.models import Response, ResponsePool
        from inference.services import pool_progress

        done, failed, total = pool_progress(
            ResponsePool.objects.get(name=f"arena-{arena.slug}-sample-prompts")
        )
        errors = set(Response.objects.filter(pooled=True, status="failed").values_list("error", flat=True))
        print(
            f"pool filled in the background: {progress['ready']}/{progress['total']} prompts ready "
            f"({done} answers done, {failed} failed{': ' + '; '.join(errors) if errors else ''}) "
            f"{time.monotonic() - started:.0f} s after the first battle"
        )
        rows["typed"] = [battle(base, token, text) for text in TYPED[1 : 1 + args.battles]]
        rows["pooled"] = [battle(base, token, text) for text in arena.sample_prompts[: args.battles]]
        for label, figures in rows.items():
            firsts, dones = [f for f, _ in figures], [d for _, d in figures]
            print(
                f"  {label:20s} first words median {statistics.median(firsts):5.1f} s   both done median "
                f"{statistics.median(dones):5.1f} s   (all done: {', '.join(f'{d:.1f}' for d in dones)})"
            )
        print(f"load average at the end {loadavg()}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
