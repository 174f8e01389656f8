"""Writes for exports: judgments → dataset files and a dataset card, and export jobs.

``export_preferences`` is the one place the policies run; the command, the API
and the page all end here. It writes into a hidden temporary folder beside the
destination and renames it into place only when every file is complete, so a
failure never leaves a partial dataset behind."""

import logging
import os
import shutil
import tempfile
import uuid
import zipfile
from collections import namedtuple
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.roles import ADMIN, RESEARCHER, has_role
from annotation.routing_records import routing_summaries
from inference.heartbeat import Heartbeat, stale_before
from inference.services import enqueue

from . import columnar as columnar_path
from . import formats, selectors
from .card import ExportStats, card_text, summary
from .models import ExportJob
from .options import ExportOptionsError, parse_options
from .policies import (
    TIE,
    WIN,
    LengthBalancer,
    aggregate_pairs,
    break_ranking,
    group_index,
    judgment_weight,
    pair_agreement,
    prompt_key,
    split_for,
    unit_weight,
)
from .writers import SplitFiles

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
Pair = namedtuple("Pair", "chosen rejected tie gap judgments agreement none_acceptable")
Negative = namedtuple("Negative", "position judgments agreement")


class ExportPathError(ValueError):
    """The output folder cannot be written."""


class ExportNotAllowed(PermissionError):
    """Only researchers and admins export."""


def can_export(user):
    return has_role(user, RESEARCHER) or has_role(user, ADMIN)


COMMAND_LINE_SCOPE = "every judgment (run by an operator from the command line)"
ADMIN_SCOPE = "every judgment (an admin's export)"
RESEARCHER_SCOPE = (
    "the campaigns the exporting researcher manages (created or was added to), and judgments "
    "outside every campaign (arena battles and other votes, which any researcher may export)"
)


def export_scope(user, options):
    """What ``user`` may export with ``options``: (a Q on Judgment or None for everything,
    a sentence for the dataset card).

    Only researchers and admins export. An admin (and the command line, user None) reads every
    judgment. A researcher reads the campaigns they manage (created, or listed in the campaign's
    researchers) and the judgments that belong to no campaign (arena votes): those carry no
    campaign owner, and researchers have always been able to export them. Asking for a campaign
    that does not exist is a bad option; asking for one they do not manage is refused."""
    from annotation.campaigns import is_admin
    from annotation.models import Campaign

    if options.campaigns:
        found = set(Campaign.objects.filter(slug__in=options.campaigns).values_list("slug", flat=True))
        missing = [slug for slug in options.campaigns if slug not in found]
        if missing:
            raise ExportOptionsError(
                f"No campaign with the address {', '.join(repr(m) for m in missing)}; check the campaign slug."
            )
    if user is None:
        return None, COMMAND_LINE_SCOPE
    if not can_export(user):
        raise ExportNotAllowed("Only researchers and admins may export datasets.")
    if is_admin(user):
        return None, ADMIN_SCOPE
    owned = dict(
        Campaign.objects.filter(Q(created_by=user) | Q(researchers=user)).distinct().values_list("slug", "id")
    )
    refused = [slug for slug in options.campaigns if slug not in owned]
    if refused:
        raise ExportNotAllowed(
            f"You may export only campaigns you manage, and you are not a researcher of "
            f"{', '.join(repr(r) for r in refused)}; ask its creator or an admin to add you."
        )
    return selectors.campaign_membership(
        owned.values()
    ) | selectors.outside_every_campaign(), RESEARCHER_SCOPE


def _reliability_lookup():
    """annotator_reliability per (annotator, campaign), asked once per export for each pair.

    A campaign judgment is weighed by its annotator's reliability in that campaign; a judgment
    outside every campaign by the annotator's reliability over all campaigns; AI judges have none."""
    from annotation.quality import annotator_reliability

    cache = {}

    def reliability(judgment):
        if judgment.annotator_id is None:
            return None
        key = (judgment.annotator_id, judgment.campaign_id)
        if key not in cache:
            cache[key] = annotator_reliability(judgment.annotator_id, judgment.campaign_id)
        return cache[key]

    return reliability


# ---------------------------------------------------------------- the export itself


