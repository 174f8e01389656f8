"""Campaign items from files: JSONL or CSV, in our format or the MultiPref/HelpSteer two-responses-per-row format.

Our format (one item per line / row):
    JSONL: {"prompt": "…" | [{"role", "content"}, …], "responses": ["…", …] | [{"text": "…", "model": "…"}, …],
            "id": "optional external id", "kind": "regular"|"gold"|"attention", "expected_ranking": [[0], [1]]}
    CSV:   prompt, response_1 … response_K, optional model_1 … model_K, id, kind, expected_ranking (JSON)
Pair format (K = 2): prompt plus completion_a/completion_b, response_a/response_b or response_1/response_2,
    with optional model_a/model_b.

Imported responses become inference Prompts and Responses (status done) under an imported, disabled
ModelEndpoint per model name, and each row one Comparison + CampaignItem. All or nothing.

Duplicates are reported and skipped, never imported twice: a row whose ``id`` appeared earlier in the file or
is already an item of the campaign, and a row without an id whose prompt and responses (texts and model
names) equal an earlier row's or an existing item's. So a re-import of the same file creates nothing.
``file_format="auto"`` reads JSONL when the first non-blank character is ``{``, CSV otherwise."""

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from inference.models import ModelEndpoint, Prompt, Response

from .models import CampaignItem
from .rankings import validate_ranking
from .services import create_comparison

MAX_ROWS = 20_000
MAX_TEXT = 100_000
UNNAMED_MODEL = "imported-unnamed"
_PAIR_KEYS = [("completion_a", "completion_b"), ("response_a", "response_b"), ("response_1", "response_2")]


class ImportInvalid(ValueError):
    """The file has errors; ``errors`` lists them by row."""

    def __init__(self, errors):
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}; nothing was imported.")


@dataclass
class ParsedRow:
    row: int
    conversation: list
    responses: list  # [(text, model name or "")]
    external_id: str = ""
    kind: str = "regular"
    expected_ranking: list | None = None


@dataclass
class ImportReport:
    dry_run: bool
    items: int = 0
    prompts: int = 0
    responses: int = 0
    new_models: list = field(default_factory=list)
    gold: int = 0
    attention: int = 0
    file_format: str = ""
    duplicates: list = field(default_factory=list)  # "Row 4: …" for each row skipped as a duplicate
    preview: list = field(
        default_factory=list
    )  # the first items: {"prompt": conversation, "responses": [texts]}

    def as_dict(self):
        return dict(self.__dict__)


def decode(content):
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportInvalid(["The file is not UTF-8 text"]) from None
    if not content.strip():
        raise ImportInvalid(["The file is empty"])
    return content


def detect_format(content):
    """jsonl when the first non-blank character opens a JSON object, csv otherwise."""
    return "jsonl" if decode(content).lstrip().startswith("{") else "csv"


def _read_rows(content, file_format):
    content = decode(content)
    if file_format == "jsonl":
        rows = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                rows.append((number, ValueError(f"this line is not valid JSON ({exc.msg})")))
        return rows
    if file_format == "csv":
        reader = csv.DictReader(io.StringIO(content))
        if not reader.fieldnames or "prompt" not in reader.fieldnames:
            raise ImportInvalid(["The CSV needs a header row with a 'prompt' column"])
        return [(number, dict(row)) for number, row in enumerate(reader, start=2)]
    raise ImportInvalid([f"Unknown file format {file_format!r}; use jsonl or csv"])


def _conversation(prompt):
    if isinstance(prompt, str) and prompt.strip():
        return [{"role": "user", "content": prompt}]
    if (
        isinstance(prompt, list)
        and prompt
        and all(
            isinstance(t, dict)
            and t.get("role") in ("system", "user", "assistant")
            and isinstance(t.get("content"), str)
            for t in prompt
        )
        and prompt[-1]["role"] == "user"
    ):
        return [{"role": t["role"], "content": t["content"]} for t in prompt]
    raise ValueError(
        "'prompt' must be non-empty text or a list of {role, content} turns ending with the user"
    )


