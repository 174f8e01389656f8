"""Media in the record: images checked, stripped of generator metadata, stored under random names,
and served only to people allowed to see the comparison (real Pillow files, real PostgreSQL)."""

import hashlib
import io

import pytest
from PIL import Image, PngImagePlugin

from inference import media
from inference.models import ModelEndpoint, Prompt, PromptImage, Response

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores into its own folder (the storage is rebuilt when STORAGES changes)."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "prefarena_media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def png_with_generator_metadata(size=(48, 32)):
    image = Image.new("RGB", size, (200, 30, 60))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red square, model: zephyrine-qx7, seed 1234")
    info.add_text("Software", "zephyrine-qx7 diffusion")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif():
    image = Image.new("RGB", (40, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0131] = "zephyrine-qx7 generator"  # Software
    exif[0x010E] = "prompt: a blue square"  # ImageDescription
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_png_text_chunks_are_stripped_and_pixels_kept():
    raw = png_with_generator_metadata()
    assert b"zephyrine" in raw
    data, ext, width, height = media.clean_image(raw)
    assert (ext, width, height) == ("png", 48, 32)
    assert b"zephyrine" not in data and b"tEXt" not in data and b"iTXt" not in data
    reopened = Image.open(io.BytesIO(data))
    assert not reopened.info.get("parameters")
    assert reopened.getpixel((5, 5)) == (200, 30, 60)


def test_jpeg_exif_is_stripped():
    raw = jpeg_with_exif()
    assert b"zephyrine" in raw
    data, ext, _, _ = media.clean_image(raw)
    assert ext == "jpg"
    assert b"zephyrine" not in data and b"Exif" not in data
    assert not Image.open(io.BytesIO(data)).getexif()


def test_stored_image_has_a_random_name_and_its_hash(media_root):
    stored = media.store_image(png_with_generator_metadata())
    assert stored.name.startswith("i/") and stored.name.endswith(".png")
    assert "zephyrine" not in stored.name
    on_disk = (media_root / stored.name).read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == stored.sha256
    assert (stored.width, stored.height, stored.format) == (48, 32, "png")
    assert media.store_image(png_with_generator_metadata()).name != stored.name


@pytest.mark.parametrize(
    "payload, sentence",
    [
        (b"%PDF-1.4 not an image at all", "not an image"),
        (b"", "empty"),
        (png_with_generator_metadata()[:60], "damaged or truncated"),
    ],
)
def test_bad_uploads_are_refused_with_a_sentence(payload, sentence, media_root):
    with pytest.raises(ValueError, match=sentence):
        media.store_image(payload)
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_an_image_over_the_size_limit_is_refused(settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 100
    with pytest.raises(ValueError, match="the limit is"):
        media.clean_image(png_with_generator_metadata())


def test_a_decompression_bomb_is_refused(settings):
    # A 4000 x 4000 black PNG is a few kilobytes on disk and 16 million pixels in memory.
    out = io.BytesIO()
    Image.new("L", (4000, 4000)).save(out, format="PNG", optimize=True)
    assert len(out.getvalue()) < 100_000
    settings.MEDIA_MAX_PIXELS = 1_000_000
    with pytest.raises(ValueError, match="decompression bomb"):
        media.clean_image(out.getvalue())


def test_prompt_images_are_all_or_nothing(media_root):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "Make the sky green."}])
    with pytest.raises(ValueError, match="not an image"):
        media.attach_prompt_images(prompt, [png_with_generator_metadata(), b"<html>nope</html>"])
    assert not PromptImage.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.*"))
    rows = media.attach_prompt_images(prompt, [png_with_generator_metadata(), jpeg_with_exif()])
    assert [r.position for r in rows] == [0, 1]
    assert [r.media_format for r in rows] == ["png", "jpg"]
    assert all(r.media_name.startswith("p/") for r in rows)


def test_a_done_image_answer_needs_its_file(tiny_model_dirs):
    from django.db import IntegrityError

    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "a cat"}])
    endpoint = ModelEndpoint.objects.create(name="painter", path="/nowhere", output_kind="image")
    with pytest.raises(IntegrityError):
        Response.objects.create(prompt=prompt, endpoint=endpoint, status="done", kind="image")


@pytest.fixture
def image_battle(make_user):
    """A battle of two image answers, the voter's; its comparison in nobody else's hands."""
    from annotation.services import create_comparison
    from arena.models import Arena, Battle

    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "a red square"}])
    responses = []
    for name in ("zephyrine-qx7", "quillon-mk4"):
        endpoint = ModelEndpoint.objects.create(name=name, path="/nowhere", output_kind="image")
        stored = media.store_image(png_with_generator_metadata())
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
            )
        )
    comparison = create_comparison(prompt, responses)
    arena = Arena.objects.create(name="Images", slug="images")
    voter = make_user("image-voter")
    Battle.objects.create(arena=arena, comparison=comparison, voter=voter)
    return voter, responses


def test_media_are_served_to_the_voter_only(client, make_user, image_battle):
    voter, responses = image_battle
    url = f"/media/{responses[0].media_name}"
    assert client.get(url).status_code == 404  # anonymous: nothing said
    client.force_login(make_user("someone-else"))
    assert client.get(url).status_code == 404
    client.force_login(voter)
    served = client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert "private" in served["Cache-Control"]
    body = b"".join(served.streaming_content)
    assert hashlib.sha256(body).hexdigest() == responses[0].media_sha256
    assert b"zephyrine" not in body
    assert client.get("/media/i/" + "0" * 32 + ".png").status_code == 404


def test_admins_and_campaign_annotators_see_media(client, make_user, image_battle):
    _, responses = image_battle
    admin = make_user("media-admin", is_superuser=True)
    client.force_login(admin)
    assert client.get(f"/media/{responses[1].media_name}").status_code == 200
    # a prompt's input image: its author sees it, a stranger does not
    author = make_user("author")
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "edit"}], created_by=author)
    (image,) = media.attach_prompt_images(prompt, [jpeg_with_exif()])
    client.force_login(author)
    assert client.get(f"/media/{image.media_name}").status_code == 200
    stranger = make_user("stranger")
    client.force_login(stranger)
    assert client.get(f"/media/{image.media_name}").status_code == 404