def export_preferences(
    options,
    out_dir,
    *,
    overwrite=False,
    progress=None,
    batch_size=5000,
    user=None,
    columnar=None,
    page_size=10_000,
):
    """Write the dataset for ``options`` (ExportOptions or a dict) into ``out_dir``.

    ``user`` is who exports (see export_scope); None is the command line, which reads everything.
    Returns a dict: {"out_dir", "files" (relative paths), "summary"}. ``progress`` is
    called as progress(judgments_read, rows_written, judgments_total) after each batch.
    Raises ExportOptionsError, ExportNotAllowed or ExportPathError with a sentence; nothing
    is left behind on any failure.

    On PostgreSQL, the pair formats without aggregation take the columnar path
    (export.columnar), which makes the same rows several times faster; ``columnar=False``
    forces the row path (tests compare the two). It reads ``page_size`` judgments at a time,
    the row path ``batch_size``."""
    if isinstance(options, dict):
        options = parse_options(options)
    scope, scope_text = export_scope(user, options)
    out_dir = Path(out_dir).expanduser().absolute()
    _check_destination(out_dir, overwrite)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise ExportPathError(f"Cannot write into {out_dir.parent}: {exc.strerror or exc}.") from exc
    writers = {}
    try:
        (tmp / "data").mkdir()
        schema = formats.arrow_schema(options)
        writers = {split: SplitFiles(tmp / "data", split, options.file_format, schema) for split in SPLITS}
        stats = ExportStats(scope=scope_text)
        total = selectors.count_judgments(options, scope) if progress else None
        balancers = {split: LengthBalancer(options.max_chosen_longer_rate) for split in SPLITS}
        if columnar is None:
            columnar = connection.vendor == "postgresql" and columnar_path.applies(options)
        report = (
            (lambda: progress(stats.judgments_read, sum(stats.rows.values()), total)) if progress else None
        )
        if columnar:
            _write_columnar(options, scope, page_size, writers, stats, balancers, report)
        else:
            _write_rows(options, scope, batch_size, writers, stats, balancers, report)
        for split, balancer in balancers.items():
            if balancer.dropped:
                stats.dropped[f"length balancing ({split})"] += balancer.dropped
        splits = [s for s in SPLITS if writers[s].rows] or ["train"]
        for split in SPLITS:
            writers[split].close(keep_empty=split in splits)
        stats.rows = type(stats.rows)({s: stats.rows.get(s, 0) for s in splits})
        result_summary = summary(stats)
        suffixes = [cls.suffix for cls in writers["train"].classes]
        configs = [("default" if i == 0 else suffix, suffix) for i, suffix in enumerate(suffixes)]
        (tmp / "README.md").write_text(
            card_text(
                options,
                {"configs": configs, "splits": splits},
                result_summary,
                routing_summaries(options.campaigns) if options.source == "routed" else (),
            ),
            encoding="utf-8",
        )
        if progress:
            progress(stats.judgments_read, result_summary["rows_total"], total)
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        _move_into_place(tmp, out_dir)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out_dir": str(out_dir), "files": files, "summary": result_summary}


def _write_columnar(options, scope, page_size, writers, stats, balancers, report):
    """The columnar path (export.columnar): Arrow tables a page at a time."""
    state = columnar_path.ColumnarState(options, balancers)
    for judgments, shown in selectors.read_ahead(selectors.judgment_pages(options, scope, page_size)):
        if options.format == "dpo-chat":
            shown = selectors.with_continued_turns(shown)  # multi-turn battles write the whole conversation
        for split, table in columnar_path.page_tables(state, judgments, shown, stats):
            writers[split].write_table(table)
            stats.rows[split] += table.num_rows
        if report:
            report()


def _write_rows(options, scope, batch_size, writers, stats, balancers, report):
    """The row path: one comparison and one row dictionary at a time, every policy."""
    needs_reliability = options.aggregate == "weighted" or options.min_reliability is not None
    reliability = _reliability_lookup() if needs_reliability else None
    split_keys = {}  # prompt id -> split (only with a test split)
    batch_mark = 0
    for group in selectors.comparison_groups(
        options, batch_size=batch_size, scope=scope, with_campaign=needs_reliability
    ):
        stats.comparisons_read += 1
        stats.judgments_read += len(group.judgments)
        if reliability is not None:
            _apply_reliability(options, group, reliability, stats)
        if options.test_fraction <= 0:
            split = "train"
        else:
            split = split_keys.get(group.prompt_id)
            if split is None:
                split = split_for(prompt_key(group.conversation), options.seed, options.test_fraction)
                if len(split_keys) >= 100_000:  # bounded memory; a miss only recomputes the hash
                    split_keys.clear()
                split_keys[group.prompt_id] = split
        for row in _rows(options, group, stats, balancers[split]):
            writers[split].write(row)
            stats.rows[split] += 1
            stats.sources[row["source"]] += 1
        if report and stats.judgments_read - batch_mark >= batch_size:
            batch_mark = stats.judgments_read
            report()


