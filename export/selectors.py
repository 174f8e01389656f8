"""Reads for exports: judgments streamed with a server-side cursor, grouped by
comparison, with the shown responses fetched per batch (so memory stays flat
however many judgments there are)."""

import json
import queue
import threading
import uuid
from collections import namedtuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from annotation.models import Comparison, ComparisonSlot, Judgment
from annotation.routing_records import routed_mix, routing_reasons
from inference.models import ModelEndpoint, Prompt, Response

from .models import ExportJob

JudgmentRow = namedtuple(
    "JudgmentRow",
    "id comparison_id ranking none_acceptable strength confidence rationale reason_tags source "
    "annotator_id judge_name judge_prompt_version rubric_version identities_hidden created_at aspects "
    "campaign_id reliability",
    defaults=(None, None),
)
"""One judgment as an export reads it. ``created_at`` is its ISO 8601 text in UTC (exactly
``datetime.isoformat()``); ``campaign_id`` is the campaign it was submitted in (None for arena
and other non-campaign votes; read only when reliability is needed); ``reliability`` is filled
by the export service when a policy needs it."""

_JUDGMENT_FIELDS = (
    "id",
    "comparison_id",
    "ranking",
    "none_acceptable",
    "strength",
    "confidence",
    "rationale",
    "reason_tags",
    "source",
    "annotator_id",
    "judge__name",
    "judge_prompt_version",
    "rubric_version",
    "identities_hidden",
    "created_at",
    "aspects",
)
Shown = namedtuple("Shown", "model text")


class ComparisonGroup:
    """One comparison with its shown responses and the judgments an export read for it.

    ``created_at`` is ISO 8601 text in UTC; ``cache`` holds per-comparison work (the prompt
    as text or messages) that every row of the comparison shares."""

    __slots__ = (
        "id",
        "prompt_id",
        "conversation",
        "created_at",
        "shown",
        "judgments",
        "cache",
        "routing",
        "turns",
    )

    def __init__(self, id, prompt_id, conversation, created_at, shown, judgments, routing=None, turns=None):
        self.id, self.prompt_id, self.conversation = id, prompt_id, conversation
        self.created_at, self.shown, self.judgments = created_at, shown, judgments
        self.cache = {}
        self.routing = routing  # (destination, reason, policy) in routed exports, else None
        self.turns = turns  # multi-turn conversations: {position: messages after the opening}, else None


