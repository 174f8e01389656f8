"""Glue: rebuild rating snapshots from the judgments, coalescing bursts of votes.

Each worker process keeps a ledger of the judgments it has read: per prompt category, their
counted outcomes in vote order and the responses behind them. A live refit after a vote reads
only the new rows and refits from the counts; the periodic full refit reads everything again
(one streamed query), refits every view with bootstrap intervals, and hands its fresh ledger
to the live path."""

import logging
import threading
import time
from array import array
from datetime import timedelta
from itertools import islice

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from annotation.models import Judgment
from annotation.selectors import judged_rankings, rated_judgments, response_texts

from .diagnostics import diagnostics
from .judgments import Judgments
from .leaderboard import fit_leaderboard
from .models import RatingSnapshot, ResponseStyle
from .style import FEATURES, markdown_features

log = logging.getLogger(__name__)

# Every view the leaderboard offers: (method, style control).
VIEWS = [("bt", False), ("bt", True), ("pl", False), ("bayes", False), ("elo", False)]
# Views a live refit can update from counted outcomes alone, in O(unique outcomes).
COUNTED_VIEWS = {("bt", False), ("pl", False)}
# Snapshots are derived; keep a history per view for "how did it move".
KEEP_SNAPSHOTS_PER_VIEW = 200
# Live refits prune the history only every this many refits (the full refit always does).
PRUNE_EVERY_LIVE = 100
REFIT_QUEUED_KEY = "ranking:live-refit-queued"
# Bumped after a rated judgment is edited or deleted: every ledger then reads everything again.
EPOCH_KEY = "ranking:judgments-epoch"
# What the latest full refit read ({"epoch", "last_id", "count"}): a ledger that disagrees reads again.
FULL_READ_KEY = "ranking:full-refit-read"
# Ids are taken at insert but visible at commit, so a vote can appear below ids already read.
# A live refit looks this many ids back for such late commits (vote transactions last
# milliseconds); anything later still is caught by comparing with the full refit's read.
LATE_COMMIT_WINDOW = 1000


def request_refit():
    """Queue one live refit unless one is already queued: a burst of votes costs a few refits, not one each.

    The task clears the flag before it reads the judgments, so a vote that lands
    during a refit queues the next one and is never missed."""
    try:
        queue = cache.add(REFIT_QUEUED_KEY, 1, timeout=60)
    except (RedisError, OSError) as exc:  # the cache is down: the vote still stands
        log.warning("could not flag a live refit (the sweeper will refit): %s", exc)
        return
    if queue:
        transaction.on_commit(_queue_live_refit)


def _queue_live_refit():
    """Send a live refit; with the broker down the vote still stands and the sweeper refits later."""
    try:
        # No countdown: a worker holding an unacknowledged ETA message when Redis restarts can
        # exit (kombu fails to restore it on the closed connection; seen in tests/test_faults.py).
        current_app.send_task("ranking.live_refit")  # by name: services never import tasks
    except (OperationalError, RedisError, OSError) as exc:
        log.warning("could not queue a live refit (the sweeper will): %s", exc)
        return False
    return True


def repair_live_board():
    """The sweeper's part for the leaderboard (beat, every SWEEP_STRANDED_SECONDS): when the
    overall board misses a rated vote older than one sweep (its live refit was lost with a
    worker, or its message with a broker restart), queue a live refit. Returns whether it did."""
    newest = rated_judgments().order_by("-id").values_list("id", "created_at").first()
    if newest is None or newest[1] > timezone.now() - timedelta(seconds=settings.SWEEP_STRANDED_SECONDS):
        return False  # no votes, or a live refit is most likely still on its way
    latest = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    if latest is not None and (latest.last_judgment_id or 0) >= newest[0]:
        return False
    log.warning("the leaderboard misses votes up to %s; queueing a live refit", newest[0])
    return _queue_live_refit()


def judgments_changed():
    """A rated judgment was edited or deleted (or its comparison left the arena): a count
    extended vote by vote can no longer be trusted, so the next live refit reads all again."""
    cache.add(EPOCH_KEY, 0, timeout=None)
    cache.incr(EPOCH_KEY)
    request_refit()


class _Board:
    """One category's judgments: counted outcomes kept in vote order, and per vote the response
    of each ranked model, flattened in the order the outcome lists its models (for style control)."""

    def __init__(self):
        self.stats = Judgments(keep_order=True)
        self.responses = array("q")
        self.last_id = None
        self.warm = {}  # method -> its last fit, to warm-start the next

    @property
    def count(self):
        return len(self.stats.sequence)

    def add(self, rows):
        stats = self.stats
        stats.extend([r.ranking for r in rows])
        models = stats.models
        for row, key in zip(rows, stats.sequence[len(stats.sequence) - len(rows) :]):
            by_model = dict(zip(row.models, row.response_ids))
            self.responses.extend(by_model[models[m]] for group in key for m in group)
        self.last_id = max(self.last_id or 0, max(r.judgment_id for r in rows))


