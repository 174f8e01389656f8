"""The dashboard's empty states, status buttons and Export link, and an export's zip download."""

import io
import zipfile

import pytest

from annotation import queues
from export.services import start_export_job
from tests.conftest import wait_for
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_empty_dashboard_says_what_to_do_instead_of_drawing_empty_charts(client, people):
    make_campaign(people["researcher"], slug="empty", n_items=0, status="paused")
    client.force_login(people["researcher"])
    html = client.get("/campaigns/empty/dashboard/").content.decode()
    assert 'id="no-items"' in html and "dashboard/progress.png" not in html
    assert (
        '<button name="status" value="paused" class="current" aria-pressed="true" disabled>Pause</button>'
        in html
    )
    assert 'href="/export/?campaign=empty" id="export-link"' in html
    make_campaign(people["researcher"], slug="fresh", n_items=2)
    html = client.get("/campaigns/fresh/dashboard/").content.decode()
    assert 'id="no-judgments"' in html and 'id="no-agreement"' in html and "progress.png" not in html
    assert (
        '<button name="status" value="open" class="current" aria-pressed="true" disabled>Open</button>'
        in html
    )


def test_the_export_page_preselects_the_campaign_and_a_finished_export_downloads_as_one_zip(
    client, people, celery_worker_process
):
    """The job runs on the real worker, as in production (a transactional test sends its task at once)."""
    from export.models import ExportJob

    campaign = make_campaign(people["researcher"], slug="zipme", n_items=1, overlap=1)
    a = queues.next_assignment(campaign, people["annotator"])
    queues.submit(campaign, people["annotator"], a.pk, {"ranking": [[0], [1]]})
    client.force_login(people["researcher"])
    page = client.get("/export/?campaign=zipme").content.decode()
    assert '<option value="zipme" selected>' in page

    unfinished = ExportJob.objects.create(
        created_by=people["researcher"], format="dpo", options={"format": "dpo"}
    )
    assert (
        client.get(f"/export/jobs/{unfinished.public_id}/export.zip").status_code == 404
    )  # not finished yet
    job = start_export_job(people["researcher"], {"format": "dpo", "campaigns": ["zipme"]})
    job = wait_for(
        lambda: ExportJob.objects.filter(pk=job.pk, status__in=["done", "failed"]).first(),
        what="the export job on the worker",
    )
    assert job.status == "done", (job.status, job.error)
    response = client.get(f"/export/jobs/{job.public_id}/export.zip")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == sorted(f"{job.public_id}/{name}" for name in job.files)
    assert f"{job.public_id}/README.md" in names and any(n.endswith(".jsonl") for n in names)
    card = archive.read(f"{job.public_id}/README.md").decode()
    assert "Made by PrefArena from human and AI-judge votes." in card
    assert (
        client.get("/export/").status_code == 200
        and "Everything (.zip)" in client.get("/export/jobs/").content.decode()
    )
    client.force_login(people["annotator"])
    assert client.get(f"/export/jobs/{job.public_id}/export.zip").status_code == 403
