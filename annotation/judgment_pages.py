"""The one streaming read of judgments for the apps that read them in bulk (export).

``judgment_pages`` yields Arrow record batches (as tables) of whole comparisons: the judgments
with their comparison's prompt, and the shown responses of those comparisons. On PostgreSQL each
page is three queries copied out with ``COPY ... (FORMAT csv)`` and parsed by Arrow, so no Python
object is made per value; on SQLite (the demo) the same tables are built from the ORM. Callers
pass a Judgment queryset with their filters and never name a table or a column in SQL."""

import json
import queue
import threading

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from inference.models import ModelEndpoint, Prompt, Response

from . import roles
from .models import Comparison, ComparisonSlot, Judgment

_OWN = {
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
    "guest": pa.bool_(),
}
_ORM_FIELDS = (
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
    "guest",
)
_JSON_FIELDS = ("ranking", "reason_tags", "aspects")
_HEADS = {
    "prompt_id": pa.int64(),
    "comparison_created_at": pa.string(),
    "prompt_role": pa.string(),
    "prompt_content": pa.string(),
    "conversation": pa.string(),
}
CAMPAIGN = {"campaign_id": pa.int64()}
JUDGMENT_COLUMNS = {**_OWN, **_HEADS}
"""The columns of each judgments table (with ``campaign_id`` after ``guest`` when asked for).
The JSON columns (ranking, reason_tags, aspects) are JSON text; times are ISO 8601 text in UTC,
exactly as ``datetime.isoformat()`` writes them. ``guest`` is true when the author is a guest
(roles.GUEST). A prompt of one turn whose role and content are strings comes as ``prompt_role``
and ``prompt_content`` with no ``conversation``; any other prompt as ``conversation`` (JSON text)."""
SHOWN_COLUMNS = {
    "comparison_id": pa.int64(),
    "position": pa.int64(),
    "model": pa.string(),
    "text": pa.string(),
}


def judgment_pages(judgments, page_size=10_000, with_campaign=False):
    """An iterator of (judgments, shown) Arrow tables, a page of whole comparisons at a time in
    (comparison id, judgment id) order: the judgments of the queryset ``judgments`` with
    JUDGMENT_COLUMNS, and the shown responses of those comparisons (SHOWN_COLUMNS, by comparison
    and position). ``with_campaign`` adds the campaign each judgment was submitted in."""
    group = Group.objects.filter(name=roles.GUEST).values_list("id", flat=True).first()
    guest = (
        Exists(Group.user_set.through.objects.filter(user_id=OuterRef("annotator_id"), group_id=group))
        if group is not None
        else Value(False, output_field=BooleanField())
    )
    judgments = judgments.annotate(guest=guest).order_by()
    extra = ("assignment__item__campaign_id",) if with_campaign else ()
    if connection.vendor == "postgresql":
        # The SQL is compiled here; the pages then touch only this thread's psycopg connection,
        # so the next page is read on a thread while the caller turns this one into rows.
        connection.ensure_connection()
        raw = connection.connection
        return read_ahead(_postgres_pages(raw, *_postgres_sql(judgments, extra), page_size))
    return _orm_pages(judgments, page_size, extra)


def _own_columns(extra):
    return {**_OWN, **(CAMPAIGN if extra else {})}


def _trim(ids, count, limit):
    """How many rows of a full page to keep so it ends with a whole comparison (0: none fits)."""
    if count < limit:
        return count
    return int(np.searchsorted(ids, ids[-1], side="left"))


# ---------------------------------------------------------------- PostgreSQL: COPY into Arrow