class _Ledger:
    """The judgments one worker process has read, per category ("" = all)."""

    def __init__(self, epoch):
        self.epoch = epoch
        self.last_id = None
        self.ids = array("q")  # every absorbed id (to compare with the full refit's count)
        self.recent = set()  # absorbed ids within LATE_COMMIT_WINDOW of last_id
        self.passed = set()  # ids there that are not rated (AI judges, campaigns, named models)
        self.boards = {"": _Board()}
        self.checked = None  # the full refit read this ledger last agreed with

    @property
    def count(self):
        return len(self.ids)

    def absorb(self, rows, passed=()):
        """Add rows (and ids looked at that are not rated); returns the categories that changed."""
        ids = [r.judgment_id for r in rows]
        self.ids.extend(ids)
        if ids or passed:
            self.last_id = max([self.last_id or 0, *ids, *passed])
        self.recent.update(ids)
        self.passed.update(passed)
        floor = (self.last_id or 0) - LATE_COMMIT_WINDOW
        if min(self.recent, default=floor + 1) <= floor or min(self.passed, default=floor + 1) <= floor:
            self.recent = {i for i in self.recent if i > floor}
            self.passed = {i for i in self.passed if i > floor}
        if not rows:
            return set()
        # A comparison that showed one model twice says nothing about models against each other.
        valid = [r for r in rows if len(set(r.models)) == sum(len(g) for g in r.ranking)]
        changed = set()
        for category, group in _by_category(valid).items():
            if group:
                self.boards.setdefault(category, _Board()).add(group)
                changed.add(category)
        return changed

    def agrees_with(self, full_read):
        """False if the latest full refit counted a different number of judgments up to its last
        id than this ledger holds (a late commit beyond the window, or a bulk change without signals)."""
        if not full_read or full_read == self.checked or full_read.get("epoch") != self.epoch:
            return True
        last = full_read["last_id"]
        if last is None or self.last_id is None or self.last_id < last:
            return True  # not caught up with that read yet: check at a later refit
        held = int(np.count_nonzero(np.frombuffer(self.ids, dtype=np.int64) <= last))
        if held != full_read["count"]:
            return False
        self.checked = full_read
        return True


def _by_category(records):
    """Boards by key: "" (all), the prompt category, "lang:<code>" per language, and "hard" prompts."""
    groups = {"": list(records)}
    for record in records:
        if record.category:
            groups.setdefault(record.category, []).append(record)
        if getattr(record, "language", ""):
            groups.setdefault(f"lang:{record.language}", []).append(record)
        if getattr(record, "hard", False):
            groups.setdefault("hard", []).append(record)
    return groups


def _read_all(epoch):
    ledger = _Ledger(epoch)
    # In slices, so a million votes are never all held as row objects at once.
    rows = judged_rankings()
    while chunk := list(islice(rows, 50_000)):
        ledger.absorb(chunk)
    return ledger


def _catch_up(ledger):
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


_ledger = None
_ledger_lock = threading.Lock()  # the thread pool runs live and full refits in one process
_live_refits = 0


def live_refit():
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
            light = ledger.count >= settings.RANKING_LIVE_ALL_VIEWS_UNDER
            bootstrap = 0 if light else settings.RANKING_LIVE_BOOTSTRAP
            written = []
            for category in sorted(changed):
                written += _fit_views(
                    ledger.boards.get(category) or _Board(), category, bootstrap, light, ledger.epoch
                )
            _live_refits += 1
            _write(written, prune=_live_refits % PRUNE_EVERY_LIVE == 0)
        except BaseException:
            # Failed midway (a dropped database connection, a worker shutting down): the ledger
            # may hold votes it never fitted, or part of a batch. Forget it; the next refit reads all.
            _ledger = None
            raise
        return written


def warm_up():
    """Read every rated judgment into this process's ledger, so the first live refit after a
    worker starts costs milliseconds, not a full read (about 17 s at a million votes)."""
    global _ledger
    epoch = cache.get(EPOCH_KEY)
    ledger = _read_all(epoch)
    with _ledger_lock:
        if _ledger is None:
            _ledger = ledger


def full_refit():
    return refit(bootstrap=settings.RANKING_FULL_BOOTSTRAP)


def refit(bootstrap):
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


