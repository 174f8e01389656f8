"""Operations: health and readiness probes, JSON logs, and the backup path (pg_dump, then
pg_restore into a fresh database gives the same counts)."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_broker_and_cache(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


def test_readyz_names_what_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503 and response["Retry-After"]
    body = response.json()
    assert body["detail"] == "Not ready: broker, cache unreachable."
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"].startswith("down: ")


def test_log_format_json_writes_one_object_per_line():
    code = "import django, logging; django.setup(); logging.getLogger('prefarena.test').warning('disk %s full', 'var')"
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "disk var full" and record["level"] == "WARNING"
    assert record["logger"] == "prefarena.test" and "time" in record


@pytest.mark.django_db(transaction=True)
def test_pg_dump_and_restore_into_a_fresh_database_keep_every_row(make_comparison, make_user):
    """The README's backup steps, run once: dump the live database, restore into a new one, compare."""
    from annotation.services import record_judgment

    voter = make_user("backup-voter")
    for texts in (["warm sun", "cold moon"], ["red bird", "blue fish", "green tree"]):
        comparison = make_comparison(texts)
        record_judgment(
            comparison,
            [[1], [0]] + ([[2]] if len(texts) == 3 else []),
            annotator=voter,
            identities_hidden=True,
        )
    db = connection.settings_dict
    restored = f"{db['NAME']}_restore_{os.getpid()}"
    server = ["-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"]]
    tables = [
        "auth_user",
        "inference_prompt",
        "inference_response",
        "annotation_comparison",
        "annotation_comparisonslot",
        "annotation_judgment",
        "django_migrations",
    ]

    def counts(name):
        query = "; ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        out = subprocess.run(
            ["psql", *server, "-d", name, "-At", "-F", " ", "-c", query],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split() for line in out.splitlines())

    dump = subprocess.run(["pg_dump", *server, "-Fc", db["NAME"]], capture_output=True, check=True).stdout
    subprocess.run(["createdb", *server, restored], check=True)
    try:
        subprocess.run(["pg_restore", *server, "--no-owner", "-d", restored], input=dump, check=True)
        assert counts(restored) == counts(db["NAME"])
        assert counts(restored)["annotation_judgment"] == "2"
    finally:
        subprocess.run(["dropdb", *server, "--if-exists", restored], check=True)


def test_a_dropped_database_connection_answers_503_with_retry_after_never_500(client, make_user):
    """The driver fails the way a terminated backend does; pages and the API both answer a retryable 503."""
    from django.db import OperationalError

    client.force_login(make_user("outage-voter"))

    def dropped(execute, sql, params, many, context):
        raise OperationalError("terminating connection due to administrator command")

    with connection.execute_wrapper(dropped):
        page = client.get("/arena/")
        api = client.post("/api/battles/", {"prompt": "hello"}, content_type="application/json")
    assert page.status_code == 503 and page["Retry-After"] == "2"
    assert "briefly unavailable" in page.content.decode()
    assert api.status_code == 503 and api["Retry-After"] == "2"
    assert api.json()["detail"].startswith("The service is briefly unavailable")
    assert client.get("/healthz").status_code == 200  # and the next request is served again
