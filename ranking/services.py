"""Glue: rebuild rating snapshots from the judgments, coalescing bursts of votes."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from annotation.selectors import judged_rankings, rated_judgments

from .diagnostics import diagnostics
from .judgments import Judgments
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


class _Seen:
    """The judgments this worker process has already read, and their counted outcomes per
    category, so a live refit after one more vote reads one row and refits Bradley–Terry and
    Plackett–Luce in O(unique outcomes). Trusted only while the count still matches."""

    def __init__(self):
        self.last_id, self.read, self.records, self.stats = None, 0, [], {}

    def absorb(self, new):
        self.read += len(new)
        if new:
            self.last_id = max(r.judgment_id for r in new)
        # A comparison that showed one model twice says nothing about models against each other.
        valid = [r for r in new if len(r.texts) == sum(len(g) for g in r.ranking)]
        self.records.extend(valid)
        for category, group in _by_category(valid).items():
            self.stats.setdefault(category, Judgments()).extend([r.ranking for r in group])


_seen = _Seen()


def _by_category(records):
    groups = {"": list(records)}
    for record in records:
        if record.category:
            groups.setdefault(record.category, []).append(record)
    return groups


def _load_records(incremental):
    global _seen
    if not incremental:
        _seen = _Seen()
    new = list(judged_rankings(after_id=_seen.last_id))
    if incremental and _seen.read + len(new) != rated_judgments().count():
        # A judgment committed out of id order, or one was changed or removed: read all.
        return _load_records(incremental=False)
    _seen.absorb(new)
    return _seen


def refit(bootstrap, incremental=False):
    """Fit every view (method × style control × prompt category, "" = all) over all blind
    human judgments; returns the snapshots written.

    A live refit over more than RANKING_LIVE_ALL_VIEWS_UNDER judgments refits only the views
    that fit from counted outcomes (Bradley–Terry, Plackett–Luce), carrying the diagnostics
    forward; the replayed ones (Elo, Bayesian) and style control wait for the periodic full
    refit. Idempotent: a view whose latest snapshot already covers the same judgments with at
    least as many bootstrap resamples is left alone."""
    seen = _load_records(incremental)
    light = incremental and len(seen.records) >= settings.RANKING_LIVE_ALL_VIEWS_UNDER
    written = []
    for category, group in _by_category(seen.records).items():
        written += _fit_views(group, seen.stats.get(category), category, bootstrap, light)
    # All views of one refit appear together, so no page shows methods out of step.
    with transaction.atomic():
        RatingSnapshot.objects.bulk_create(written)
        for snapshot in written:
            _prune(snapshot.method, snapshot.style_control, snapshot.category)
    return written


COUNTED_VIEWS = {("bt", False), ("pl", False)}


def _fit_views(records, stats, category, bootstrap, light):
    count = len(records)
    last_id = max((r.judgment_id for r in records), default=None)
    rankings = [r.ranking for r in records] if not light else None
    features = None
    snapshots = []
    for method, style_control in VIEWS:
        if light and (method, style_control) not in COUNTED_VIEWS:
            continue
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
            counted = (method, style_control) in COUNTED_VIEWS
            result = fit_leaderboard(
                stats if counted else rankings,
                method=method,
                features=features if style_control else None,
                style_control=style_control,
                bootstrap=bootstrap,
                min_votes=settings.RANKING_MIN_VOTES,
                seed=0,
                k_factor=settings.ELO_K_FACTOR,
            )
            rows, coefficients = result.rows, result.style_coefficients
            if light:  # diagnostics replay every judgment: keep the last full refit's
                diag = latest.diagnostics if latest else None
            else:
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
