"""Campaign media import: a zip of items.jsonl and images, checked row by row, all or nothing,
dry run, duplicates skipped, images stripped on the way in."""

import io
import json
import zipfile

import pytest
from PIL import Image, PngImagePlugin

from annotation.items import ImportInvalid
from annotation.media_items import import_media_items
from inference.models import PromptImage, Response
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


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


def png(color):
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "zephyrine-qx7, steps 30")
    Image.new("RGB", (20, 20), color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def archive(rows, files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("items.jsonl", "\n".join(json.dumps(r) for r in rows))
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


FILES = {
    "a.png": png((255, 0, 0)),
    "b.png": png((0, 255, 0)),
    "c.png": png((0, 0, 255)),
    "in.png": png((9, 9, 9)),
}
ROWS = [
    {
        "prompt": "a red thing",
        "responses": [{"image": "a.png", "model": "painter-one"}, {"image": "b.png", "model": "painter-two"}],
    },
    {"prompt": "make it blue", "images": ["in.png"], "responses": ["c.png", "a.png"], "id": "edit-1"},
]


def test_a_zip_imports_image_items_with_a_dry_run_first(people, media_root):
    campaign = make_campaign(people["researcher"], slug="media", n_items=0)
    content = archive(ROWS, FILES)
    preview = import_media_items(campaign, content, dry_run=True)
    assert (preview.items, preview.responses, preview.file_format) == (2, 4, "zip")
    assert preview.new_models == ["imported-painter-one", "imported-painter-two", "imported-unnamed"]
    assert not campaign.items.exists() and not media_root.exists()
    report = import_media_items(campaign, content, user=people["researcher"])
    assert report.items == 2 and campaign.items.count() == 2
    answers = Response.objects.filter(slots__comparison__campaign_items__campaign=campaign)
    assert answers.count() == 4 and set(answers.values_list("kind", flat=True)) == {"image"}
    for answer in answers:
        data = (media_root / answer.media_name).read_bytes()
        assert b"zephyrine" not in data and answer.media_width == 20
    assert PromptImage.objects.count() == 1
    # the same zip again: every row a duplicate, nothing new
    again = import_media_items(campaign, content)
    assert again.items == 0 and len(again.duplicates) == 2
    assert campaign.items.count() == 2


def test_bad_rows_are_all_named_and_nothing_is_stored(people, media_root):
    campaign = make_campaign(people["researcher"], slug="bad", n_items=0)
    rows = [
        ROWS[0],
        {"prompt": "x", "responses": ["a.png", "missing.png"]},
        {"prompt": "y", "responses": ["a.png", "notes.txt"]},
        {"prompt": "z", "responses": ["a.png"]},
        "not an object",
    ]
    content = archive(rows, {**FILES, "notes.txt": b"hello, not an image"})
    with pytest.raises(ImportInvalid) as caught:
        import_media_items(campaign, content)
    errors = caught.value.errors
    assert errors[0] == "Row 2: response 2 'missing.png' is not a file in the zip"
    assert errors[1].startswith("Row 3: response 2 notes.txt: The file is not an image")
    assert errors[2] == "Row 4: it has 1 responses; this campaign shows K=2 per item"
    assert errors[3] == "Row 5: each line must be a JSON object"
    assert not campaign.items.exists() and not media_root.exists()
    with pytest.raises(ImportInvalid, match="not a zip"):
        import_media_items(campaign, b"plain text")
