"""Campaign items whose responses are images, from a zip: ``items.jsonl`` plus the files it names.

One item per line of ``items.jsonl``:
    {"prompt": "…" | [{"role", "content"}, …], "images": ["input.png", …],            (optional: editing)
     "responses": ["a.png", …] | [{"image": "a.png", "model": "…"}, …],
     "id": "optional external id", "kind": "regular"|"gold"|"attention", "expected_ranking": [[0], [1]]}

Every image is checked and stripped as an upload is (``inference.media.clean_image``): a non-image,
an image over the size limit or a decompression bomb is an error naming its row. Errors are collected
for every row and nothing is stored unless all rows are good (``ImportInvalid``, as for text imports);
``dry_run`` reports what would be imported. Duplicates (an id already in the campaign or earlier in the
file; without an id, the same prompt, input images and response images from the same models) are
skipped and listed, so a re-import creates nothing."""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from inference import media
from inference.models import ModelEndpoint, Prompt, PromptImage, Response

from .items import MAX_ROWS, ImportInvalid, _conversation, _endpoint_name, import_report, model_names
from .models import CampaignItem
from .rankings import validate_ranking
from .services import create_comparison

MANIFEST = "items.jsonl"
MAX_FILES = 10_000


@dataclass
class MediaRow:
    row: int
    conversation: list
    inputs: list  # [(bytes, ext, width, height)] cleaned
    responses: list  # [((bytes, ext, width, height), model name or "")]
    external_id: str = ""
    kind: str = "regular"
    expected_ranking: list | None = None

    def fingerprint(self):
        digest = [hashlib.sha256(c[0]).hexdigest() for c in self.inputs]
        answers = [[hashlib.sha256(c[0]).hexdigest(), _endpoint_name(m)] for c, m in self.responses]
        key = json.dumps([self.conversation, digest, answers], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()


def read_archive(content):
    """{name: bytes} of a zip's files, refusing anything that would not fit the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ImportInvalid(["The upload is not a zip file."]) from None
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if len(entries) > MAX_FILES:
        raise ImportInvalid([f"The zip holds {len(entries)} files; at most {MAX_FILES} are read."])
    files = {}
    for info in entries:
        if info.file_size > max(settings.MEDIA_MAX_UPLOAD_BYTES, 50 * 2**20):
            raise ImportInvalid(
                [f"{info.filename} is {info.file_size / 2**20:.1f} MiB unpacked; over the limit."]
            )
        files[info.filename] = archive.read(info)
    if MANIFEST not in files:
        raise ImportInvalid([f"The zip has no {MANIFEST} at its top level."])
    return files


def _image(files, name, what):
    if not isinstance(name, str) or name not in files:
        raise ValueError(f"{what} {name!r} is not a file in the zip")
    try:
        return media.clean_image(files[name])
    except ValueError as exc:
        raise ValueError(f"{what} {name}: {exc}") from None


def _response_entries(record):
    raw = record.get("responses")
    if not isinstance(raw, list) or not raw:
        raise ValueError("'responses' must be a non-empty list of image file names or {image, model}")
    for entry in raw:
        if isinstance(entry, str):
            yield entry, ""
        elif isinstance(entry, dict) and "image" in entry:
            yield entry["image"], str(entry.get("model") or "").strip()
        else:
            raise ValueError("each response must be an image file name or {\"image\": …, \"model\": …}")


def parse_media_row(number, record, files, k):
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    conversation = _conversation(record.get("prompt"))
    inputs = [_image(files, name, "input image") for name in record.get("images") or []]
    responses = [
        (_image(files, name, f"response {i}"), model)
        for i, (name, model) in enumerate(_response_entries(record), start=1)
    ]
    if len(responses) != k:
        raise ValueError(f"it has {len(responses)} responses; this campaign shows K={k} per item")
    kind = record.get("kind", "regular")
    if kind not in ("regular", "gold", "attention"):
        raise ValueError(f"kind {kind!r} is not regular, gold or attention")
    expected = record.get("expected_ranking")
    if kind != "regular":
        if expected is None:
            raise ValueError(f"a {kind} item needs an expected_ranking")
        validate_ranking(expected, k)
    return MediaRow(
        row=number,
        conversation=conversation,
        inputs=inputs,
        responses=responses,
        external_id=str(record.get("id") or ""),
        kind=kind,
        expected_ranking=expected if kind != "regular" else None,
    )


def _existing_keys(campaign):
    ids, prints = set(), set()
    items = campaign.items.select_related("comparison__prompt").prefetch_related(
        "comparison__slots__response__endpoint", "comparison__prompt__images"
    )
    for item in items:
        if item.external_id:
            ids.add(item.external_id)
        slots = sorted(item.comparison.slots.all(), key=lambda slot: slot.position)
        key = json.dumps(
            [
                item.comparison.prompt.conversation,
                [image.media_sha256 for image in item.comparison.prompt.images.all()],
                [[s.response.media_sha256, s.response.endpoint.name] for s in slots],
            ],
            ensure_ascii=False,
            sort_keys=True,
        )
        prints.add(hashlib.sha256(key.encode()).hexdigest())
    return ids, prints


def _drop_duplicates(campaign, rows):
    ids, prints = _existing_keys(campaign)
    seen = {}
    kept, duplicates = [], []
    for row in rows:
        key = ("id", row.external_id) if row.external_id else ("content", row.fingerprint())
        if key in seen:
            duplicates.append(f"Row {row.row}: the same item as row {seen[key]}; skipped")
        elif (row.external_id and row.external_id in ids) or (not row.external_id and key[1] in prints):
            duplicates.append(f"Row {row.row}: already an item of this campaign; skipped")
        else:
            seen[key] = row.row
            kept.append(row)
    return kept, duplicates


def parse_archive(content, k):
    files = read_archive(content)
    rows, errors = [], []
    lines = files[MANIFEST].decode("utf-8-sig", "replace").splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if len(numbered) > MAX_ROWS:
        raise ImportInvalid(
            [f"{MANIFEST} has {len(numbered)} rows; at most {MAX_ROWS} are imported at once."]
        )
    for number, line in numbered:
        try:
            rows.append(parse_media_row(number, json.loads(line), files, k))
        except json.JSONDecodeError as exc:
            errors.append(f"Row {number}: not valid JSON ({exc.msg})")
        except ValueError as exc:
            errors.append(f"Row {number}: {exc}")
    if errors:
        raise ImportInvalid(errors)
    if not rows:
        raise ImportInvalid([f"{MANIFEST} has no rows."])
    return rows


def _store(data, ext, kind, stored):
    name = media.media_storage().save(media.random_name(kind, ext), ContentFile(data))
    stored.append(name)
    return name, hashlib.sha256(data).hexdigest()


def import_media_items(campaign, content, *, dry_run=False, user=None):
    """Parse and check the whole zip, drop duplicates, then (unless dry_run) store the images and
    create prompts, input images, responses, comparisons and items in one transaction."""
    rows, duplicates = _drop_duplicates(campaign, parse_archive(content, campaign.k))
    names = model_names(rows)
    report = import_report(rows, duplicates, dry_run=dry_run, file_format="zip")
    if dry_run:
        return report
    stored = []
    try:
        with transaction.atomic():
            _create(campaign, rows, names, user, stored)
    except Exception:
        for name in stored:
            media.delete_quietly(name)
        raise
    return report


def _create(campaign, rows, names, user, stored):
    endpoints = {}
    for name in names:
        endpoints[name], _ = ModelEndpoint.objects.get_or_create(
            name=name,
            defaults={
                "path": "(imported answers; not runnable)",
                "enabled": False,
                "display_name": name.removeprefix("imported-"),
                "output_kind": ModelEndpoint.OutputKind.IMAGE,
            },
        )
    for row in rows:
        prompt = Prompt.objects.create(conversation=row.conversation, created_by=user)
        for position, (data, ext, width, height) in enumerate(row.inputs):
            name, digest = _store(data, ext, "p", stored)
            PromptImage.objects.create(
                prompt=prompt,
                position=position,
                media_name=name,
                media_sha256=digest,
                media_width=width,
                media_height=height,
                media_format=ext,
            )
        responses = []
        for (data, ext, width, height), model in row.responses:
            name, digest = _store(data, ext, "i", stored)
            responses.append(
                Response.objects.create(
                    prompt=prompt,
                    endpoint=endpoints[_endpoint_name(model)],
                    status=Response.Status.DONE,
                    kind=Response.Kind.IMAGE,
                    media_name=name,
                    media_sha256=digest,
                    media_width=width,
                    media_height=height,
                    media_format=ext,
                    generation_params={"imported": True},
                )
            )
        CampaignItem.objects.create(
            campaign=campaign,
            comparison=create_comparison(prompt, responses),
            kind=row.kind,
            expected_ranking=row.expected_ranking,
            external_id=row.external_id,
        )
