"""Glue: rebuild rating snapshots from the judgments, coalescing bursts of votes."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from annotation.selectors import judged_rankings, rated_judgments

from .diagnostics import diagnostics
from .leaderboard import fit_leaderboard
from .models import RatingSnapshot
from .style import markdown_features

# Every view the leaderboard offers: (method, style control).
VIEWS = [("bt", False), ("bt", True), ("pl", False), ("bayes", False), ("elo", False)]
# Snapshots are derived; keep a history per view for "how did it move".
KEEP_SNAPSHOTS_PER_VIEW = 200
REFIT_QUEUED_KEY = "ranking:live-refit-queued"


def request_refit():
    """Queue one live refit unless one is already queued: a burst of votes costs a few refits, not one each.

    The task clears the flag before it reads the judgments, so a vote that lands
    during a refit queues the next one and is never missed."""
    from .tasks import live_refit

    if cache.add(REFIT_QUEUED_KEY, 1, timeout=60):
        transaction.on_commit(live_refit.delay)


def live_refit():
    cache.delete(REFIT_QUEUED_KEY)
    return refit(bootstrap=settings.RANKING_LIVE_BOOTSTRAP, incremental=True)


def full_refit():
    return refit(bootstrap=settings.RANKING_FULL_BOOTSTRAP)


# The judgments this worker process has already read, so a live refit after one more
# vote reads one row, not all of them. Trusted only while the count still matches.
_records = {"last_id": None, "list": []}


def _load_records(incremental):
    if not incremental:
        _records.update(last_id=None, list=[])
    new = list(judged_rankings(after_id=_records["last_id"]))
    records = _records["list"] + new
    if incremental and len(records) != rated_judgments().count():
        # A judgment committed out of id order, or one was changed or removed: read all.
        return _load_records(incremental=False)
    _records.update(last_id=max((r.judgment_id for r in records), default=None), list=records)
    return records


def refit(bootstrap, incremental=False):
    """Fit every view (method × style control × prompt category, "" = all) over all blind
    human judgments; returns the snapshots written.

    Idempotent: a view whose latest snapshot already covers the same judgments with
    at least as many bootstrap resamples is left alone."""
    # A comparison that showed one model twice says nothing about models against each other.
    records = [r for r in _load_records(incremental) if len(r.texts) == sum(len(g) for g in r.ranking)]
    groups = {"": records}
    for record in records:
        if record.category:
            groups.setdefault(record.category, []).append(record)
    written = []
    for category, group in groups.items():
        written += _fit_views(group, category, bootstrap)
    # All views of one refit appear together, so no page shows methods out of step.
    with transaction.atomic():
        RatingSnapshot.objects.bulk_create(written)
        for snapshot in written:
            _prune(snapshot.method, snapshot.style_control, snapshot.category)
    return written


def _fit_views(records, category, bootstrap):
    count = len(records)
    last_id = max((r.judgment_id for r in records), default=None)
    rankings = [r.ranking for r in records]
    features = None
    snapshots = []
    for method, style_control in VIEWS:
        latest = RatingSnapshot.objects.filter(method=method, style_control=style_control, category=category).first()
        if (
            latest
            and latest.judgment_count == count
            and latest.last_judgment_id == last_id
            and latest.bootstrap >= bootstrap
        ):
            continue
        started = time.perf_counter()
        if not records:
            rows, coefficients, diag = [], None, None
        else:
            if style_control and features is None:
                features = [{m: markdown_features(t) for m, t in r.texts.items()} for r in records]
            result = fit_leaderboard(
                rankings,
                method=method,
                features=features if style_control else None,
                style_control=style_control,
                bootstrap=bootstrap,
                min_votes=settings.RANKING_MIN_VOTES,
                seed=0,
                k_factor=settings.ELO_K_FACTOR,
            )
            rows, coefficients = result.rows, result.style_coefficients
            diag = diagnostics(rankings, order=[row["model"] for row in rows])
        snapshots.append(
            RatingSnapshot(
                method=method,
                style_control=style_control,
                category=category,
                bootstrap=bootstrap,
                judgment_count=count,
                last_judgment_id=last_id,
                rows=rows,
                style_coefficients=coefficients,
                diagnostics=diag,
                params={"min_votes": settings.RANKING_MIN_VOTES, "elo_k": settings.ELO_K_FACTOR, "seed": 0},
                duration_ms=int((time.perf_counter() - started) * 1000),
            )
        )
    return snapshots


def _prune(method, style_control, category):
    views = RatingSnapshot.objects.filter(method=method, style_control=style_control, category=category)
    stale = views.values_list("pk", flat=True)[KEEP_SNAPSHOTS_PER_VIEW:]
    RatingSnapshot.objects.filter(pk__in=list(stale)).delete()
