"""Platform seams: the OpenAPI schema and docs, admin pages, settings from the environment."""

import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_openapi_schema_describes_the_arena(client):
    response = client.get(reverse("schema"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert {
        "/api/battles/",
        "/api/battles/{public_id}/",
        "/api/battles/{public_id}/vote/",
        "/api/leaderboard/",
    } <= set(schema["paths"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_api_docs_page_is_served_with_local_assets(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html


def test_token_authentication_works(client, django_user_model, arena):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=django_user_model.objects.create(username="script"))
    assert client.post("/api/battles/", {"prompt": ""}, content_type="application/json").status_code in (
        401,
        403,
    )
    response = client.post(
        "/api/battles/",
        {"prompt": ""},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 400  # authenticated; the empty prompt is what is refused


@pytest.mark.parametrize("model", ["modelendpoint", "prompt", "response"])
def test_admin_lists_inference(admin_client, model):
    assert admin_client.get(reverse(f"admin:inference_{model}_changelist")).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "admin:annotation_comparison_changelist",
        "admin:annotation_judgment_changelist",
        "admin:arena_arena_changelist",
        "admin:arena_battle_changelist",
        "admin:ranking_ratingsnapshot_changelist",
    ],
)
def test_admin_lists_the_rest(admin_client, url):
    assert admin_client.get(reverse(url)).status_code == 200


def test_roles_exist_as_groups():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"annotator", "researcher", "admin"}


def test_defaults_need_no_server(tmp_path):
    """With nothing set, the platform runs on SQLite and an embedded broker, with a generated secret key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "SECRET_KEY",
            "DEBUG",
            "HF_HUB_OFFLINE",
        }
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PREFARENA_VAR_DIR=str(tmp_path))
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE']); print(s.CELERY_BROKER_URL); print(s.DEBUG);"
        "import os; print(os.environ['HF_HUB_OFFLINE']); print(len(s.SECRET_KEY) > 40)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    engine, broker, debug, offline, has_key = out.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker.startswith("sqla+sqlite:///") and str(tmp_path) in broker
    assert (debug, offline, has_key) == ("False", "1", "True")
    assert (tmp_path / "secret_key").exists()
    # The key is generated once and reused.
    again = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings as s; print(s.SECRET_KEY)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.strip() == (tmp_path / "secret_key").read_text().strip()