def _iso_sql(column):
    """SQL text of a timestamptz column exactly as Python's ``datetime.isoformat()`` writes it
    in UTC (microseconds only when there are some)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN mod(extract(microseconds FROM {utc})::bigint, 1000000) "
        f"= 0 THEN '' ELSE to_char({utc}, '.US') END || '+00:00'"
    )


def _postgres_sql(judgments, extra):

    table = Judgment._meta.db_table
    texts = {f"{name}_text": Cast(name, TextField()) for name in _JSON_FIELDS}
    texts["created_at_text"] = RawSQL(_iso_sql(f'"{table}"."created_at"'), ())
    fields = [f"{f}_text" if f in _JSON_FIELDS or f == "created_at" else f for f in _ORM_FIELDS]
    inner, params = judgments.annotate(**texts).values_list(*fields, *extra).query.sql_with_params()
    own = _own_columns(extra)
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
    return page_sql, params, heads_sql, shown_sql, own


def _postgres_pages(raw, page_sql, params, heads_sql, shown_sql, own, page_size):
    heads_columns = {"id": pa.int64(), **_HEADS}
    last, limit = -1, page_size
    while True:
        table = _copy_csv(raw, page_sql, [*params, last, limit], own)
        count = table.num_rows
        if count == 0:
            return
        ids = table["comparison_id"].to_numpy()
        whole = _trim(ids, count, limit)
        if whole == 0:  # one comparison has more judgments than a page
            limit *= 2
            continue
        table, ids = table.slice(0, whole), ids[:whole]
        last = int(ids[-1])
        comparisons = np.unique(ids).tolist()
        # The range lets the planner see a small index scan (a long literal array alone made it
        # scan every slot in parallel).
        within = [comparisons[0], comparisons[-1], comparisons]
        heads = _copy_csv(raw, heads_sql, within, heads_columns)
        yield _with_heads(table, ids, heads), _copy_csv(raw, shown_sql, within, SHOWN_COLUMNS)
        if count < limit:
            return


def _with_heads(table, ids, heads):
    at = pa.array(np.searchsorted(heads["id"].to_numpy(), ids))
    for name in _HEADS:
        table = table.append_column(name, heads[name].take(at))
    return table


def read_ahead(iterator):
    """Yield what ``iterator`` yields while a thread already reads the next item, so the
    database works on the next page while this thread turns the last one into rows.

    The iterator must not need this thread's Django state (judgment_pages' PostgreSQL pages do not). Errors
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
    parse it with Arrow's CSV reader. In PostgreSQL's CSV a NULL is an empty unquoted field and
    an empty text is "", which Arrow's options below keep apart."""
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            data = b"".join(copy)  # one allocation of the exact size, not a growing buffer
    if not data:
        return pa.table({name: pa.array([], type=type_) for name, type_ in columns.items()})
    # One block, parsed on this thread: a page is small, and parser threads would each grow
    # their own malloc arena.
    return pa_csv.read_csv(
        pa.py_buffer(data),
        read_options=pa_csv.ReadOptions(
            column_names=list(columns), block_size=len(data) + 1, use_threads=False
        ),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        # Only an empty unquoted field is NULL: Arrow's default list would read "NA" or "null" as one.
        convert_options=pa_csv.ConvertOptions(
            column_types=columns,
            true_values=["t"],
            false_values=["f"],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    ).combine_chunks()


# ---------------------------------------------------------------- SQLite (the demo): the ORM


def _orm_pages(judgments, page_size, extra):
    own = _own_columns(extra)
    ordered = judgments.order_by("comparison_id", "id")
    last, limit = -1, page_size
    while True:
        rows = list(ordered.filter(comparison_id__gt=last).values_list(*_ORM_FIELDS, *extra)[:limit])
        count = len(rows)
        if count == 0:
            return
        ids = np.array([r[1] for r in rows], dtype=np.int64)
        whole = _trim(ids, count, limit)
        if whole == 0:
            limit *= 2
            continue
        rows, ids = rows[:whole], ids[:whole]
        last = int(ids[-1])
        comparisons = np.unique(ids).tolist()
        columns = {name: [] for name in own}
        for row in rows:
            for name, value in zip(own, row):
                if name in _JSON_FIELDS:
                    value = None if value is None else json.dumps(value, ensure_ascii=False)
                elif name == "created_at":
                    value = value.isoformat()
                elif own[name] == pa.bool_() and value is not None:
                    value = bool(value)
                columns[name].append(value)
        table = pa.table({name: pa.array(values, type=own[name]) for name, values in columns.items()})
        yield _with_heads(table, ids, _orm_heads(comparisons)), _orm_shown(comparisons)
        if count < limit:
            return


def _orm_heads(comparisons):
    heads = {name: [] for name in ("id", *_HEADS)}
    for cid, prompt_id, conversation, created_at in (
        Comparison.objects.filter(id__in=comparisons)
        .order_by("id")
        .values_list("id", "prompt_id", "prompt__conversation", "created_at")
    ):
        one_turn = (
            isinstance(conversation, list)
            and len(conversation) == 1
            and isinstance(conversation[0], dict)
            and isinstance(conversation[0].get("role"), str)
            and isinstance(conversation[0].get("content"), str)
        )
        heads["id"].append(cid)
        heads["prompt_id"].append(prompt_id)
        heads["comparison_created_at"].append(created_at.isoformat())
        heads["prompt_role"].append(conversation[0]["role"] if one_turn else None)
        heads["prompt_content"].append(conversation[0]["content"] if one_turn else None)
        heads["conversation"].append(None if one_turn else json.dumps(conversation, ensure_ascii=False))
    return pa.table(
        {name: pa.array(values, type=({"id": pa.int64()} | _HEADS)[name]) for name, values in heads.items()}
    )


def _orm_shown(comparisons):
    rows = (
        ComparisonSlot.objects.filter(comparison_id__in=comparisons)
        .order_by("comparison_id", "position")
        .values_list("comparison_id", "position", "response__endpoint__name", "response__text")
    )
    columns = list(zip(*rows)) or [[], [], [], []]
    return pa.table(
        {
            name: pa.array(list(values), type=type_)
            for (name, type_), values in zip(SHOWN_COLUMNS.items(), columns)
        }
    )


# ---------------------------------------------------------------- multi-turn conversations


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


def with_continued_turns(shown):
    """The shown table of a page with a ``turns`` column (each position's messages after the
    opening, as JSON text) when some of its comparisons are multi-turn; unchanged otherwise."""
    ids = np.unique(shown["comparison_id"].to_numpy(zero_copy_only=False)).tolist()
    turns = continued_turns(ids)
    if not turns:
        return shown
    values = [
        json.dumps(turns[cid][position]) if cid in turns else None
        for cid, position in zip(shown["comparison_id"].to_pylist(), shown["position"].to_pylist())
    ]
    return shown.append_column("turns", pa.array(values, pa.string()))
