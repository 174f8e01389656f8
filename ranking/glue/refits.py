"""Glue: rebuild rating snapshots from the judgments, coalescing bursts of votes.

Each worker process keeps a ledger (``ranking.ledger``) of the judgments it has read: per prompt
category, their counted outcomes in vote order and the responses behind them. A live refit after a
vote reads only the new rows and refits from the counts; the periodic full refit reads everything
again (one streamed query), refits every view with bootstrap intervals, and hands its fresh ledger
to the live path. ``ranking.services`` queues the live refits; ``ranking.tasks`` runs these."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from itertools import islice

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from annotation.models import Judgment
from annotation.selectors import judged_rankings

from ..diagnostics import diagnostics
from ..leaderboard import METHODS, fit_leaderboard
from ..ledger import LATE_COMMIT_WINDOW, Board, Ledger
from ..models import RatingSnapshot
from . import style_features

log = logging.getLogger(__name__)

# Every view the leaderboard offers: (method, style control).
# Every rating method, and Bradley–Terry with style control (the one method that takes it).
VIEWS = [*((method, False) for method in METHODS), ("bt", True)]
# Views a live refit can update from counted outcomes alone, in O(unique outcomes).
COUNTED_VIEWS = {("bt", False), ("pl", False)}
# Snapshots are derived; keep a history per view for "how did it move".
KEEP_SNAPSHOTS_PER_VIEW = 200
# Live refits prune the history only every this many refits (the full refit always does).
PRUNE_EVERY_LIVE = 100
# Set by ranking.services.request_refit while a live refit is queued; cleared when one starts.
REFIT_QUEUED_KEY = "ranking:live-refit-queued"
# Bumped after a rated judgment is edited or deleted: every ledger then reads everything again.
EPOCH_KEY = "ranking:judgments-epoch"
# What the latest full refit read ({"epoch", "last_id", "count"}): a ledger that disagrees reads again.
FULL_READ_KEY = "ranking:full-refit-read"


def _read_all(epoch: int | None) -> Ledger:
    ledger = Ledger(epoch)
    # In slices, so a million votes are never all held as row objects at once.
    rows = judged_rankings()
    while chunk := list(islice(rows, 50_000)):
        ledger.absorb(chunk)
    return ledger


def _catch_up(ledger: Ledger) -> set[str] | None:
    """Read the judgments committed since the ledger's last read (late commits included); returns
    the categories that changed, or None when a judgment the ledger holds has gone without a
    signal (e.g. a raw delete): then it must read everything again."""
    if ledger.last_id is None:
        return ledger.absorb(list(judged_rankings()))
    # Every judgment's id (one index range, no joins); only the new ones are read in full.
    ids = set(
        Judgment.objects.filter(id__gt=ledger.last_id - LATE_COMMIT_WINDOW)
        .order_by()
        .values_list("id", flat=True)
    )
    if not ledger.recent <= ids:
        return None
    new = ids - ledger.recent - ledger.passed
    if not new:
        return set()
    rows = list(judged_rankings(ids=sorted(new)))
    return ledger.absorb(rows, passed=new - {r.judgment_id for r in rows})


_ledger: Ledger | None = None
_ledger_lock = threading.Lock()  # the thread pool runs live and full refits in one process
_live_refits = 0


def live_refit() -> list[RatingSnapshot]:
    """Refit after votes, from this process's ledger. Above RANKING_LIVE_ALL_VIEWS_UNDER judgments
    only the counted-outcome views (Bradley–Terry, Plackett–Luce) refit, warm-started, with
    Laplace intervals; bootstrap intervals, Elo, Bayesian, style control and diagnostics follow
    at the periodic full refit."""
    global _ledger, _live_refits
    cache.delete(REFIT_QUEUED_KEY)
    with _ledger_lock:
        state = cache.get_many([EPOCH_KEY, FULL_READ_KEY])
        epoch = state.get(EPOCH_KEY)
        try:
            ledger, changed = _ledger, None
            if ledger is not None and ledger.epoch == epoch and ledger.agrees_with(state.get(FULL_READ_KEY)):
                changed = _catch_up(ledger)
            if changed is None:
                ledger = _ledger = _read_all(epoch)
                changed = set(ledger.boards)
            changed.add("")
            # A ledger is read by now: changed is set only with one.
            light = ledger.count >= settings.RANKING_LIVE_ALL_VIEWS_UNDER  # type: ignore[union-attr]
            bootstrap = 0 if light else settings.RANKING_LIVE_BOOTSTRAP
            written = []
            for category in sorted(changed):
                written += _fit_views(
                    ledger.boards.get(category) or Board(),  # type: ignore[union-attr]
                    category,
                    bootstrap,
                    light,
                    ledger.epoch,  # type: ignore[union-attr]
                )
            _live_refits += 1
            _write(written, prune=_live_refits % PRUNE_EVERY_LIVE == 0)
        except BaseException:
            # Failed midway (a dropped database connection, a worker shutting down): the ledger
            # may hold votes it never fitted, or part of a batch. Forget it; the next refit reads all.
            _ledger = None
            raise
        return written


def warm_up() -> None:
    """Read every rated judgment into this process's ledger, so the first live refit after a
    worker starts costs milliseconds, not a full read (about 17 s at a million votes)."""
    global _ledger
    epoch = cache.get(EPOCH_KEY)
    ledger = _read_all(epoch)
    with _ledger_lock:
        if _ledger is None:
            _ledger = ledger


def full_refit() -> list[RatingSnapshot]:
    return refit(bootstrap=settings.RANKING_FULL_BOOTSTRAP)


def refit(bootstrap: int) -> list[RatingSnapshot]:
    """Fit every view (method × style control × prompt category, "" = all) over all blind
    human judgments, read afresh; returns the snapshots written. Idempotent: a view whose
    latest snapshot already covers the same judgments with at least as many bootstrap
    resamples is left alone."""
    global _ledger
    epoch = cache.get(EPOCH_KEY)
    ledger = _read_all(epoch)
    written = []
    for category, board in ledger.boards.items():
        written += _fit_views(board, category, bootstrap, light=False, epoch=epoch)
    _write(written, prune=True)
    cache.set(FULL_READ_KEY, {"epoch": epoch, "last_id": ledger.last_id, "count": ledger.count}, timeout=None)
    with _ledger_lock:
        if _ledger is None or _ledger.epoch != epoch or (_ledger.last_id or 0) <= (ledger.last_id or 0):
            _ledger = ledger  # a fresh read, and its fits warm-start the next live refit
    return written


def _write(snapshots: Sequence[RatingSnapshot], prune: bool) -> None:
    # All views of one refit appear together, so no page shows methods out of step.
    with transaction.atomic():
        RatingSnapshot.objects.bulk_create(snapshots)
        style_features.save()  # the answers' style features this refit computed, read next time
        if prune:
            for method, style_control, category in {
                (s.method, s.style_control, s.category) for s in snapshots
            }:
                _prune(method, style_control, category)


def _fit_views(
    board: Board, category: str, bootstrap: int, light: bool, epoch: int | None
) -> list[RatingSnapshot]:
    count = board.count
    last_id = board.last_id
    snapshots = []
    requested = bootstrap
    for method, style_control in VIEWS:
        counted = (method, style_control) in COUNTED_VIEWS
        if light and not counted:
            continue
        # Elo replays every judgment once per step for all resamples together: the step's cost grows
        # with the resamples (6 vs 38 µs at 100 vs 1,000), so Elo takes fewer (its intervals are the
        # classic baseline's; Bradley–Terry's are the ones to cite).
        bootstrap = min(requested, settings.RANKING_ELO_BOOTSTRAP) if method == "elo" else requested
        latest = RatingSnapshot.objects.filter(
            method=method, style_control=style_control, category=category
        ).first()
        if (
            latest
            and latest.judgment_count == count
            and latest.last_judgment_id == last_id
            and latest.bootstrap >= bootstrap
            and latest.params.get("epoch") == epoch  # an edit keeps the count but changes the board
        ):
            continue
        started = time.perf_counter()
        interval = "none"
        if not count:
            rows, coefficients, diag = [], None, None
        else:
            result = fit_leaderboard(
                board.stats,
                method=method,
                features=_style_features(board) if style_control else None,
                style_control=style_control,
                bootstrap=bootstrap,
                min_votes=settings.RANKING_MIN_VOTES,
                seed=0,
                k_factor=settings.ELO_K_FACTOR,
                interval="laplace",  # used only without bootstrap: a live refit's intervals
                warm_start=board.warm.get((method, style_control)),
            )
            if result.strengths:
                board.warm[(method, style_control)] = result
            rows, coefficients, interval = (
                result.row_dicts(),
                result.style_coefficients,
                result.params["interval"],
            )
            if light:  # diagnostics refit over every pair: keep the last full refit's
                diag = latest.diagnostics if latest else None
            else:
                diag = diagnostics(board.stats, order=[row["model"] for row in rows])
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
                params={
                    "min_votes": settings.RANKING_MIN_VOTES,
                    "elo_k": settings.ELO_K_FACTOR,
                    "seed": 0,
                    # bootstrap, laplace (a live refit's), posterior (bayes) or none
                    "interval": interval,
                    "epoch": epoch,
                },
                duration_ms=int((time.perf_counter() - started) * 1000),
            )
        )
    return snapshots


def _style_features(board: Board) -> npt.NDArray[np.float64]:
    """(votes' ranked models, 4) raw style counts in the board's flattened order."""
    # A copy, not a view: a view kept alive (e.g. by a failed refit's traceback) would lock the
    # array's buffer, and the next vote could not be appended to it.
    return style_features.lookup(np.array(board.responses, dtype=np.int64))


def reset_process_state() -> None:
    """Forget this process's ledger and style features (read again on the next refit): for a
    database emptied and refilled under a running worker (ids handed out again), and for tests."""
    global _ledger, _live_refits
    with _ledger_lock:
        _ledger, _live_refits = None, 0
        style_features.reset()


def _prune(method: str, style_control: bool, category: str) -> None:
    views = RatingSnapshot.objects.filter(method=method, style_control=style_control, category=category)
    stale = views.values_list("pk", flat=True)[KEEP_SNAPSHOTS_PER_VIEW:]
    RatingSnapshot.objects.filter(pk__in=list(stale)).delete()