def _responses(record):
    for a, b in _PAIR_KEYS:
        if a in record or b in record:
            texts = [record.get(a), record.get(b)]
            models = [
                record.get("model_a") or record.get("model_1") or "",
                record.get("model_b") or record.get("model_2") or "",
            ]
            return list(zip(texts, models))
    if "responses" in record:
        raw = record["responses"]
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not isinstance(raw, list):
            raise ValueError("'responses' must be a list")
        out = []
        for entry in raw:
            if isinstance(entry, dict):
                out.append((entry.get("text"), entry.get("model") or ""))
            else:
                out.append((entry, ""))
        return out
    numbered = sorted(
        (int(key.split("_")[1]), value)
        for key, value in record.items()
        if key and key.startswith("response_") and key.split("_")[1].isdigit() and value not in (None, "")
    )
    if numbered:
        return [(value, record.get(f"model_{n}") or "") for n, value in numbered]
    raise ValueError(
        "no responses found: give 'responses', response_1 … response_K, or a pair (completion_a/completion_b)"
    )


def parse_row(number, record, k):
    if isinstance(record, Exception):
        raise ValueError(str(record))
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    if "prompt" not in record:
        raise ValueError("the 'prompt' field is missing")
    conversation = _conversation(record["prompt"])
    responses = _responses(record)
    if len(responses) != k:
        raise ValueError(f"it has {len(responses)} responses; this campaign shows K={k} per item")
    for i, (text, model) in enumerate(responses, start=1):
        _check_response(i, text, model)
    kind = record.get("kind") or "regular"
    if kind not in CampaignItem.Kind.values:
        raise ValueError(f"kind must be regular, gold or attention, not {kind!r}")
    return ParsedRow(
        number,
        conversation,
        [(t, m.strip()) for t, m in responses],
        str(record.get("id") or ""),
        kind,
        _expected_ranking(record.get("expected_ranking"), kind, k),
    )


def _check_response(i, text, model):
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"response {i} is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"response {i} is longer than {MAX_TEXT} characters")
    if not isinstance(model, str):
        raise ValueError(f"the model name of response {i} must be text")
    if model and not slugify(model):
        raise ValueError(f"the model name {model!r} of response {i} has no letters or digits")


def _expected_ranking(expected, kind, k):
    """A gold or attention item's expected ranking (JSON text or a list), checked; None for a regular item."""
    if isinstance(expected, str) and expected.strip():
        try:
            expected = json.loads(expected)
        except json.JSONDecodeError:
            raise ValueError("expected_ranking is not valid JSON, e.g. [[0], [1]]") from None
    expected = expected or None
    if kind != "regular":
        if expected is None:
            raise ValueError(f"a {kind} item needs expected_ranking, e.g. [[0], [1]]")
        return validate_ranking(expected, k)
    if expected is not None:
        raise ValueError("only gold and attention items carry an expected_ranking")
    return None


def parse_file(content, file_format, k):
    """Every row parsed, or ImportInvalid listing each bad row ("Row 3: …")."""
    rows = _read_rows(content, file_format)
    if len(rows) > MAX_ROWS:
        raise ImportInvalid([f"The file has {len(rows)} rows; import at most {MAX_ROWS} at a time"])
    parsed, errors = [], []
    for number, record in rows:
        try:
            parsed.append(parse_row(number, record, k))
        except (ValueError, TypeError) as exc:
            errors.append(f"Row {number}: {exc}")
    if errors:
        raise ImportInvalid(errors)
    if not parsed:
        raise ImportInvalid(["The file has no rows"])
    return parsed


def _endpoint_name(model):
    return f"imported-{slugify(model)}"[:100] if model else UNNAMED_MODEL