def _write(snapshots, prune):
    # All views of one refit appear together, so no page shows methods out of step.
    with transaction.atomic():
        RatingSnapshot.objects.bulk_create(snapshots)
        if prune:
            for method, style_control, category in {
                (s.method, s.style_control, s.category) for s in snapshots
            }:
                _prune(method, style_control, category)


def _fit_views(board, category, bootstrap, light, epoch):
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
            rows, coefficients, interval = result.rows, result.style_coefficients, result.params["interval"]
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


def _style_features(board):
    """(votes' ranked models, 4) raw style counts in the board's flattened order."""
    # A copy, not a view: a view kept alive (e.g. by a failed refit's traceback) would lock the
    # array's buffer, and the next vote could not be appended to it.
    rids = np.array(board.responses, dtype=np.int64)
    return _STYLE.lookup(rids)


class _StyleTable:
    """Style features per response id for this process, backed by ResponseStyle: computed from
    an answer's text once, then four numbers per answer. Held as sorted ids and their rows, so
    memory follows the answers that were rated, not the largest response id."""

    def __init__(self):
        self.ids = np.zeros(0, dtype=np.int64)
        self.values = np.zeros((0, len(FEATURES)), dtype=np.float64)
        self.lock = threading.Lock()

    def _find(self, rids):
        at = np.minimum(np.searchsorted(self.ids, rids), max(len(self.ids) - 1, 0))
        found = self.ids[at] == rids if len(self.ids) else np.zeros(len(rids), dtype=bool)
        return at, found

    def lookup(self, rids):
        with self.lock:
            at, found = self._find(rids)
            missing = np.unique(rids[~found])
            if not missing.size:
                return self.values[at]
            ids, values, transient = self._load(missing)
            if ids.size:
                if self.ids.size:
                    ids, values = np.concatenate([self.ids, ids]), np.concatenate([self.values, values])
                if (np.diff(ids) < 0).any():  # the stored rows come in storage order, mostly sorted
                    order = np.argsort(ids, kind="stable")
                    ids, values = ids[order], values[order]
                self.ids, self.values = ids, values
                at, found = self._find(rids)
            if found.all():
                return self.values[at]
            out = np.zeros((len(rids), len(FEATURES)))
            out[found] = self.values[at[found]]
            for i in np.flatnonzero(~found):  # answers still being written: computed, not kept
                out[i] = transient.get(int(rids[i]), 0.0)
            return out

    def _load(self, missing):
        """(ids, feature rows) of the finished answers among ``missing`` (stored, or computed now
        and stored) and {id: feature row} of answers still being written, which may change.
        Stored rows are gathered into arrays a slice at a time: two million answers as Python
        objects would take hundreds of megabytes."""
        stored = ResponseStyle.objects.order_by().values_list("response_id", *FEATURES)
        if missing.size < 100_000:
            stored = stored.filter(response_id__in=missing.tolist())
        rows = stored.iterator(chunk_size=10_000)
        ids, values = [], []
        for chunk in iter(lambda: list(islice(rows, 50_000)), []):
            part = np.array(chunk, dtype=np.int64)
            wanted = missing[np.minimum(np.searchsorted(missing, part[:, 0]), len(missing) - 1)] == part[:, 0]
            ids.append(part[wanted, 0])
            values.append(part[wanted, 1:].astype(np.float64))
        found = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        transient = {}
        still = np.setdiff1d(missing, found).tolist()
        for start in range(0, len(still), 5000):
            fresh = []
            for rid, (text, done) in response_texts(still[start : start + 5000]).items():
                feats = markdown_features(text)
                if done:  # a finished answer no longer changes: compute it once
                    fresh.append(ResponseStyle(response_id=rid, **feats))
                else:
                    transient[rid] = [feats[f] for f in FEATURES]
            ResponseStyle.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=5000)
            ids.append(np.array([style.response_id for style in fresh], dtype=np.int64))
            values.append(
                np.array(
                    [[getattr(style, f) for f in FEATURES] for style in fresh], dtype=np.float64
                ).reshape(-1, len(FEATURES))
            )
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES))), transient
        return np.concatenate(ids), np.concatenate(values), transient


_STYLE = _StyleTable()


def reset_process_state():
    """Forget this process's ledger and style features (read again on the next refit): for a
    database emptied and refilled under a running worker (ids handed out again), and for tests."""
    global _ledger, _STYLE, _live_refits
    with _ledger_lock:
        _ledger, _STYLE, _live_refits = None, _StyleTable(), 0


def _prune(method, style_control, category):
    views = RatingSnapshot.objects.filter(method=method, style_control=style_control, category=category)
    stale = views.values_list("pk", flat=True)[KEEP_SNAPSHOTS_PER_VIEW:]
    RatingSnapshot.objects.filter(pk__in=list(stale)).delete()