def continued_turns(comparison_ids):
    """{comparison id: {position: messages}} for the comparisons whose conversation went on
    (multi-turn arena battles): each position's messages after the opening, its first answer,
    every follow-up and its later answers, ending with the last answer. One query per turn."""
    latest = {cid: cid for cid in comparison_ids}
    frontier = list(comparison_ids)
    while frontier:
        step = dict(Comparison.objects.filter(continues_id__in=frontier).values_list("continues_id", "id"))
        if not step:
            break
        latest = {root: step.get(last, last) for root, last in latest.items()}
        frontier = list(step.values())
    went_on = {last: root for root, last in latest.items() if last != root}
    if not went_on:
        return {}
    opening = dict(
        Comparison.objects.filter(id__in=list(went_on.values())).values_list("id", "prompt__conversation")
    )
    turns = {}
    for cid, position, conversation, text in ComparisonSlot.objects.filter(
        comparison_id__in=list(went_on)
    ).values_list("comparison_id", "position", "response__prompt__conversation", "response__text"):
        root = went_on[cid]
        later = conversation[len(opening[root]) :]
        turns.setdefault(root, {})[position] = [
            {"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in later
        ] + [{"role": "assistant", "content": text}]
    return turns


def campaign_membership(campaign_ids):
    """A Q that keeps judgments of these campaigns: submitted through one of their items'
    assignments, or (with no assignment, e.g. an AI judge's verdict) made on a comparison
    that is one of their items."""
    from annotation.models import Assignment, CampaignItem

    campaign_ids = list(campaign_ids)
    through_assignment = Exists(
        Assignment.objects.filter(judgment=OuterRef("pk"), item__campaign_id__in=campaign_ids)
    )
    no_assignment = ~Exists(Assignment.objects.filter(judgment=OuterRef("pk")))
    on_item = Exists(
        CampaignItem.objects.filter(comparison=OuterRef("comparison_id"), campaign_id__in=campaign_ids)
    )
    return Q(through_assignment) | (Q(no_assignment) & Q(on_item))


def outside_every_campaign():
    """A Q that keeps judgments that belong to no campaign (arena battles and other votes)."""
    from annotation.models import Assignment, CampaignItem

    return Q(~Exists(Assignment.objects.filter(judgment=OuterRef("pk")))) & Q(
        ~Exists(CampaignItem.objects.filter(comparison=OuterRef("comparison_id")))
    )


def filtered_judgments(options, scope=None):
    """The judgments an export reads, before any policy (query-level filters only).

    ``scope`` (a Q, or None for everything) is what the person exporting may read; see
    export.services.export_scope."""
    judgments = Judgment.objects.all()
    if scope is not None:
        judgments = judgments.filter(scope)
    if options.campaigns:
        from annotation.models import Campaign

        ids = list(Campaign.objects.filter(slug__in=options.campaigns).values_list("id", flat=True))
        judgments = judgments.filter(campaign_membership(ids))
    if options.source == "routed":
        judgments = judgments.filter(routed_mix())
    elif options.source != "both":
        judgments = judgments.filter(source=options.source)
    if options.since:
        judgments = judgments.filter(created_at__gte=options.since)
    if options.until:
        judgments = judgments.filter(created_at__lte=options.until)
    if options.min_confidence is not None:
        judgments = judgments.filter(confidence__gte=options.min_confidence)
    if options.blind_only:
        judgments = judgments.filter(identities_hidden=True)
    if options.arena:
        # The ORM path, not an import: export never imports arena.
        judgments = judgments.filter(comparison__battle__arena__slug=options.arena)
    return judgments


def count_judgments(options, scope=None):
    return filtered_judgments(options, scope).count()


def comparison_groups(options, batch_size=5000, scope=None, with_campaign=False):
    """Yield ComparisonGroup in comparison id order, each with its judgments in id order.

    One server-side cursor streams the judgments; every ~batch_size judgments the
    shown responses and prompts of that batch's comparisons are read in two queries."""
    pending = []
    conversations = _memo_json(limit=10_000)  # prompts recur across comparisons; rows never change them
    routed = options.source == "routed"
    for row in _judgment_rows(options, batch_size, scope, with_campaign):
        if len(pending) >= batch_size and row.comparison_id != pending[-1].comparison_id:
            yield from _groups(pending, conversations, routed=routed)
            pending = []
        pending.append(row)
    if pending:
        yield from _groups(pending, conversations, routed=routed)


_JSON_FIELDS = {"ranking", "reason_tags", "aspects"}


def _iso_sql(column):
    """SQL text of a timestamptz column exactly as Python's ``datetime.isoformat()`` writes it
    in UTC (microseconds only when there are some), so psycopg parses no datetime."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN mod(extract(microseconds FROM {utc})::bigint, 1000000) "
        f"= 0 THEN '' ELSE to_char({utc}, '.US') END || '+00:00'"
    )


def _as_text_columns(judgments, extra=()):
    """PostgreSQL: the judgment columns of _JUDGMENT_FIELDS with the JSON columns as text (the
    few distinct values, rankings like [[0], [1]] or empty tags, are then decoded once) and the
    timestamp as ISO text (no datetime parsing per row)."""
    table = Judgment._meta.db_table
    texts = {f"{name}_text": Cast(name, TextField()) for name in _JSON_FIELDS}
    texts["created_at_text"] = RawSQL(_iso_sql(f'"{table}"."created_at"'), ())
    fields = [f"{f}_text" if f in _JSON_FIELDS or f == "created_at" else f for f in _JUDGMENT_FIELDS]
    return judgments.annotate(**texts).values_list(*fields, *extra)


def _judgment_rows(options, batch_size, scope, with_campaign):
    ordered = filtered_judgments(options, scope).order_by("comparison_id", "id")
    extra = ("assignment__item__campaign_id",) if with_campaign else ()
    if connection.vendor != "postgresql":
        for values in ordered.values_list(*_JUDGMENT_FIELDS, *extra).iterator(chunk_size=batch_size):
            values = list(values)
            values[14] = values[14].isoformat()
            yield JudgmentRow(*values)
        return
    # PostgreSQL: read in wide batches of plain tuples by a named (server-side) cursor of psycopg
    # directly: Django's per-value converters and psycopg's datetime parsing cost more than the export.
    sql, params = _as_text_columns(ordered, extra).query.sql_with_params()
    decode = _memo_json()
    make = JudgmentRow._make
    connection.ensure_connection()
    with transaction.atomic(), connection.connection.cursor(name=f"export_{uuid.uuid4().hex}") as cursor:
        cursor.itersize = batch_size
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(batch_size)
            if not rows:
                break
            for (
                jid,
                cid,
                ranking,
                none_acceptable,
                strength,
                confidence,
                rationale,
                tags,
                source,
                annotator_id,
                judge_name,
                judge_prompt_version,
                rubric_version,
                hidden,
                created_at,
                aspects,
                *rest,
            ) in rows:
                yield make(
                    (
                        jid,
                        cid,
                        decode(ranking),
                        none_acceptable,
                        strength,
                        confidence,
                        rationale,
                        decode(tags),
                        source,
                        annotator_id,
                        judge_name,
                        judge_prompt_version,
                        rubric_version,
                        hidden,
                        created_at,
                        decode(aspects),
                        rest[0] if rest else None,
                        None,
                    )
                )


# ---------------------------------------------------------------- pages as Arrow tables (PostgreSQL)

ARROW_JUDGMENT_COLUMNS = {
    "id": pa.int64(),
    "comparison_id": pa.int64(),
    "ranking": pa.string(),
    "none_acceptable": pa.bool_(),
    "strength": pa.int64(),
    "confidence": pa.int64(),
    "rationale": pa.string(),
    "reason_tags": pa.string(),
    "source": pa.string(),
    "annotator_id": pa.int64(),
    "judge_name": pa.string(),
    "judge_prompt_version": pa.string(),
    "rubric_version": pa.string(),
    "identities_hidden": pa.bool_(),
    "created_at": pa.string(),
    "aspects": pa.string(),
    # From the comparison and its prompt:
    "prompt_id": pa.int64(),
    "comparison_created_at": pa.string(),
    "prompt_role": pa.string(),
    "prompt_content": pa.string(),
    "conversation": pa.string(),
}
"""The columns of each judgments table judgment_pages yields (JudgmentRow's, with the JSON
columns still as text, plus the comparison's prompt and creation time). A prompt of one turn
whose role and content are strings, the usual shape, comes as ``prompt_role`` and
``prompt_content`` with no ``conversation``; any other prompt as ``conversation`` (JSON text)."""
ARROW_SHOWN_COLUMNS = {
    "comparison_id": pa.int64(),
    "position": pa.int64(),
    "model": pa.string(),
    "text": pa.string(),
}


def judgment_pages(options, scope=None, page_size=10_000):
    """An iterator of (judgments, shown) Arrow tables, a page of whole comparisons at a time in
    (comparison id, judgment id) order: the judgments with ARROW_JUDGMENT_COLUMNS, and the
    shown responses of those comparisons (ARROW_SHOWN_COLUMNS, by comparison and position).

    PostgreSQL only. Each page is three queries (the judgments, by keyset on the comparison
    id; then their comparisons and their shown responses by id), each copied out as CSV and
    parsed by Arrow, so no Python object is made per value. The SQL is compiled here, and the
    iterator then touches only this thread's database connection (so it sees what Django sees,
    inside a transaction too) and nothing else of Django, so read_ahead may run it on a thread."""
    filtered = _as_text_columns(filtered_judgments(options, scope).order_by())
    inner, params = filtered.query.sql_with_params()
    own = {
        name: ARROW_JUDGMENT_COLUMNS[name] for name in list(ARROW_JUDGMENT_COLUMNS)[: len(_JUDGMENT_FIELDS)]
    }
    # The keyset condition and order go around the compiled query; PostgreSQL pushes them into it.
    page_sql = (
        f"SELECT * FROM ({inner}) AS U({', '.join(own)}) WHERE U.comparison_id > %s "
        "ORDER BY U.comparison_id, U.id LIMIT %s"
    )
    slot, response, endpoint = (m._meta.db_table for m in (ComparisonSlot, Response, ModelEndpoint))
    shown_sql = (
        f'SELECT s.comparison_id, s.position, e.name, r.text FROM "{slot}" s '
        f'JOIN "{response}" r ON r.id = s.response_id LEFT JOIN "{endpoint}" e ON e.id = r.endpoint_id '
        "WHERE s.comparison_id BETWEEN %s AND %s AND s.comparison_id = ANY(%s) "
        "ORDER BY s.comparison_id, s.position"
    )
    comparison, prompt = Comparison._meta.db_table, Prompt._meta.db_table
    # Each operator here yields NULL rather than an error on an unexpected shape.
    one_turn = (
        "jsonb_typeof(p.conversation) = 'array' AND p.conversation -> 1 IS NULL "
        "AND jsonb_typeof(p.conversation -> 0 -> 'role') = 'string' "
        "AND jsonb_typeof(p.conversation -> 0 -> 'content') = 'string'"
    )
    heads_sql = (
        f"SELECT c.id, c.prompt_id, {_iso_sql('c.created_at')}, "
        f"CASE WHEN {one_turn} THEN p.conversation -> 0 ->> 'role' END, "
        f"CASE WHEN {one_turn} THEN p.conversation -> 0 ->> 'content' END, "
        f"CASE WHEN {one_turn} THEN NULL ELSE p.conversation::text END "
        f'FROM "{comparison}" c JOIN "{prompt}" p ON p.id = c.prompt_id '
        "WHERE c.id BETWEEN %s AND %s AND c.id = ANY(%s) ORDER BY c.id"
    )
    heads_columns = {
        "id": pa.int64(),
        **{
            name: ARROW_JUDGMENT_COLUMNS[name]
            for name in list(ARROW_JUDGMENT_COLUMNS)[len(_JUDGMENT_FIELDS) :]
        },
    }
    connection.ensure_connection()
    raw = connection.connection

    def pages():
        last, limit = -1, page_size
        while True:
            table = _copy_csv(raw, page_sql, [*params, last, limit], own)
            count = table.num_rows
            if count == 0:
                return
            ids = table["comparison_id"].to_numpy()
            if count == limit:
                # The page may end inside a comparison: leave that comparison to the next page.
                whole = int(np.searchsorted(ids, ids[-1], side="left"))
                if whole == 0:  # one comparison has more judgments than a page
                    limit *= 2
                    continue
                table, ids = table.slice(0, whole), ids[:whole]
            last = int(ids[-1])
            comparisons = np.unique(ids).tolist()
            # The range lets the planner see a small index scan (a long literal array alone
            # made it scan every slot in parallel).
            within = [comparisons[0], comparisons[-1], comparisons]
            heads = _copy_csv(raw, heads_sql, within, heads_columns)
            at = pa.array(np.searchsorted(heads["id"].to_numpy(), ids))
            for name in list(heads_columns)[1:]:
                table = table.append_column(name, heads[name].take(at))
            yield table, _copy_csv(raw, shown_sql, within, ARROW_SHOWN_COLUMNS)
            if count < limit:
                return

    return pages()


def read_ahead(iterator):
    """Yield what ``iterator`` yields while a thread already reads the next item, so the
    database works on the next page while this thread turns the last one into rows.

    The iterator must not need this thread's Django state (judgment_pages' does not). Errors
    reach the caller; when the caller stops early, the thread is stopped and waited for, so
    the connection is free again when this returns."""
    items = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            items.put((done, exc))

    thread = threading.Thread(target=work, name="export-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                items.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _copy_csv(raw, sql, params, columns):
    """Run one query on the psycopg connection ``raw`` as COPY ... TO STDOUT (FORMAT csv) and
    parse it with Arrow's CSV reader.

    In PostgreSQL's CSV a NULL is an empty unquoted field and an empty text is "", which
    Arrow's options below keep apart."""
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            data = b"".join(copy)  # one allocation of the exact size, not a growing buffer
    names = list(columns)
    if not data:
        return pa.table({name: pa.array([], type=type_) for name, type_ in columns.items()})
    # One block, parsed on this thread: a page is small, and parser threads would each grow
    # their own malloc arena.
    return pa_csv.read_csv(
        pa.py_buffer(data),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=len(data) + 1, use_threads=False),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        # Only an empty unquoted field is NULL: Arrow's default list would read a text "NA" or "null" as one.
        convert_options=pa_csv.ConvertOptions(
            column_types=columns,
            true_values=["t"],
            false_values=["f"],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    ).combine_chunks()