def _check_destination(out_dir, overwrite):
    parent = out_dir.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportPathError(f"{out_dir} is a file; give a folder path for the dataset.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ExportPathError(
            f"{out_dir} already exists and is not empty; choose another path or allow overwriting."
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportPathError(f"Cannot create the folder {parent}: {exc.strerror or exc}.") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportPathError(f"Cannot write into {parent}: permission denied.")


def _move_into_place(tmp, out_dir):
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- policies → rows


def _apply_reliability(options, group, reliability, stats):
    """Attach each judgment's annotator reliability, and drop those below --min-reliability.
    Unknown reliability (None: no evidence yet, or an AI judge) passes the filter."""
    kept = []
    for judgment in group.judgments:
        value = reliability(judgment)
        if options.min_reliability is not None and value is not None and value < options.min_reliability:
            stats.dropped["annotator reliability below minimum (judgments)"] += 1
            continue
        if value is None:
            stats.unknown_reliability += 1
        kept.append(judgment._replace(reliability=value))
    group.judgments = kept


def _rows(options, group, stats, balancer):
    judgments = [j for j in group.judgments if _valid(j, group, stats)]
    if not judgments:
        return
    if options.format == "listwise" or options.format == "ratings":
        yield from _per_judgment_rows(options, group, judgments, stats)
        return
    for unit in _pair_units(options, group, judgments, stats):
        if unit.agreement < options.min_agreement:
            stats.dropped["below minimum agreement"] += 1
            continue
        if isinstance(unit, Negative):
            if not _model_ok(options, group, unit.position):
                stats.dropped["model filter"] += 1
                continue
            prov = formats.provenance(group, unit.judgments, unit.agreement, True)
            row = formats.negative_row(group, unit.position, prov)
            stats.add_length("completion (negative)", len(group.shown[unit.position].text))
            yield row
            continue
        if not (_model_ok(options, group, unit.chosen) and _model_ok(options, group, unit.rejected)):
            stats.dropped["model filter"] += 1
            continue
        chosen_len, rejected_len = len(group.shown[unit.chosen].text), len(group.shown[unit.rejected].text)
        if not balancer.admit(chosen_len, rejected_len):
            continue
        stats.pairs += 1
        stats.chosen_longer += chosen_len > rejected_len
        stats.add_length("chosen", chosen_len)
        stats.add_length("rejected", rejected_len)
        prov = formats.provenance(group, unit.judgments, unit.agreement, unit.none_acceptable)
        yield from formats.pair_rows(
            options, group, unit, _margin(options, unit) if options.has_margin else None, prov
        )


class _RankingMemo:
    """Per-ranking work shared by every judgment with an equal ranking: the sorted positions
    it names, its tie-group index and its rank-breaking. Keyed by the ranking object's identity
    (the selector hands out one object per distinct ranking text); each entry keeps its ranking
    alive, so an identity cannot be reused while it is cached."""

    def __init__(self, limit=10_000):
        self.limit = limit
        self._entries = {}

    def entry(self, ranking):
        entry = self._entries.get(id(ranking))
        if entry is None or entry[0] is not ranking:
            positions = [p for g in ranking or [] for p in (g if isinstance(g, list) else [None])]
            # Positions are whole numbers (a "1", 1.0 or true names no shown response).
            whole = all(type(p) is int for p in positions)
            signature = (
                tuple(sorted(positions))
                if isinstance(ranking, list) and len(positions) >= 2 and whole
                else None
            )
            if len(self._entries) >= self.limit:
                self._entries.clear()
            entry = self._entries[id(ranking)] = [ranking, signature, None, {}]
        return entry

    def index(self, ranking):
        entry = self.entry(ranking)
        if entry[2] is None:
            entry[2] = group_index(ranking)
        return entry[2]

    def broken(self, ranking, method):
        by_method = self.entry(ranking)[3]
        pairs = by_method.get(method)
        if pairs is None:
            pairs = by_method[method] = break_ranking(ranking, method)
        return pairs


_MEMO = _RankingMemo()


def _valid(judgment, group, stats):
    signature = _MEMO.entry(judgment.ranking)[1]
    shown = group.cache.get("positions")
    if shown is None:
        shown = group.cache["positions"] = tuple(sorted(group.shown))
    if signature is None or signature != shown:
        stats.dropped["ranking does not match the shown responses"] += 1
        return False
    return True


def _model_ok(options, group, position):
    return not options.models or group.shown[position].model in options.models


def _margin(options, pair):
    if pair.tie or pair.none_acceptable:
        return 0.0
    strengths = [j.strength for j in pair.judgments if j.strength is not None]
    scale = sum(strengths) / len(strengths) if options.margin == "strength" and strengths else 1.0
    return pair.gap * scale


def _pair_units(options, group, judgments, stats):
    """Pairs (and, under kto-negative, unpaired negatives) for one comparison, after
    the tie, rank-breaking and aggregation policies."""
    indexes = [_MEMO.index(j.ranking) for j in judgments]
    if options.aggregate == "none":
        for judgment, index in zip(judgments, indexes):
            if judgment.none_acceptable:
                if options.ties == "drop":
                    stats.dropped["none acceptable (judgments)"] += 1
                    continue
                if options.ties == "kto-negative":
                    share = _share(judgments, lambda j: j.none_acceptable)
                    for position in sorted(index):
                        yield Negative(position, [judgment], share)
                    continue
            strict, tied = _MEMO.broken(judgment.ranking, options.rank_breaking)
            for winner, loser, gap in strict:
                agreement = pair_agreement(judgments, indexes, winner, loser, WIN)
                yield Pair(winner, loser, False, gap, [judgment], agreement, judgment.none_acceptable)
            yield from _tied(
                options,
                stats,
                tied,
                [judgment],
                judgment.none_acceptable,
                lambda a, b: pair_agreement(judgments, indexes, a, b, TIE),
            )
        return

    weight = judgment_weight if options.aggregate == "weighted" else unit_weight
    rankings = [j.ranking for j in judgments]
    bad_share = _share(judgments, lambda j: j.none_acceptable, weight)
    none_acceptable = bad_share > 0.5
    if none_acceptable and options.ties == "drop":
        stats.dropped["none acceptable (comparisons, by majority)"] += 1
        return
    if none_acceptable and options.ties == "kto-negative":
        bad = [j for j in judgments if j.none_acceptable]
        for position in sorted(group.shown):
            yield Negative(position, bad, bad_share)
        return
    verdicts, no_majority = aggregate_pairs(judgments, rankings, options.rank_breaking, weight)
    if no_majority:
        stats.dropped["no majority (pairs)"] += no_majority
    tied, tied_judgments = [], {}
    for verdict in verdicts:
        if verdict.outcome == TIE:
            tied.append((verdict.a, verdict.b))
            tied_judgments[(verdict.a, verdict.b)] = verdict
            continue
        winner, loser = verdict.winner_loser
        yield Pair(winner, loser, False, verdict.gap, verdict.judgments, verdict.agreement, none_acceptable)
    for a, b in tied:
        verdict = tied_judgments[(a, b)]
        yield from _tied(
            options, stats, [(a, b)], verdict.judgments, none_acceptable, lambda a, b: verdict.agreement
        )


def _tied(options, stats, tied, judgments, none_acceptable, agreement_of):
    if not tied:
        return
    if options.ties == "drop":
        stats.dropped["tied pairs"] += len(tied)
        return
    if options.ties == "margin-zero":
        for a, b in tied:
            yield Pair(a, b, True, 0, judgments, agreement_of(a, b), none_acceptable)
        return
    # kto-negative: each tied response once, with its least-agreed tied pair's agreement.
    lowest = {}
    for a, b in tied:
        share = agreement_of(a, b)
        for position in (a, b):
            lowest[position] = min(lowest.get(position, 1.0), share)
    for position in sorted(lowest):
        yield Negative(position, judgments, lowest[position])


def _share(judgments, predicate, weight=unit_weight):
    total = sum(weight(j) for j in judgments)
    return sum(weight(j) for j in judgments if predicate(j)) / total if total else 0.0


def _per_judgment_rows(options, group, judgments, stats):
    """listwise and ratings: one judgment at a time (aggregation is refused for these)."""
    for judgment in judgments:
        all_tied = len(judgment.ranking) == 1
        if options.ties == "drop" and (judgment.none_acceptable or all_tied):
            stats.dropped["none acceptable or all tied (judgments)"] += 1
            continue
        agreement = _share(judgments, lambda j: j.ranking == judgment.ranking)
        if agreement < options.min_agreement:
            stats.dropped["below minimum agreement"] += 1
            continue
        ranking = [[p for p in sorted(g) if _model_ok(options, group, p)] for g in judgment.ranking]
        ranking = [g for g in ranking if g]
        prov = formats.provenance(group, [judgment], agreement, judgment.none_acceptable)
        if options.format == "listwise":
            if sum(len(g) for g in ranking) < 2:
                stats.dropped["model filter"] += 1
                continue
            row = formats.listwise_row(group, ranking, prov)
            for text in row["responses"]:
                stats.add_length("response", len(text))
            yield row
        else:
            rows = formats.rating_rows(
                group, judgment, judgment.ranking, prov, lambda p: _model_ok(options, group, p)
            )
            if not rows:
                stats.dropped["model filter"] += 1
            for row in rows:
                stats.add_length("response", len(row["response"]))
                yield row


# ---------------------------------------------------------------- export jobs


def start_export_job(user, data):
    """Validate the options and the user's right to them, record an ExportJob and queue it
    for the export worker (which checks the right again when it runs)."""
    if not can_export(user):
        raise ExportNotAllowed("Only researchers and admins may export datasets.")
    options = parse_options(data)
    export_scope(user, options)
    job = ExportJob.objects.create(created_by=user, format=options.format, options=options.as_dict())
    transaction.on_commit(lambda: enqueue("export.run_export_job", job.pk))  # by name: no tasks import
    return job


def _running_alive():
    """Jobs a live worker is running (it stamps them); a stale stamp means the worker died."""
    return Q(status=ExportJob.Status.RUNNING, heartbeat_at__gte=stale_before())


def run_export_job(job_id):
    """Run one queued export job; safe to run twice (a finished job is left alone, one a live
    worker is running is left to it, an interrupted one starts again from scratch)."""
    now = timezone.now()
    claimed = (
        ExportJob.objects.filter(pk=job_id)
        .exclude(status=ExportJob.Status.DONE)
        .exclude(_running_alive())
        .update(
            status=ExportJob.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            judgments_read=0,
            rows_written=0,
            error="",
        )
    )
    job = ExportJob.objects.filter(pk=job_id).first()
    if not claimed:
        return job

    def progress(read, written, total):
        ExportJob.objects.filter(pk=job.pk).update(
            judgments_read=read, rows_written=written, judgments_total=total
        )

    def stamp():
        ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    try:
        options = parse_options(job.options)
        with Heartbeat(stamp):
            result = export_preferences(
                options, job.directory, overwrite=True, progress=progress, user=job.created_by
            )
    except (ExportOptionsError, ExportPathError, ExportNotAllowed) as exc:
        _fail(job, str(exc))
        return job
    except Exception as exc:
        log.exception("Export job %s failed", job.public_id)
        _fail(job, f"The export failed unexpectedly ({type(exc).__name__}); an admin can see the worker log.")
        return job
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        files=result["files"],
        summary=result["summary"],
        rows_written=result["summary"]["rows_total"],
        judgments_read=result["summary"]["judgments_read"],
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def requeue_stranded_jobs():
    """The sweeper's part for exports (beat): a running job whose worker stopped stamping it, or a
    queued one with no sign of life for INFERENCE_REQUEUE_PENDING_SECONDS (a lost message), is
    queued again. Returns the job ids queued."""
    now = timezone.now()
    lost = ExportJob.objects.filter(
        Q(status=ExportJob.Status.RUNNING, heartbeat_at__lt=stale_before())
        | Q(
            status=ExportJob.Status.QUEUED,
            created_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS),
        )
        & (
            Q(heartbeat_at__isnull=True)
            | Q(heartbeat_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS))
        )
    )
    ids = list(lost.values_list("pk", flat=True)[:100])
    ExportJob.objects.filter(pk__in=ids).update(status=ExportJob.Status.QUEUED, heartbeat_at=now)
    for pk in ids:
        enqueue("export.run_export_job", pk)
    return ids


def _fail(job, message):
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=message, finished_at=timezone.now()
    )
    job.refresh_from_db()


def job_zip_path(job):
    """A zip of every finished file of a job (written next to them the first time; the files never change
    once the job is done), or None while the job has no files."""
    if job.status != ExportJob.Status.DONE or not job.files:
        return None
    target = job.directory.parent / f"{job.public_id}.zip"
    if not target.exists():
        partial = target.with_suffix(f".{uuid.uuid4().hex}.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in job.files:
                archive.write(job.directory / name, arcname=f"{job.public_id}/{name}")
        os.replace(partial, target)  # whole or absent, even if two requests race
    return target


def job_file_path(job, name):
    """The absolute path of one finished file of a job, or None if it is not one of its files."""
    if job.status != ExportJob.Status.DONE or name not in (job.files or []):
        return None
    path = job.directory / name
    return path if path.is_file() else None
