"""The platform as separate processes, for fault tests: a private redis-server on a free loopback
port (never the shared one), gunicorn, Celery workers and beat, all on the test database. Tests
kill and restart these processes; nothing here touches the shared Redis."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from inference.openai_server import ChatCompletionsHandler

ROOT = Path(__file__).resolve().parent.parent
QUEUES = "default,inference,ranking,export"
WORDS = "the river runs down to the sea and the wind is warm".split()


class CannedAnswers(ChatCompletionsHandler):
    """An OpenAI-compatible chat stream of a canned answer (``words`` words, one every ``delay``
    seconds) and no model: for tests and benches that need answers, not generation."""

    delay = 0.0
    words = 24

    def complete(self, body, path, messages):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta, finish=None):
            payload = {
                "id": "chatcmpl-canned",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        try:
            chunk({"role": "assistant"})
            for i in range(self.words):
                chunk({"content": ("" if i == 0 else " ") + WORDS[i % len(WORDS)]})
                time.sleep(self.delay)
            chunk({}, finish="stop")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except OSError:
            pass  # the worker that asked was killed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


class LivePlatform:
    """Start, kill and restart the pieces; ``close()`` stops every process it started."""

    def __init__(self, database_url, workdir, **settings):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis = None
        self.processes = []
        self.env = dict(os.environ)
        self.env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=database_url,
            CELERY_BROKER_URL=self.redis_url,
            CELERY_RESULT_BACKEND=self.redis_url,
            CACHE_URL=self.redis_url,
            PYTHONUNBUFFERED="1",
        )
        self.env.update({key: str(value) for key, value in settings.items()})

    # -- Redis -------------------------------------------------------------------------------
    def start_redis(self):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=open(self.workdir / "redis.log", "a"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._redis_up, 20, "the private redis-server")

    def _redis_up(self):
        import redis

        try:
            return redis.Redis(port=self.redis_port, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop_redis(self):
        self.redis.terminate()
        self.redis.wait(10)

    # -- workers and web -------------------------------------------------------------------------
    def start_worker(self, name, queues=QUEUES, beat=False, concurrency=2, **extra_env):
        log = self.workdir / f"worker-{name}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{name}-{os.getpid()}@%h",
        ]
        if beat:
            command += ["--beat", "--schedule", str(self.workdir / f"beat-{name}")]
        process = self._spawn(command, log, extra_env)
        wait_until(lambda: self._ready(process, log), 90, f"worker {name}")
        return process

    def start_web(self, workers=1, threads=4, **extra_env):
        self.web_port = free_port()
        log = self.workdir / "web.log"
        process = self._spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
            log,
            extra_env,
        )
        wait_until(lambda: self._ready(process, log, self.url("/healthz")), 60, "gunicorn")
        return process

    def url(self, path):
        return f"http://127.0.0.1:{self.web_port}{path}"

    def _spawn(self, command, log, extra_env):
        env = {**self.env, **{key: str(value) for key, value in extra_env.items()}}
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log
        self.processes.append(process)
        return process

    @staticmethod
    def _ready(process, log, url=None):
        if process.poll() is not None:
            raise AssertionError(f"{process.args[:4]} exited:\n{log.read_text()[-3000:]}")
        if url is None:
            return "ready." in log.read_text()
        try:
            return urllib.request.urlopen(url, timeout=2).status == 200
        except OSError:
            return False

    @staticmethod
    def kill(process):
        """SIGKILL the process group: the worker dies mid-task, with no warm shutdown."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.redis is not None and self.redis.poll() is None:
            self.stop_redis()


def database_url(settings_dict):
    db = settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def finished_battles(arena, voter, count, endpoints):
    """``count`` battles of ``voter`` whose two answers are already written, made in a few bulk
    inserts (fault tests and benches vote on hundreds)."""
    from annotation.models import Comparison, ComparisonSlot
    from arena.models import Battle, BattleAnswer, BattleTurn
    from inference.models import Prompt, Response

    prompts = Prompt.objects.bulk_create(
        Prompt(conversation=[{"role": "user", "content": f"Question {i} for {voter.username}."}])
        for i in range(count)
    )
    responses = Response.objects.bulk_create(
        Response(prompt=prompt, endpoint=endpoint, status="done", text=f"answer {side} . the sun is warm")
        for prompt in prompts
        for side, endpoint in enumerate(endpoints)
    )
    comparisons = Comparison.objects.bulk_create(Comparison(prompt=prompt, k=2) for prompt in prompts)
    ComparisonSlot.objects.bulk_create(
        ComparisonSlot(comparison=comparison, position=side, response=responses[2 * i + side])
        for i, comparison in enumerate(comparisons)
        for side in (0, 1)
    )
    battles = Battle.objects.bulk_create(Battle(arena=arena, comparison=c, voter=voter) for c in comparisons)
    # Each with its first turn and the answers shown on it, as start_battle makes them.
    turns = BattleTurn.objects.bulk_create(
        BattleTurn(battle=battle, index=0, message=prompt.last_user_text)
        for battle, prompt in zip(battles, prompts)
    )
    BattleAnswer.objects.bulk_create(
        BattleAnswer(turn=turn, position=side, response=responses[2 * i + side])
        for i, turn in enumerate(turns)
        for side in (0, 1)
    )
    return battles