def _fingerprint(conversation, responses):
    """Same prompt turns, same response texts from the same (imported) models, in the same order."""
    key = json.dumps(
        [conversation, [[text, name] for text, name in responses]], ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(key.encode()).hexdigest()


def _existing_keys(campaign):
    """The ids and content fingerprints of the campaign's items."""
    ids, prints = set(), set()
    rows = campaign.items.select_related("comparison__prompt").prefetch_related(
        "comparison__slots__response__endpoint"
    )
    for item in rows:
        if item.external_id:
            ids.add(item.external_id)
        slots = sorted(item.comparison.slots.all(), key=lambda slot: slot.position)
        prints.add(
            _fingerprint(
                item.comparison.prompt.conversation,
                [(slot.response.text, slot.response.endpoint.name) for slot in slots],
            )
        )
    return ids, prints


def drop_duplicates(campaign, parsed):
    """(rows to import, "Row n: …" for each duplicate skipped), within the file and against the campaign."""
    ids, prints = _existing_keys(campaign)
    seen_ids, seen_prints = {}, {}
    kept, duplicates = [], []
    for row in parsed:
        fingerprint = _fingerprint(row.conversation, [(t, _endpoint_name(m)) for t, m in row.responses])
        if row.external_id and row.external_id in ids:
            duplicates.append(
                f"Row {row.row}: id {row.external_id!r} is already an item of this campaign; skipped"
            )
        elif row.external_id and row.external_id in seen_ids:
            duplicates.append(
                f"Row {row.row}: id {row.external_id!r} repeats row {seen_ids[row.external_id]}; skipped"
            )
        elif not row.external_id and fingerprint in prints:
            duplicates.append(
                f"Row {row.row}: the same prompt and responses are already an item of this campaign; skipped"
            )
        elif not row.external_id and fingerprint in seen_prints:
            duplicates.append(
                f"Row {row.row}: the same prompt and responses as row {seen_prints[fingerprint]}; skipped"
            )
        else:
            kept.append(row)
            if row.external_id:
                seen_ids[row.external_id] = row.row
            seen_prints.setdefault(fingerprint, row.row)
    return kept, duplicates


def model_names(rows):
    """The endpoint names the rows' responses come from, sorted."""
    return sorted({_endpoint_name(m) for row in rows for _, m in row.responses})


def import_report(rows, duplicates, *, dry_run, file_format):
    """What an import of these parsed rows makes (items, prompts, responses, new models, checks), before it
    writes anything: the text import and the media zip import report the same way."""
    names = model_names(rows)
    existing = set(ModelEndpoint.objects.filter(name__in=names).values_list("name", flat=True))
    return ImportReport(
        dry_run=dry_run,
        items=len(rows),
        prompts=len(rows),
        responses=sum(len(row.responses) for row in rows),
        new_models=[n for n in names if n not in existing],
        gold=sum(row.kind == "gold" for row in rows),
        attention=sum(row.kind == "attention" for row in rows),
        file_format=file_format,
        duplicates=duplicates,
    )


def import_items(campaign, content, file_format="auto", *, dry_run=False, user=None, preview=3):
    """Parse, drop duplicates, then (unless dry_run) create prompts, responses, comparisons and items in one
    transaction. The report lists the duplicates skipped and previews the first ``preview`` items."""
    if file_format == "auto":
        file_format = detect_format(content)
    parsed, duplicates = drop_duplicates(campaign, parse_file(content, file_format, campaign.k))
    names = model_names(parsed)
    report = import_report(parsed, duplicates, dry_run=dry_run, file_format=file_format)
    report.preview = [
        {"prompt": row.conversation, "responses": [text for text, _ in row.responses], "kind": row.kind}
        for row in parsed[:preview]
    ]
    if dry_run:
        return report
    with transaction.atomic():
        endpoints = {}
        for name in names:
            endpoints[name], _ = ModelEndpoint.objects.get_or_create(
                name=name,
                defaults={
                    "path": "(imported answers; not runnable)",
                    "enabled": False,
                    "display_name": name.removeprefix("imported-"),
                },
            )
        for row in parsed:
            prompt = Prompt.objects.create(conversation=row.conversation, created_by=user)
            responses = [
                Response.objects.create(
                    prompt=prompt,
                    endpoint=endpoints[_endpoint_name(model)],
                    status=Response.Status.DONE,
                    text=text,
                    generation_params={"imported": True},
                )
                for text, model in row.responses
            ]
            comparison = create_comparison(prompt, responses)
            CampaignItem.objects.create(
                campaign=campaign,
                comparison=comparison,
                kind=row.kind,
                expected_ranking=row.expected_ranking,
                external_id=row.external_id,
            )
    return report
