"""Export jobs through their public seams: the API and the researcher page start a job,
a real Celery worker (export queue) runs it, and the files download. Only researchers
and admins may export."""

import shutil
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.services import create_comparison, record_judgment
from export.jobs import run_export_job
from export.models import ExportJob
from inference.models import ModelEndpoint, Prompt, Response
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def researcher(make_user):
    user = make_user("researcher1")
    user.groups.add(Group.objects.get_or_create(name="researcher")[0])
    return user


@pytest.fixture
def judged(make_user):
    user = make_user("rater")
    models = [ModelEndpoint.objects.create(name=f"m-{i}", path="/unused") for i in range(2)]
    for i in range(8):
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": f"prompt {i}"}])
        responses = [
            Response.objects.create(prompt=prompt, endpoint=m, status="done", text=f"answer {i} {m.name}")
            for m in models
        ]
        record_judgment(
            create_comparison(prompt, responses), [[0], [1]], annotator=user, identities_hidden=True
        )


@pytest.fixture(autouse=True)
def _remove_job_folders():
    yield
    for job in ExportJob.objects.all():
        shutil.rmtree(job.directory, ignore_errors=True)


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _done(api, job_id):
    def check():
        body = api.get(f"/api/exports/{job_id}/").json()
        return body if body["status"] in ("done", "failed") else None

    return wait_for(check, timeout=90, what="the export job")


@pytest.mark.usefixtures("celery_worker_process")
def test_the_api_starts_a_job_the_worker_runs_it_and_the_files_download(researcher, judged):
    api = _api(researcher)
    started = api.post(
        "/api/exports/", {"format": "dpo", "file_format": "both", "test_fraction": 0.25}, format="json"
    )
    assert started.status_code == 202, started.content
    body = _done(api, started.json()["id"])
    assert body["status"] == "done", body["error"]
    assert (
        body["rows_written"] == 8
        and body["progress_percent"] == 100
        and body["summary"]["judgments_read"] == 8
    )
    names = {f["name"]: f["url"] for f in body["files"]}
    assert "README.md" in names and "data/train.jsonl" in names and "data/train.parquet" in names
    web = APIClient()
    web.force_login(researcher)
    download = web.get(names["data/train.jsonl"])
    assert download.status_code == 200 and b'"chosen"' in b"".join(download.streaming_content)
    assert [j["id"] for j in api.get("/api/exports/").json()] == [body["id"]]


@pytest.mark.usefixtures("celery_worker_process")
def test_the_page_starts_a_job_shows_progress_and_lists_the_download(client, researcher, judged):
    client.force_login(researcher)
    page = client.get(reverse("export:home"))
    assert page.status_code == 200 and "Start export" in page.content.decode()
    assert 'href="/export/"' in page.content.decode()  # the nav link, for researchers
    started = client.post(
        reverse("export:start"),
        {"format": "kto", "file_format": "jsonl", "ties": "drop"},
        HTTP_HX_REQUEST="true",
    )
    assert started.status_code == 201 and "Export started" in started.content.decode()
    job = ExportJob.objects.get()
    wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == "done", timeout=90, what="the export job")
    listing = client.get(reverse("export:jobs"), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="done"' in listing and "data/train.jsonl" in listing and "every 2s" not in listing
    assert client.get(reverse("export:download", args=[job.public_id, "data/train.jsonl"])).status_code == 200


def test_the_page_shows_a_bad_choice_as_a_sentence_and_starts_nothing(client, researcher):
    client.force_login(researcher)
    response = client.post(
        reverse("export:start"), {"format": "dpo", "ties": "kto-negative"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and "only the kto format has" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_api_refuses_bad_input_with_a_sentence(researcher):
    api = _api(researcher)
    unknown = api.post("/api/exports/", {"format": "sft"}, format="json")
    assert unknown.status_code == 400 and "format" in unknown.json()["detail"]
    unfit = api.post("/api/exports/", {"format": "listwise", "aggregate": "majority"}, format="json")
    assert unfit.status_code == 400 and "keeps every judgment" in unfit.json()["detail"]
    assert api.get("/api/exports/not-a-uuid/").status_code == 404
    assert not ExportJob.objects.exists()


def test_only_researchers_and_admins_may_export(client, make_user, researcher, judged):
    annotator = make_user("annotator1")
    annotator.groups.add(Group.objects.get_or_create(name="annotator")[0])
    assert _api(annotator).post("/api/exports/", {"format": "dpo"}, format="json").status_code == 403
    assert _api(annotator).get("/api/exports/").status_code == 403
    assert APIClient().post("/api/exports/", {"format": "dpo"}, format="json").status_code in (401, 403)
    client.force_login(annotator)
    assert client.get(reverse("export:home")).status_code == 403
    assert client.post(reverse("export:start"), {"format": "dpo"}).status_code == 403
    assert 'href="/export/"' not in client.get(reverse("arena:leaderboard")).content.decode()
    assert not ExportJob.objects.exists()

    # One researcher's job is not another's; an admin sees all.
    job = ExportJob.objects.create(created_by=researcher, format="dpo", options={"format": "dpo"})
    run_export_job(job.pk)
    other = make_user("researcher2")
    other.groups.add(Group.objects.get(name="researcher"))
    assert _api(other).get(f"/api/exports/{job.public_id}/").status_code == 404
    client.force_login(other)
    assert client.get(reverse("export:download", args=[job.public_id, "README.md"])).status_code == 404
    admin = make_user("boss", is_superuser=True, is_staff=True)
    assert _api(admin).get(f"/api/exports/{job.public_id}/").json()["status"] == "done"
    client.force_login(researcher)
    assert client.get(reverse("export:download", args=[job.public_id, "../../secret_key"])).status_code == 404


def test_running_a_job_twice_is_safe(researcher, judged):
    job = ExportJob.objects.create(created_by=researcher, format="dpo", options={"format": "dpo"})
    first = run_export_job(job.pk)
    assert first.status == "done" and first.rows_written == 8
    finished_at = first.finished_at
    again = run_export_job(job.pk)
    assert again.finished_at == finished_at and sorted(p.name for p in job.directory.iterdir()) == [
        "README.md",
        "data",
    ]
    # A job a live worker is running (its heartbeat is fresh) is left to it...
    ExportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    assert run_export_job(job.pk).status == "running"
    # ...an interrupted one (left "running" by a dead worker: a stale heartbeat) is redone from scratch.
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert run_export_job(job.pk).status == "done"


def test_a_job_with_stored_options_that_no_longer_parse_fails_with_a_sentence(researcher):
    job = ExportJob.objects.create(
        created_by=researcher, format="dpo", options={"format": "dpo", "ties": "coin"}
    )
    failed = run_export_job(job.pk)
    assert failed.status == "failed" and "Unknown ties 'coin'" in failed.error


def test_the_endpoint_is_in_the_openapi_schema(researcher):
    schema = _api(researcher).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/exports/" in text and "StartExport" in text
