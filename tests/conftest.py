"""Shared fixtures: a tiny real model, a real Celery worker process on Redis,
and arena data. Tests that go through the worker use transactional_db, since
the worker (another process) only sees committed rows."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group

from annotation.services import create_comparison, record_judgment
from inference.models import ModelEndpoint, Prompt, Response
from inference.openai_server import ChatCompletionsHandler, OpenAICompatibleServer
from tests.test_campaign_fixtures import add_role
from tests.tiny_models import build_tiny_chat_model

ROOT = Path(__file__).resolve().parent.parent
TEST_OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output"))
# Tiny greedy generations: deterministic, quick, never empty.
TINY_PARAMS = {"max_new_tokens": 12, "min_new_tokens": 3, "temperature": 0}


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """Two tiny models with different random weights, so the two sides differ."""
    root = tmp_path_factory.mktemp("models")
    return [build_tiny_chat_model(root / f"tiny-gpt2-{seed}", seed=seed) for seed in (0, 1)]


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test database and the Redis broker."""
    from django.db import connection

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()  # no stale messages from an earlier, interrupted run
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    log_path = TEST_OUTPUT / "celery-worker.log"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=_database_url(connection.settings_dict),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_RESULT_BACKEND=settings.CELERY_RESULT_BACKEND,
    )
    log = open(log_path, "w")
    process = subprocess.Popen(
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
            "4",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def _database_url(db):
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def wait_for(predicate, timeout=60, interval=0.2, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


@pytest.fixture(autouse=True)
def fresh_rating_ledger():
    """Each test starts with a worker's empty in-process rating state, as after a restart: the
    database a test wrote is rolled back, and SQLite may then hand the same ids out again."""
    from ranking.glue import refits
    from routing.services import routing_changed

    refits.reset_process_state()
    routing_changed()  # "does any campaign route?" is remembered per process: ask the database again
    yield


@pytest.fixture
def make_user(django_user_model):
    def make(username, password="pw-" + "x" * 8, **extra):
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def people(make_user):
    researcher = add_role(make_user("rita"), "researcher")
    other_researcher = add_role(make_user("otto"), "researcher")
    annotator = add_role(make_user("ann"), "annotator")
    outsider = add_role(make_user("olga"), "annotator")  # not in the campaign's group
    admin = add_role(make_user("adam", is_staff=True), "admin")
    experts = Group.objects.create(name="experts")
    annotator.groups.add(experts)
    return {
        "researcher": researcher,
        "other_researcher": other_researcher,
        "annotator": annotator,
        "outsider": outsider,
        "admin": admin,
        "experts": experts,
    }


@pytest.fixture
def serve(tiny_model_dirs):
    servers = []

    def start(handler=ChatCompletionsHandler, api_key=""):
        server = OpenAICompatibleServer({"tiny": str(tiny_model_dirs[0])}, api_key=api_key, handler=handler)
        server.start_in_thread()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def judged(make_user):
    """Thirty pairwise human judgments of two models (the export tests' small dataset)."""
    user = make_user("rater")
    models = [ModelEndpoint.objects.create(name=f"m-{i}", path="/unused") for i in range(2)]
    for i in range(30):
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": f"prompt {i}"}])
        responses = [
            Response.objects.create(prompt=prompt, endpoint=m, status="done", text=f"answer {i} {m.name}")
            for m in models
        ]
        record_judgment(
            create_comparison(prompt, responses),
            [[i % 2], [1 - i % 2]],
            annotator=user,
            identities_hidden=True,
        )


@pytest.fixture
def arena(tiny_model_dirs):
    """An open arena with two tiny real models, named so a leak is easy to spot."""
    from arena.models import Arena
    from inference.models import ModelEndpoint

    endpoints = [
        ModelEndpoint.objects.create(
            name=name, display_name=display, path=str(path), generation_params=TINY_PARAMS
        )
        for path, (name, display) in zip(
            tiny_model_dirs, [("zephyrine-qx7", "Zephyrine QX7"), ("quillon-mk4", "Quillon MK4")]
        )
    ]
    arena = Arena.objects.create(name="Test arena", slug="test", sample_prompts=["Say hello."])
    arena.endpoints.add(*endpoints)
    return arena


@pytest.fixture
def arena_k4(tiny_model_dirs, tmp_path_factory):
    """An open K=4 arena with four tiny real models (two more seeds), names easy to spot in a leak."""
    from arena.models import Arena

    root = tmp_path_factory.mktemp("models4")
    paths = [
        *tiny_model_dirs,
        *(build_tiny_chat_model(root / f"tiny-gpt2-{seed}", seed=seed) for seed in (2, 3)),
    ]
    names = [
        ("zephyrine-qx7", "Zephyrine QX7"),
        ("quillon-mk4", "Quillon MK4"),
        ("vorpalyn-tz5", "Vorpalyn TZ5"),
        ("brindlewick-j9", "Brindlewick J9"),
    ]
    providers = ["Obsidra AI", "Obsidra AI", "Korvane", "Korvane"]
    endpoints = [
        ModelEndpoint.objects.create(
            name=name, display_name=display, provider=provider, path=str(path), generation_params=TINY_PARAMS
        )
        for path, (name, display), provider in zip(paths, names, providers)
    ]
    arena = Arena.objects.create(name="Four-way arena", slug="four", k=4, sample_prompts=["Say hello."])
    arena.endpoints.add(*endpoints)
    return arena


MODEL_NAME_MARKERS = [
    "zephyrine",
    "quillon",
    "qx7",
    "mk4",
    "vorpalyn",
    "tz5",
    "brindlewick",
    "obsidra",
    "korvane",
]
_RANDOM_TOKEN = re.compile(r"[A-Za-z0-9]{32,}")


def leaked_model_names(text):
    """The model-name markers found in text, leaving out long random tokens (CSRF tokens,
    session keys): one of 64 random characters holds "qx7" about once in a few hundred pages."""
    lowered = _RANDOM_TOKEN.sub("", text).lower()
    return [marker for marker in MODEL_NAME_MARKERS if marker in lowered]


@pytest.fixture
def voter(make_user):
    return make_user("voter")


@pytest.fixture
def api(voter):
    """The voter on the REST API."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(voter)
    return client


@pytest.fixture
def web(client, voter):
    """The voter on the pages."""
    client.force_login(voter)
    return client


def battle_finished(api, battle_id):
    """The battle's API body once every answer of its latest turn is in (done or failed)."""
    return wait_for(
        lambda: (b := api.get(f"/api/battles/{battle_id}/").json())["finished"] and b, what="the answers"
    )


def assert_anonymous(text):
    leaked = leaked_model_names(text)
    assert not leaked, f"model identity {leaked} leaked before the vote"


def scan_until_finished(web, api, battle_url, battle_id):
    """Every page, htmx poll and API body of a battle while its models write, until done: no names."""
    while True:
        for response in (
            web.get(battle_url),
            web.get(battle_url, HTTP_HX_REQUEST="true"),
            api.get(f"/api/battles/{battle_id}/"),
        ):
            assert response.status_code == 200
            assert_anonymous("".join(f"{k}: {v}\n" for k, v in response.items()) + response.content.decode())
        if api.get(f"/api/battles/{battle_id}/").json()["finished"]:
            return


@pytest.fixture
def make_comparison(tiny_model_dirs):
    """A comparison of finished answers with the given texts (one endpoint per answer), K = len(texts)."""
    from annotation.services import create_comparison
    from inference.models import ModelEndpoint, Prompt, Response

    counter = [0]

    def make(texts, prompt_text="Name a colour of the sky.", category=None):
        counter[0] += 1
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": prompt_text}])
        responses = []
        for i, text in enumerate(texts):
            endpoint, _ = ModelEndpoint.objects.get_or_create(
                name=f"answerer-{i}", defaults={"path": str(tiny_model_dirs[0])}
            )
            responses.append(
                Response.objects.create(prompt=prompt, endpoint=endpoint, status="done", text=text)
            )
        return create_comparison(prompt, responses)

    return make


# Scripted judges: real OpenAI-compatible HTTP servers on loopback whose "model" follows a fixed policy,
# so what the platform measures of a judge can be checked exactly.
class ScriptedJudge(ChatCompletionsHandler):
    """Replies like a judge following `policy`: "first" (always the first shown) or "longest"."""

    policy = "first"

    def complete(self, body, path, messages):
        text = messages[-1]["content"]
        answers = re.findall(r"\[Answer ([A-Z])\]\n(.*?)\n\[End of answer", text, re.S)
        if self.policy == "first":
            pick = answers[0][0]
        else:
            pick = max(answers, key=lambda a: len(a[1]))[0]
        reply = f"Best: {pick}\nReason: policy {self.policy}.\nConfidence: 4"
        self.send_json(
            200,
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8},
            },
        )


@pytest.fixture
def scripted_judge():
    servers = []

    def make(policy):
        handler = type(f"Judge_{policy}", (ScriptedJudge,), {"policy": policy})
        server = OpenAICompatibleServer({"judge": "unused"}, handler=handler)
        server.start_in_thread()
        servers.append(server)
        return ModelEndpoint.objects.create(
            name=f"judge-{policy}",
            backend="openai",
            path=server.base_url,
            api_model="judge",
            judge_method="llm",
            max_retries=0,
        )

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
