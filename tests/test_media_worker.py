"""Image battles end to end through a real Celery worker: a K=2 arena of two tiny diffusers pipelines
(random weights, built here), a battle started over the API, the images drawn by the worker, stored,
served to the voter, and the vote revealing the names."""

import pytest

from arena.models import Arena
from inference.models import ModelEndpoint, Response
from tests.conftest import assert_anonymous, battle_finished
from tests.tiny_diffusion import TINY_IMAGE_PARAMS, build_tiny_text_to_image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]


@pytest.fixture(scope="module")
def two_pipelines(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    return [build_tiny_text_to_image(root / f"sd-{seed}", seed=seed) for seed in (0, 1)]


def test_an_image_battle_is_drawn_by_the_worker_and_voted(api, web, two_pipelines):
    endpoints = [
        ModelEndpoint.objects.create(
            name=name,
            display_name=display,
            backend="diffusers",
            output_kind="image",
            path=str(path),
            generation_params=TINY_IMAGE_PARAMS,
        )
        for path, (name, display) in zip(
            two_pipelines, [("zephyrine-qx7", "Zephyrine QX7"), ("quillon-mk4", "Quillon MK4")]
        )
    ]
    arena = Arena.objects.create(name="Image arena", slug="pictures")
    arena.endpoints.add(*endpoints)
    created = api.post(
        "/api/battles/", {"prompt": "a red kite over the sea", "arena": "pictures"}, format="json"
    )
    assert created.status_code == 201, created.content
    battle_id = created.json()["id"]
    body = battle_finished(api, battle_id)
    assert [s["status"] for s in body["sides"]] == ["done", "done"], Response.objects.values_list(
        "error", flat=True
    )
    assert all(s["media"]["kind"] == "image" and s["media"]["width"] == 16 for s in body["sides"])
    assert all(r.seed is not None and r.media_sha256 for r in Response.objects.all())
    page = web.get(f"/arena/b/{battle_id}/").content.decode()
    assert page.count('class="media-tile media-image"') == 2
    assert_anonymous(page)
    for side in body["sides"]:
        served = web.get(side["media"]["url"])
        assert served.status_code == 200 and served["Content-Type"] == "image/png"
    voted = api.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json")
    assert voted.status_code == 201, voted.content
    assert {s["model"] for s in voted.json()["sides"]} == {"Zephyrine QX7", "Quillon MK4"}