def with_continued_turns(shown):
    """The shown table of a columnar page with a ``turns`` column (each position's messages after
    the opening, as JSON text) when some of its comparisons are multi-turn; unchanged otherwise."""
    ids = np.unique(shown["comparison_id"].to_numpy(zero_copy_only=False)).tolist()
    turns = continued_turns(ids)
    if not turns:
        return shown
    values = [
        json.dumps(turns[cid][position]) if cid in turns else None
        for cid, position in zip(shown["comparison_id"].to_pylist(), shown["position"].to_pylist())
    ]
    return shown.append_column("turns", pa.array(values, pa.string()))


def _memo_json(limit=50_000):
    cache = {}

    def decode(text):
        value = cache.get(text)
        if value is None:
            value = json.loads(text)
            if len(cache) < limit:
                cache[text] = value
        return value

    return decode


def _groups(judgments, decode_conversation=json.loads, routed=False):
    ids = sorted({j.comparison_id for j in judgments})
    routing = routing_reasons(ids) if routed else {}
    shown = {}
    if connection.vendor == "postgresql":
        slot, response, endpoint = (m._meta.db_table for m in (ComparisonSlot, Response, ModelEndpoint))
        comparison, prompt = Comparison._meta.db_table, Prompt._meta.db_table
        with connection.connection.cursor() as cursor:
            cursor.execute(
                f'SELECT s.comparison_id, s.position, e.name, r.text FROM "{slot}" s '
                f'JOIN "{response}" r ON r.id = s.response_id LEFT JOIN "{endpoint}" e ON e.id = r.endpoint_id '
                "WHERE s.comparison_id = ANY(%s)",
                (ids,),
                prepare=True,
            )
            for comparison_id, position, model, text in cursor.fetchall():
                shown.setdefault(comparison_id, {})[position] = Shown(model, text)
            cursor.execute(
                f"SELECT c.id, c.prompt_id, p.conversation::text, {_iso_sql('c.created_at')} FROM \"{comparison}\" c "
                f'JOIN "{prompt}" p ON p.id = c.prompt_id WHERE c.id = ANY(%s)',
                (ids,),
                prepare=True,
            )
            heads = {
                cid: (prompt_id, decode_conversation(conversation), created_at)
                for cid, prompt_id, conversation, created_at in cursor.fetchall()
            }
    else:
        slots = ComparisonSlot.objects.filter(comparison_id__in=ids).values_list(
            "comparison_id", "position", "response__endpoint__name", "response__text"
        )
        for comparison_id, position, model, text in slots.iterator(chunk_size=10000):
            shown.setdefault(comparison_id, {})[position] = Shown(model, text)
        heads = {
            cid: (prompt_id, conversation, created_at.isoformat())
            for cid, prompt_id, conversation, created_at in Comparison.objects.filter(id__in=ids).values_list(
                "id", "prompt_id", "prompt__conversation", "created_at"
            )
        }
    turns = continued_turns(ids)
    start = 0
    for end in range(1, len(judgments) + 1):
        if end == len(judgments) or judgments[end].comparison_id != judgments[start].comparison_id:
            cid = judgments[start].comparison_id
            prompt_id, conversation, created_at = heads[cid]
            yield ComparisonGroup(
                cid,
                prompt_id,
                conversation,
                created_at,
                shown.get(cid, {}),
                judgments[start:end],
                routing.get(cid),
                turns.get(cid),
            )
            start = end


def jobs_visible_to(user):
    """Export jobs a user may see: their own; admins see everyone's."""
    from annotation.roles import ADMIN, has_role

    jobs = ExportJob.objects.select_related("created_by")
    return jobs if has_role(user, ADMIN) else jobs.filter(created_by=user)


def exportable_campaigns(user):
    """Campaigns a user may export (slug, name): every one for an admin, the ones a researcher
    manages (created or was added to) otherwise."""
    from annotation.campaigns import is_admin
    from annotation.models import Campaign

    campaigns = Campaign.objects.order_by("slug")
    if not is_admin(user):
        campaigns = campaigns.filter(Q(created_by=user) | Q(researchers=user)).distinct()
    return list(campaigns.values_list("slug", "name"))
