"""Image answers where text answers go: a K=4 image battle (grid of same-size tiles, private URLs,
no name anywhere before the vote, the vote unchanged), an image-editing battle showing its input,
and a campaign item served with its images to its annotator only."""

import io
import re

import pytest
from PIL import Image, PngImagePlugin

from annotation.services import create_comparison
from arena.models import Arena, Battle
from inference import media
from inference.models import ModelEndpoint, Prompt, Response
from tests.conftest import assert_anonymous
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db

NAMES = [
    ("zephyrine-qx7", "Zephyrine QX7"),
    ("quillon-mk4", "Quillon MK4"),
    ("vorpalyn-tz5", "Vorpalyn TZ5"),
    ("brindlewick-j9", "Brindlewick J9"),
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "prefarena_media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def generated_png(color, model):
    """What a generator hands back: pixels plus a text chunk naming itself."""
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"{model} sampler")
    Image.new("RGB", (64, 48), color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def image_answers(prompt, names):
    responses = []
    for i, (name, display) in enumerate(names):
        endpoint = ModelEndpoint.objects.create(
            name=name, display_name=display, path="/nowhere", output_kind="image"
        )
        stored = media.store_image(generated_png((40 * i, 100, 200 - 40 * i), name))
        responses.append(
            Response.objects.create(
                prompt=prompt,
                endpoint=endpoint,
                status="done",
                kind="image",
                media_name=stored.name,
                media_sha256=stored.sha256,
                media_width=stored.width,
                media_height=stored.height,
                media_format=stored.format,
                seed=100 + i,
            )
        )
    return responses


def image_battle(voter, names, prompt_text="a lighthouse at dawn", input_images=()):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": prompt_text}], created_by=voter)
    if input_images:
        media.attach_prompt_images(prompt, input_images)
    responses = image_answers(prompt, names)
    arena, _ = Arena.objects.get_or_create(
        slug=f"images-{len(names)}", defaults={"name": "Images", "k": len(names)}
    )
    return Battle.objects.create(arena=arena, comparison=create_comparison(prompt, responses), voter=voter)


def test_a_k4_image_battle_shows_a_grid_keeps_names_hidden_and_takes_a_ranking(
    web, api, voter, client, make_user
):
    battle = image_battle(voter, NAMES)
    page = web.get(f"/arena/b/{battle.public_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="sides k-4"' in html and "css/media.css" in html and "js/media.js" in html
    urls = re.findall(r'<img src="(/media/i/[0-9a-f]{32}\.png)" alt="(Answer [A-D])"', html)
    assert [alt for _, alt in urls] == ["Answer A", "Answer B", "Answer C", "Answer D"]
    assert_anonymous(html)
    body = api.get(f"/api/battles/{battle.public_id}/").json()
    assert [s["media"]["alt"] for s in body["sides"]] == ["Answer A", "Answer B", "Answer C", "Answer D"]
    assert all(s["media"]["width"] == 64 and s["media"]["kind"] == "image" for s in body["sides"])
    assert body["votable"] and body["prompt_images"] == []
    # the leak scan covers the files themselves: names, headers and bytes
    for url, _ in urls:
        served = web.get(url)
        assert served.status_code == 200
        assert_anonymous(url + "".join(f"{k}: {v}\n" for k, v in served.items()))
        assert not any(
            marker in b"".join(served.streaming_content).lower()
            for marker in (b"zephyrine", b"quillon", b"vorpalyn", b"brindlewick")
        )
    # someone else gets nothing
    other = client.__class__()
    other.force_login(make_user("neighbour"))
    assert {other.get(url).status_code for url, _ in urls} == {404}
    # the vote is the K-wise vote, unchanged
    voted = api.post(f"/api/battles/{battle.public_id}/vote/", {"ranking": [[2], [0, 3], [1]]}, format="json")
    assert voted.status_code == 201, voted.content
    revealed = voted.json()
    assert revealed["ranking_text"] == "C > A = D > B"
    assert {s["model"] for s in revealed["sides"]} == {display for _, display in NAMES}


def test_an_image_editing_battle_shows_its_input_image(web, api, voter):
    source = io.BytesIO()
    Image.new("RGB", (32, 32), (250, 250, 0)).save(source, format="JPEG")
    battle = image_battle(voter, NAMES[:2], "make it blue", input_images=[source.getvalue()])
    html = web.get(f"/arena/b/{battle.public_id}/").content.decode()
    assert 'class="prompt-images"' in html
    (input_url,) = re.findall(r'<img src="(/media/p/[0-9a-f]{32}\.jpg)" alt="Input image 1"', html)
    assert web.get(input_url).status_code == 200
    assert api.get(f"/api/battles/{battle.public_id}/").json()["prompt_images"][0]["url"] == input_url
    assert_anonymous(html)


def test_a_campaign_serves_image_items_to_its_annotator_only(client, people):
    from annotation.models import CampaignItem

    campaign = make_campaign(people["researcher"], slug="img", n_items=0)
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "a red fox"}])
    comparison = create_comparison(prompt, image_answers(prompt, NAMES[:2]))
    CampaignItem.objects.create(campaign=campaign, comparison=comparison)
    urls = [f"/media/{r.media_name}" for r in Response.objects.filter(prompt=prompt)]
    client.force_login(people["outsider"])
    assert {client.get(url).status_code for url in urls} == {404}
    client.force_login(people["annotator"])
    assert {client.get(url).status_code for url in urls} == {404}  # not served the item yet
    served = client.post("/api/campaigns/img/next/").json()
    shown = [r["media"]["url"] for r in served["responses"]]
    assert sorted(shown) == sorted(urls)
    assert [r["media"]["alt"] for r in served["responses"]] == ["Response A", "Response B"]
    assert {client.get(url).status_code for url in urls} == {200}
    page = client.get("/campaigns/img/item/").content.decode()
    assert page.count('class="media-tile media-image"') == 2
    assert_anonymous(page)
    client.force_login(people["researcher"])
    assert {client.get(url).status_code for url in urls} == {200}
